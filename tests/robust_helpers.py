"""Test-only Lightning callbacks that stop a job at a chosen step, or say when it got there."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import lightning as L


class SignalAtStep(L.Callback):
    """Send this process `signum` once training has taken `step` optimizer steps."""

    def __init__(self, step: int, signum: int = signal.SIGTERM) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


class StepMarker(L.Callback):
    """Touch `path` once `step` steps are done, and slow each step so a test can signal it."""

    def __init__(self, path: str, step: int = 3, delay: float = 0.0) -> None:
        self.path, self.step, self.delay = Path(path), step, delay

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step == self.step:
            self.path.touch()
        time.sleep(self.delay)


class SlowSteps(L.Callback):
    """Sleep SWEEPLAB_TEST_STEP_DELAY seconds after each step (none when unset) and touch
    `<job dir>/training` after `step` steps, so a test can stop a Slurm job mid-training. The
    delay comes from the environment so that the resumed run, with the same overrides, is fast;
    neither changes what the job computes."""

    def __init__(self, step: int = 3) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step == self.step:
            (Path(trainer.default_root_dir) / "training").touch()
        time.sleep(float(os.environ.get("SWEEPLAB_TEST_STEP_DELAY", "0")))
