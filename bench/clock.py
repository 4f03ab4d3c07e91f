"""Lightning callbacks that time a job for scripts/bench.py.

`StepClock`, added to a run from the command line (`+callbacks.clock._target_=bench.clock.
StepClock +callbacks.clock.path=/tmp/clock.jsonl`), writes one JSON line per job: the wall
times (time.time()) of the first training step and of the start and end of the training loop,
and the process's CPU times at that start and end. In-process runs read `StepClock.last`.

`TimeToAccuracy` stops training at the first validation whose accuracy reaches a target and
records the wall seconds from the first training step to it.
"""

from __future__ import annotations

import json
import time

import lightning as L
import torch


def synced_time(module: L.LightningModule) -> float:
    """Wall time once the device has finished the work queued so far."""
    if module.device.type == "cuda":
        torch.cuda.synchronize(module.device)
    return time.time()


class StepClock(L.Callback):
    #: the times of the last job clocked in this process
    last: dict[str, float] = {}

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.times: dict[str, float] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.times = {"train_start": synced_time(pl_module), "cpu_start": time.process_time()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.times.setdefault("first_step", time.time())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.times["train_end"] = synced_time(pl_module)
        self.times["cpu_end"] = time.process_time()
        self.times["steps"] = float(trainer.global_step)
        StepClock.last = dict(self.times)
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(self.times) + "\n")


class TimeToAccuracy(L.Callback):
    """Stop at the first validation with `val/acc >= target`; `seconds` from the first step
    (None if never reached), `epochs` validated by then. `TimeToAccuracy.last`: the instance
    made last in this process (runs build their callbacks from the config)."""

    last: TimeToAccuracy | None = None

    def __init__(self, target: float) -> None:
        TimeToAccuracy.last = self
        self.target = target
        self.start: float | None = None
        self.seconds: float | None = None
        self.epochs = 0
        self.best = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self.start is None:
            self.start = synced_time(pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.start is None or self.seconds is not None:
            return
        self.epochs += 1
        acc = float(trainer.callback_metrics.get("val/acc", float("nan")))
        self.best = max(self.best, acc)
        if acc >= self.target:
            self.seconds = synced_time(pl_module) - self.start
            trainer.should_stop = True
