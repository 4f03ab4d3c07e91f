"""Helpers shared by the generated (seeded, in-memory) datasets."""

from __future__ import annotations

import torch
from torch import Tensor

from sweeplab.data.base import Split, TensorDataModule, split_off


class GeneratedData(TensorDataModule):
    """A dataset drawn from a seeded generator: `generate(g)` returns all of (x, y).

    Validation and test sets are seeded random splits of it, unless `eval_on_train` is set:
    then both are the training set itself, as the course measured accuracy on its small sets.
    """

    def __init__(self, val_size: float = 0.2, test_size: float = 0.2,
                 eval_on_train: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.val_size, self.test_size, self.eval_on_train = val_size, test_size, eval_on_train

    def generate(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def load(self) -> dict[str, Split]:
        x, y = self.generate(torch.Generator().manual_seed(self.seed))
        if self.eval_on_train:
            whole = Split(x, y)
            return {"train": whole, "val": whole, "test": whole}
        rest, test = split_off(x, y, self.test_size, self.seed + 1)
        train, val = split_off(rest.x, rest.y, self.val_size, self.seed + 2)
        return {"train": train, "val": val, "test": test}
