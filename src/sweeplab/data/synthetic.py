"""The course's small generated sets.

`kind=line1d`: points on a 1-D grid (`start`, `stop`, `step`, or `num` evenly spaced), labelled
either by `thresholds` (class = how many thresholds lie below x; one threshold is a binary task)
or by `intervals` (1 inside any open interval, else 0).
`kind=quadratic2d`: `n` uniform points in the unit square labelled by the sign of
-1 + x1 + 2 x2 + x1 x2 - 3 x1^2 + x2^2, then moved by Gaussian `noise` (the dropout lab).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sweeplab.data.generated import GeneratedData


class SyntheticData(GeneratedData):
    def __init__(self, kind: str = "line1d", start: float = -1.0, stop: float = 1.0,
                 step: float = 0.1, num: int = 0, thresholds: list[float] = (0.2,),
                 intervals: list[list[float]] = (), n: int = 1000, noise: float = 0.2,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.start, self.stop, self.step, self.num = start, stop, step, num
        self.thresholds = list(thresholds)
        self.intervals = [list(i) for i in intervals]
        self.n, self.noise = n, noise
        if kind == "quadratic2d":
            self.input_shape, self.num_classes = (2,), 2
        else:
            self.input_shape = (1,)
            self.num_classes = 2 if self.intervals else len(self.thresholds) + 1
        self.task = "binary" if self.num_classes == 2 else "multiclass"

    def generate(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        if self.kind == "quadratic2d":
            return self._quadratic(g)
        if self.num > 0:
            x = torch.linspace(self.start, self.stop, self.num)
        else:
            x = torch.arange(self.start, self.stop, self.step)
        if self.intervals:
            inside = torch.zeros_like(x, dtype=torch.bool)
            for lo, hi in self.intervals:
                inside |= (x > lo) & (x < hi)
            y = inside.long()
        else:
            y = sum((x > t).long() for t in self.thresholds)
        return x.unsqueeze(1), y

    def _quadratic(self, g: torch.Generator) -> tuple[Tensor, Tensor]:
        x = torch.rand(self.n, 2, generator=g)
        x1, x2 = x[:, 0], x[:, 1]
        f = -1 + x1 + 2 * x2 + x1 * x2 - 3 * x1**2 + x2**2
        y = (f > 0).long()
        return x + self.noise * torch.randn(self.n, 2, generator=g), y
