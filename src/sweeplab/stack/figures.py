"""Each stack member's TensorBoard figures, as its job alone gets them from `Visualize`.

The stack's Trainer logs through `MemberLogger`s, so `Visualize` itself finds no TensorBoard
logger there. `MemberFigures` keeps each member's own `Visualize` (from its job's config) and
TensorBoard writer, and on the epochs that member's `Visualize` draws on (and when training
ends) draws it with the member's weights at that moment (`StackModule.member_module`), at the
step of the member's scalars. With `histograms: true` each member's weight and gradient
histograms are logged on the epochs and steps its job alone logs them, from its rows of the
stacked weights and gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
from hydra.utils import get_class, instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig

from sweeplab.visualize import Visualize, histograms_into, last_step


@dataclass
class MemberFigure:
    member: int
    visualize: Visualize
    writer: object  # the member's TensorBoard SummaryWriter


class MemberFigures(L.Callback):
    def __init__(self, figures: list[MemberFigure]) -> None:
        self.figures = figures
        self.grads_due: list[MemberFigure] = []

    def on_train_epoch_start(self, trainer: L.Trainer, stack: L.LightningModule) -> None:
        self.grads_due = [f for f in self.figures if f.visualize.histograms_due(trainer)]

    def on_before_optimizer_step(self, trainer: L.Trainer, stack: L.LightningModule,
                                 optimizer) -> None:
        """The epoch's first step: each member's gradients before it, as its job logs them."""
        due, self.grads_due = self.active(stack, self.grads_due), []
        for f in due:
            module = stack.member_module(f.member, grads=True)
            histograms_into(f.writer, module, "grads", trainer.global_step)
            module.zero_grad(set_to_none=True)  # the member's own copy: not trained here

    def on_train_epoch_end(self, trainer: L.Trainer, stack: L.LightningModule) -> None:
        due = [f for f in self.figures if f.visualize.histograms_due(trainer)]
        for f in self.active(stack, due):
            with torch.no_grad():
                module = stack.member_module(f.member)
            histograms_into(f.writer, module, "weights", trainer.global_step)

    @staticmethod
    def active(stack, figures: list[MemberFigure]) -> list[MemberFigure]:
        """The figures of members still training (a job alone stops when it diverges)."""
        active = stack.active.tolist()
        return [f for f in figures if active[f.member]]

    def on_validation_epoch_end(self, trainer: L.Trainer, stack: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.draw(trainer, stack, "val", [f for f in self.figures if f.visualize.due(trainer)])

    def on_fit_end(self, trainer: L.Trainer, stack: L.LightningModule) -> None:
        self.draw(trainer, stack, "test", [f for f in self.figures if f.visualize.at_end])

    def draw(self, trainer: L.Trainer, stack, split: str, figures: list[MemberFigure]) -> None:
        """Figures of the members still training (a job alone stops when it diverges)."""
        if not figures or not trainer.is_global_zero:
            return
        for f in self.active(stack, figures):
            with torch.no_grad():
                module = stack.member_module(f.member)
            f.visualize.draw_into(f.writer, module, trainer.datamodule, split, last_step(trainer))


def draws_figures(node) -> bool:
    """Whether a callback's config builds a `Visualize` (the others are not built here)."""
    if not node or "_target_" not in node:
        return False
    try:
        return issubclass(get_class(node._target_), Visualize)
    except ValueError:  # a factory function, not a class: not sweeplab's Visualize
        return False


def member_figures(members: list[tuple[DictConfig, list]]) -> MemberFigures | None:
    """For (config, loggers) of each member: the figures its job would draw, None if none
    would (no `visualize` callback, or no TensorBoard logger)."""
    figures = []
    for i, (cfg, loggers) in enumerate(members):
        writer = next((lg.experiment for lg in loggers if isinstance(lg, TensorBoardLogger)),
                      None)
        if writer is None:
            continue
        figures += [MemberFigure(i, instantiate(node), writer)
                    for node in cfg.get("callbacks", {}).values() if draws_figures(node)]
    return MemberFigures(figures) if figures else None
