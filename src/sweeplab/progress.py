"""The progress bar, redrawn a few times a second instead of on every training step.

Lightning's default (rich) bar updates its task and re-reads the logged metrics after every
step: about 0.3 ms, a fifth of a small model's step on a CPU. The bar looks the same; for a
stack of models it also shows the step and how many members are still training. It counts
batches, also when a Lightning step takes several (sweeplab.steps).
"""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import ProgressBar, RichProgressBar
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE

from sweeplab.data.loader import BatchChunks


class ThrottledRichProgressBar(RichProgressBar):
    def __init__(self, interval_s: float = 0.1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.interval_s = interval_s
        self._last = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        self._last = 0.0  # draw the first step of each epoch: the it/s estimate needs two

    @property
    def total_train_batches(self) -> int | float:
        loader = self.trainer.train_dataloader
        if isinstance(loader, BatchChunks):
            return len(loader.loader)
        return super().total_train_batches

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loader = trainer.train_dataloader
        if isinstance(loader, BatchChunks):  # the batches trained, not the chunks
            batch_idx = loader.loader.position - 1
        now = time.monotonic()
        if now - self._last < self.interval_s and batch_idx + 1 < self.total_train_batches:
            return
        self._last = now
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


    def get_metrics(self, trainer, pl_module) -> dict:
        """Lightning's items, and a stack's own (how many members still train)."""
        items = super().get_metrics(trainer, pl_module)
        if hasattr(pl_module, "progress"):
            items = {"step": str(trainer.global_step), **pl_module.progress(), **items}
        return items


def default_progress_bar(enabled: bool, callbacks: list) -> list:
    """The bar to add to `callbacks`: none if disabled or one is configured (Lightning's TQDM
    default applies where rich is missing)."""
    if not enabled or not _RICH_AVAILABLE or any(isinstance(c, ProgressBar) for c in callbacks):
        return []
    return [ThrottledRichProgressBar()]
