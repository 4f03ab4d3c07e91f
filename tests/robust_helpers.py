"""Test-only Lightning callbacks that signal a job at a chosen step, or pause it there for a test
to signal."""

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


class PauseAtStep(L.Callback):
    """Once `step` steps are done, say so on stdout and wait for SIGTERM (the test sends it on
    reading the line), then let the job's own handler have it: the signal arrives at a known
    point, with no timing involved."""

    def __init__(self, step: int = 3) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step == self.step:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # none may slip past
            print(f"sweeplab-test: paused at step {self.step}", flush=True)
            signal.sigwait({signal.SIGTERM})
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            signal.raise_signal(signal.SIGTERM)


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


class SignalAfterTraining(L.Callback):
    """Send this process SIGTERM as the test starts (training is over), once: `flag` is created
    then, so the same callback in later jobs or a resumed run does nothing."""

    def __init__(self, flag: str) -> None:
        self.flag = Path(flag)

    def on_test_start(self, trainer: L.Trainer, *args) -> None:
        if not self.flag.exists():
            self.flag.touch()
            os.kill(os.getpid(), signal.SIGTERM)
