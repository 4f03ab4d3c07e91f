"""End to end through `train(cfg)`: a job trains, writes its outputs and returns its metric."""

import json

import torch

from sweeplab.train import train


def test_spiral_job_writes_metrics_checkpoint_and_tensorboard(make_cfg, tmp_path):
    cfg = make_cfg("data=spiral", "model=deep", "trainer.max_epochs=3")
    value = train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert value == record["metrics"]["val/acc"] > 0.4
    assert {"train/loss", "val/loss", "val/acc", "val/acc_best", "test/acc"} <= set(
        record["metrics"])
    assert list(tmp_path.glob("events.out.tfevents.*"))
    # a single run is tested on its last epoch's weights (test_on=auto)
    assert record["tested_on"] == "last" and not (tmp_path / "checkpoints" / "best.ckpt").exists()
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["net"]["_target_"] == "sweeplab.models.deep.DeepNet"


def test_regression_returns_validation_loss(make_cfg, tmp_path):
    cfg = make_cfg("data=polynomial", "model=mlp", "model.activation=relu", "optim=adam",
                   "optim.lr=0.01", "trainer.max_epochs=5")
    value = train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["optimized_metric"] == "val/loss"
    assert value == record["metrics"]["val/loss"]
