"""From a composed config to a trained, tested and logged job.

`train(cfg)` is Hydra's task function: it builds the DataModule, the network and its
LightningModule, fits, tests, writes the job record (`metrics.json`) in the job's output dir,
logs the hyperparameters with the final metrics, and returns the optimised metric. `main(cfg)`
is what scripts/train.py runs: `train` with its outcomes turned into one line and an exit code.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from sweeplab import resume
from sweeplab.best_checkpoint import best_checkpoint, tested_on, tested_weights
from sweeplab.checkpoints import load_checkpoint
from sweeplab.checks import check_config
from sweeplab.config import ConfigError
from sweeplab.data.base import TensorDataModule
from sweeplab.data.errors import DataError
from sweeplab.hparams import log_final
from sweeplab.loggers import keep_csv_rows
from sweeplab.progress import default_progress_bar
from sweeplab.record import JobRecord
from sweeplab.robust import Diverged, DivergenceGuard, GracefulStop, Interrupted, outcome
from sweeplab.runtime import is_multirun, job_overrides, output_dir, resume_hint, set_threads
from sweeplab.steps import steps_callback
from sweeplab.stop import StopNow, Stopped, hold_in_worker, raise_if_asked
from sweeplab.tasks import Classifier, Regressor

log = logging.getLogger(__name__)

#: the sweeper that composes and checks every job before launching any (conf/hydra/sweeper)
CHECKED_SWEEPER = "hydra_plugins.sweeplab.sweeper.CheckedSweeper"


def optimized_metric(cfg: DictConfig, classifies: bool) -> str:
    if cfg.optimized_metric != "auto":
        return cfg.optimized_metric
    return "val/acc" if classifies else "val/loss"


def build_module(cfg: DictConfig, dm: TensorDataModule) -> L.LightningModule:
    net = OmegaConf.to_container(cfg.model, resolve=True)
    common = dict(net=net, optim=OmegaConf.to_container(cfg.optim, resolve=True),
                  init=OmegaConf.to_container(cfg.init, resolve=True),
                  input_shape=list(dm.input_shape), loss=net["loss"],
                  max_epochs=int(cfg.trainer.max_epochs))
    if dm.classifies:
        return Classifier(num_classes=dm.num_classes, **common)
    return Regressor(out_features=dm.num_classes, **common)


def checked_by_sweeper() -> bool:
    """Whether sweeplab's sweeper already checked this job (and every other) before launch."""
    return is_multirun() and HydraConfig.get().sweeper.get("_target_") == CHECKED_SWEEPER


def final_metrics(trainer: L.Trainer) -> dict[str, float]:
    return reported(trainer.callback_metrics)


def reported(metrics: dict) -> dict[str, float]:
    """What a job reports of logged metrics: one value each, not the per-step values or the
    step axis (`step`, `epoch`: sweeplab.steps)."""
    return {k: float(v) for k, v in metrics.items()
            if not k.endswith("_step") and k not in ("step", "epoch")
            and torch.as_tensor(v).numel() == 1}


def train_set_metrics(module: L.LightningModule, dm: TensorDataModule) -> dict[str, float]:
    """The training set measured after fit in eval mode (dropout off): train/loss_eval, acc_eval."""
    from sweeplab.evaluate import evaluate

    return {f"train/{k}_eval": v for k, v in evaluate(module, dm.loader("train")).items()}


