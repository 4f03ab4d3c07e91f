"""The LightningModules: one per task kind, each wrapping any network built from plain config.

Hyperparameters are plain dicts (network, optimiser, init), so checkpoints load with
`torch.load(weights_only=True)` and a model can be rebuilt from a checkpoint alone.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MaxMetric, Metric, MinMetric
from torchmetrics.classification import Accuracy

from sweeplab.config import model_class
from sweeplab.epoch_sums import EpochSums
from sweeplab.init import init_weights
from sweeplab.optim import build_optimizer, build_scheduler
from sweeplab.steps import SeveralSteps


def build_network(net: dict[str, Any], input_shape: tuple[int, ...], out_features: int,
                  init: dict[str, Any] | None = None) -> nn.Module:
    """Instantiate `net["_target_"]` with its options, then apply the init scheme."""
    options = {k: v for k, v in net.items() if k not in ("_target_", "loss", "input_shape")}
    model = model_class(net["_target_"])(tuple(input_shape), out_features, **options)
    if init:
        init_weights(model, **init)
    return model


def keep_in_checkpoints(module: nn.Module) -> None:
    """Save every metric's running state with the weights (best-so-far values survive a resume)."""
    for m in module.modules():
        if isinstance(m, Metric):
            m.persistent(True)


class TaskModule(SeveralSteps, L.LightningModule):
    """What classification and regression share: the network, the optimiser, the schedule."""

    def __init__(self, net: dict, optim: dict, init: dict | None, input_shape: list[int],
                 out_features: int, max_epochs: int = 10) -> None:
        super().__init__()
        self.net = build_network(net, tuple(input_shape), out_features, init)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def configure_optimizers(self):
        optim = dict(self.hparams.optim)
        optimizer = build_optimizer(self.parameters(), optim)
        scheduler = build_scheduler(optimizer, optim, self.hparams.max_epochs)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def mean_loss(self, sums: EpochSums) -> Tensor:
        """The epoch's loss, weighted by batch size over every batch (and rank); NaN if none."""
        means = sums.compute(self.trainer.strategy)
        return means[0] if means is not None else torch.tensor(float("nan"))

    def log_step_loss(self, loss: Tensor, batch_size: int) -> None:
        """train/loss_step, on the steps Lightning writes to the loggers."""
        self.log_step({"train/loss_step": loss.detach()}, batch_size)


