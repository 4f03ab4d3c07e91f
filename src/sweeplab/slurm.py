"""Slurm as sweeplab meets it through submitit: the request checked before anything is submitted,
and what a job needs to know about the allocation it runs in.

- `check_launcher(cfg)`: compare `hydra.launcher` (partition, CPUs, memory, GPUs, time) with what
  `sinfo` says the partition offers; a `ConfigError` naming the setting and what to set instead.
- `time_limit_signal()`: the signal Slurm sends a job `signal_delay_s` before its time limit
  (submitit asks for it); `GracefulStop` treats it like SIGTERM: checkpoint, then stop.
- `allocated_cpus()`: the CPUs Slurm gave this job, whether or not the cluster binds them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass

from sweeplab.config import ConfigError


@dataclass
class Partition:
    """What one partition offers a job: the largest node's resources and the time limit."""

    name: str
    default: bool
    cpus: int
    memory_mb: int
    gpus: int
    time_limit_min: float  # math.inf when the partition has none


def parse_time(text: str) -> float:
    """Slurm's time limit (`infinite`, `30:00`, `2:00:00`, `1-00:00:00`) in minutes."""
    if text in ("infinite", "UNLIMITED", "n/a", ""):
        return float("inf")
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return (int(days or 0) * 24 + h) * 60 + m + s / 60


def parse_gpus(gres: str) -> int:
    """GPUs in sinfo's GRES column (`(null)`, `gpu:4`, `gpu:a100:4(S:0-1)`, several by commas)."""
    total = 0
    for item in gres.split(","):
        m = re.match(r"gpu(?::[^:(]+)?:(\d+)", item.strip())
        if m:
            total += int(m.group(1))
    return total


def partitions() -> dict[str, Partition]:
    """Every partition `sinfo` lists, with its largest node; empty if sinfo cannot be run."""
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%P|%c|%m|%G|%l"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, Partition] = {}
    for line in out.splitlines():
        name, cpus, memory, gres, limit = line.split("|")
        default = name.endswith("*")
        name = name.rstrip("*")
        node = Partition(name, default, int(cpus.rstrip("+")), int(memory.rstrip("+")),
                         parse_gpus(gres), parse_time(limit))
        seen = found.setdefault(name, node)
        seen.cpus, seen.memory_mb = max(seen.cpus, node.cpus), max(seen.memory_mb, node.memory_mb)
        seen.gpus = max(seen.gpus, node.gpus)
    return found


def check_launcher(cfg) -> None:
    """Reject a Slurm request the cluster cannot run, before submission (sbatch would refuse it
    with a traceback, or leave it pending forever); `cfg` is a composed job config."""
    launcher, choice = cfg.hydra.launcher, cfg.hydra.runtime.choices.get("hydra/launcher")
    if not shutil.which("sinfo"):
        raise ConfigError(f"hydra/launcher={choice}: no Slurm here (sinfo not found); run from a "
                          f"cluster's login node, or try the same path locally with "
                          f"hydra/launcher=submitit_local (README: Slurm on this machine)")
    key = "hydra.launcher."
    accelerator = str(cfg.trainer.get("accelerator", "cpu"))
    if accelerator == "gpu" and not launcher.get("gpus_per_node"):
        raise ConfigError(f"trainer.accelerator=gpu but {key}gpus_per_node is not set: the job "
                          f"would get no GPU; set {key}gpus_per_node=<GPUs per job>")
    timeout_s = int(launcher.timeout_min) * 60
    delay = int(launcher.get("signal_delay_s", 0))
    if 2 * delay > timeout_s:
        raise ConfigError(f"{key}signal_delay_s={delay}: with timeout_min={launcher.timeout_min} "
                          f"Slurm would ask the job to save and stop before half its time has "
                          f"passed; set {key}signal_delay_s={timeout_s // 2} or less")
    found = partitions()
    if not found:
        raise ConfigError(f"hydra/launcher={choice}: sinfo lists no partitions (is the cluster "
                          f"up? `sinfo` says why)")
    name = launcher.get("partition")
    part = found.get(name) if name else next((p for p in found.values() if p.default), None)
    if part is None:
        what = f"{key}partition={name}: no such partition" if name else \
               f"{key}partition is not set and the cluster has no default partition"
        raise ConfigError(f"{what}; set one that sinfo lists: {', '.join(found)}")
    where = f"partition {part.name}"
    cpus = int(launcher.get("cpus_per_task") or 1) * int(launcher.get("tasks_per_node") or 1)
    if cpus > part.cpus:
        raise ConfigError(f"{key}cpus_per_task={launcher.cpus_per_task} x tasks_per_node="
                          f"{launcher.tasks_per_node}: {where} has at most {part.cpus} CPUs "
                          f"per node; set {key}cpus_per_task={part.cpus} or less")
    mem_gb = launcher.get("mem_gb")
    if mem_gb and mem_gb * 1024 > part.memory_mb:
        raise ConfigError(f"{key}mem_gb={mem_gb}: {where} has at most {part.memory_mb} MB per "
                          f"node; set {key}mem_gb={part.memory_mb // 1024} or less (or null "
                          f"for the cluster's default)")
    gpus = int(launcher.get("gpus_per_node") or 0)
    if gpus > part.gpus:
        have = f"at most {part.gpus} GPUs per node" if part.gpus else "no GPUs"
        raise ConfigError(f"{key}gpus_per_node={gpus}: {where} has {have}; set "
                          f"{key}gpus_per_node={part.gpus or 'null'}"
                          + ("" if part.gpus else " and trainer=cpu"))
    if launcher.timeout_min > part.time_limit_min:
        raise ConfigError(f"{key}timeout_min={launcher.timeout_min}: {where} allows at most "
                          f"{part.time_limit_min:g} minutes; set {key}timeout_min="
                          f"{int(part.time_limit_min)} or less")


def in_slurm_job() -> bool:
    """Whether this process is a job that submitit started on Slurm."""
    return os.environ.get("SUBMITIT_EXECUTOR") == "slurm"


def time_limit_signal() -> signal.Signals | None:
    """The signal submitit asks Slurm to send before the time limit (`--signal=USR2@delay`),
    inside such a job; None elsewhere. submitit's own handler would end the job without a
    checkpoint (with max_num_timeout=0) or requeue it from the start."""
    if not in_slurm_job():
        return None
    import submitit

    return signal.Signals[f"SIG{submitit.JobEnvironment.USR_SIG}"]


def allocated_cpus() -> int | None:
    """The CPUs per task Slurm allocated to this job, or None outside Slurm. Without CPU
    binding (TaskPlugin=task/none) the job still sees every core of the node."""
    value = os.environ.get("SLURM_CPUS_PER_TASK") if in_slurm_job() else None
    return int(value) if value and value.isdigit() else None
