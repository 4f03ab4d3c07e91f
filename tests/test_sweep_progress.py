"""What a sweep shows while it runs: a line per finished job (stacked or not), a stacked
member's progress and figures as its job alone has them, HParams before the sweep ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, run_script
from sweeplab.stack.launch import train_stack
from test_sweep_cli import hparams_plugin_data

SPIRAL = ["data=spiral", "data.n_per_class=60", "model=deep", "model.hidden=[16,16]",
          "callbacks.visualize.every_n_epochs=2", "threads=1", "trainer.enable_progress_bar=false"]
SWEPT = "optim.lr=0.05,0.1,1e6"  # the last one diverges
JOBS = ["optim.lr=0.05", "optim.lr=0.1", "optim.lr=1000000.0"]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """The same sweep stacked (the default launcher) and job by job: (stdout, folder) each."""
    tmp = tmp_path_factory.mktemp("sweeps")
    out = {}
    for name, launcher in (("stacked", []), ("sequential", ["hydra/launcher=sequential"])):
        result = run_script(["train.py", "-m", *launcher, *SPIRAL, "trainer.max_epochs=4", SWEPT,
                             "callbacks.visualize.histograms=true",
                             f"hydra.sweep.dir={tmp / name}"], cwd=tmp)
        assert result.returncode == 1, result.stderr[-2000:]  # the diverged job
        out[name] = (result.stdout, tmp / name)
    return out


def test_stacked_members_print_their_job_lines_and_the_stack_its_progress(sweeps):
    stdout, folder = sweeps["stacked"]
    lines = stdout.splitlines()
    assert "[sweeplab] stack 1/1: training 3 jobs as one stacked model" in lines
    # one line per member job, numbered in the whole sweep, with its result and the time left
    done = [line for line in lines if line.startswith("[sweeplab] job ")]
    assert [line.split()[2] for line in done] == ["1/3", "2/3", "3/3"]
    assert all("left" in line for line in done[:2]) and "left" not in done[2]
    assert done[0].startswith("[sweeplab] job 1/3 optim.lr=0.05: completed, val/acc 0.")
    assert done[2].startswith("[sweeplab] job 3/3 optim.lr=1000000.0: diverged: ")
    # while the stack trains: its epoch, the members still training and the time left
    progress = [line for line in lines if line.startswith("[sweeplab] stack 1/1: epoch 1/4, ")]
    assert progress and "2/3 members training, about " in progress[0]  # one diverged
    # each member's train.log tells the stack's progress and how the member ended
    for job, ending in zip(JOBS, ["completed in", "completed in", "diverged in"], strict=True):
        log = (folder / job / "train.log").read_text()
        assert "stack 1/1: epoch 1/4" in log and ending in log


def images(job_dir) -> dict[tuple[str, int], bytes]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(job_dir), size_guidance={"images": 0})
    events.Reload()
    return {(tag, e.step): e.encoded_image_string
            for tag in events.Tags()["images"] for e in events.Images(tag)}


def test_stacked_members_get_the_figures_their_jobs_alone_get(sweeps):
    stacked, sequential = sweeps["stacked"][1], sweeps["sequential"][1]
    for job in JOBS[:2]:
        figures = images(stacked / job)
        assert {tag for tag, _ in figures} == {"~val/decision_regions", "~test/decision_regions"}
        assert len(figures) == 3  # epochs 2 and 4 on the validation split, the end on the test's
        assert figures == images(sequential / job)  # the same weights draw the same pictures
    # a member that diverged draws nothing after it stopped, like its job alone
    assert images(stacked / JOBS[2]) == images(sequential / JOBS[2])


def histograms(job_dir) -> dict[tuple[str, int], tuple]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(job_dir), size_guidance={"histograms": 0})
    events.Reload()
    return {(tag, e.step): (e.histogram_value.min, e.histogram_value.max, e.histogram_value.sum,
                            tuple(e.histogram_value.bucket))
            for tag in events.Tags()["histograms"] for e in events.Histograms(tag)}


def test_stacked_members_log_the_histograms_their_jobs_alone_log(sweeps):
    stacked, sequential = sweeps["stacked"][1], sweeps["sequential"][1]
    for job in JOBS:
        alone = histograms(sequential / job)
        if job != JOBS[2]:  # weights and gradients of every layer, epochs 1 and 2 (then 4)
            assert {tag.split("/")[0] for tag, _ in alone} == {"weights", "grads"}
            assert len({step for _, step in alone}) >= 4
        assert histograms(stacked / job).keys() == alone.keys()
        for key, (lo, hi, total, buckets) in histograms(stacked / job).items():
            assert (lo, hi, total) == pytest.approx(alone[key][:3], rel=1e-4, abs=1e-6), key
            assert buckets == pytest.approx(alone[key][3], abs=1), key


def test_hparams_list_the_finished_jobs_while_the_sweep_runs(tmp_path):
    """Stopped for good (SIGKILL) once its first job ended, the sweep has already written its
    HParams experiment and that job's session."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", *SPIRAL,
               "trainer.max_epochs=1,2000", f"hydra.sweep.dir={sweep}"]
    with subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as proc:
        line = ""
        try:
            for line in proc.stdout:
                if line.startswith("[sweeplab] job 1/2 "):
                    break
        finally:
            proc.send_signal(signal.SIGKILL)
    assert line.startswith("[sweeplab] job 1/2 trainer.max_epochs=1: completed")
    data = hparams_plugin_data(sweep)
    experiment = data["."]["_hparams_/experiment"].experiment
    assert [h.name for h in experiment.hparam_infos] == ["trainer.max_epochs", "status"]
    assert [v.number_value for v in experiment.hparam_infos[0].domain_discrete.values] == [
        1, 2000]
    metrics = [m.name.tag for m in experiment.metric_infos]
    assert metrics[0] == "val/acc" and {"~test/acc", "~test/loss"} <= set(metrics[:5])
    sessions = {run: tags["_hparams_/session_start_info"].session_start_info
                for run, tags in data.items() if run != "."}
    assert list(sessions) == ["trainer.max_epochs=1"]
    assert sessions["trainer.max_epochs=1"].hparams["status"].string_value == "completed"
    assert sessions["trainer.max_epochs=1"].hparams["trainer.max_epochs"].number_value == 1


