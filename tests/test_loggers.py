"""logger=mlflow and logger=wandb: offline runs that hold each job's hyperparameters and final
metrics, from a single run and from the batched launcher's stacked sweep."""

from __future__ import annotations

import json

import pytest

from conftest import run_script
from sweeplab.train import train

SPIRAL = ["data=spiral", "data.n_per_class=100", "model=mlp", "model.hidden=16",
          "trainer.max_epochs=2"]
QUIET = ["threads=1", "trainer.enable_progress_bar=false"]


def mlflow_run(db):
    """The one run in the sqlite store `db`, read with MLflow's own client."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.get_experiment_by_name("train")
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run


def test_mlflow_run_beside_tensorboard_holds_hyperparameters_and_final_metrics(make_cfg,
                                                                                 tmp_path):
    pytest.importorskip("mlflow")
    train(make_cfg(*SPIRAL, "optim.lr=0.2", "logger=[tensorboard,mlflow]"))
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert list(tmp_path.glob("events.out.tfevents.*"))  # TensorBoard still gets its run

    client, run = mlflow_run(tmp_path / "mlflow.db")
    assert run.info.status == "FINISHED"
    assert run.info.run_name == tmp_path.name
    assert run.data.params["optim.lr"] == "0.2"
    assert run.data.params["model.hidden"] == "16"
    assert run.data.metrics["final/test_acc"] == pytest.approx(record["metrics"]["test/acc"])
    assert run.data.metrics["final/val_acc"] == pytest.approx(record["metrics"]["val/acc"])
    assert len(client.get_metric_history(run.info.run_id, "val/acc")) == 2  # one per epoch
    assert not (tmp_path / "mlruns").exists()


def test_batched_sweep_logs_every_job_to_one_mlflow_store(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    sweep, db = tmp_path / "sweep", tmp_path / "mlflow.db"
    result = run_script(["train.py", "-m", "hydra/launcher=batched", *SPIRAL, *QUIET,
                         "optim.lr=0.05,0.2", "logger=mlflow",
                         f"logger.mlflow.tracking_uri=sqlite:///{db}",
                         f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training 2 jobs as one stacked model" in result.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.get_experiment_by_name("optim.lr")  # an ad-hoc sweep's task name
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    jobs = sorted(sweep.glob("*/metrics.json"))
    assert sorted(runs) == [path.parent.name for path in jobs]  # one run per job, named by it
    for path in jobs:
        assert "logger" not in path.parent.name
        record = json.loads(path.read_text())
        run = runs[path.parent.name]
        lr = next(o for o in record["overrides"] if o.startswith("optim.lr="))
        assert f"optim.lr={run.data.params['optim.lr']}" == lr
        assert run.data.metrics["final/val_acc"] == pytest.approx(record["metrics"]["val/acc"])
        assert run.data.metrics["val/acc"] == pytest.approx(record["metrics"]["val/acc"])


def test_wandb_writes_an_offline_run_in_the_job_folder(tmp_path):
    pytest.importorskip("wandb")
    run_dir = tmp_path / "run"
    result = run_script(["train.py", *SPIRAL, *QUIET, "logger=wandb",
                         f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (run_file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    # W&B has no public reader for an offline run file; its records name the keys logged
    data = run_file.read_bytes()
    for key in (b"optim.lr", b"model.hidden", b"val/acc", b"final/test_acc"):
        assert key in data
    assert not (tmp_path / "wandb").exists()  # nothing outside the job folder
