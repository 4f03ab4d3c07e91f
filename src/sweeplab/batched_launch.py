"""The batched launcher's work: compose every job, train them stacked (or fall back to the basic
launcher with a one-line notice), then write each job's usual outputs through Hydra's run_job
(its folder, .hydra/ configs, metrics.json, logger files, last.ckpt), so the sweep summary and
TensorBoard see the same files as after a sequential sweep."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import lightning as L
import torch
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from sweeplab.batched import JobResult, train_stacked, why_not_batched
from sweeplab.loggers import log_job_result
from sweeplab.tasks import Classifier
from sweeplab.train import (
    build_datamodule,
    flat_hparams,
    job_overrides,
    optimized_metric,
    output_dir,
    write_json,
)


def sweep_configs(launcher, job_overrides: Sequence[Sequence[str]],
                  initial_job_idx: int) -> list[DictConfig]:
    loader = launcher.hydra_context.config_loader
    cfgs = []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        cfg = loader.load_sweep_config(launcher.config, list(overrides))
        with open_dict(cfg):
            cfg.hydra.job.id = idx
            cfg.hydra.job.num = idx
        cfgs.append(cfg)
    return cfgs


def launch(launcher, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> list[JobReturn]:
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    cfgs = sweep_configs(launcher, job_overrides, initial_job_idx)
    HydraConfig.instance().set_config(cfgs[0])
    reason = why_not_batched(cfgs)
    if reason:
        print(f"[sweeplab] batched launcher: {reason}; running the {len(cfgs)} jobs one by one "
              f"(basic launcher)", flush=True)
        basic = BasicLauncher()
        basic.setup(hydra_context=launcher.hydra_context, task_function=launcher.task_function,
                    config=config)
        return basic.launch(job_overrides, initial_job_idx)
    print(f"[sweeplab] batched launcher: training {len(cfgs)} jobs as one stacked model",
          flush=True)
    started = time.time()
    results, error = None, None
    try:
        results = train_stacked(cfgs)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = (time.time() - started) / len(cfgs)
    runs = []
    for i, cfg in enumerate(cfgs):
        task = partial(write_job, result=results[i] if results else None, error=error,
                       seconds=seconds, jobs=len(cfgs))
        runs.append(run_job(hydra_context=launcher.hydra_context, task_function=task,
                            config=cfg, job_dir_key="hydra.sweep.dir",
                            job_subdir_key="hydra.sweep.subdir"))
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    return runs


def write_job(cfg: DictConfig, result: JobResult | None, error: str | None, seconds: float,
              jobs: int) -> float:
    """One job's outputs, as `train()` writes them; returns its optimised metric."""
    started = time.time()
    out = output_dir(cfg)
    if result is None:
        task = build_datamodule(cfg).task
    else:
        task = "multiclass" if isinstance(result.module, Classifier) else "regression"
    target = optimized_metric(cfg, task)
    record = {"status": "failed" if result is None else "completed", "optimized_metric": target,
              "overrides": job_overrides(), "threads": torch.get_num_threads(),
              "batched_jobs": jobs}
    if result is None:
        record["error"] = error
    else:
        record["metrics"] = result.metrics
        write_loggers(cfg, result)
        save_checkpoint(cfg, result)
    record["duration_s"] = round(seconds + time.time() - started, 3)
    write_json(out / "metrics.json", record)
    return float(record.get("metrics", {}).get(target, math.nan))


def write_loggers(cfg: DictConfig, result: JobResult) -> None:
    """Replay the job's scalars into its configured loggers (TensorBoard, CSV)."""
    loggers = [instantiate(lg) for lg in cfg.get("logger", {}).values() if lg]
    for lg in loggers:
        for step, scalars in result.history:
            lg.log_metrics(scalars, step=step)
        if lg.__class__.__name__ == "TensorBoardLogger":
            linked = {f"final/{k.replace('/', '_')}": v for k, v in result.metrics.items()
                      if "/" in k}
            lg.log_hyperparams(flat_hparams(cfg), metrics=linked)
        log_job_result(lg, flat_hparams(cfg), result.metrics)
        lg.finalize("success")


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
