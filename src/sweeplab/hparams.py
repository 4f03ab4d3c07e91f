"""What a job shows its loggers once it ends: its hyperparameters linked to its final metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from sweeplab.runtime import is_multirun


def flat_hparams(cfg: DictConfig) -> dict[str, Any]:
    """The hyperparameters shown in TensorBoard's HParams tab, as scalars and strings."""
    out: dict[str, Any] = {"seed": cfg.seed, "max_epochs": cfg.trainer.max_epochs}
    for group in ("data", "model", "optim", "init"):
        node = OmegaConf.to_container(cfg[group], resolve=True)
        for key, value in node.items():
            if key in ("data_dir", "root", "seed"):
                continue
            name = f"{group}.{key}".replace("._target_", "")
            if key == "_target_":
                value = value.rsplit(".", 1)[-1]
            out[name] = value if isinstance(value, int | float | str | bool) else str(value)
    return out


def final_metric_names(metrics: dict[str, float]) -> dict[str, float]:
    """`val/acc` -> `final/val_acc`: the job's end results, apart from the training curves."""
    return {f"final/{k.replace('/', '_')}": v for k, v in metrics.items() if "/" in k}


def log_final(loggers: list[Logger], cfg: DictConfig, metrics: dict[str, float],
              metric: str | None = None, started: float | None = None) -> None:
    """Hyperparameters with the final metrics: as run parameters and metrics (`final/val_acc`)
    in the run trackers (MLflow, W&B); in TensorBoard's HParams tab linked to the last value of
    each curve, for a single run here and for a sweep once all its jobs are in (sweep.tensorboard,
    which shows only what was swept); then each logger is closed."""
    hparams, final = flat_hparams(cfg), final_metric_names(metrics)
    for lg in loggers:
        if isinstance(lg, TensorBoardLogger):
            lg.log_hyperparams(hparams)  # hparams.yaml; no final/* scalars among the curves
            if not is_multirun():
                from sweeplab.sweep.tensorboard import write_run

                write_run(Path(lg.log_dir), hparams, metric or next(iter(metrics)), metrics,
                          started or time.time())
        elif isinstance(lg, MLFlowLogger | WandbLogger):
            lg.log_hyperparams(hparams)
            lg.log_metrics(final)
        lg.finalize("success")
