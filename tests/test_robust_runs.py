"""Divergence, failures and interruptions: each job ends with a status, and nothing is lost."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from conftest import CONF, QUIET, ROOT, compose_config, run_script
from sweeplab.checkpoints import CheckpointMismatch, load_checkpoint
from sweeplab.config import ConfigError
from sweeplab.resolvers import RUN_ID
from sweeplab.robust import Diverged, Interrupted
from sweeplab.train import train

# small enough for a second a run, with dropout so the random state matters on resume
SMALL = ["data=spiral", "data.n_per_class=40", "data.batch_size=16", "model=deep",
         "model.hidden=[16]", "model.dropout=0.3", "optim.lr=0.1", "trainer.max_epochs=3",
         "logger=csv"]  # 3 epochs x 5 steps


def record(folder) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def run_job(folder, *overrides: str, signal_at: int | None = None) -> dict:
    """Train in-process into `folder`; a SIGTERM is sent to this process at step `signal_at`."""
    cfg = compose_config([*SMALL, *overrides], folder)
    if signal_at is not None:
        with open_dict(cfg):
            cfg.callbacks.stop = {"_target_": "robust_helpers.SignalAtStep", "step": signal_at}
        with pytest.raises(Interrupted):
            train(cfg)
    else:
        train(cfg)
    return record(folder)


def test_two_identical_runs_give_identical_metrics(tmp_path):
    first, second = run_job(tmp_path / "a"), run_job(tmp_path / "b")
    assert first["status"] == second["status"] == "completed"
    assert first["metrics"] == second["metrics"]


@pytest.mark.parametrize("step", [2, 5, 10], ids=["mid-epoch", "end-of-epoch-1", "end-of-epoch-2"])
def test_resumed_run_ends_exactly_like_an_uninterrupted_one(step, tmp_path):
    reference = run_job(tmp_path / "reference")
    stopped = run_job(tmp_path / "job", signal_at=step)
    assert stopped["status"] == "interrupted" and "SIGTERM" in stopped["error"]
    ckpt = torch.load(tmp_path / "job" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == step
    resumed = run_job(tmp_path / "job", "resume=true")
    assert resumed["status"] == "completed" and resumed["resumed_from"]
    assert resumed["metrics"] == reference["metrics"]


@pytest.mark.parametrize("step", [2, 10], ids=["mid-epoch", "end-of-epoch-2"])
def test_resumed_run_tests_the_same_best_epoch_as_an_uninterrupted_one(step, tmp_path):
    reference = run_job(tmp_path / "reference", "test_on=best")
    run_job(tmp_path / "job", "test_on=best", signal_at=step)
    resumed = run_job(tmp_path / "job", "test_on=best", "resume=true")
    assert resumed["tested_on"] == reference["tested_on"] == "best"
    assert resumed["metrics"] == reference["metrics"]  # tested_epoch and test/acc included


def test_resume_skips_a_completed_job(tmp_path):
    done = run_job(tmp_path, "trainer.max_epochs=1")
    again = run_job(tmp_path, "trainer.max_epochs=1", "resume=true")
    assert again == done


def test_single_run_resumes_the_newest_unfinished_run_of_the_same_command(tmp_path):
    reference = run_job(tmp_path / "reference")
    run_job(tmp_path / "runs" / "first", signal_at=7)
    resumed = run_job(tmp_path / "runs" / "second", "resume=true")
    assert resumed["resumed_from"] == str(tmp_path / "runs" / "first" / "checkpoints" / "last.ckpt")
    assert resumed["metrics"] == reference["metrics"]


def test_non_finite_loss_stops_the_job_as_diverged(tmp_path):
    cfg = compose_config([*SMALL, "model.hidden=[64,64]", "optim.lr=1e6"], tmp_path)
    with pytest.raises(Diverged, match="optim.lr"):
        train(cfg)
    result = record(tmp_path)
    assert result["status"] == "diverged"
    assert "training loss became nan" in result["error"]


def test_checkpoint_of_another_model_is_rejected_naming_the_difference(tmp_path):
    run_job(tmp_path / "job", signal_at=2)
    ckpt = tmp_path / "job" / "checkpoints" / "last.ckpt"
    other = compose_config([*SMALL, "model.hidden=[32]"], tmp_path / "other")
    with pytest.raises(CheckpointMismatch, match=r"model.hidden=\[16\] in the checkpoint but "
                                                 r"\[32\] here"):
        load_checkpoint(ckpt, other)
    assert load_checkpoint(ckpt, compose_config(SMALL, tmp_path / "same"))["global_step"] == 2
    with pytest.raises(ConfigError, match="model.hidden"):
        run_job(tmp_path / "job", "model.hidden=[32]", "resume=true")


def test_concurrent_sweeps_get_distinct_folders():
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", return_hydra_config=True)
    assert cfg.hydra.sweep.dir.endswith(f"_{RUN_ID}") and cfg.hydra.run.dir.endswith(RUN_ID)
    code = "from sweeplab.resolvers import RUN_ID; print(RUN_ID)"
    ids = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "src")}).stdout for _ in range(2)}
    assert len(ids) == 2


# ---------------------------------------------------------------- through the real script


def job_configs(folder, images) -> str:
    """A config dir with a `job` group: two good jobs, one that diverges, one that raises."""
    (folder / "job").mkdir(parents=True)
    spiral = ("# @package _global_\ndefaults:\n  - override /data: spiral\n"
              "data:\n  n_per_class: 30\n")
    for name, lr, hidden in (("ok_a", 0.1, 8), ("ok_b", 0.3, 8), ("diverge", 1.0e6, 64)):
        (folder / "job" / f"{name}.yaml").write_text(
            f"{spiral}optim:\n  lr: {lr}\nmodel:\n  hidden: [{hidden}, {hidden}]\n")
    # an unreadable image passes the preflight (it lists files) and fails when loaded
    (folder / "job" / "raise.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /data: image_folder\n"
        f"data:\n  root: {images}\n  image_size: 8\n")
    return f"hydra.searchpath=[file://{folder}]"


def test_sweep_records_every_status_and_goes_on(tmp_path):
    from test_bad_input import unreadable_image

    unreadable_image(tmp_path / "images")
    sweep = tmp_path / "sweep"
    args = ["train.py", "-m", job_configs(tmp_path / "conf", tmp_path / "images"),
            "+job=ok_a,ok_b,diverge,raise", "model=deep", "trainer.max_epochs=2", "logger=csv",
            *QUIET, f"hydra.sweep.dir={sweep}"]
    result = run_script(args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    rows = {r["job"]: r for r in csv.DictReader((sweep / "summary.csv").open())}
    assert {job: r["status"] for job, r in rows.items()} == {
        "+job=ok_a": "completed", "+job=ok_b": "completed", "+job=diverge": "diverged",
        "+job=raise": "failed"}
    assert "broken.png: cannot read this image" in rows["+job=raise"]["error"]
    assert "training loss became" in rows["+job=diverge"]["error"]

    # the same command with resume=true skips what finished and runs the failed job again
    finished = {p: p.stat().st_mtime_ns for p in sweep.glob("[012]_*/metrics.json")}
    again = run_script([*args, "resume=true"], cwd=tmp_path)
    assert again.returncode == 1
    assert again.stdout.count("skipped") == 3
    assert {p: p.stat().st_mtime_ns for p in finished} == finished


def test_sigterm_mid_training_saves_a_checkpoint_and_resume_matches(tmp_path):
    reference = run_job(tmp_path / "reference", "trainer.max_epochs=6")
    run_dir = tmp_path / "run"
    args = [*SMALL, "trainer.max_epochs=6", *QUIET, f"hydra.run.dir={run_dir}",
            "+callbacks.pause={_target_:robust_helpers.PauseAtStep,step:3}"]
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train.py"), *args],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # the job says when it has paused at step 3
        if "paused at step 3" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "resume=true" in err and "Traceback" not in err
    stopped = record(run_dir)
    assert stopped["status"] == "interrupted"
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 3  # the safe point right after the paused step

    resumed = run_job(run_dir, "trainer.max_epochs=6", "resume=true")
    assert resumed["status"] == "completed"
    assert resumed["metrics"] == reference["metrics"]


def start_paused(args: list[str], cwd, step: int) -> subprocess.Popen:
    """`scripts/train.py <args>` paused after `step` steps (it says so on stdout)."""
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *args,
         f"+callbacks.pause={{_target_:robust_helpers.PauseAtStep,step:{step}}}"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if f"paused at step {step}" in line:
            return proc
    raise AssertionError(f"the run ended before step {step} (exit {proc.wait()})")


def test_sigkill_after_a_periodic_checkpoint_resumes_from_it_and_matches(tmp_path):
    every_epoch = ["checkpoint.every_n_epochs=1", "checkpoint.min_interval_s=0"]
    reference = run_job(tmp_path / "reference", *every_epoch)
    run_dir = tmp_path / "run"
    proc = start_paused([*SMALL, *every_epoch, *QUIET, f"hydra.run.dir={run_dir}"], tmp_path,
                        step=7)  # in epoch 2, after epoch 1's checkpoint
    proc.kill()
    assert proc.wait() == -signal.SIGKILL
    assert record(run_dir)["status"] == "running"
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 5
    assert not list(run_dir.glob("checkpoints/.*.tmp"))

    resumed = run_job(run_dir, *every_epoch, "resume=true")
    assert resumed["status"] == "completed" and resumed["resumed_from"]
    assert resumed["metrics"] == reference["metrics"]


def test_a_short_job_writes_no_periodic_checkpoint(tmp_path):
    run_job(tmp_path, "callbacks=none", "checkpoint.min_interval_s=3600")
    assert not (tmp_path / "checkpoints" / "last.ckpt").exists()


def test_a_kill_after_the_final_checkpoint_resumes_to_the_full_metrics(tmp_path):
    reference = run_job(tmp_path / "reference")
    run_dir = tmp_path / "run"
    killed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *SMALL, *QUIET,
         f"hydra.run.dir={run_dir}", "+callbacks.kill={_target_:robust_helpers.KillAtFitEnd}"],
        cwd=tmp_path, env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}",
                           "OMP_NUM_THREADS": "1"}, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert record(run_dir)["status"] == "running"
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 15

    resumed = run_job(run_dir, "resume=true")
    assert resumed["status"] == "completed"
    assert resumed["metrics"] == reference["metrics"]  # train/loss and train/acc included


def csv_rows(folder) -> list[dict]:
    with (folder / "metrics.csv").open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("step", [7, 10], ids=["mid-epoch", "end-of-epoch-2"])
def test_a_resumed_csv_log_keeps_the_curve_recorded_before_the_interruption(step, tmp_path):
    run_job(tmp_path / "reference")
    run_job(tmp_path / "job", signal_at=step)
    run_job(tmp_path / "job", "resume=true")
    resumed, reference = csv_rows(tmp_path / "job"), csv_rows(tmp_path / "reference")
    epochs = [r["epoch"] for r in resumed if r["train/loss"]]
    assert epochs == ["0", "1", "2"]  # every epoch once
    assert resumed == reference
