"""The command line end to end: a run, a sweep, a bad input, an experiment, a failing job.

Marked `smoke`: CI runs this file again under the next Hydra release (`make test-hydra-next`), so
an upgrade that breaks sweeplab shows up before users install it.
"""

from __future__ import annotations

import csv
import json

import pytest

from conftest import QUIET, run_script

pytestmark = pytest.mark.smoke
SPIRAL = ["data=spiral", "data.n_per_class=50", "model=mlp", "trainer.max_epochs=1", *QUIET]


def test_a_single_run_trains_and_records_itself(tmp_path):
    result = run_script(["train.py", *SPIRAL, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "completed"


def test_the_installed_package_runs_a_sweep_without_the_checkout_on_the_path(tmp_path):
    """What `make train` does: Hydra must find sweeplab's plugins through the installation."""
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", *SPIRAL, "model.activation=tanh,relu",
                         f"hydra.sweep.dir={sweep}"], tmp_path, env={"PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list(sweep.glob("*/metrics.json"))) == 2


def test_a_sweep_runs_every_job_and_summarises_them(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", *SPIRAL, "model.activation=tanh,relu",
                         f"hydra.sweep.dir={sweep}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert sorted(r["job"] for r in rows) == ["model.activation=relu", "model.activation=tanh"]
    assert {r["status"] for r in rows} == {"completed"}


def test_a_bad_value_in_the_last_job_stops_the_sweep_before_any_trains(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", *SPIRAL, "optim.lr=0.1,-1",
                         f"hydra.sweep.dir={sweep}"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: optim.lr: must be > 0, got -1.0 (in sweep job 1: optim.lr=-1)")
    assert not list(sweep.glob("*/metrics.json"))


def test_an_experiment_sweeps_by_itself(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", "experiment=activations_spiral",
                         "trainer.max_epochs=1", *QUIET, f"hydra.sweep.dir={sweep}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list(sweep.glob("*/metrics.json"))) == 3


def test_a_diverged_job_makes_the_sweep_exit_1_after_the_others_finish(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", *SPIRAL, "model=deep", "optim.lr=0.1,1e6",
                         f"hydra.sweep.dir={sweep}"], tmp_path)
    assert result.returncode == 1
    assert "1 of 2 jobs did not complete" in result.stderr
    statuses = json.loads((sweep / "summary.json").read_text())["statuses"]
    assert sorted(statuses.values()) == ["completed", "diverged"]
