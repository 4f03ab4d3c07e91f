"""The convolutional blocks of N CNNs of one shape, for `StackedNet`.

Each member's blocks (Conv2d, then its activation, batch norm, pooling) run one member after
another, each through the kernels its job uses (`F.conv2d`, `F.batch_norm` on its own rows),
and the members' features are stacked once, for the fully connected head. Layer by layer
across members would cost more: a CNN's activations are large, and one member's pass keeps its
working set as small as the job's (in cache on a CPU), where the stack's folded batch of every
member at each layer was slower than the jobs one by one at 28x28.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweeplab.models.layers import Dropout


class StackedConv2d(nn.Module):
    """N Conv2d layers as stacked parameters (one row per member)."""

    def __init__(self, convs: list[nn.Conv2d]) -> None:
        super().__init__()
        given = convs[0]
        self.stride, self.padding = given.stride, given.padding
        self.dilation, self.groups = given.dilation, given.groups
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in convs]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in convs]))

    def member(self, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """One member's convolution, given its rows of the weight and bias."""
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)


class MemberBatchNorm(nn.Module):
    """Member i's rows of a block's stacked batch norm (held, not owned: the net owns it)."""

    def __init__(self, norm: nn.Module, i: int) -> None:
        super().__init__()
        self.norm, self.i = [norm], i

    def forward(self, z: Tensor) -> Tensor:
        return self.norm[0].member(z, self.i)


def member_tail(tail: list[nn.Module], norm: nn.Module, i: int) -> nn.Sequential:
    """Member i's layers after its Conv2d, its batch norm reading the stacked rows."""
    layers: list[nn.Module] = []
    for layer in tail:
        if isinstance(layer, nn.BatchNorm2d):
            layers.append(MemberBatchNorm(norm, i))
        elif isinstance(layer, Dropout):
            raise ValueError("dropout between convolutions has no stacked version")
        else:  # activation, pooling, the flatten before the head: no weights
            layers.append(copy.deepcopy(layer))
    return nn.Sequential(*layers)


class ConvFeatures(nn.Module):
    """The leading Conv2d blocks of N networks: (B, C, H, W) images to (N, B, ...) features."""

    def __init__(self, per_member: list[list[tuple[nn.Conv2d, list[nn.Module]]]],
                 norms: list[nn.Module]) -> None:
        """`per_member[i][j]`: member i's j-th (Conv2d, layers after it); `norms[j]`: the
        stacked batch norm of block j (nn.Identity where no member has one)."""
        super().__init__()
        self.convs = nn.ModuleList(StackedConv2d([b[j][0] for b in per_member])
                                   for j in range(len(per_member[0])))
        self.tails = nn.ModuleList(
            nn.ModuleList(member_tail(b[j][1], norms[j], i) for i, b in enumerate(per_member))
            for j in range(len(per_member[0])))

    def forward(self, x: Tensor) -> Tensor:
        rows = [(conv.weight.unbind(0), conv.bias.unbind(0)) for conv in self.convs]
        features = []
        for i in range(len(rows[0][0])):
            z = x
            for conv, (weights, biases), tails in zip(self.convs, rows, self.tails, strict=True):
                z = tails[i](conv.member(z, weights[i], biases[i]))
            features.append(z)
        return torch.stack(features)
