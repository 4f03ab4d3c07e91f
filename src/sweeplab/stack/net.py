"""N networks of one shape as one: stacked weights with a leading member dimension.

`StackedNet` takes the members' own networks (built and initialised as each job builds its
own: fully connected nets and small CNNs) and copies their weights into stacked parameters.
Its layers are the members' layers in order: a Linear or Conv2d computes every member's
output, and what follows it (activation, batch norm before or after it, pooling, dropout) may
differ per member.
Members that share those are applied as one run, so a stack sorted by them costs one call per
run. Batch norm keeps each member's own statistics; dropout draws each member's mask from that
member's generator, as the job alone draws it. `write_member` copies member i's weights back
into its own network, whose checkpoint then loads alone.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweeplab.models.cnn import SmallCNN
from sweeplab.models.deep import DeepNet
from sweeplab.models.layers import Dropout, dropout
from sweeplab.models.logistic import LogisticRegression
from sweeplab.models.softmax import SoftmaxRegression

#: the families whose forward applies their layers in order (what StackedNet reproduces)
FAMILIES = (DeepNet, LogisticRegression, SoftmaxRegression, SmallCNN)
#: the layers that hold weights; every other layer belongs to the one before it
WEIGHTED = (nn.Linear, nn.Conv2d)
#: layers with no weights and no per-member setting, applied to all members at once
SHARED = (nn.Flatten, nn.Identity, nn.MaxPool2d, nn.AvgPool2d)
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def layer_sequence(net: nn.Module) -> list[nn.Module]:
    """The layers a network of FAMILIES applies, in order."""
    out: list[nn.Module] = []
    for child in net.children():
        out += layer_sequence(child) if isinstance(child, nn.Sequential) else [child]
    return out


def blocks(net: nn.Module) -> list[tuple[nn.Module, list[nn.Module]]]:
    """(Linear or Conv2d, the layers after it up to the next one) for each such layer of the
    network; a Flatten before the first is the input's (`flattens_input`)."""
    layers = layer_sequence(net)
    if flattens_input(net):
        layers = layers[1:]
    if not isinstance(layers[0], WEIGHTED):
        raise ValueError(f"{type(net).__name__}: expected a Linear or Conv2d first")
    out: list[tuple[nn.Module, list[nn.Module]]] = []
    for layer in layers:
        if isinstance(layer, WEIGHTED):
            out.append((layer, []))
        elif isinstance(layer, (*BATCH_NORMS, Dropout, *SHARED)) or \
                type(layer).__module__ == "torch.nn.modules.activation":
            out[-1][1].append(layer)
        else:
            raise ValueError(f"{type(layer).__name__} has no stacked version")
    return out


def flattens_input(net: nn.Module) -> bool:
    return isinstance(layer_sequence(net)[0], nn.Flatten)


def structure(net: nn.Module) -> tuple[str, ...]:
    """What members of one StackedNet share: every layer but activations, batch norm and
    dropout (which may differ per member), with its sizes and settings."""
    return tuple(repr(m) for m in layer_sequence(net)
                 if isinstance(m, WEIGHTED + SHARED) and not isinstance(m, nn.Identity))


def signature(tail: list[nn.Module]) -> tuple[str, ...]:
    """What a run of members must share after a Linear: the layers, but not the dropout rate."""
    return tuple("Dropout" if isinstance(m, Dropout) else repr(m) for m in tail)


class StackedLinear(nn.Module):
    """N Linear layers as stacked parameters, each member's product computed by the same
    kernel as its job's (`F.linear` on that member's slice): a batched product (baddbmm)
    rounds differently in the last bit, and training with a large learning rate and momentum
    amplifies such differences into different results after a few hundred steps."""

    def __init__(self, linears: list[nn.Linear]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in linears]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in linears]))

    def forward(self, x: Tensor) -> Tensor:
        """x: the same inputs for every member (B, in), or each member's own (N, B, in)."""
        pairs = zip(self.weight.unbind(0), self.bias.unbind(0), strict=True)
        if x.dim() == 2:
            return torch.stack([F.linear(x, w, b) for w, b in pairs])
        return torch.stack([F.linear(xi, w, b) for xi, (w, b) in
                            zip(x.unbind(0), pairs, strict=True)])


class StackedConv2d(nn.Module):
    """N Conv2d layers as stacked parameters, each member's convolution computed as its job's
    (`F.conv2d` on its slice, for the reason StackedLinear gives)."""

    def __init__(self, convs: list[nn.Conv2d]) -> None:
        super().__init__()
        given = convs[0]
        self.stride, self.padding = given.stride, given.padding
        self.dilation, self.groups = given.dilation, given.groups
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in convs]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in convs]))

    def forward(self, x: Tensor) -> Tensor:
        """x: the same images for every member (B, C, H, W), or each member's (N, B, C, H, W)."""
        inputs = [x] * len(self.weight) if x.dim() == 4 else x.unbind(0)
        return torch.stack([
            F.conv2d(xi, w, b, self.stride, self.padding, self.dilation, self.groups)
            for xi, w, b in zip(inputs, self.weight, self.bias, strict=True)])


