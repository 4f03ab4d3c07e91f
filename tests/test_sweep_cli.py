"""The command line as a user runs it: a sweep on MNIST-layout files, a single run's folder, the
missing-dataset message, and which keys can be swept."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import CONF, run_script
from fakedata import write_mnist
from sweeplab.cli import preflight
from sweeplab.sweep.compose import expand

QUIET = ["threads=1", "trainer.enable_progress_bar=false"]


def hparams_plugin_data(sweep) -> dict[str, dict]:
    """What TensorBoard's HParams tab reads from a sweep dir: {run: {tag: plugin data}}."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import plugin_data_pb2

    runs = EventMultiplexer()
    runs.AddRunsFromDirectory(str(sweep))
    runs.Reload()
    return {run: {tag: plugin_data_pb2.HParamsPluginData.FromString(content)
                  for tag, content in tags.items()}
            for run, tags in runs.PluginRunToTagToContent("hparams").items()}


def scalar_tags(job_dir) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(job_dir))
    events.Reload()
    return set(events.Tags()["scalars"])


def test_hparams_open_on_the_swept_key_and_list_every_job_with_its_status(tmp_path):
    sweep = tmp_path / "sweep"
    # job by job: a stacked sweep reports the stack's progress, not a line per job
    result = run_script(["train.py", "-m", "hydra/launcher=sequential", "data=spiral",
                         "data.n_per_class=100", "model=deep", "trainer.max_epochs=2",
                         "optim.lr=0.1,1e6", f"hydra.sweep.dir={sweep}", *QUIET], cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]  # the lr=1e6 job diverged
    # folders, TensorBoard runs and HParams trials are named by what was swept
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["optim.lr=0.1",
                                                                    "optim.lr=1000000.0"]
    data = hparams_plugin_data(sweep)
    experiment = data["."]["_hparams_/experiment"].experiment
    assert [h.name for h in experiment.hparam_infos] == ["optim.lr", "status"]
    assert [v.number_value for v in experiment.hparam_infos[0].domain_discrete.values] == [
        0.1, 1e6]
    metrics = [m.name.tag for m in experiment.metric_infos]
    assert metrics[0] == "val/acc" and "optimised" in experiment.metric_infos[0].display_name
    # the test results' tags sort after the learning curves; HParams names them as usual
    assert {"~test/acc", "~test/loss", "val/loss"} <= set(metrics)
    assert {"~test/acc", "~test/loss"} <= set(metrics[:5])  # among the five TensorBoard ticks
    assert {"test/acc", "test/loss"} <= {m.display_name for m in experiment.metric_infos}
    sessions = {run: tags["_hparams_/session_start_info"].session_start_info
                for run, tags in data.items() if run != "."}
    assert {run: s.hparams["status"].string_value for run, s in sessions.items()} == {
        "optim.lr=0.1": "completed", "optim.lr=1000000.0": "diverged"}
    assert sessions["optim.lr=0.1"].group_name == "optim.lr=0.1"
    # the metrics are the curves' last values: no one-point final/* charts among them
    tags = scalar_tags(sweep / "optim.lr=0.1")
    assert {"val/acc", "~test/acc", "train/loss"} <= tags and "epoch" not in tags
    assert not [t for t in tags if t.startswith("final/")]
    # the terminal: a line per job with i/N, its result and the time left; no Markdown
    lines = result.stdout.splitlines()
    assert any(line.startswith("[sweeplab] job 1/2 optim.lr=0.1: completed, val/acc 0.")
               and "left" in line for line in lines)
    assert any(line.startswith("[sweeplab] job 2/2 optim.lr=1000000.0: diverged") for line in lines)
    assert "| job |" not in result.stdout and "![" not in result.stdout
    # a sweep's jobs are tested on their best epoch's weights (test_on=auto)
    assert json.loads((sweep / "optim.lr=0.1" / "metrics.json").read_text())["tested_on"] == "best"
    assert (sweep / "optim.lr=0.1" / "checkpoints" / "best.ckpt").is_file()
    # each job's train.log tells how it ended
    assert "diverged in" in (sweep / "optim.lr=1000000.0" / "train.log").read_text()
    md = (sweep / "summary.md").read_text()
    assert "- swept: `optim.lr`" in md and "`data=spiral`" in md and "- command: `python " in md
    # an ad-hoc sweep's task is named by its swept keys
    assert "- task: `optim.lr`" in md and "`task_name=" not in md


