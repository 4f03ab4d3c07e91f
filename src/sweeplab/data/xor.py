"""XOR: points at the four corners of the unit square, label 1 where exactly one coordinate is 1."""

from __future__ import annotations

import torch
from torch import Tensor

from sweeplab.data.generated import GeneratedData


class XorData(GeneratedData):
    task = "binary"
    num_classes = 2
    input_shape = (2,)

    def __init__(self, n: int = 100, noise: float = 0.01, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.noise = n, noise

    def generate(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        labels = torch.tensor([0, 1, 1, 0])
        which = torch.arange(self.n) % 4
        x = corners[which] + self.noise * torch.randn(self.n, 2, generator=g)
        return x, labels[which]
