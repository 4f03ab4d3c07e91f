"""XOR: points at the four corners of the unit square, label 1 where exactly one coordinate is 1.

`noise_in_loop=true` also adds fresh N(0, noise) to every training batch, as the course's XOR
lab did inside its training loop (the stored points keep their own draw).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sweeplab.data.generated import GeneratedData


class XorData(GeneratedData):
    task = "binary"
    num_classes = 2
    input_shape = (2,)

    def __init__(self, n: int = 100, noise: float = 0.01, noise_in_loop: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.noise, self.noise_in_loop = n, noise, noise_in_loop

    def train_batches(self):
        loader = super().train_batches()
        if self.noise_in_loop and self.noise > 0:
            return JitterLoader(loader, self.noise, self.seed)
        return loader

    def generate(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        labels = torch.tensor([0, 1, 1, 0])
        which = torch.arange(self.n) % 4
        x = corners[which] + self.noise * torch.randn(self.n, 2, generator=g)
        return x, labels[which]


class JitterLoader:
    """The wrapped loader's batches with fresh Gaussian noise on the inputs (seeded per epoch)."""

    def __init__(self, loader, std: float, seed: int) -> None:
        self.loader, self.std, self.seed = loader, std, seed

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 7919 + self.loader.epoch)
        for x, y in self.loader:
            yield x + self.std * torch.randn(x.shape, generator=g).to(x.device), y
