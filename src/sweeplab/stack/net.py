"""N networks of one shape as one: stacked weights with a leading member dimension.

`StackedNet` takes the members' own networks (built and initialised as each job builds its
own: fully connected nets and small CNNs) and copies their weights into stacked parameters.
Its layers are the members' layers in order: a CNN's convolutional blocks first (`conv.py`,
member by member), then each Linear computes every member's product, and what follows a Linear
or Conv2d (activation, batch norm before or after it, dropout) may differ per member.
Members that share those are applied as one run, so a stack sorted by them costs one call per
run. Batch norm keeps each member's own statistics; dropout draws each member's mask from that
member's generator, as the job alone draws it. `write_member` copies member i's weights back
into its own network, whose checkpoint then loads alone.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sweeplab.models.cnn import SmallCNN
from sweeplab.models.deep import DeepNet
from sweeplab.models.layers import Dropout, dropout
from sweeplab.models.logistic import LogisticRegression
from sweeplab.models.softmax import SoftmaxRegression
from sweeplab.stack.conv import ConvFeatures

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
        """Members [start, stop) of the stack, z of shape (stop - start, batch, ...)."""
        return torch.stack([self.member(z[k], i) for k, i in enumerate(range(start, stop))])

    def member(self, z: Tensor, i: int) -> Tensor:
        """Member i's batch (batch, ...) through batch_norm on its own rows, the kernel its
        job uses (statistics reduced over more channels at once round differently in the last
        bit)."""
        if self.training:
            self.num_batches_tracked[i].add_(1)
        return F.batch_norm(z, self.running_mean[i], self.running_var[i], self.weight[i],
                            self.bias[i], self.training, self.momentum, self.eps)


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
            else:  # an activation: no weights, the same for the whole run
                layers.append(copy.deepcopy(layer))
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


def block_norm(column: list[tuple[nn.Module, list[nn.Module]]]) -> nn.Module:
    """The stacked batch norm of one block (members' (layer, tail)); nn.Identity if none."""
    bns = [next((m for m in tail if isinstance(m, BATCH_NORMS)), None) for _, tail in column]
    if all(m is None for m in bns):
        return nn.Identity()
    return StackedBatchNorm(bns, column[0][0].weight.shape[0])


class StackedNet(nn.Module):
    """Networks of the same `structure` as one; members may differ after each Linear or
    Conv2d in activation, batch norm and dropout."""

    def __init__(self, nets: list[nn.Module], generators: list[torch.Generator],
                 offset: int = 0) -> None:
        """`generators[offset + i]` draws member i's dropout masks."""
        super().__init__()
        per_member = [blocks(net) for net in nets]
        self.flatten_input = flattens_input(nets[0])
        self.norms = nn.ModuleList(block_norm([b[j] for b in per_member])
                                   for j in range(len(per_member[0])))
        convs = sum(isinstance(layer, nn.Conv2d) for layer, _ in per_member[0])
        self.features = ConvFeatures([b[:convs] for b in per_member], self.norms[:convs]) \
            if convs else None
        self.linears = nn.ModuleList(StackedLinear([b[j][0] for b in per_member])
                                     for j in range(convs, len(per_member[0])))
        self.runs = nn.ModuleList()
        for j in range(convs, len(per_member[0])):
            tails = [b[j][1] for b in per_member]
            runs, start = nn.ModuleList(), 0
            while start < len(nets):
                stop = start + 1
                while stop < len(nets) and signature(tails[stop]) == signature(tails[start]):
                    stop += 1
                runs.append(Run(start, tails[start:stop], generators, offset, self.norms[j]))
                start = stop
            self.runs.append(runs)

    def forward(self, x: Tensor) -> Tensor:
        z = x.flatten(1) if self.flatten_input else x
        if self.features is not None:
            z = self.features(z)
        for linear, runs in zip(self.linears, self.runs, strict=True):
            z = linear(z)
            if len(runs) == 1:
                z = runs[0](z)
            else:
                z = torch.cat([run(z[run.start:run.stop]) for run in runs])
        return z

    def pairs(self, net: nn.Module) -> Iterator[tuple[Tensor, Tensor]]:
        """(a tensor of a member's own network `net`, the stacked tensor it is a row of): every
        weight, bias and batch-norm parameter and statistic."""
        weighted = [*(self.features.convs if self.features is not None else []), *self.linears]
        for (linear, tail), stacked, norm in zip(blocks(net), weighted, self.norms, strict=True):
            yield linear.weight, stacked.weight
            yield linear.bias, stacked.bias
            for layer in tail:
                if isinstance(layer, BATCH_NORMS):
                    for name in ("weight", "bias", "running_mean", "running_var",
                                 "num_batches_tracked"):
                        yield getattr(layer, name), getattr(norm, name)

    @torch.no_grad()
    def write_member(self, i: int, net: nn.Module) -> None:
        """Copy member i's weights and batch-norm statistics into its own network `net`."""
        for own, stacked in self.pairs(net):
            own.copy_(stacked[i])

    @torch.no_grad()
    def write_member_grads(self, i: int, net: nn.Module) -> None:
        """Member i's rows of the stacked gradients as the gradients of its own network's
        parameters (None where there is none): what its job alone holds before a step."""
        for own, stacked in self.pairs(net):
            if isinstance(own, nn.Parameter):
                own.grad = None if stacked.grad is None else stacked.grad[i].clone()
