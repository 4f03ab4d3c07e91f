"""What a job shows its loggers once it ends: its hyperparameters linked to its final metrics."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf


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


def log_final(loggers: list[Logger], cfg: DictConfig, metrics: dict[str, float]) -> None:
    """Hyperparameters with the final metrics (`final/val_acc`, ...) where a logger links them
    (TensorBoard's HParams tab); then each logger is closed."""
    for lg in loggers:
        if isinstance(lg, TensorBoardLogger):
            linked = {f"final/{k.replace('/', '_')}": v for k, v in metrics.items() if "/" in k}
            lg.log_hyperparams(flat_hparams(cfg), metrics=linked)
        lg.finalize("success")
