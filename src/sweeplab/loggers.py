"""The TensorBoard logger sweeplab configures: learning curves first in the Time Series view;
what a resumed job's CSV logger keeps of the curve written before its checkpoint.

TensorBoard's Time Series sorts its cards by tag and groups them by the part before the first
`/`, so Lightning's `epoch` counter and the one-point `test/*` results came before `train/` and
`val/`. Here the `epoch` counter is not written (the step axis is the optimiser step, for
scalars and figures alike; `sweep.compare` finds the epochs from the `train/loss` points), and
whatever is not a learning curve (the test results, the figures) goes under a section whose
name starts with `~`, which sorts after every letter.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

#: what TensorBoard tags start with when they are not learning curves
ASIDE = "~"


def board_tag(name: str, figure: bool = False) -> str:
    """The TensorBoard tag of metric or figure `name`: `test/acc` -> `~test/acc`, a figure
    `val/predictions` -> `~val/predictions`; the learning curves keep their names."""
    return f"{ASIDE}{name}" if figure or name.startswith("test/") else name


class CurvesFirstTensorBoardLogger(TensorBoardLogger):
    """Lightning's TensorBoard logger without its `epoch` scalar, the test results aside."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        super().log_metrics({board_tag(k): v for k, v in metrics.items() if k != "epoch"},
                            step)


class WholeEpochCSVLogger(CSVLogger):
    """Lightning's CSV logger, its `epoch` column a whole number on every row. A run taking
    several optimiser steps per Lightning step logs its epoch metrics' step and epoch as
    metrics (sweeplab.steps), which Lightning stores as floats; the rows read as a K=1 run's."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        epoch = metrics.get("epoch")
        if isinstance(epoch, float) and epoch.is_integer():
            metrics = {**metrics, "epoch": int(epoch)}
        super().log_metrics(metrics, step)


def keep_csv_rows(loggers: list, before_step: int) -> None:
    """A resumed job's CSV loggers start with the rows the interrupted run wrote before its
    checkpoint's step (Lightning's CSV writer empties `metrics.csv` when it starts); rows
    written after the checkpoint (before a kill) are dropped, as training repeats them."""
    for logger in loggers:
        if not isinstance(logger, CSVLogger):
            continue
        path = Path(logger.log_dir) / "metrics.csv"
        if not path.is_file():
            continue
        with path.open(newline="") as file:
            rows = list(csv.DictReader(file))
        for row in rows:
            step = int(float(row.pop("step")))
            if step < before_step:
                logger.log_metrics({k: v for k, v in row.items() if v != ""}, step)  # as written
        logger.save()
