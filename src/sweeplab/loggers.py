"""What run-tracking loggers (MLflow, W&B) get when a job ends, beyond the scalars of training.

Lightning logs the module's hyperparameters and every `self.log` scalar to all loggers by itself;
this adds what sweeplab reports per job (the flat config of `train.flat_hparams` and the final
metrics of `metrics.json`), so a tracking UI can sort and filter runs by them.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger, MLFlowLogger, WandbLogger


def final_metric_names(metrics: dict[str, float]) -> dict[str, float]:
    """`val/acc` -> `final/val_acc`: the job's end results, apart from the training curves."""
    return {f"final/{k.replace('/', '_')}": v for k, v in metrics.items() if "/" in k}


def log_job_result(logger: Logger, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
    """The job's hyperparameters and final metrics, for loggers that track runs."""
    if isinstance(logger, MLFlowLogger | WandbLogger):
        logger.log_hyperparams(hparams)
        logger.log_metrics(final_metric_names(metrics))
