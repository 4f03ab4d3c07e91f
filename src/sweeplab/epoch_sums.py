"""Training-epoch means from plain tensor sums: what torchmetrics' MeanMetric and micro
Accuracy compute, for a fraction of their per-step cost (the step of a small model is short)."""

from __future__ import annotations

import torch
from torch import Tensor


class EpochSums:
    """Per-step losses and hit counts kept on the device; summed once at epoch end."""

    def __init__(self) -> None:
        self.losses: list[Tensor] = []
        self.sizes: list[int] = []
        self.hits: list[Tensor] = []

    def state_dict(self) -> dict[str, list]:
        """The epoch so far (plain tensors and ints), so an interrupted epoch resumes exactly."""
        return {"losses": list(self.losses), "sizes": list(self.sizes), "hits": list(self.hits)}

    def load_state_dict(self, state: dict[str, list]) -> None:
        self.losses, self.sizes, self.hits = (list(state[k]) for k in ("losses", "sizes", "hits"))

    def update(self, loss: Tensor, size: int, hits: Tensor | None = None) -> None:
        self.losses.append(loss)
        self.sizes.append(size)
        if hits is not None:
            self.hits.append(hits)

    def compute(self, strategy=None) -> tuple[Tensor, ...] | None:
        """(mean loss, accuracy) weighted by batch size, summed over ranks; then reset.

        Losses and hits may carry a leading model dimension (a stack of models): the means then
        have one value per model. None when the epoch saw no batch.
        `strategy.reduce(..., reduce_op="sum")` adds the sums of every DDP rank (identity on one
        device), as torchmetrics' sync would.
        """
        if not self.losses:
            return None
        losses = torch.stack(self.losses).double()
        sizes = torch.tensor(self.sizes, dtype=torch.float64, device=losses.device)
        sums = [sizes @ losses]
        if self.hits:
            sums.append(torch.stack(self.hits).double().sum(0))
        shape = sums[0].shape
        flat = torch.cat([s.reshape(-1) for s in sums] + [sizes.sum().reshape(1)])
        if strategy is not None:
            flat = strategy.reduce(flat, reduce_op="sum")
        self.__init__()
        parts = flat[:-1].view(len(sums), *shape)
        return tuple((part / flat[-1]).float() for part in parts)
