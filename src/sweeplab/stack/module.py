"""The stack's LightningModule: N jobs' models trained by one Trainer, one step for all.

It holds one `StackedNet` per group of members that share layer sizes and head (the sweep's
planner orders members so groups are contiguous), and computes each member's loss and
accuracy with the members' own `loss_and_preds` (the single-job code, on outputs with a leading
member dimension). Training minimises the sum of the active members' losses: each member's
gradient is its own. Metrics are logged per member (`<i>/val/acc`, see `logger.py`).

A member whose loss stops being finite is frozen (`freeze`, called by the DivergenceGuard):
no longer updated or logged, recorded as diverged with the guard's message. The rest go on.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor

from sweeplab.epoch_sums import EpochSums
from sweeplab.stack.best import BestWeights
from sweeplab.stack.logger import member_key, member_metrics
from sweeplab.stack.net import StackedNet, structure
from sweeplab.stack.optim import MemberSchedules, build_stacked_optimizer
from sweeplab.steps import SeveralSteps
from sweeplab.tasks import Classifier, TaskModule


def group_key(member: TaskModule) -> tuple:
    """What members of one StackedNet share: the head and every layer's sizes and settings."""
    head = (member.loss_name, member.binary_head, member.num_classes) \
        if isinstance(member, Classifier) else ("mse",)
    return type(member), head, structure(member.net)


def member_generator(seed_state: Tensor) -> torch.Generator:
    g = torch.Generator()
    g.set_state(seed_state)
    return g


