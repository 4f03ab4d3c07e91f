"""Smoke tests: every sensible model x data pair composes from overrides, as a CI user would
write them, and trains one fast_dev_run step end to end through `train(cfg)`."""

from __future__ import annotations

import json
import math

import lightning as L
import pytest
import torch

from fakedata import write_image_tree, write_mnist
from sweeplab.checks import check_config
from sweeplab.config import ConfigError
from sweeplab.train import build_module, train

# dataset name -> overrides; {tmp} is the test's tmp dir (paths.data_dir is {tmp}/data)
DATA = {
    "spiral": ["data=spiral"],
    "xor": ["data=xor"],
    "line1d": ["data=synthetic"],
    "line1d_3class": ["data=synthetic", "data.thresholds=[-0.3,0.3]"],
    "quadratic2d": ["data=synthetic", "data.kind=quadratic2d", "data.n=200"],
    "lines": ["data=lines", "data.n=200"],
    "digits8": ["data=digits"],
    "digits16": ["data=digits", "data.image_size=16"],
    "digits28": ["data=digits", "data.image_size=28"],
    "mnist": ["data=mnist", "data.download=false", "data.val_size=100"],
    "image_folder": ["data=image_folder", "data.root={tmp}/pets"],
    "polynomial": ["data=polynomial"],
}
BINARY = ["xor", "line1d", "quadratic2d", "lines"]
IMAGES = ["lines", "digits8", "digits16", "digits28", "mnist", "image_folder"]
CLASSIFICATION = [d for d in DATA if d != "polynomial"]
# the course's lines net (lab 23) needs small kernels: the default 5x5 blocks fit 11x11 too
MODEL = {
    "logistic": ["model=logistic"],
    "softmax": ["model=softmax"],
    "mlp": ["model=mlp", "model.hidden=16"],
    "deep": ["model=deep", "model.hidden=[16,8]"],
    "cnn": ["model=cnn", "model.channels=[4,8]"],
}
PAIRS = ([("logistic", d) for d in BINARY]
         + [(m, d) for m in ("softmax", "mlp", "deep") for d in CLASSIFICATION]
         + [("cnn", d) for d in IMAGES]
         + [(m, "polynomial") for m in ("mlp", "deep")])


def overrides_for(model: str, data: str, tmp_path) -> list[str]:
    if data == "mnist":
        write_mnist(tmp_path / "data", n_train=200, n_test=50)
    if data == "image_folder":
        write_image_tree(tmp_path / "pets", per_class=4)
    return [o.format(tmp=tmp_path) for o in DATA[data] + MODEL[model]]


@pytest.mark.parametrize("model, data", PAIRS, ids=[f"{m}-{d}" for m, d in PAIRS])
def test_model_trains_on_data_for_one_fast_dev_run_step(make_cfg, tmp_path, model, data):
    cfg = make_cfg(*overrides_for(model, data, tmp_path), "trainer.fast_dev_run=true")
    value = train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "completed"
    expected = "val/loss" if data == "polynomial" else "val/acc"
    assert record["optimized_metric"] == expected
    assert value == record["metrics"][expected] and math.isfinite(value)
    assert "test/loss" in record["metrics"]


def test_a_few_max_steps_train_a_real_config(make_cfg, tmp_path):
    cfg = make_cfg("data=digits", "data.image_size=16", "model=cnn", "trainer.max_steps=3",
                   "trainer.log_every_n_steps=1")
    train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["metrics"]["steps"] == 3.0
    # training stopped inside the first epoch, yet the job reports validation metrics
    assert 0.0 <= record["metrics"]["val/acc"] <= 1.0 and "test/acc" in record["metrics"]


@pytest.mark.parametrize("model, data, words", [
    ("logistic", "spiral", "needs two-class data"),
    ("logistic", "digits8", "needs two-class data"),
    ("cnn", "spiral", "needs image data"),
    ("cnn", "polynomial", "does not fit regression data"),
    ("softmax", "polynomial", "does not fit regression data"),
])
def test_pairs_that_cannot_train_are_rejected_before_training(make_cfg, tmp_path, model, data,
                                                              words):
    cfg = make_cfg(*overrides_for(model, data, tmp_path))
    with pytest.raises(ConfigError, match=words):
        check_config(cfg)


def test_limit_train_batches_cuts_each_epoch_short(make_cfg, tmp_path):
    # digits: 1,222 training images in batches of 100 -> 13 batches, of which 10% is 1
    cfg = make_cfg("data=digits", "model=softmax", "trainer.max_epochs=2",
                   "trainer.limit_train_batches=0.1")
    train(cfg)
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics"]["steps"] == 2.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_dataset_moves_to_the_device_once(make_cfg):
    from sweeplab.checks import build_datamodule

    cfg = make_cfg("data=digits", "data.image_size=16", "model=cnn", "trainer=gpu",
                   "trainer.max_epochs=1")
    dm = build_datamodule(cfg)
    module = build_module(cfg, dm)
    trainer = L.Trainer(accelerator="gpu", devices=1, max_epochs=1, logger=False,
                        enable_progress_bar=False, enable_checkpointing=False)
    trainer.fit(module, datamodule=dm)
    assert dm.loader("train").x.device.type == "cuda"
    assert dm.splits["train"].x.dtype == torch.uint8


def test_a_diverged_run_is_stopped_and_reported_not_hidden(make_cfg, tmp_path):
    from sweeplab.robust import Diverged

    cfg = make_cfg("data=spiral", "model=deep", "optim.lr=1e4", "trainer.max_epochs=1")
    with pytest.raises(Diverged, match="nan"):
        train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "diverged" and "nan" in record["error"]


def test_the_same_seed_trains_to_the_same_metrics(make_cfg, tmp_path):
    def run(seed: int) -> dict:
        train(make_cfg("data=spiral", "data.n_per_class=100", "model=deep",
                       "trainer.max_epochs=1", f"seed={seed}"))
        return json.loads((tmp_path / "metrics.json").read_text())["metrics"]

    first, again, other = run(3), run(3), run(4)
    assert first["val/loss"] == again["val/loss"] and first["test/acc"] == again["test/acc"]
    assert first["val/loss"] != other["val/loss"]
