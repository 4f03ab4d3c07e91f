"""Which weights a job is tested with: the last epoch's, or the best epoch's by the optimised
metric (`test_on` in conf/train.yaml).

A sweep compares jobs by their best validation epoch, so by default (`test_on: auto`) a sweep's
jobs are tested on the weights of that epoch: Lightning's `ModelCheckpoint` keeps them in
`checkpoints/best.ckpt` (weights only; `last.ckpt` is still what a resume continues from). A
single run is tested on its last epoch's weights, as the course's walkthroughs expect.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from sweeplab.record import larger_is_better
from sweeplab.runtime import is_multirun


def tests_on_best(cfg: DictConfig) -> bool:
    """`test_on`, with `auto` read as best in a sweep and last in a single run."""
    choice = cfg.get("test_on", "auto")
    return choice == "best" or (choice == "auto" and is_multirun())


def keeps_best(cfg: DictConfig, metric: str) -> bool:
    """Whether the job keeps its best epoch's weights by `metric` to test them: not when it
    tests on its last weights, or optimises a metric validation does not measure."""
    return bool(cfg.get("test") and tests_on_best(cfg) and metric.startswith("val/"))


def best_checkpoint(cfg: DictConfig, metric: str, out: Path) -> ModelCheckpoint | None:
    """The callback that keeps the best epoch's weights by `metric`; None unless `keeps_best`."""
    if not keeps_best(cfg, metric):
        return None
    return ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor=metric,
                           mode="max" if larger_is_better(metric) else "min", save_top_k=1,
                           save_weights_only=True, auto_insert_metric_name=False,
                           enable_version_counter=False)


def tested_weights(best: ModelCheckpoint | None) -> tuple[str | None, dict[str, float]]:
    """The checkpoint `trainer.test` loads (None: the weights in memory, the last epoch's) and
    what the record says about it: `tested_epoch`, the number of epochs those weights had seen.

    With no best checkpoint saved (no validation ran, fast_dev_run) the last weights are tested.
    """
    if best is None or not best.best_model_path:
        return None, {}
    saved = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
    return best.best_model_path, {"tested_epoch": float(saved["epoch"] + 1)}


def tested_on(cfg: DictConfig, metrics: dict[str, float]) -> str | None:
    """What a job's record says the test measured: "best", "last", or None (no test)."""
    if not cfg.get("test"):
        return None
    return "best" if "tested_epoch" in metrics else "last"
