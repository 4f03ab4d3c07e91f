"""Test-only Lightning callbacks that signal a job at a chosen step, or pause it there for a test
to signal."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import lightning as L
from hydra.experimental.callback import Callback


class SignalAtStep(L.Callback):
    """Send this process `signum` while training takes its `step`-th optimizer step (a job
    stops after it; the hook runs for every step, however many a Lightning step takes)."""

    def __init__(self, step: int, signum: int = signal.SIGTERM) -> None:
        self.step, self.signum = step, signum

    def on_before_optimizer_step(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step + 1 == self.step:
            os.kill(os.getpid(), self.signum)


class PauseAtStep(L.Callback):
    """At the `step`-th optimizer step, say so on stdout and wait for SIGTERM or SIGINT (the test
    sends it on reading the line), then let the job's own handler have it: the signal arrives
    at a known point, with no timing involved. With `signals=2` it waits for a second one,
    as `PauseAtPhase` does."""

    def __init__(self, step: int = 3, signals: int = 1) -> None:
        self.step, self.signals = step, signals

    def on_before_optimizer_step(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step + 1 == self.step:
            wait_for_signals(f"step {self.step} (pid {os.getpid()})", self.signals)


class SlowSteps(L.Callback):
    """Sleep SWEEPLAB_TEST_STEP_DELAY seconds in each optimizer step (none when unset) and touch
    `<job dir>/training` at the `step`-th, so a test can stop a Slurm job mid-training. The
    delay comes from the environment so that the resumed run, with the same overrides, is fast;
    neither changes what the job computes."""

    def __init__(self, step: int = 3) -> None:
        self.step = step

    def on_before_optimizer_step(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step + 1 == self.step:
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


def wait_for_stop_signal(label: str) -> None:
    """Say `sweeplab-test: paused at <label>` and wait for SIGTERM or SIGINT (the test sends it
    on reading the line), then hand it to the process's own handler."""
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # none may slip past
    print(f"sweeplab-test: paused at {label}", flush=True)
    signum = signal.sigwait(stops)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    signal.raise_signal(signum)


def wait_for_signals(label: str, signals: int) -> None:
    """Pause for `signals` stop signals; each after the first comes past the repeat window
    (a new request, as a user pressing Ctrl-C twice), however soon the test sends it."""
    from sweeplab.stop import StopRequest

    for i in range(signals):
        if i:
            StopRequest.current().asked_at -= StopRequest.REPEAT_WINDOW_S
        wait_for_stop_signal(f"{label} {i + 1}" if signals > 1 else label)


class PauseAtPhase(Callback):
    """A Hydra callback that pauses the sweep once at `phase` for the test to signal it:
    `job_start` (a job being set up), `job_end` (after a job's record says it finished: between
    jobs, or between stacks), `multirun_end` (the summary). With `signals=2` it waits again after
    the first, as a user pressing Ctrl-C twice does (past the repeat window: it is a new request).
    `flag` is created when it pauses, so a resumed run goes through."""

    def __init__(self, phase: str, flag: str, signals: int = 1) -> None:
        self.phase, self.flag, self.signals = phase, Path(flag), signals

    def pause(self, phase: str) -> None:
        if phase != self.phase or self.flag.exists():
            return
        self.flag.touch()
        wait_for_signals(phase, self.signals)

    def on_job_start(self, config, **kwargs) -> None:
        self.pause("job_start")

    def on_job_end(self, config, job_return=None, **kwargs) -> None:
        record = Path(config.hydra.runtime.output_dir) / "metrics.json"
        if record.is_file() and '"completed"' in record.read_text():
            self.pause("job_end")

    def on_multirun_end(self, config, **kwargs) -> None:
        self.pause("multirun_end")


class KillAtFitEnd(L.Callback):
    """SIGKILL this process once training has ended (after the callbacks before this one have
    saved the final checkpoint), before the job's record says how it ended."""

    def on_fit_end(self, trainer: L.Trainer, *args) -> None:
        os.kill(os.getpid(), signal.SIGKILL)