def fit(cfg: DictConfig, dm: TensorDataModule, out: Path, ckpt_path: Path | None = None,
        stop: GracefulStop | None = None) -> dict[str, float]:
    """Train (from `ckpt_path` if given) and test one job; the final metrics."""
    started = time.time()
    metric = optimized_metric(cfg, dm.classifies)
    module = build_module(cfg, dm)
    resumed_at = None
    if ckpt_path is not None:  # a different model, or other data or trainer settings: refused
        ckpt = load_checkpoint(ckpt_path, dict(module.hparams))
        resumed_at = resume.check_resumable(ckpt_path, ckpt, cfg)
    loggers = [instantiate(lg) for lg in cfg.get("logger", {}).values() if lg]
    if resumed_at is not None:
        keep_csv_rows(loggers, resumed_at)
    callbacks = [instantiate(cb) for cb in cfg.get("callbacks", {}).values() if cb]
    best = best_checkpoint(cfg, metric, out)  # None: tested on the last epoch's weights
    trainer, metrics = fit_module(cfg, module, dm, out, loggers, callbacks, ckpt_path, stop, best)
    if cfg.eval_train:
        metrics.update(train_set_metrics(module, dm))
    metrics["epochs"] = float(trainer.current_epoch)
    metrics["steps"] = float(trainer.global_step)
    log_final(loggers, cfg, metrics, metric, started)
    return metrics


def graceful_stop(cfg: DictConfig, out: Path) -> GracefulStop:
    """The job's stop and periodic checkpoint callback, writing `out`/checkpoints/last.ckpt."""
    periodic = cfg.get("checkpoint") or {}
    return GracefulStop(out / "checkpoints" / "last.ckpt",
                        int(periodic.get("every_n_epochs", 0)),
                        float(periodic.get("min_interval_s", 0)), resume.settings(cfg))


def fit_module(cfg: DictConfig, module: L.LightningModule, dm: TensorDataModule, out: Path,
               loggers: list, callbacks: list, ckpt_path: Path | None = None,
               stop: GracefulStop | None = None, best=None) -> tuple[L.Trainer, dict[str, float]]:
    """The one training loop, for one model or a stack of them: the configured Trainer with
    the divergence guard, graceful stop (its checkpoint in `out`/checkpoints) and progress bar;
    fit, then validate if training ended before any validation, then test if asked (on the
    `best` checkpoint callback's weights when given, else the last)."""
    stop = stop or graceful_stop(cfg, out)
    steps = steps_callback(cfg, dm, ckpt_path)  # several optimiser steps per Lightning step
    module.automatic_optimization = steps is None
    if cfg.get("compile"):
        module.compile_networks()
    callbacks = callbacks + ([steps] if steps else []) + default_progress_bar(
        cfg.trainer.get("enable_progress_bar", True), callbacks)
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_class = trainer_args.pop("_target_")
    trainer: L.Trainer = get_class(trainer_class)(
        **trainer_args, logger=loggers or False,
        callbacks=[*callbacks, DivergenceGuard(), *([best] if best else []), stop],
        default_root_dir=str(out))
    with stop:
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
        # what this fit did not measure again (nothing, if it resumed from training's end)
        metrics = reported(stop.restored_metrics)
        metrics.update(final_metrics(trainer))
        if not any("val/" in k for k in metrics):
            # max_steps ended training before the first epoch's validation: validate once now,
            # so the job still reports (and returns) its validation metrics
            trainer.validate(module, datamodule=dm, verbose=False)
            metrics.update(final_metrics(trainer))
        if cfg.test:
            tested, about = tested_weights(best)
            trainer.test(module, datamodule=dm, verbose=False, ckpt_path=tested,
                         weights_only=True)
            metrics.update(final_metrics(trainer) | about)
    return trainer, metrics


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
    previous = resume.find_previous(out, overrides, is_multirun()) if cfg.resume else None
    if previous is not None and previous.record.finished:
        log.warning(f"{previous.folder}: already {previous.record.status}, skipped")
        return previous.record.value
    record = JobRecord(overrides=overrides)
    stop = graceful_stop(cfg, out)
    if previous is not None and previous.checkpoint is not None:
        record.resumed_from = str(previous.checkpoint)
    try:
        if checked_by_sweeper():
            from sweeplab.checks import build_datamodule

            dm = build_datamodule(cfg)
        else:
            dm = check_config(cfg)
            dm.prepare_data()  # missing files (or a failed download) stop here, one line
        record.threads = set_threads(int(cfg.threads))
        record.optimized_metric = optimized_metric(cfg, dm.classifies)
        record.write(out)  # a job killed outright still shows up
        L.seed_everything(int(cfg.seed), workers=False, verbose=False)
        dm.setup()  # bad data files fail here, with a DataError naming the file
        ckpt = previous.checkpoint if previous is not None else None
        record.metrics = fit(cfg, dm, out, ckpt, stop)
        record.tested_on = tested_on(cfg, record.metrics)
        record.status = "completed"
    except BaseException as exc:
        record.status, record.error = outcome(exc)
        if not is_multirun() or not isinstance(exc, Exception) or isinstance(exc, Interrupted):
            raise
    finally:
        record.duration_s = round(time.time() - started, 3)
        record.write(out)
        log.info(f"{record.status} in {record.duration_s:.1f} s: "
                 + (record.error or f"{record.optimized_metric} = {record.value:.4f}"))
    stop.raise_if_asked_after_training()  # the job is complete; the sweep stops after it
    return record.value