@pytest.mark.parametrize("data", [SPIRAL, ["data=polynomial", "model=mlp"]],
                         ids=["classification", "regression"])
def test_hparams_written_during_a_sweep_are_the_ones_its_end_writes(tmp_path, data):
    """Without the end-of-sweep callback what remains is what the launcher wrote as it went;
    writing the sweep's HParams from its records must give the same protos."""
    from sweeplab.sweep.summary import read_jobs
    from sweeplab.sweep.tensorboard import write_hparams

    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", *data, "trainer.max_epochs=2", "optim.lr=0.05,0.1",
                         "~hydra.callbacks.summary", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (sweep / "summary.md").exists()
    during = hparams_plugin_data(sweep)
    assert set(during) == {".", "optim.lr=0.05", "optim.lr=0.1"}
    write_hparams(sweep, read_jobs(sweep))
    assert hparams_plugin_data(sweep) == during


def test_a_stack_reports_within_an_epoch_once_enough_time_has_passed(tmp_path, monkeypatch,
                                                                      caplog):
    """With no time required between lines, a line comes after every Lightning step: the check
    after each step is what keeps a long first epoch from being silent (one batch a Lightning
    step here, so a line per optimiser step; with several, a line per chunk of a few ms)."""
    import logging

    from sweeplab.stack import progress
    from test_stack import members_of

    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    members = members_of(tmp_path, ["data=spiral", "data.n_per_class=60", "model=mlp",
                                    "model.hidden=16", "trainer.max_epochs=2", "logger=csv",
                                    "steps_per_call=1"],
                         [["optim.lr=0.1"], ["optim.lr=0.2"]])
    with caplog.at_level(logging.INFO, logger=progress.__name__):
        train_stack(members, tmp_path / "stack", None, "stack 1/1")
    lines = [r.getMessage() for r in caplog.records if r.name == progress.__name__]
    steps = int(members[0].record.metrics["steps"])
    assert len(lines) >= steps > 2  # a line per step, and one per epoch end
    assert lines[0].startswith("stack 1/1: epoch 1/2, 2/2 members training")
    assert lines[-1].startswith("stack 1/1: epoch 2/2, ")
