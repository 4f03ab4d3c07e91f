"""Sweeps past one process: submitit's local executor, an Optuna search, and DDP on GPUs."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from conftest import CONF, run_script
from sweeplab.cli import preflight

QUIET = ["threads=1", "trainer.enable_progress_bar=false"]
# a deep net on a small spiral; optim.lr=1e6 makes a job diverge by its third step
SPIRAL = ["data=spiral", "data.n_per_class=100", "trainer.max_epochs=2", "model=deep",
          "model.hidden=[32,32]"]


def statuses(sweep) -> dict[str, str]:
    return {r["job"]: r["status"] for r in csv.DictReader((sweep / "summary.csv").open())}


def test_submitit_local_sweep_records_every_job_and_fails_the_command(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", "hydra/launcher=submitit_local", *SPIRAL,
                         "optim.lr=0.1,1e6", *QUIET, f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "1 of 2 jobs did not complete" in result.stderr
    assert statuses(sweep) == {"optim.lr=0.1": "completed", "optim.lr=1000000.0": "diverged"}
    assert (sweep / ".submitit").is_dir()  # the jobs ran as submitit's processes
    assert (sweep / "curves_val_acc.png").stat().st_size > 0


def test_optuna_search_survives_diverged_trials_and_reports_best_parameters(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "hparams_search=spiral_optuna", "hydra.sweeper.n_trials=3",
                         *SPIRAL, "optim.lr=choice(0.1,1e6)", *QUIET,
                         f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    assert len(records) == 3, result.stderr[-2000:]
    done = [r for r in records if r["status"] == "completed"]
    assert done and result.returncode == (0 if len(done) == 3 else 1)
    assert {r["status"] for r in records} <= {"completed", "diverged"}
    best = max(done, key=lambda r: r["metrics"]["val/acc"])
    md = (sweep / "summary.md").read_text()
    assert "## Best parameters (Optuna)" in md
    assert "- `optim.lr=0.1`" in md
    assert f"Best value: {best['metrics']['val/acc']:.4f}" in md
    assert (sweep / "optimization_results.yaml").is_file()


def test_preflight_accepts_optuna_search_syntax_and_still_checks_keys(capsys):
    preflight(["-m", "hparams_search=spiral_optuna", "optim.lr=tag(log,interval(0.01,0.5))",
               "model.hidden=choice(8,16)"], CONF)
    preflight(["hparams_search=cnn_optuna", "data=digits", "data.image_size=16"], CONF)
    with pytest.raises(SystemExit) as exc:
        preflight(["hparams_search=spiral_optuna", "optim.lr=interval(-1,0.5)"], CONF)
    assert exc.value.code == 2 and "optim.lr: must be > 0" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="DDP needs CUDA GPUs")
def test_ddp_trains_on_every_gpu(tmp_path):
    devices = torch.cuda.device_count()
    result = run_script(["train.py", "trainer=ddp", f"trainer.devices={devices}",
                         "data=spiral", "model=mlp", "trainer.max_epochs=2", *QUIET,
                         f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "completed" and record["metrics"]["val/acc"] > 0.3


def test_a_summary_records_the_statuses_the_exit_code_is_read_from(tmp_path):
    from sweeplab.sweep.callback import summarise
    from sweeplab.sweep.summary import unfinished

    job = tmp_path / "0_optim.lr=1e6"
    job.mkdir()
    (job / "metrics.json").write_text(json.dumps(
        {"status": "diverged", "overrides": ["optim.lr=1e6"], "optimized_metric": "val/acc",
         "error": "training loss became nan"}))
    assert unfinished(tmp_path) is None  # no summary yet
    summarise(tmp_path, figures=False)  # what the command does when a sweeper raised
    assert unfinished(tmp_path) == (1, 1)
    assert "training loss became nan" in (tmp_path / "summary.md").read_text()


@pytest.mark.parametrize("launcher, threads", [({"n_jobs": 4}, 4), ({"n_jobs": -1}, 1),
                                               ({"n_jobs": 1}, 16), ({}, 16)])
def test_parallel_jobs_divide_the_cores_between_them(monkeypatch, launcher, threads):
    from omegaconf import OmegaConf

    import sweeplab.runtime as train_module

    class FakeHydraConfig:  # the launcher config a job sees
        initialized = staticmethod(lambda: True)
        get = staticmethod(lambda: OmegaConf.create({"launcher": launcher}))

    monkeypatch.setattr(train_module, "HydraConfig", FakeHydraConfig)
    monkeypatch.setattr(train_module.os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(train_module.os, "cpu_count", lambda: 16)
    try:
        assert train_module.set_threads(0) == threads
        assert train_module.set_threads(3) == 3  # an explicit threads= wins
    finally:
        torch.set_num_threads(1)


def test_slurm_launcher_defaults_fit_any_partition_and_stop_early_off_cluster(capsys,
                                                                               monkeypatch):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["hydra/launcher=slurm"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.gpus_per_node, launcher.cpus_per_task, launcher.mem_gb) == (None, 1, None)
    assert (launcher.timeout_min, launcher.partition) == (60, None)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(SystemExit) as exc:
        preflight(["-m", "hydra/launcher=slurm", "data=spiral", "optim.lr=0.1,0.2"], CONF)
    assert exc.value.code == 2 and "sinfo not found" in capsys.readouterr().err
