"""The cs231n spiral: `classes` arms of `n_per_class` points, angle noise `noise`."""

from __future__ import annotations

import torch
from torch import Tensor

from sweeplab.data.generated import GeneratedData


class SpiralData(GeneratedData):
    task = "multiclass"
    input_shape = (2,)

    def __init__(self, n_per_class: int = 500, classes: int = 3, noise: float = 0.2,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_per_class, self.num_classes, self.noise = n_per_class, classes, noise

    def generate(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        n, k = self.n_per_class, self.num_classes
        xs, ys = [], []
        turn = 4.0 * 3 / k  # the original spans 4 radians per arm for 3 arms
        for j in range(k):
            r = torch.linspace(0.0, 1.0, n)
            t = torch.linspace(j * turn, (j + 1) * turn, n)
            t = t + torch.randn(n, generator=g) * self.noise
            xs.append(torch.stack([r * torch.sin(t), r * torch.cos(t)], dim=1))
            ys.append(torch.full((n,), j, dtype=torch.long))
        return torch.cat(xs), torch.cat(ys)
