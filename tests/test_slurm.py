"""Sweeps on a real Slurm cluster through `hydra/launcher=slurm`: submission, the time limit,
scancel and Ctrl-C. `bash ci/slurm-up.sh` brings up a one-node cluster here (as root on Debian);
without a cluster these tests skip with the reason. Every job is a tiny spiral model on one CPU;
the tests wait on files and on `sacct`, with deadlines.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import QUIET, ROOT, compose_config
from sweeplab.train import train


def cluster_down_reason() -> str | None:
    """Why the Slurm tests cannot run here, or None when a partition is up with accounting."""
    if not shutil.which("sinfo"):
        return "no Slurm here (sinfo not found); as root on Debian, bash ci/slurm-up.sh"
    try:
        up = subprocess.run(["sinfo", "-h", "-o", "%a %T"], capture_output=True, text=True,
                            timeout=20).stdout.split("\n")
        accounting = subprocess.run(["sacct", "-n", "-X", "-S", "now"], capture_output=True,
                                    timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Slurm does not answer: {exc}"
    if not any(line.startswith("up ") and not re.search("down|drain|fail", line) for line in up):
        return "no Slurm partition up with a usable node (sinfo says why; bash ci/slurm-up.sh)"
    if not accounting:
        return "Slurm has no accounting (sacct fails); submitit needs it (bash ci/slurm-up.sh)"
    return None


REASON = cluster_down_reason()
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(REASON is not None, reason=str(REASON))]

# one CPU, the cluster's default memory, no GPU (conf/hydra/launcher/slurm.yaml); 5 steps an epoch
SMALL = ["data=spiral", "data.n_per_class=40", "data.batch_size=16", "model=deep",
         "model.hidden=[16]", "model.dropout=0.3", "optim.lr=0.1", "logger=csv",
         "+callbacks.slow={_target_:robust_helpers.SlowSteps}"]
ENV = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}", "OMP_NUM_THREADS": "1",
       "HYDRA_FULL_ERROR": "0"}


def sweep_command(sweep_dir: Path, *overrides: str) -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", "hydra/launcher=slurm",
            *SMALL, *QUIET, f"hydra.sweep.dir={sweep_dir}", *overrides]


def start(cmd: list[str], cwd: Path, step_delay: float = 0.0) -> subprocess.Popen:
    """Start the submitting process. SIGINT back to its default first: a shell that runs the
    tests in the background (`&`) has it ignored, and that would be inherited."""
    env = {**os.environ, **ENV, "SWEEPLAB_TEST_STEP_DELAY": str(step_delay)}
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def run(cmd: list[str], cwd: Path, step_delay: float = 0.0,
        timeout: float = 300) -> subprocess.CompletedProcess:
    proc = start(cmd, cwd, step_delay)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the sweep did not end in {timeout} s:\n{out[-3000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def wait_for(what: str, ready, timeout: float = 120, proc: subprocess.Popen | None = None):
    """Poll `ready()` until it returns something true; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the sweep ended before {what}:\n{proc.stderr.read()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def array_id(text: str) -> str:
    m = re.search(r"submitted \d+ jobs to Slurm as array (\d+)", text)
    assert m, text[-3000:]
    return m.group(1)


def read_line(proc: subprocess.Popen, pattern: str, timeout: float = 120) -> str:
    """The first line of the process's stdout that matches `pattern`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if re.search(pattern, line):
            return line
        if not line and proc.poll() is not None:
            break
    pytest.fail(f"no line matching {pattern!r} from the sweep")


def sacct_states(job: str) -> dict[str, str]:
    """Slurm's accounting states of the array's tasks: {'12_0': 'COMPLETED', ...}."""
    out = subprocess.run(["sacct", "-n", "-X", "-P", "-j", job, "-o", "JobID,State"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("|")[:2] for line in out.splitlines() if line)


def summary_rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "summary.csv") as f:
        return list(csv.DictReader(f))


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p.parent for p in sweep_dir.glob("*/metrics.json"))


def record(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def resume_command(stderr: str) -> list[str]:
    """The command the sweep printed to continue it."""
    m = re.search(r"to continue[^:]*: python (\S+) (.*resume=true)$", stderr, re.MULTILINE)
    assert m, stderr[-3000:]
    import shlex

    return [sys.executable, m.group(1), *shlex.split(m.group(2))]


def test_sweep_runs_as_slurm_jobs_and_the_submitting_process_writes_the_summary(tmp_path):
    sweep = tmp_path / "sweep"
    done = run(sweep_command(sweep, "trainer.max_epochs=2", "model.activation=tanh,relu"),
               tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    states = wait_for("sacct to list both jobs COMPLETED",
                      lambda: (s := sacct_states(array_id(done.stdout))) and
                      sorted(s.values()) == ["COMPLETED"] * 2 and s)
    assert len(states) == 2
    rows = summary_rows(sweep)
    assert sorted(r["job"] for r in rows) == ["model.activation=relu", "model.activation=tanh"]
    assert {r["status"] for r in rows} == {"completed"}
    assert "summary:" in done.stdout and "Traceback" not in done.stderr
    assert all(record(d)["threads"] == 1 for d in job_dirs(sweep))


@pytest.mark.parametrize("setting, named", [
    ("hydra.launcher.cpus_per_task=999", "hydra.launcher.cpus_per_task=999"),
    ("hydra.launcher.partition=nosuch", "hydra.launcher.partition=nosuch: no such partition"),
])
def test_a_launcher_setting_the_cluster_cannot_meet_is_one_error_line_before_submission(
        setting, named, tmp_path):
    sweep = tmp_path / "sweep"
    done = run(sweep_command(sweep, "optim.lr=0.1,0.2", setting), tmp_path, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {named}"), done.stderr
    assert not (sweep / ".submitit").exists()


def test_time_limit_saves_a_checkpoint_and_the_resumed_job_ends_like_an_uninterrupted_one(
        tmp_path):
    # submitit asks Slurm for SIGUSR2 60 s before a 2-minute limit; Slurm checks limits every
    # 30 s, so it comes 30 to 60 s after the start: after the job's start-up (about 10 s) and
    # before the end of 30 epochs of 5 steps at 0.5 s a step
    sweep, epochs = tmp_path / "sweep", "trainer.max_epochs=30"
    limit = ["hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=60"]
    stopped = run(sweep_command(sweep, epochs, "seed=0,1", *limit), tmp_path, step_delay=0.5,
                  timeout=300)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    jobs = job_dirs(sweep)
    assert [record(d)["status"] for d in jobs] == ["interrupted", "interrupted"], \
        [record(d) for d in jobs]
    assert all("SIGUSR2" in record(d)["error"] for d in jobs)
    assert all((d / "checkpoints" / "last.ckpt").is_file() for d in jobs)
    assert "Traceback" not in stopped.stderr

    # the printed command, with room to finish this time (launcher settings change no job)
    command = [{"hydra.launcher.timeout_min=2": "hydra.launcher.timeout_min=5"}.get(a, a)
               for a in resume_command(stopped.stderr)]
    resumed = run(command, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for folder, seed in zip(jobs, (0, 1), strict=True):
        again = record(folder)
        assert again["status"] == "completed" and "resumed_from" in again
        # test_on=best: what a sweep's job tests on by default (a single run tests its last)
        reference = compose_config([*SMALL, epochs, f"seed={seed}", "test_on=best"],
                                   tmp_path / f"ref{seed}")
        train(reference)
        assert again["metrics"] == record(tmp_path / f"ref{seed}")["metrics"]


def test_scancel_of_one_job_is_recorded_and_the_sweep_finishes_the_others(tmp_path):
    sweep = tmp_path / "sweep"
    proc = start(sweep_command(sweep, "trainer.max_epochs=6", "optim.lr=0.05,0.1,0.2"),
                 tmp_path, step_delay=0.3)
    array = array_id(read_line(proc, "submitted"))
    marker = wait_for("a job to be training", lambda: next(sweep.glob("*/training"), None),
                      proc=proc)
    num = OmegaConf.load(marker.parent / ".hydra" / "hydra.yaml").hydra.job.num  # array index
    subprocess.run(["scancel", f"{array}_{num}"], check=True)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 1, err[-3000:]
    rows = {r["job"]: r["status"] for r in summary_rows(sweep)}
    assert sorted(rows.values()) == ["completed", "completed", "interrupted"], rows
    cancelled = record(marker.parent)
    assert cancelled["status"] == "interrupted"
    assert (marker.parent / "checkpoints" / "last.ckpt").is_file()
    assert sacct_states(array)[f"{array}_{num}"].startswith("CANCELLED")
    assert "Traceback" not in err

    finished = {d: record(d) for d in job_dirs(sweep) if d != marker.parent}
    resumed = run(resume_command(err), tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {d: record(d) for d in finished} == finished  # completed jobs skipped, not rerun
    again = record(marker.parent)
    assert again["status"] == "completed" and "resumed_from" in again


def test_ctrl_c_on_the_submitting_process_cancels_its_jobs_and_prints_the_resume_line(tmp_path):
    sweep = tmp_path / "sweep"
    proc = start(sweep_command(sweep, "trainer.max_epochs=20", "optim.lr=0.05,0.1"), tmp_path,
                 step_delay=0.3)
    array = array_id(read_line(proc, "submitted"))
    wait_for("a job to be training", lambda: next(sweep.glob("*/training"), None), proc=proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 128 + signal.SIGINT, err[-3000:]
    assert "Traceback" not in err
    command = resume_command(err)
    assert f"hydra.sweep.dir={sweep}" in command and "-m" in command
    states = wait_for("sacct to show the jobs ended",
                      lambda: (s := sacct_states(array)) and
                      not any(v in ("PENDING", "RUNNING") for v in s.values()) and s)
    assert all(v.startswith("CANCELLED") for v in states.values()), states
    assert {r["status"] for r in summary_rows(sweep)} == {"interrupted"}
