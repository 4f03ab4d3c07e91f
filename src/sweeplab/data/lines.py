"""11x11 images of a 3x9 bar, vertical (class 0) or horizontal (class 1), each bar pixel lit
with probability `p` (the course's first CNN data).

`offset=None` places each bar anywhere it fits. An integer follows the course: 0 puts every bar
at the same place (3-pixel side from column/row 4, 9-pixel side from 1), k > 0 shifts those
starts by a random 0..k-1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sweeplab.data.generated import GeneratedData
from sweeplab.data.images import ImageData


class LinesData(GeneratedData, ImageData):
    task = "binary"
    num_classes = 2
    input_shape = (1, 11, 11)

    def __init__(self, n: int = 2000, p: float = 0.9, offset: int | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.p, self.offset = n, p, offset

    @property
    def class_names(self) -> list[str]:
        return ["vertical", "horizontal"]

    def generate(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        y = torch.arange(self.n) % 2
        if self.offset is None:
            across = torch.randint(0, 9, (self.n,), generator=g)  # the bar's 3-pixel side
            along = torch.randint(0, 3, (self.n,), generator=g)  # the bar's 9-pixel side
        else:
            k = max(self.offset, 1)
            across = 3 + torch.randint(0, k, (self.n,), generator=g) if self.offset else \
                torch.full((self.n,), 4)
            along = 1 + torch.randint(0, k, (self.n,), generator=g) if self.offset else \
                torch.full((self.n,), 1)
        lit = torch.rand(self.n, 11, 11, generator=g) < self.p
        rows = torch.arange(11).view(1, 11, 1)
        cols = torch.arange(11).view(1, 1, 11)
        a, b = across.view(-1, 1, 1), along.view(-1, 1, 1)
        vertical = (cols >= a) & (cols < a + 3) & (rows >= b) & (rows < b + 9)
        horizontal = (rows >= a) & (rows < a + 3) & (cols >= b) & (cols < b + 9)
        bar = torch.where(y.view(-1, 1, 1) == 0, vertical, horizontal)
        images = (bar & lit).to(torch.uint8) * 255
        return images.unsqueeze(1), y
