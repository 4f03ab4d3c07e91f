"""The batched launcher's work: compose every job, train them stacked (or fall back to the basic
launcher with a one-line notice), then write each job's usual outputs through Hydra's run_job
(its folder, .hydra/ configs, metrics.json, logger files, last.ckpt), so the sweep summary and
TensorBoard see the same files as after a sequential sweep."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict, read_write

from sweeplab.batched import JobResult, train_stacked, why_not_batched
from sweeplab.checks import build_datamodule
from sweeplab.hparams import log_final
from sweeplab.record import JobRecord
from sweeplab.runtime import job_overrides, output_dir
from sweeplab.sweep.run import run_jobs
from sweeplab.tasks import Classifier
from sweeplab.train import optimized_metric


def launch(launcher, cfgs: Sequence[DictConfig], initial_job_idx: int) -> list[JobReturn]:
    reason = why_not_batched(list(cfgs))
    if reason:
        print(f"[sweeplab] batched launcher: {reason}; running the {len(cfgs)} jobs one by one",
              flush=True)
        return run_jobs(launcher, cfgs, initial_job_idx)
    for idx, cfg in enumerate(cfgs, start=initial_job_idx):
        with read_write(cfg.hydra), open_dict(cfg):  # HydraConfig made it read-only
            cfg.hydra.job.id = idx
            cfg.hydra.job.num = idx
    HydraConfig.instance().set_config(cfgs[0])
    print(f"[sweeplab] batched launcher: training {len(cfgs)} jobs as one stacked model",
          flush=True)
    started = time.time()
    results, error = None, None
    try:
        results = train_stacked(list(cfgs))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = (time.time() - started) / len(cfgs)
    return [run_jobs(launcher, [cfg], initial_job_idx + i,
                     task_function=partial(write_job, result=results[i] if results else None,
                                           error=error, seconds=seconds, jobs=len(cfgs)))[0]
            for i, cfg in enumerate(cfgs)]


def write_job(cfg: DictConfig, result: JobResult | None, error: str | None, seconds: float,
              jobs: int) -> float:
    """One job's outputs, as `train()` writes them; returns its optimised metric."""
    started = time.time()
    out = output_dir(cfg)
    if result is None:
        classifies = build_datamodule(cfg).classifies
    else:
        classifies = isinstance(result.module, Classifier)
    record = JobRecord(status="failed" if result is None else "completed",
                       optimized_metric=optimized_metric(cfg, classifies),
                       overrides=job_overrides(), threads=torch.get_num_threads(),
                       stacked_jobs=jobs, error=error)
    if result is not None:
        record.metrics = result.metrics
        write_loggers(cfg, result)
        save_checkpoint(cfg, result)
    record.duration_s = round(seconds + time.time() - started, 3)
    record.write(out)
    return record.value


def write_loggers(cfg: DictConfig, result: JobResult) -> None:
    """Replay the job's scalars into its configured loggers (TensorBoard, CSV)."""
    loggers = [instantiate(lg) for lg in cfg.get("logger", {}).values() if lg]
    for lg in loggers:
        for step, scalars in result.history:
            lg.log_metrics(scalars, step=step)
    log_final(loggers, cfg, result.metrics)


def save_checkpoint(cfg: DictConfig, result: JobResult) -> None:
    """`last.ckpt` where the SaveLast callback would put it, loadable with
    `Classifier.load_from_checkpoint` (weights and hyperparameters; no optimiser state)."""
    for cb in cfg.get("callbacks", {}).values():
        if cb and str(cb.get("_target_", "")).endswith("SaveLast"):
            path = Path(cb.dirpath) / "last.ckpt"
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"state_dict": result.module.state_dict(),
                        "hyper_parameters": dict(result.module.hparams),
                        "pytorch-lightning_version": L.__version__,
                        "epoch": int(result.metrics["epochs"]) - 1,
                        "global_step": int(result.metrics["steps"])}, path)
