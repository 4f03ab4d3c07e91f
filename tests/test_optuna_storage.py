"""An Optuna search kept in a study database: the same command run again continues the study."""

from __future__ import annotations

import json

import optuna
import pytest

from conftest import run_script

QUIET = ["threads=1", "trainer.enable_progress_bar=false"]


def test_second_run_with_the_same_storage_continues_the_study(tmp_path):
    # a relative sqlite path, as the README writes it: the database lands where the command runs
    search = ["train.py", "hparams_search=spiral_optuna", "hydra.sweeper.n_trials=2",
              "data.n_per_class=100", "trainer.max_epochs=1", *QUIET,
              "hydra.sweeper.storage=sqlite:///search.db"]
    for run in ("first", "second"):
        result = run_script([*search, f"hydra.sweep.dir={tmp_path / run}"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]

    study = optuna.load_study(study_name="spiral_lr_hidden",
                              storage=f"sqlite:///{tmp_path / 'search.db'}")
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert set(study.best_params) == {"optim.lr", "model.hidden"}


def test_optuna_trials_asked_together_train_as_one_stack_and_report_each_value(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "hparams_search=spiral_optuna", "hydra.sweeper.n_trials=4",
                         "hydra.sweeper.n_jobs=2", "data.n_per_class=60",
                         "trainer.max_epochs=2", *QUIET,
                         "hydra.sweeper.storage=sqlite:///search.db",
                         f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("training 2 jobs as one stacked model") == 2
    records = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert len(records) == 4 and all(r["stacked_jobs"] == 2 for r in records)

    study = optuna.load_study(study_name="spiral_lr_hidden",
                              storage=f"sqlite:///{tmp_path / 'search.db'}")
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert sorted(t.value for t in study.trials) == pytest.approx(
        sorted(r["metrics"]["val/acc"] for r in records))
