"""From a composed config to a trained, tested and logged job.

`train(cfg)` is Hydra's task function: it checks the config, builds the DataModule, the network
and its LightningModule, fits, tests, writes `metrics.json` in the job's output dir, logs the
hyperparameters with the final metrics to TensorBoard, and returns the optimised metric.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from sweeplab.config import ConfigError, validate
from sweeplab.data.base import TensorDataModule
from sweeplab.models.cnn import conv_output_shape
from sweeplab.progress import default_progress_bar
from sweeplab.tasks import Classifier, Regressor

# Lightning's start-up chatter (accelerator lines, tips) buries the per-job progress lines
logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")


def optimized_metric(cfg: DictConfig, task: str) -> str:
    if cfg.get("optimized_metric", "auto") != "auto":
        return cfg.optimized_metric
    return "val/loss" if task == "regression" else "val/acc"


def metric_mode(name: str) -> str:
    """Whether a larger value of the metric is better ("max") or a smaller one ("min")."""
    return "min" if "loss" in name or "err" in name else "max"


def build_datamodule(cfg: DictConfig) -> TensorDataModule:
    """Instantiate the DataModule (no data is loaded until `setup`)."""
    try:
        return instantiate(cfg.data)
    except Exception as exc:  # constructor checks, e.g. an image folder with one class
        cause = exc.__cause__ or exc
        raise ConfigError(f"data: {cause}") from None


def check_compatible(cfg: DictConfig, dm: TensorDataModule) -> None:
    """Reject model/data pairs that cannot train, before any data is loaded."""
    model, data_name = cfg.model, dm.__class__.__name__
    family = model._target_.rsplit(".", 1)[-1]
    shape = list(dm.input_shape)
    if model.get("input_shape") is not None and list(model.input_shape) != shape:
        raise ConfigError(f"model.input_shape={list(model.input_shape)} does not match the "
                          f"data ({data_name} gives inputs of shape {shape})")
    if dm.task == "regression":
        if model.loss not in ("auto", "mse"):
            raise ConfigError(f"model.loss={model.loss} does not apply to regression data "
                              f"({data_name}); allowed: auto, mse")
        if family in ("LogisticRegression", "SoftmaxRegression", "SmallCNN"):
            raise ConfigError(f"model={family} does not fit regression data ({data_name}); "
                              f"use model=mlp or model=deep")
    elif family == "LogisticRegression" and dm.num_classes != 2:
        raise ConfigError(f"model=logistic needs two-class data; {data_name} has "
                          f"{dm.num_classes} classes (use model=softmax)")
    elif model.loss == "bce" and dm.num_classes != 2:
        raise ConfigError(f"model.loss=bce needs two-class data; {data_name} has "
                          f"{dm.num_classes} classes; allowed here: auto, ce, mse")
    if family == "SmallCNN":
        if len(shape) != 3:
            raise ConfigError(f"model=cnn needs image data (C, H, W); {data_name} gives "
                              f"inputs of shape {shape}")
        c, h, w = conv_output_shape(tuple(shape), list(model.channels), model.kernel_size,
                                    model.padding, model.stride, model.pool, model.pool_size,
                                    model.pool_stride)
        if h < 1 or w < 1:
            raise ConfigError(f"model=cnn: {len(model.channels)} conv blocks (kernel "
                              f"{model.kernel_size}, padding {model.padding}, pool "
                              f"{model.pool} {model.pool_size}) shrink {shape[1]}x{shape[2]} "
                              f"inputs to {h}x{w}; use fewer blocks, padding or less pooling")


def check_config(cfg: DictConfig) -> tuple[dict[str, Any], TensorDataModule]:
    """Every check that can run before training; raises ConfigError."""
    typed = validate(cfg)
    dm = build_datamodule(cfg)
    check_compatible(cfg, dm)
    return typed, dm


def build_module(cfg: DictConfig, dm: TensorDataModule) -> L.LightningModule:
    net = OmegaConf.to_container(cfg.model, resolve=True)
    common = dict(net=net, optim=OmegaConf.to_container(cfg.optim, resolve=True),
                  init=OmegaConf.to_container(cfg.init, resolve=True),
                  input_shape=list(dm.input_shape), loss=net.get("loss", "auto"),
                  max_epochs=int(cfg.trainer.max_epochs))
    if dm.task == "regression":
        return Regressor(out_features=dm.num_classes, **common)
    return Classifier(num_classes=dm.num_classes, **common)


def output_dir(cfg: DictConfig) -> Path:
    path = Path(cfg.paths.output_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_overrides() -> list[str]:
    """The job's command-line overrides (Hydra's), or none outside a Hydra run."""
    if HydraConfig.initialized():
        return list(HydraConfig.get().overrides.task)
    return []


def parallel_jobs() -> int:
    """How many jobs the launcher runs at once on this machine."""
    if not HydraConfig.initialized():
        return 1
    n = HydraConfig.get().launcher.get("n_jobs", 1) or 1
    return os.cpu_count() or 1 if n < 0 else int(n)


def set_threads(requested: int) -> int:
    """Torch threads for this job: as asked, or this process's cores over parallel jobs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = requested or max(1, (cores or 1) // parallel_jobs())
    torch.set_num_threads(threads)
    return threads


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