class AllMembers(nn.Module):
    """A layer without weights (pooling, flatten, activation) applied to every member's
    batch at once: members and batch folded into one batch dimension."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = copy.deepcopy(layer)

    def forward(self, z: Tensor) -> Tensor:
        return self.layer(z.flatten(0, 1)).unflatten(0, z.shape[:2])


class StackedBatchNorm(nn.Module):
    """Batch norm for every member of a stack after one Linear or Conv2d, each with its own affine
    weights and statistics (a member without batch norm there keeps unused rows, so that every
    stacked parameter has one row per member)."""

    def __init__(self, bns: list[nn.Module | None], features: int) -> None:
        super().__init__()
        given = next(m for m in bns if m is not None)
        self.eps, self.momentum = given.eps, given.momentum
        bns = [m if m is not None else nn.BatchNorm1d(features) for m in bns]
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in bns]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in bns]))
        self.register_buffer("running_mean", torch.stack([m.running_mean for m in bns]))
        self.register_buffer("running_var", torch.stack([m.running_var for m in bns]))
        self.register_buffer("num_batches_tracked",
                             torch.stack([m.num_batches_tracked for m in bns]))

    def normalize(self, z: Tensor, start: int, stop: int) -> Tensor:
        """Members [start, stop) of the stack, z of shape (stop - start, batch, features);
        each member through batch_norm on its own rows, the kernel its job uses (statistics
        reduced over more channels at once round differently in the last bit)."""
        if self.training:
            self.num_batches_tracked[start:stop].add_(1)
        return torch.stack([
            F.batch_norm(z[k], self.running_mean[i], self.running_var[i], self.weight[i],
                         self.bias[i], self.training, self.momentum, self.eps)
            for k, i in enumerate(range(start, stop))])


class RunBatchNorm(nn.Module):
    """A run's rows of the block's StackedBatchNorm (held, not owned: the net owns it)."""

    def __init__(self, norm: StackedBatchNorm, start: int, stop: int) -> None:
        super().__init__()
        self.norm, self.start, self.stop = [norm], start, stop

    def forward(self, z: Tensor) -> Tensor:
        return self.norm[0].normalize(z, self.start, self.stop)


class MemberDropout(nn.Module):
    """Each member's dropout with its own rate, its mask drawn from its own generator
    (`generators[first + k]` for the run's k-th member; the stack owns the list)."""

    def __init__(self, rates: list[float], generators: list[torch.Generator],
                 first: int) -> None:
        super().__init__()
        self.rates, self.generators, self.first = rates, generators, first

    def forward(self, z: Tensor) -> Tensor:
        if not self.training:
            return z
        return torch.stack([dropout(z[k], p, self.generators[self.first + k])
                            for k, p in enumerate(self.rates)])


def stacked_layer(layers: list[nn.Module]) -> StackedLinear | StackedConv2d:
    return StackedConv2d(layers) if isinstance(layers[0], nn.Conv2d) else StackedLinear(layers)


class Run(nn.Module):
    """Members [start, stop) of a stack, which share the layers after a Linear."""

    def __init__(self, start: int, tails: list[list[nn.Module]],
                 generators: list[torch.Generator], offset: int,
                 norm: StackedBatchNorm | None) -> None:
        super().__init__()
        self.start, self.stop = start, start + len(tails)
        layers: list[nn.Module] = []
        for k, layer in enumerate(tails[0]):
            column = [tail[k] for tail in tails]
            if isinstance(layer, BATCH_NORMS):
                layers.append(RunBatchNorm(norm, self.start, self.stop))
            elif isinstance(layer, Dropout):
                layers.append(MemberDropout([m.p for m in column], generators,
                                            offset + start))
            else:  # activation, pooling, flatten: no weights, the same for the whole run
                layers.append(AllMembers(layer))
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


class StackedNet(nn.Module):
    """Networks of the same `structure` as one; members may differ after each Linear or
    Conv2d in activation, batch norm and dropout."""

    def __init__(self, nets: list[nn.Module], generators: list[torch.Generator],
                 offset: int = 0) -> None:
        """`generators[offset + i]` draws member i's dropout masks."""
        super().__init__()
        per_member = [blocks(net) for net in nets]
        self.flatten_input = flattens_input(nets[0])
        self.linears = nn.ModuleList(
            stacked_layer([b[j][0] for b in per_member]) for j in range(len(per_member[0])))
        self.runs, self.norms = nn.ModuleList(), nn.ModuleList()
        for j in range(len(per_member[0])):
            tails = [b[j][1] for b in per_member]
            bns = [next((m for m in tail if isinstance(m, BATCH_NORMS)), None)
                   for tail in tails]
            features = self.linears[j].weight.shape[1]
            norm = StackedBatchNorm(bns, features) if any(m is not None for m in bns) \
                else nn.Identity()
            self.norms.append(norm)
            runs, start = nn.ModuleList(), 0
            while start < len(nets):
                stop = start + 1
                while stop < len(nets) and signature(tails[stop]) == signature(tails[start]):
                    stop += 1
                runs.append(Run(start, tails[start:stop], generators, offset, norm))
                start = stop
            self.runs.append(runs)

    def forward(self, x: Tensor) -> Tensor:
        z = x.flatten(1) if self.flatten_input else x
        for linear, runs in zip(self.linears, self.runs, strict=True):
            z = linear(z)
            if len(runs) == 1:
                z = runs[0](z)
            else:
                z = torch.cat([run(z[run.start:run.stop]) for run in runs])
        return z

    @torch.no_grad()
    def write_member(self, i: int, net: nn.Module) -> None:
        """Copy member i's weights and batch-norm statistics into its own network `net`."""
        for (linear, tail), stacked, norm in zip(blocks(net), self.linears, self.norms,
                                                 strict=True):
            linear.weight.copy_(stacked.weight[i])
            linear.bias.copy_(stacked.bias[i])
            for layer in tail:
                if isinstance(layer, BATCH_NORMS):
                    for name in ("weight", "bias", "running_mean", "running_var",
                                 "num_batches_tracked"):
                        getattr(layer, name).copy_(getattr(norm, name)[i])
