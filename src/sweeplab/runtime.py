"""Facts about the running job that Hydra and the machine know: mode, overrides, threads."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sweeplab import slurm


def is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_overrides() -> list[str]:
    """The job's command-line overrides (Hydra's), or none outside a Hydra run."""
    if HydraConfig.initialized():
        return list(HydraConfig.get().overrides.task)
    return []


def output_dir(cfg: DictConfig) -> Path:
    path = Path(cfg.paths.output_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    # more threads than cores only adds contention (and far more crash torch's pool)
    threads = min(requested, cores or 1) if requested else max(1, (cores or 1) // parallel_jobs())
    torch.set_num_threads(threads)
    return threads


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
    return f"{command()} {shlex.join(args)} resume=true"


def command() -> str:
    """The command that started this process, as a user would type it again."""
    program = sys.argv[0]
    if program.endswith("__main__.py"):  # python -m sweeplab train
        return "python -m sweeplab train"
    if program.endswith(".py"):  # python scripts/train.py
        return f"python {program}"
    return Path(program).name  # an installed command on the PATH: sweeplab-train
