"""Bad input beyond the table in test_bad_input.py: image folders, whole-script runs, and the
good input that must pass."""

from __future__ import annotations

import csv

import pytest

from conftest import CONF, run_script
from fakedata import write_image_tree
from sweeplab.cli import preflight

QUIET = ["threads=1", "trainer.enable_progress_bar=false"]

def test_image_folder_channels_must_be_one_or_three(tmp_path, capsys):
    root = write_image_tree(tmp_path / "pets", per_class=1)
    with pytest.raises(SystemExit):
        preflight(["data=image_folder", f"data.root={root}", "data.channels=2"], CONF)
    assert "data.channels: 2 is not allowed; allowed: 1, 3" in capsys.readouterr().err


def test_good_input_passes_the_preflight(capsys):
    preflight(["-m", "data=spiral", "model=deep", "optim.lr=0.1,0.01"], CONF)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("args, expected", [
    (["optim.lr=-1"], "error: optim.lr: must be > 0, got -1.0"),
    (["-m", "data=spiral", "optim.lr=0.1,-1"],
     "error: optim.lr: must be > 0, got -1.0 (in sweep job 1: optim.lr=-1)"),
])
def test_train_script_exits_2_with_one_line_and_no_traceback(tmp_path, args, expected):
    result = run_script(["train.py", *args, *QUIET], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == expected
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "outputs").exists()  # not even the first job of the sweep ran


@pytest.mark.slow
def test_relu_beats_sigmoid_and_tanh_on_spiral_in_the_sweep_summary(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", "data=spiral", "model=deep",
                         "model.activation=sigmoid,tanh,relu", f"hydra.sweep.dir={sweep}",
                         *QUIET], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["job"] for r in rows][0] == "model.activation=relu"
    md_rows = [line for line in (sweep / "summary.md").read_text().splitlines()
               if line.startswith("| model.activation=")]
    assert md_rows[0].startswith("| model.activation=relu |") and len(md_rows) == 3
    acc = {r["job"].split("=")[1]: float(r["val/acc"]) for r in rows}
    assert acc["relu"] > acc["sigmoid"] + 0.2