class Classifier(TaskModule):
    """Binary (one logit, BCE) or multi-class (one logit per class, cross-entropy).

    `loss="mse"` trains on the squared error between predicted probabilities and the one-hot
    (or 0/1) target: the course's lesson on why that stalls.
    """

    def __init__(self, net: dict, optim: dict, init: dict | None, input_shape: list[int],
                 num_classes: int, loss: str = "auto", max_epochs: int = 10) -> None:
        if loss == "auto":
            loss = "bce" if num_classes == 2 else "ce"
        binary_head = num_classes == 2 and loss in ("bce", "mse")
        super().__init__(net, optim, init, input_shape, 1 if binary_head else num_classes,
                         max_epochs)
        self.save_hyperparameters()
        self.loss_name, self.binary_head, self.num_classes = loss, binary_head, num_classes
        task = "binary" if binary_head else "multiclass"
        acc = {"task": task} if binary_head else {"task": task, "num_classes": num_classes}
        acc["validate_args"] = False  # its checks read values back to the host every step
        # losses are summed in plain tensors, weighted by batch size (torchmetrics costs ~0.1 ms
        # a step, and its MeanMetric(nan_strategy="disable") ignores the weights); a diverged
        # run's NaN stays NaN
        self.train_sums, self.val_sums, self.test_sums = EpochSums(), EpochSums(), EpochSums()
        self.val_acc, self.test_acc = Accuracy(**acc), Accuracy(**acc)
        self.val_acc_best = MaxMetric()
        keep_in_checkpoints(self)

    def probabilities(self, logits: Tensor) -> Tensor:
        """Class probabilities, shape (N, num_classes), whichever head the model has."""
        if self.binary_head:
            p = torch.sigmoid(logits.squeeze(-1))
            return torch.stack([1 - p, p], dim=-1)
        return logits.softmax(dim=-1)

    def loss_and_preds(self, logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """The batch's mean loss and the predicted classes, for the logits of one model (B, C)
        or of a stack of models (M, B, C): the loss then has one value per model (M,)."""
        if self.binary_head:
            logits = logits.squeeze(-1)
            target = y.float().expand_as(logits)
            if self.loss_name == "mse":
                loss = F.mse_loss(torch.sigmoid(logits), target, reduction="none")
            else:
                loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
            return loss.mean(-1), (logits > 0).long()
        if self.loss_name == "mse":
            one_hot = F.one_hot(y, self.num_classes).float().expand_as(logits)
            loss = F.mse_loss(logits.softmax(-1), one_hot, reduction="none").flatten(-2).mean(-1)
        else:
            target = y.expand(logits.shape[:-1])
            loss = F.cross_entropy(logits.flatten(0, -2), target.flatten(), reduction="none")
            loss = loss.view(target.shape).mean(-1)
        return loss, logits.argmax(-1)

    def _step(self, batch, stage: str) -> Tensor:
        x, y = batch
        loss, preds = self.loss_and_preds(self(x), y)
        getattr(self, f"{stage}_sums").update(loss.detach(), len(y))
        getattr(self, f"{stage}_acc").update(preds, y)
        return loss

    def train_step(self, batch) -> Tensor:
        x, y = batch
        loss, preds = self.loss_and_preds(self(x), y)
        # epoch sums accumulate on the device (no host sync per step)
        self.train_sums.update(loss.detach(), len(y), (preds == y).sum())
        self.log_step_loss(loss, len(y))
        return loss

    def on_train_epoch_end(self) -> None:
        means = self.train_sums.compute(self.trainer.strategy)
        if means is not None:
            self.log("train/loss", means[0])
            self.log("train/acc", means[1])

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        acc = self.val_acc.compute()
        self.log("val/loss", self.mean_loss(self.val_sums), prog_bar=True)
        self.log("val/acc", acc, prog_bar=True)
        self.val_acc.reset()
        if not self.trainer.sanity_checking:
            self.val_acc_best.update(acc)
            self.log("val/acc_best", self.val_acc_best.compute())

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self.log("test/loss", self.mean_loss(self.test_sums))
        self.log("test/acc", self.test_acc)


class Regressor(TaskModule):
    """Mean squared error regression; `val/loss_best` tracks the lowest validation loss."""

    def __init__(self, net: dict, optim: dict, init: dict | None, input_shape: list[int],
                 out_features: int = 1, loss: str = "auto", max_epochs: int = 10) -> None:
        super().__init__(net, optim, init, input_shape, out_features, max_epochs)
        self.save_hyperparameters()
        self.train_sums, self.val_sums, self.test_sums = EpochSums(), EpochSums(), EpochSums()
        self.val_loss_best = MinMetric()
        keep_in_checkpoints(self)

    def loss_and_preds(self, out: Tensor, y: Tensor) -> tuple[Tensor, None]:
        """The batch's mean squared error, for one model's outputs (B, K) or a stack's
        (M, B, K): one value per model (M,). Regression has no predicted classes."""
        loss = F.mse_loss(out, y.expand_as(out), reduction="none").flatten(-2).mean(-1)
        return loss, None

    def _step(self, batch, stage: str) -> Tensor:
        x, y = batch
        loss, _ = self.loss_and_preds(self(x), y)
        getattr(self, f"{stage}_sums").update(loss.detach(), len(y))
        return loss

    def train_step(self, batch) -> Tensor:
        x, y = batch
        loss, _ = self.loss_and_preds(self(x), y)
        self.train_sums.update(loss.detach(), len(y))
        self.log_step_loss(loss, len(y))
        return loss

    def on_train_epoch_end(self) -> None:
        means = self.train_sums.compute(self.trainer.strategy)
        if means is not None:
            self.log("train/loss", means[0])

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        loss = self.mean_loss(self.val_sums)
        self.log("val/loss", loss, prog_bar=True)
        if not self.trainer.sanity_checking:
            self.val_loss_best.update(loss)
            self.log("val/loss_best", self.val_loss_best.compute())

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self.log("test/loss", self.mean_loss(self.test_sums))