def write_json(path: Path, data: dict) -> None:
    """Write then rename, so readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def final_metrics(trainer: L.Trainer) -> dict[str, float]:
    return {k: float(v) for k, v in trainer.callback_metrics.items()
            if not k.endswith("_step") and torch.as_tensor(v).numel() == 1}


def fit(cfg: DictConfig, dm: TensorDataModule, out: Path) -> dict[str, float]:
    """Train and test one job; the final metrics."""
    module = build_module(cfg, dm)
    loggers = [instantiate(lg) for lg in cfg.get("logger", {}).values() if lg]
    callbacks = [instantiate(cb) for cb in cfg.get("callbacks", {}).values() if cb]
    callbacks += default_progress_bar(cfg.trainer.get("enable_progress_bar", True), callbacks)
    trainer: L.Trainer = get_class(cfg.trainer._target_)(
        **{k: v for k, v in OmegaConf.to_container(cfg.trainer, resolve=True).items()
           if k != "_target_"},
        logger=loggers or False, callbacks=callbacks, default_root_dir=str(out))
    trainer.fit(module, datamodule=dm)
    metrics = final_metrics(trainer)
    if cfg.get("test", True):
        trainer.test(module, datamodule=dm, verbose=False)
        metrics.update(final_metrics(trainer))
    metrics["epochs"] = float(trainer.current_epoch)
    metrics["steps"] = float(trainer.global_step)
    for lg in loggers:
        if lg.__class__.__name__ == "TensorBoardLogger":
            linked = {f"final/{k.replace('/', '_')}": v for k, v in metrics.items()
                      if "/" in k}
            lg.log_hyperparams(flat_hparams(cfg), metrics=linked)
        lg.finalize("success")
    return metrics


def train(cfg: DictConfig) -> float | None:
    """Run one job; returns the optimised metric (NaN if the job failed inside a sweep)."""
    started = time.time()
    _, dm = check_config(cfg)
    threads = set_threads(int(cfg.get("threads", 0)))
    L.seed_everything(int(cfg.seed), workers=False, verbose=False)
    out = output_dir(cfg)
    target = optimized_metric(cfg, dm.task)
    record: dict[str, Any] = {"status": "running", "optimized_metric": target,
                              "overrides": job_overrides(), "threads": threads}
    try:
        record["metrics"] = fit(cfg, dm, out)
        record["status"] = "completed"
    except Exception as exc:
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        if not is_multirun():
            raise
    finally:
        record["duration_s"] = round(time.time() - started, 3)
        write_json(out / "metrics.json", record)
    value = record.get("metrics", {}).get(target, math.nan)
    return float(value)


def is_multirun() -> bool:
    if not HydraConfig.initialized():
        return False
    return str(HydraConfig.get().mode) == "RunMode.MULTIRUN"


def main(cfg: DictConfig) -> float | None:
    """What scripts/train.py runs: `train`, with config errors as one line and exit code 2."""
    try:
        return train(cfg)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