def run_lab(cfg: DictConfig, started: float) -> None:
    """An experiment that trains nothing (`lab: <name>`): run that lab into the output dir."""
    from sweeplab.labs import run as run_named_lab

    out = output_dir(cfg)
    run_named_lab(str(cfg.lab), out)
    JobRecord(status="completed", lab=str(cfg.lab), overrides=job_overrides(),
              duration_s=round(time.time() - started, 3)).write(out)
    return None


def stop_interrupted(exc: Interrupted | Stopped, sweep_dir: Path | None = None) -> None:
    """After a signal: the sweep's summary so far, how to continue, exit 128 + signal."""
    if sweep_dir is None and is_multirun():
        sweep_dir = Path(HydraConfig.get().sweep.dir)
    if sweep_dir is not None and any(sweep_dir.glob("*/metrics.json")):
        from sweeplab.sweep.summary import write_summary

        write_summary(sweep_dir)
    print(f"[sweeplab] interrupted: {exc}\n[sweeplab] to continue: {resume_hint(sweep_dir)}",
          file=sys.stderr, flush=True)
    raise SystemExit(128 + exc.signum) from None


def sweep_value(value: float | None) -> float | None:
    """The value a sweeper gets: None for NaN (Optuna's sweeper crashes on a NaN; None marks
    the trial failed and it goes on)."""
    return None if value is not None and math.isnan(value) else value


def main(cfg: DictConfig) -> float | None:
    """What scripts/train.py runs: `train`, with its outcomes as one line and an exit code.

    Exit codes: 2 bad config or data, 1 a single run diverged or could not write its files
    (a full disk), 128 + signal number interrupted.
    """
    worker = hold_in_worker()
    try:
        if worker:  # a worker given a job after the sweep was asked to stop does not start it
            raise_if_asked()
        value = train(cfg)
    except (Stopped, Interrupted) as exc:
        if not worker:
            stop_interrupted(exc)
        log.warning(f"{exc}")  # the sweep's own process stops the sweep and says how to resume
        return None
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Diverged as exc:
        print(f"error: diverged: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:  # a full disk or a lost mount: the message names the file
        if is_multirun():  # the job is recorded failed (if it could be) and the sweep goes on
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except (KeyboardInterrupt, StopNow) as exc:
        print("[sweeplab] interrupted before a checkpoint was saved", file=sys.stderr)
        raise SystemExit(128 + getattr(exc, "signum", signal.SIGINT)) from None
    if not is_multirun() and value is not None:  # a sweep prints its summary instead
        out = Path(cfg.paths.output_dir)
        metric = JobRecord.read(out).optimized_metric
        print(f"[sweeplab] {metric} = {value:.4f}; metrics.json and TensorBoard logs in {out} "
              f"(tensorboard --logdir {out})", flush=True)
    return sweep_value(value)
