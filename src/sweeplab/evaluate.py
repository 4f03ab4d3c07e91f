"""Loss and accuracy of a trained module on any split, in eval mode (dropout off, BN frozen)."""

from __future__ import annotations

import torch
from torch import nn

from sweeplab.data.loader import TensorLoader


@torch.no_grad()
def evaluate(module: nn.Module, loader: TensorLoader) -> dict[str, float]:
    """Mean loss (and accuracy for classifiers) over `loader`, the module left in its prior mode."""
    was_training, epoch = module.training, loader.epoch
    module.eval()
    total, loss_sum, correct, classifies = 0, 0.0, 0, False
    device = next(module.parameters()).device
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        out = module(x)
        if hasattr(module, "loss_and_preds"):
            loss, preds = module.loss_and_preds(out, y)
        else:
            loss, preds = nn.functional.mse_loss(out, y), None
        if preds is not None:
            correct += int((preds == y).sum())
            classifies = True
        loss_sum += float(loss) * len(y)
        total += len(y)
    module.train(was_training)
    loader.epoch = epoch  # an evaluation pass must not shift the training shuffle order
    result = {"loss": loss_sum / max(total, 1)}
    if classifies:
        result["acc"] = correct / max(total, 1)
    return result
