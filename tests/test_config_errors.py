"""Bad input stops before any training with exit code 2 and one line naming the key and what is
allowed. Most cases go through the CLI's preflight in-process (a subprocess costs ~5 s of
imports each); two go through `scripts/train.py` itself to pin the whole path down."""

from __future__ import annotations

import csv

import pytest

from conftest import CONF, run_script
from fakedata import write_image_tree
from sweeplab.cli import preflight

QUIET = ["threads=1", "trainer.enable_progress_bar=false"]

CASES = {
    "lr_negative": (["optim.lr=-1"], "optim.lr: must be > 0, got -1.0"),
    "momentum_above_one": (["optim.momentum=1.5"], "optim.momentum: must be in [0, 1), got 1.5"),
    "dropout_one": (["model.dropout=1"], "model.dropout: must be in [0, 1), got 1.0"),
    "batch_size_zero": (["data.batch_size=0"], "data.batch_size: must be >= 1, got 0"),
    "lr_not_a_number": (["optim.lr=abc"], "optim.lr: expected a number, got 'abc'"),
    "unknown_data_key": (["data.foo=1"], "data.foo: unknown key for data=mnist; allowed: "),
    "unknown_model_option": (["model=cnnn"],
                             "model=cnnn: no such option; allowed: cnn, deep, logistic, mlp"),
    "option_not_in_family": (["model=logistic", "model.batchnorm=true"],
                             "model.batchnorm: unknown key for model=logistic; "
                             "allowed: loss, input_shape"),
    "input_shape_mismatch": (["data=digits", "data.image_size=16", "model=cnn",
                              "model.input_shape=[1,28,28]"],
                             "model.input_shape=[1, 28, 28] does not match the data "
                             "(DigitsData gives inputs of shape [1, 16, 16])"),
    "second_sweep_value_bad": (["-m", "optim.lr=0.1,-1"], "optim.lr: must be > 0, got -1.0"),
    "activation_unknown": (["model.activation=swish"],
                           "model.activation: 'swish' is not allowed; allowed: sigmoid, tanh"),
    "activation_on_softmax": (["data=spiral", "model=softmax", "model.activation=relu"],
                              "model.activation: unknown key for model=softmax"),
    "logistic_on_three_classes": (["data=spiral", "model=logistic"],
                                  "model=logistic needs two-class data; SpiralData has 3"),
    "cnn_on_points": (["data=spiral", "model=cnn"], "model=cnn needs image data"),
    "cnn_shrinks_to_nothing": (["data=digits", "model=cnn", "model.channels=[4,4,4,4]"],
                               "model=cnn: 4 conv blocks"),
    "hidden_not_a_list": (["data=spiral", "model=deep", "model.hidden=abc"],
                          "model.hidden: expected a list"),
    "adam_has_no_momentum": (["optim=adam", "optim.momentum=0.9"],
                             "optim.momentum: unknown key for optim=adam"),
    "init_distribution": (["init=he", "init.distribution=cauchy"],
                          "init.distribution: 'cauchy' is not allowed; allowed: uniform, normal"),
    "max_epochs_zero": (["trainer.max_epochs=0"], "trainer.max_epochs: must be >= 1"),
    "seed_negative": (["seed=-1"], "seed: must be >= 0, got -1"),
    "precision_typo": (["trainer.precision=32-tru"],
                       "trainer.precision: '32-tru' is not allowed; allowed: 32-true, 16-mixed"),
    "unknown_top_level_key": (["foo=1"], "foo: unknown key"),
    "sweep_without_m": (["model.dropout=0,0.5"], "add -m to sweep"),
    "image_folder_without_root": (["data=image_folder"], "data.root: must name a folder"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_stops_with_one_line_naming_the_key(name, capsys):
    argv, expected = CASES[name]
    with pytest.raises(SystemExit) as info:
        preflight(argv, CONF)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and expected in lines[0]


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
