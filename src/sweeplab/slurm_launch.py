"""How a sweep on Slurm is submitted and waited on (`hydra/launcher=slurm`).

The jobs go to Slurm as one array through submitit, as the Hydra plugin does it. Then the
submitting process waits for every job, not only until the first one that Slurm ended:

- a job that Slurm ended (scancel, time limit, node failure) is recorded in its `metrics.json`
  if it could not record itself, and the sweep goes on waiting for the others; the summary then
  lists every job and the exit code is 1;
- Ctrl-C (or SIGTERM) on the submitting process cancels the sweep's jobs with `scancel`, waits
  (a bounded time) until they have saved their checkpoints, and exits 130 (143) after printing
  the command that continues the sweep.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf, open_dict

from sweeplab.record import JobRecord

#: how long a cancelled sweep waits for its jobs to save checkpoints (Slurm's KillWait is 30 s
#: by default, after which it kills them)
CANCEL_WAIT_S = 90
#: how often the sweep asks sacct whether a job without a result file has ended
SACCT_EVERY_S = 10
#: Slurm states of a job that was stopped, not one that broke: resume=true continues it
STOPPED = ("CANCELLED", "TIMEOUT", "PREEMPTED", "REQUEUED")


def make_executor(launcher: Any):
    """submitit's Slurm executor with the launcher's parameters, as the Hydra plugin makes it."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = dict(launcher.params)
    init = {"folder": params.pop("submitit_folder")}
    if "max_num_timeout" in params:
        init["slurm_max_num_timeout"] = params.pop("max_num_timeout")
    executor = submitit.AutoExecutor(cluster="slurm", **init)
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in shared else f"slurm_{k}": v
                                  for k, v in params.items()})
    return executor


def job_folder(launcher: Any, overrides: Sequence[str], num: int) -> Path:
    """The folder the job writes to (hydra.sweep.dir/subdir), composed as the job composes it."""
    cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
    with open_dict(cfg.hydra.job):
        cfg.hydra.job.num = num
    return Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)


def wait(jobs: list) -> None:
    """Until every job has ended (its result file written, or Slurm's sacct says it ended).

    submitit asks sacct less and less often (half the time since submission, up to 10 minutes),
    so a job that Slurm ended would be noticed late; one sacct call every `SACCT_EVERY_S`
    updates every job of the sweep (`all` stops at the first job still running)."""
    asked = time.monotonic()
    while True:
        force = time.monotonic() - asked >= SACCT_EVERY_S
        asked = time.monotonic() if force else asked
        if all(job.done(force_check=force) for job in jobs):
            return
        time.sleep(1)


def cancel(jobs: list, signum: int) -> None:
    """scancel every job of the sweep, then wait (bounded) for them to save their checkpoints."""
    ids = sorted({job.job_id.split("_")[0] for job in jobs})
    print(f"\n[sweeplab] {signal.Signals(signum).name}: cancelling Slurm job(s) {' '.join(ids)}; "
          f"running jobs save a checkpoint first (press again to stop waiting)",
          file=sys.stderr, flush=True)
    subprocess.run(["scancel", *ids], check=False)
    deadline = time.monotonic() + CANCEL_WAIT_S
    try:
        while time.monotonic() < deadline and not all(job.done(force_check=True)
                                                       for job in jobs):
            time.sleep(1)
    except Stop:
        pass


def record_ended(job: Any, folder: Path, overrides: Sequence[str]) -> str:
    """Write the record of a job that ended without its result, unless it wrote one itself
    (it does when it was stopped by a signal it could act on); the job's status."""
    record = JobRecord.read(folder)
    if record is not None and record.status != "running":
        return record.status
    state = str(job.state).split()[0]
    stopped = state in STOPPED
    record = record or JobRecord()
    record.status = "interrupted" if stopped else "failed"
    record.overrides = [o for o in overrides if not o.startswith("resume=")]
    record.error = (f"Slurm job {job.job_id} ended {state} before it could save a checkpoint; "
                    + ("resume=true runs it again" if stopped else f"its log: {job.paths.stderr}"))
    folder.mkdir(parents=True, exist_ok=True)
    record.write(folder)
    return record.status


def record_cancelled(job: Any, folder: Path, overrides: Sequence[str]) -> None:
    """The record of a job cancelled from the submitting process that has not ended yet."""
    record = JobRecord.read(folder) or JobRecord()
    if record.status != "running":
        return
    record.status = "interrupted"
    record.overrides = [o for o in overrides if not o.startswith("resume=")]
    record.error = (f"Slurm job {job.job_id} was cancelled from the submitting process and had "
                    f"not ended within {CANCEL_WAIT_S} s; resume=true continues it")
    folder.mkdir(parents=True, exist_ok=True)
    record.write(folder)


def job_return(job: Any, launcher: Any, overrides: Sequence[str],
               num: int) -> tuple[JobReturn, str]:
    """The job's JobReturn and status. A job Slurm ended gets a JobReturn the sweeper accepts;
    its status is in metrics.json, which the summary and the exit code read."""
    if job.paths.result_pickle.exists() and job.exception() is None:
        ret = job.results()[0]
        record = JobRecord.read(Path(ret.working_dir)) if ret.working_dir else None
        return ret, record.status if record is not None else "completed"
    status = record_ended(job, job_folder(launcher, overrides, num), overrides)
    ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
    ret.return_value = math.nan
    print(f"[sweeplab] job {num} ({' '.join(overrides)}): {status} (Slurm job {job.job_id})",
          file=sys.stderr, flush=True)
    return ret, status


class Stop(Exception):
    """Ctrl-C or SIGTERM reached the submitting process."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    raise Stop(signum)


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> list[JobReturn]:
    """Submit the jobs as one Slurm array, wait for all of them, return their JobReturns."""
    from sweeplab.runtime import resume_hint
    from sweeplab.stop import held_signal

    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    nums = [initial_job_idx + i for i in range(len(job_overrides))]
    args = [(list(o), "hydra.sweep.dir", n, f"job_id_for_{n}", Singleton.get_state())
            for n, o in zip(nums, job_overrides, strict=True)]
    jobs = make_executor(launcher).map_array(launcher, *zip(*args, strict=True))
    print(f"[sweeplab] submitted {len(jobs)} jobs to Slurm as array "
          f"{jobs[0].job_id.split('_')[0]} (squeue --me; logs in {sweep_dir}/.submitit/)",
          flush=True)
    held = held_signal()  # one that came while the jobs were being submitted
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        if held is not None:
            raise Stop(held)
        wait(jobs)
    except Stop as stop:
        cancel(jobs, stop.signum)
        for job, o, n in zip(jobs, job_overrides, nums, strict=True):
            if job.done(force_check=True):
                job_return(job, launcher, o, n)
            else:  # cancelled but not ended within the wait (a loaded node): say so now
                record_cancelled(job, job_folder(launcher, o, n), o)
        print(f"[sweeplab] to continue: {resume_hint(sweep_dir)}", file=sys.stderr, flush=True)
        raise SystemExit(128 + stop.signum) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    ended = [job_return(job, launcher, o, n)
             for job, o, n in zip(jobs, job_overrides, nums, strict=True)]
    if any(status not in ("completed", "diverged") for _, status in ended):
        print(f"[sweeplab] to continue the jobs that did not complete: {resume_hint(sweep_dir)}",
              file=sys.stderr, flush=True)
    return [ret for ret, _ in ended]
