"""Shared pieces of the lab lesson tests: train one job in-process, read its results."""

import json

import torch

from sweeplab.train import train

DIGITS28 = ("data=digits", "data.image_size=28")
FULL_BATCH_ADAM = ("optim=adam", "optim.lr=0.1", "data.full_batch=true")


def metrics(make_cfg, tmp_path, *overrides: str) -> dict[str, float]:
    """Train one job in-process (no TensorBoard) and return its final metrics."""
    train(make_cfg(*overrides, "~logger"))
    return json.loads((tmp_path / "metrics.json").read_text())["metrics"]


def checkpoint(tmp_path) -> dict[str, torch.Tensor]:
    return torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def only_at_end(epochs: int) -> tuple[str, str]:
    """Train `epochs` epochs, validating once at the end (cheaper for tiny full-batch runs)."""
    return f"trainer.max_epochs={epochs}", f"trainer.check_val_every_n_epoch={epochs}"
