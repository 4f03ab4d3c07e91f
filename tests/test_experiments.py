"""Every experiment file composes, passes the preflight for each job of its sweep, and runs one
step (MNIST labs on the bundled digits, cnn_anime on a small generated stand-in folder)."""

import json
from pathlib import Path

import pytest

from conftest import CONF, run_script
from sweeplab.cli import preflight
from sweeplab.labs.anime_standin import make as make_standin
from sweeplab.train import train

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
LAB_NAMES = """logreg_bad_init logreg_cross_entropy softmax_1d softmax_mnist hidden_layer_1d
more_neurons xor_hidden mlp_mnist activation_functions activations_mnist deep_mnist spiral_deep
dropout_classification dropout_regression same_weights xavier_mnist he_mnist momentum_polynomial
momentum_spiral batchnorm_mnist conv_basics pooling multi_channel cnn_lines cnn_small_mnist
cnn_small_mnist_bn cnn_anime cnn_mnist mlp_fullbatch""".split()


def offline_overrides(name: str, tmp_path: Path) -> list[str]:
    """Swap data that needs a download or a user's folder for data that is here."""
    text = (CONF / "experiment" / f"{name}.yaml").read_text()
    if "override /data: mnist" in text:
        return ["data=digits", "data.image_size=28"] if "image_size: 16" not in text else [
            "data=digits"]
    if name == "cnn_anime":
        root = make_standin(tmp_path / "standin", n_per_class=5)
        return [f"data.root={root}"]
    return []


def test_every_lab_in_the_curriculum_has_an_experiment():
    assert set(LAB_NAMES) <= set(EXPERIMENTS)
    for name in LAB_NAMES:
        lines = (CONF / "experiment" / f"{name}.yaml").read_text().splitlines()
        assert lines[0] == "# @package _global_"
        assert lines[1].startswith("# ") and lines[2].startswith("# ")
        assert f"task_name: {name}" in lines


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_every_sweep_job_and_runs_one_step(name, make_cfg, tmp_path):
    extra = offline_overrides(name, tmp_path)
    preflight(["-m", f"experiment={name}", *extra], CONF)  # exits 2 on any bad job
    train(make_cfg(f"experiment={name}", *extra, "trainer.fast_dev_run=true", "test=false",
                   "~logger", "callbacks=none"))
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "completed"


def test_comparison_lab_sweeps_and_ends_with_summary(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", "experiment=logreg_cross_entropy", "threads=1",
                         "trainer.enable_progress_bar=false", "trainer.max_epochs=20",
                         f"hydra.sweep.dir={sweep}", f"paths.log_dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = (sweep / "summary.md").read_text()
    assert "optim.lr=2.0" in summary and "optim.lr=0.01" in summary
