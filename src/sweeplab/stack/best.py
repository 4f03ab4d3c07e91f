"""Each stack member's weights at its best validation epoch, kept on the device.

A job alone tested on its best epoch (`test_on`, sweeplab.best_checkpoint) has Lightning's
`ModelCheckpoint` save its weights whenever the monitored metric strictly improves (the first
validation always counts; a NaN never improves). A stack's members reach their best at
different epochs, so `BestWeights` keeps a copy of every stacked tensor and, after each
validation, copies in the rows of the members that improved (`torch.where` on the device: no
host sync). Being buffers, the copies go into the stack's checkpoint and survive a resume.
For the test the best rows are swapped in (`swap`), and swapped back afterwards, so that each
member's `last.ckpt` still holds its last weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeplab.record import larger_is_better


def watched(metric: str) -> str:
    """The per-epoch metric a best-so-far follows: `val/acc_best` improves when `val/acc` does."""
    return metric.removesuffix("_best")


def rows(mask: Tensor, t: Tensor) -> Tensor:
    """A per-member mask (N,) shaped to select rows of a stacked tensor (N, ...)."""
    return mask.view(-1, *([1] * (t.dim() - 1)))


class BestWeights(nn.Module):
    """Copies of stacked networks' tensors (each with a leading member dimension) holding
    each member's weights at its best epoch by `metric` so far."""

    def __init__(self, nets: nn.ModuleList, groups: list[range], metric: str) -> None:
        super().__init__()
        self.metric, self.groups = watched(metric), groups
        self.larger = larger_is_better(metric)
        self.nets = [nets]  # held, not owned: the stack owns the networks
        for g, net in enumerate(nets):
            for k, t in enumerate(net.state_dict().values()):
                self.register_buffer(f"net{g}_{k}", t.detach().clone())
        members = groups[-1].stop
        self.register_buffer("value", torch.full((members,), torch.nan))
        self.register_buffer("epoch", torch.full((members,), -1, dtype=torch.long))
        self.register_buffer("step", torch.zeros(members, dtype=torch.long))

    def pairs(self):
        """(the network's tensor, its copy) for every stacked tensor, with the group's range."""
        for g, (net, group) in enumerate(zip(self.nets[0], self.groups, strict=True)):
            for k, t in enumerate(net.state_dict().values()):
                yield group, t, getattr(self, f"net{g}_{k}")

    @torch.no_grad()
    def update(self, value: Tensor, epoch: int, step: int) -> None:
        """After a validation: members whose `value` (M,) strictly beats their best so far
        (or that have none yet) take their current weights as best."""
        worst = -torch.inf if self.larger else torch.inf
        value = torch.nan_to_num(value.to(self.value), nan=worst)
        better = value > self.value if self.larger else value < self.value
        improved = better | (self.epoch < 0)
        self.value.copy_(torch.where(improved, value, self.value))
        self.epoch.copy_(torch.where(improved, torch.full_like(self.epoch, epoch), self.epoch))
        self.step.copy_(torch.where(improved, torch.full_like(self.step, step), self.step))
        for group, t, best in self.pairs():
            mask = improved[group.start:group.stop]
            best.copy_(torch.where(rows(mask, t), t, best))

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange the networks' weights with the best copies, for the members that have a
        best epoch (a second call swaps back)."""
        for group, t, best in self.pairs():
            mask = rows(self.epoch[group.start:group.stop] >= 0, t)
            current = t.clone()
            t.copy_(torch.where(mask, best, t))
            best.copy_(torch.where(mask, current, best))

    def tested_epoch(self, i: int) -> float | None:
        """The number of epochs member i's best weights had seen, as a job's record says it
        (`tested_epoch`); None if it has no best epoch (no validation ran)."""
        epoch = int(self.epoch[i])
        return float(epoch + 1) if epoch >= 0 else None
