"""A Lightning callback that timestamps a job for scripts/bench.py (wall clock, time.time()).

Added to a run from the command line, e.g. `+callbacks.clock._target_=bench.clock.
StepClock +callbacks.clock.path=/tmp/clock.jsonl`: one JSON line per job with the times of the
first training step and of the start and end of the training loop. In-process runs read
`StepClock.last` instead.
"""

from __future__ import annotations

import json
import time

import lightning as L


class StepClock(L.Callback):
    #: the times of the last job clocked in this process
    last: dict[str, float] = {}

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.times: dict[str, float] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.times = {"train_start": time.time()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.times.setdefault("first_step", time.time())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.times["train_end"] = time.time()
        self.times["steps"] = float(trainer.global_step)
        StepClock.last = dict(self.times)
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(self.times) + "\n")
