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
import shlex
import signal
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

from sweeplab import resume, slurm
from sweeplab.checkpoints import load_checkpoint
from sweeplab.config import ConfigError, validate
from sweeplab.data.base import TensorDataModule
from sweeplab.data.errors import DataError
from sweeplab.models.cnn import conv_output_shape
from sweeplab.progress import default_progress_bar
from sweeplab.robust import Diverged, DivergenceGuard, GracefulStop, Interrupted, outcome
from sweeplab.summary import atomic_write
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
    return (os.cpu_count() or 1) if n < 0 else int(n)  # joblib's -1: one job per core


def set_threads(requested: int) -> int:
    """Torch threads for this job: as asked, or this process's cores over parallel jobs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = min(cores or 1, slurm.allocated_cpus() or cores or 1)  # unbound Slurm CPUs too
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
    """Write then rename (summary.atomic_write), so readers never see half a file."""
    atomic_write(path, json.dumps(data, indent=2, default=str) + "\n")


def final_metrics(trainer: L.Trainer) -> dict[str, float]:
    return {k: float(v) for k, v in trainer.callback_metrics.items()
            if not k.endswith("_step") and torch.as_tensor(v).numel() == 1}


def train_set_metrics(module: L.LightningModule, dm: TensorDataModule) -> dict[str, float]:
    """The training set measured after fit in eval mode (dropout off): train/loss_eval, acc_eval."""
    from sweeplab.evaluate import evaluate

    return {f"train/{k}_eval": v for k, v in evaluate(module, dm.loader("train")).items()}


def fit(cfg: DictConfig, dm: TensorDataModule, out: Path,
        ckpt_path: Path | None = None) -> dict[str, float]:
    """Train (from `ckpt_path` if given) and test one job; the final metrics."""
    module = build_module(cfg, dm)
    if ckpt_path is not None:
        load_checkpoint(ckpt_path, dict(module.hparams))  # a different model: CheckpointMismatch
    loggers = [instantiate(lg) for lg in cfg.get("logger", {}).values() if lg]
    callbacks = [instantiate(cb) for cb in cfg.get("callbacks", {}).values() if cb]
    stop = GracefulStop(out / "checkpoints" / "last.ckpt")
    callbacks += default_progress_bar(cfg.trainer.get("enable_progress_bar", True), callbacks)
    trainer: L.Trainer = get_class(cfg.trainer._target_)(
        **{k: v for k, v in OmegaConf.to_container(cfg.trainer, resolve=True).items()
           if k != "_target_"},
        logger=loggers or False, callbacks=[*callbacks, DivergenceGuard(), stop],
        default_root_dir=str(out))
    with stop:
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
        metrics = final_metrics(trainer)
        if not any(k.startswith("val/") for k in metrics):
            # max_steps ended training before the first epoch's validation: validate once now,
            # so the job still reports (and returns) its validation metrics
            trainer.validate(module, datamodule=dm, verbose=False)
            metrics.update(final_metrics(trainer))
        if cfg.get("test", True):
            trainer.test(module, datamodule=dm, verbose=False)
            metrics.update(final_metrics(trainer))
        if cfg.get("eval_train", False):
            metrics.update(train_set_metrics(module, dm))
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
    """Run one job and record how it ended; returns the optimised metric (NaN unless completed).

    Inside a sweep a failed or diverged job is recorded and the sweep goes on; a single run
    raises. `Interrupted` always propagates, after the job's checkpoint and record are written.
    """
    started = time.time()
    if cfg.get("lab"):
        return run_lab(cfg, started)
    out = output_dir(cfg)
    overrides = [o for o in job_overrides() if not o.startswith("resume=")]
    previous = resume.find_previous(out, overrides, is_multirun()) if cfg.get("resume") else None
    if previous is not None and previous.finished:
        print(f"[sweeplab] {previous.folder}: already {previous.record['status']}, skipped",
              flush=True)
        return previous.value
    record: dict[str, Any] = {"status": "running", "overrides": overrides}
    if previous is not None and previous.checkpoint is not None:
        record["resumed_from"] = str(previous.checkpoint)
    try:
        _, dm = check_config(cfg)
        record["threads"] = set_threads(int(cfg.get("threads", 0)))
        record["optimized_metric"] = optimized_metric(cfg, dm.task)
        write_json(out / "metrics.json", record)  # a job killed outright still shows up
        L.seed_everything(int(cfg.seed), workers=False, verbose=False)
        dm.setup()  # bad data files fail here, with a DataError naming the file
        ckpt = previous.checkpoint if previous is not None else None
        record["metrics"] = fit(cfg, dm, out, ckpt)
        record["status"] = "completed"
    except BaseException as exc:
        record["status"], record["error"] = outcome(exc)
        if not is_multirun() or not isinstance(exc, Exception) or isinstance(exc, Interrupted):
            raise
    finally:
        record["duration_s"] = round(time.time() - started, 3)
        write_json(out / "metrics.json", record)
    return float(record.get("metrics", {}).get(record.get("optimized_metric"), math.nan))


def run_lab(cfg: DictConfig, started: float) -> None:
    """An experiment that trains nothing (`lab: <name>`): run that lab into the output dir."""
    from sweeplab.labs import run as run_named_lab

    out = output_dir(cfg)
    run_named_lab(str(cfg.lab), out)
    write_json(out / "metrics.json", {"status": "completed", "lab": str(cfg.lab), "metrics": {},
                                      "overrides": job_overrides(),
                                      "duration_s": round(time.time() - started, 3)})
    return None


def is_multirun() -> bool:
    if not HydraConfig.initialized():
        return False
    return str(HydraConfig.get().mode) == "RunMode.MULTIRUN"


def resume_hint(sweep_dir: Path | None = None) -> str:
    """The command that continues this run or sweep (`sweep_dir` from a launcher, whose
    HydraConfig is not yet resolved; a job's own otherwise)."""
    if is_multirun() and sweep_dir is None:
        sweep_dir = HydraConfig.get().sweep.dir
    if slurm.in_slurm_job():  # sys.argv is submitit's here; the submitting process prints it
        return f"the sweep's command with resume=true hydra.sweep.dir={sweep_dir}"
    args = [a for a in sys.argv[1:] if not a.startswith(("resume=", "hydra.sweep.dir="))]
    if sweep_dir is not None:
        args.append(f"hydra.sweep.dir={sweep_dir}")
    return f"python {sys.argv[0]} {shlex.join(args)} resume=true"


def main(cfg: DictConfig) -> float | None:
    """What scripts/train.py runs: `train`, with its outcomes as one line and an exit code.

    Exit codes: 2 bad config or data, 1 a single run diverged, 128 + signal number interrupted.
    """
    try:
        value = train(cfg)
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Diverged as exc:
        print(f"error: diverged: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except Interrupted as exc:
        if is_multirun():
            from sweeplab.summary import write_summary

            write_summary(Path(HydraConfig.get().sweep.dir))
        print(f"[sweeplab] interrupted: {exc}\n[sweeplab] to continue: {resume_hint()}",
              file=sys.stderr, flush=True)
        raise SystemExit(128 + exc.signum) from None
    except KeyboardInterrupt:
        print("[sweeplab] interrupted before a checkpoint was saved", file=sys.stderr)
        raise SystemExit(128 + signal.SIGINT) from None
    if not is_multirun() and value is not None:  # a sweep prints its summary instead
        out = Path(cfg.paths.output_dir)
        metric = json.loads((out / "metrics.json").read_text())["optimized_metric"]
        print(f"[sweeplab] {metric} = {value:.4f}; metrics.json and TensorBoard logs in {out} "
              f"(tensorboard --logdir {out})", flush=True)
    elif value is not None and math.isnan(value):
        return None  # Optuna's sweeper crashes on a NaN; None marks the trial failed, goes on
    return value
