"""Softmax regression: one linear layer to one logit per class (softmax in the loss)."""

from __future__ import annotations

from torch import Tensor, nn

from sweeplab.models.layers import flat_size


class SoftmaxRegression(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(flat_size(input_shape), out_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.flatten(x))
