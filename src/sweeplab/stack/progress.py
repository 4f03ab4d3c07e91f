"""What a stack says while it trains, so a long stack never leaves the terminal silent.

`StackProgress` writes a line (`stack 1/2: epoch 3/50, 7/8 members training, about 2 min left`)
after the first epoch, so the estimate comes early, and whenever `EVERY_S` seconds have passed
since the last line or the start (checked after each step and each epoch). `member_logs` sends
these lines, through `logging`, to the terminal and to every member's own log file
(`train.log`), so each job's log tells how its stack went.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lightning as L

from sweeplab.steps import stepping_total
from sweeplab.sweep.progress import duration

log = logging.getLogger(__name__)

#: at most this many seconds between two progress lines
EVERY_S = 10.0


class StackProgress(L.Callback):
    def __init__(self, label: str) -> None:
        self.label = label
        self.started, self.first_step, self.last = 0.0, 0, None

    def on_train_start(self, trainer: L.Trainer, stack: L.LightningModule) -> None:
        self.started, self.first_step, self.last = time.monotonic(), trainer.global_step, None

    def on_train_batch_end(self, trainer: L.Trainer, stack: L.LightningModule, *args) -> None:
        since = self.started if self.last is None else self.last  # a long first epoch too
        if time.monotonic() - since >= EVERY_S:
            self.report(trainer, stack)

    def on_train_epoch_end(self, trainer: L.Trainer, stack: L.LightningModule) -> None:
        if self.last is None or time.monotonic() - self.last >= EVERY_S:
            self.report(trainer, stack)

    def report(self, trainer: L.Trainer, stack: L.LightningModule) -> None:
        self.last = time.monotonic()
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        epoch = f"epoch {trainer.current_epoch + 1}" + (f"/{epochs}" if epochs else "")
        members = stack.progress() if hasattr(stack, "progress") else {}
        training = "".join(f", {v} {k}" for k, v in members.items())
        done, total = trainer.global_step - self.first_step, stepping_total(trainer)
        left = total - trainer.global_step
        eta = f", about {duration((self.last - self.started) / done * left)} left" \
            if done > 0 and left >= 0 and total != float("inf") else ""
        log.info(f"{self.label}: {epoch}{training}{eta}")


class TerminalHandler(logging.StreamHandler):
    """Writes to `sys.stdout` as it is when the line comes: a progress bar may redirect it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


@contextmanager
def member_logs(files: list[Path]) -> Iterator[None]:
    """While the stack trains: this module's lines on the terminal and in each member's log."""
    handlers: list[logging.Handler] = [TerminalHandler()]
    handlers[0].setFormatter(logging.Formatter("[sweeplab] %(message)s"))
    for path in files:
        handlers.append(logging.FileHandler(path))
        handlers[-1].setFormatter(
            logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    level, propagate = log.level, log.propagate
    log.setLevel(logging.INFO)
    log.propagate = False  # not again through the last member's job logging
    for h in handlers:
        log.addHandler(h)
    try:
        yield
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
        log.setLevel(level)
        log.propagate = propagate
