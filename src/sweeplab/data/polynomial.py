"""Regression on a noisy polynomial; the test set is the noise-free curve, so test/loss is the
error against the truth, not against the noise."""

from __future__ import annotations

import torch
from torch import Tensor

from sweeplab.data.base import Split, TensorDataModule


class PolynomialData(TensorDataModule):
    task = "regression"
    num_classes = 1
    input_shape = (1,)
    split_keys = {"train": "n", "val": "n_val", "test": "n_test"}

    def __init__(self, coefficients: list[float] = (0.0, 0.0, 1.0), n: int = 40,
                 low: float = -1.0, high: float = 1.0, noise: float = 1.0, n_val: int = 40,
                 n_test: int = 200, **kwargs) -> None:
        super().__init__(**kwargs)
        self.coefficients = list(coefficients)
        self.n, self.low, self.high, self.noise = n, low, high, noise
        self.n_val, self.n_test = n_val, n_test

    def truth(self, x: Tensor) -> Tensor:
        """The noise-free polynomial, coefficients from the constant term up."""
        return sum(c * x**i for i, c in enumerate(self.coefficients)) + 0 * x

    def _noisy(self, n: int, g: torch.Generator) -> Split:
        x = torch.linspace(self.low, self.high, n).unsqueeze(1)
        return Split(x, self.truth(x) + self.noise * torch.randn(n, 1, generator=g))

    def load(self) -> dict[str, Split]:
        g = torch.Generator().manual_seed(self.seed)
        train, val = self._noisy(self.n, g), self._noisy(self.n_val, g)
        x = torch.linspace(self.low, self.high, self.n_test).unsqueeze(1)
        return {"train": train, "val": val, "test": Split(x, self.truth(x))}