class StackModule(SeveralSteps, L.LightningModule):
    def __init__(self, members: list[TaskModule], seeds: list[int], rng_states: list[Tensor],
                 optims: list[dict[str, Any]], max_epochs: int,
                 best_metric: str | None = None) -> None:
        """`rng_states[i]`: torch's CPU random state right after member i was built (where its
        job's dropout masks start); on a GPU a job draws them from the device's generator,
        seeded with its seed (`seeds[i]`). `best_metric`: keep each member's best weights by
        this validation metric and test them (None: test the last weights)."""
        super().__init__()
        self.members, self.optims, self.max_epochs = members, optims, max_epochs
        self.seeds = seeds
        self.generators = [member_generator(s) for s in rng_states]
        self.pending_generators: list[Tensor] | None = None
        self.groups: list[range] = []
        start = 0
        while start < len(members):
            stop = start + 1
            while stop < len(members) and group_key(members[stop]) == group_key(members[start]):
                stop += 1
            self.groups.append(range(start, stop))
            start = stop
        self.nets = torch.nn.ModuleList(
            StackedNet([members[i].net for i in g], self.generators, g.start)
            for g in self.groups)
        self.classifies = isinstance(members[0], Classifier)
        self.best_weights = BestWeights(self.nets, self.groups, best_metric) \
            if best_metric else None
        self.register_buffer("active", torch.ones(len(members), dtype=torch.bool))
        fill = -torch.inf if self.classifies else torch.inf
        self.register_buffer("best", torch.full((len(members),), fill))
        self.diverged: dict[int, str] = {}
        self.member_val_loss: Tensor | None = None
        self.train_sums, self.val_sums, self.test_sums = EpochSums(), EpochSums(), EpochSums()

    # ------------------------------------------------------------ forward, loss

    def forward(self, x: Tensor) -> Tensor:
        """(M, B, C) outputs; only when every group has the same output size."""
        return torch.cat([net(x) for net in self.nets])

    def forward_all(self, x: Tensor) -> list[Tensor]:
        return [net(x) for net in self.nets]

    def networks(self) -> list[torch.nn.Module]:
        return list(self.nets)

    def losses(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """Every member's mean loss over the batch (M,) and, for classifiers, its hits (M,)."""
        losses, hits = [], []
        for net, g in zip(self.nets, self.groups, strict=True):
            loss, preds = self.members[g.start].loss_and_preds(net(x), y)
            losses.append(loss)
            if preds is not None:
                hits.append((preds == y).sum(-1))
        return torch.cat(losses), (torch.cat(hits) if hits else None)

    def active_members(self, name: str, values: Tensor) -> dict[str, Tensor]:
        """`name` for each member still training (a job alone stops when it diverges)."""
        active = self.active.tolist()
        return {member_key(i, name): values[i] for i in range(len(active)) if active[i]}

    def log_members(self, name: str, values: Tensor, **kwargs: Any) -> None:
        self.log_dict(self.active_members(name, values), **kwargs)

    # ------------------------------------------------------------ training

    def train_step(self, batch) -> dict[str, Tensor]:
        x, y = batch
        loss, hits = self.losses(x, y)
        self.train_sums.update(loss.detach(), len(y), hits)
        self.log_step(self.active_members("train/loss_step", loss.detach()), len(y))
        total = torch.where(self.active, loss, torch.zeros_like(loss)).sum()
        return {"loss": total, "member_loss": loss.detach()}

    def on_train_epoch_end(self) -> None:
        means = self.train_sums.compute(self.trainer.strategy)
        if means is not None:
            self.log_members("train/loss", means[0])
            if len(means) > 1:
                self.log_members("train/acc", means[1])

    def freeze(self, i: int, message: str) -> None:
        """Stop training member i (it diverged): no more updates, logs or divergence checks."""
        self.active[i] = False
        self.diverged[i] = message
        group = next(k for k, g in enumerate(self.groups) if i in g)
        optimizer = self.trainer.optimizers[0]
        optimizer.param_groups[group]["active"][i - self.groups[group].start] = False

    def progress(self) -> dict[str, str]:
        """What the progress bar shows for a stack."""
        return {"members training": f"{int(self.active.sum())}/{len(self.active)}"}

    def configure_optimizers(self):
        param_groups = [{"params": list(net.parameters())} for net in self.nets]
        optims = [[self.optims[i] for i in g] for g in self.groups]
        optimizer = build_stacked_optimizer(param_groups, optims)
        schedules = MemberSchedules(optimizer, optims, self.max_epochs)
        if not schedules.any:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedules,
                                                         "interval": "epoch"}}

    def lr_scheduler_step(self, scheduler: MemberSchedules, metric: Any) -> None:
        scheduler.step()

    # ------------------------------------------------------------ validation and test

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        loss, hits = self.losses(x, y)
        self.val_sums.update(loss, len(y), hits)

    def on_validation_epoch_end(self) -> None:
        means = self.val_sums.compute(self.trainer.strategy)
        if means is None:
            return
        self.member_val_loss = means[0]
        self.log_members("val/loss", means[0])
        if self.classifies:
            self.log_members("val/acc", means[1])
        if not self.trainer.sanity_checking:
            watched = means[1] if self.classifies else means[0]
            self.best = torch.fmax(self.best, watched) if self.classifies else \
                torch.fmin(self.best, watched)
            self.log_members("val/acc_best" if self.classifies else "val/loss_best", self.best)
            if self.best_weights is not None and self.keeps_best():
                value = means[1] if self.best_weights.metric == "val/acc" else means[0]
                self.best_weights.update(value, self.current_epoch, self.global_step)

    def keeps_best(self) -> bool:
        """Whether this validation may give a best epoch: as ModelCheckpoint saves, during fit
        only (not the validation run after a short fit) and not in a fast_dev_run."""
        return self.trainer.state.fn == TrainerFn.FITTING and not self.trainer.fast_dev_run

    def on_test_start(self) -> None:
        if self.best_weights is not None:  # each member tested on its best epoch's weights
            self.best_weights.swap()

    def on_test_end(self) -> None:
        if self.best_weights is not None:  # the last weights back, for each last.ckpt
            self.best_weights.swap()

    def test_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        loss, hits = self.losses(x, y)
        self.test_sums.update(loss, len(y), hits)

    def on_test_epoch_end(self) -> None:
        means = self.test_sums.compute(self.trainer.strategy)
        if means is not None:
            self.log_members("test/loss", means[0])
            if self.classifies:
                self.log_members("test/acc", means[1])

    # ------------------------------------------------------------ members as jobs

    def member_metrics(self, metrics: dict[str, Tensor], i: int) -> dict[str, float]:
        return {k: float(v) for k, v in member_metrics(metrics, i).items()
                if not k.endswith("_step")}

    def member_module(self, i: int, grads: bool = False) -> TaskModule:
        """Member i as the single-job module, holding its trained weights (and, with `grads`,
        the gradients of its last backward pass)."""
        group = next(k for k, g in enumerate(self.groups) if i in g)
        net, row = self.nets[group], i - self.groups[group].start
        net.write_member(row, self.members[i].net)
        if grads:
            net.write_member_grads(row, self.members[i].net)
        return self.members[i]

    def on_fit_start(self) -> None:
        if self.device.type != "cpu" and self.generators[0].device != self.device:
            for i, seed in enumerate(self.seeds):  # in place: the dropout layers hold the list
                self.generators[i] = torch.Generator(self.device).manual_seed(seed)
        if self.pending_generators is not None:
            for g, saved in zip(self.generators, self.pending_generators, strict=True):
                g.set_state(saved)
            self.pending_generators = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["stack"] = {"generators": [g.get_state() for g in self.generators],
                               "diverged": dict(self.diverged)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("stack", {})
        self.pending_generators = state.get("generators")  # set once on the training device
        self.diverged = {int(k): v for k, v in state.get("diverged", {}).items()}
