"""Logistic regression: one linear unit whose logit goes through a sigmoid (in the loss)."""

from __future__ import annotations

from torch import Tensor, nn

from sweeplab.models.layers import flat_size


class LogisticRegression(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], out_features: int = 1) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(flat_size(input_shape), out_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.flatten(x))