@pytest.mark.slow
def test_cnn_momentum_sweep_on_mnist_files_writes_jobs_logs_and_summary(tmp_path):
    data_dir = tmp_path / "mnist"
    write_mnist(data_dir, n_train=600, n_test=100)
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", "model=cnn", "optim.momentum=0,0.9",
                         f"paths.data_dir={data_dir}", "data.val_size=100",
                         "trainer.max_epochs=1", f"hydra.sweep.dir={sweep}", *QUIET],
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]

    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [j.name for j in jobs] == ["optim.momentum=0", "optim.momentum=0.9"]
    for job, momentum in zip(jobs, ("0", "0.9"), strict=True):
        record = json.loads((job / "metrics.json").read_text())
        assert record["status"] == "completed"
        assert f"optim.momentum={momentum}" in record["overrides"]
        assert record["threads"] == 1 and record["duration_s"] > 0
        assert {"val/acc", "test/acc", "train/loss"} <= set(record["metrics"])
        assert list(job.glob("events.out.tfevents.*"))
        assert {"val/acc", "train/loss"} <= scalar_tags(job)

    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert sorted(r["job"] for r in rows) == ["optim.momentum=0", "optim.momentum=0.9"]
    accs = [float(r["val/acc"]) for r in rows]
    assert accs == sorted(accs, reverse=True)
    md = (sweep / "summary.md").read_text()
    assert md.count("| optim.momentum=") == 2
    assert f"summary: {sweep / 'summary.md'}" in result.stdout
    assert f"tensorboard --logdir {sweep}" in result.stdout


def test_single_run_writes_its_own_folder_and_says_where(tmp_path):
    result = run_script(["train.py", "data=spiral", "model=deep", "trainer.max_epochs=1",
                         *QUIET], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = (tmp_path / "outputs" / "runs" / "train").iterdir()
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"
    assert list(run.glob("events.out.tfevents.*"))
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert (run / ".hydra" / "config.yaml").exists()
    assert f"tensorboard --logdir {run}" in result.stdout


def test_missing_mnist_files_stop_with_where_and_how_in_one_line(tmp_path):
    empty = tmp_path / "nothing"
    result = run_script(["train.py", f"paths.data_dir={empty}", "data.download=false", *QUIET],
                        cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: MNIST files not found")
    assert str(empty / "MNIST" / "raw") in lines[0]
    assert "train-images-idx3-ubyte" in lines[0] and "paths.data_dir" in lines[0]
    assert not (tmp_path / "outputs").exists()  # stopped before any job started


def test_an_ad_hoc_sweep_is_filed_under_its_swept_keys():
    from sweeplab.cli import ad_hoc_task_name

    assert ad_hoc_task_name(["-m", "data=spiral", "model.activation=tanh,relu", "seed=0,1",
                             "+trainer.foo=1"]) == "model.activation+seed"
    assert ad_hoc_task_name(["-m", "hydra/launcher=joblib", "init=he,xavier"]) == "init"
    # a named task keeps its name; a single run has no sweep to name it by
    assert ad_hoc_task_name(["-m", "experiment=activations_spiral", "seed=0,1"]) is None
    assert ad_hoc_task_name(["-m", "task_name=mine", "seed=0,1"]) is None
    assert ad_hoc_task_name(["data=spiral", "seed=1"]) is None
    folder = preflight(["-m", "data=spiral", "seed=0,1", "task_name=seed"], CONF, every_job=False)
    assert folder.parent.name == "seed" and folder.parent.parent.name == "multirun"


SWEEPS = [
    "model.activation=sigmoid,tanh,relu", "model.hidden=[8],[8,8]", "model.dropout=0,0.5",
    "model.batchnorm=false,true", "optim.lr=0.1,0.01", "optim.momentum=0,0.9",
    "optim.weight_decay=0,0.001", "init=default,xavier,he", "data.batch_size=10,20",
    "seed=0,1", "trainer.max_epochs=1,2",
]


@pytest.mark.parametrize("sweep", SWEEPS)
def test_each_documented_key_can_be_swept(sweep):
    argv = ["-m", "data=spiral", "model=deep", sweep]
    preflight(argv, CONF)  # every job composes and passes the checks
    values = sweep.split("=", 1)[1]
    expected = 2 if sweep.startswith("model.hidden") else len(values.split(","))
    jobs = expand(argv[1:])
    assert len(jobs) == expected


def test_sweeps_over_several_keys_run_every_combination():
    jobs = expand(["model=mlp", "model.activation=sigmoid,relu", "init=default,xavier,he"])
    assert len(jobs) == 6 and len({tuple(j) for j in jobs}) == 6
