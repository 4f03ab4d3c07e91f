"""The stop request: SIGINT, SIGTERM (and, in a Slurm job, its time-limit signal) held for the
whole process, so that a signal at any moment (a job's setup, between jobs, the summary) is
acted on at the next safe point instead of killing the process without a record.

The command line installs one `StopRequest` for its whole run (`cli.run`); a job's
`GracefulStop` shares it (found through `signal.getsignal`, no global), and code between jobs
and phases calls `raise_if_asked`. Outside the command line (`sweeplab.run`, tests calling
`train`), `GracefulStop` installs one of its own for the length of a fit.

A second signal stops at once (`StopNow`), unless it follows the first within
`REPEAT_WINDOW_S`: Slurm sends SIGTERM, SIGCONT, SIGTERM within 70 ms at a time limit, which is
one request. The command line's request is passed on to its children (the workers of a joblib
sweep), which hold it from their first job on (`hold_in_worker`) and stop the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sweeplab.slurm import time_limit_signal


class StopNow(BaseException):
    """A second signal: stop at once, no checkpoint. A BaseException (as SystemExit is), so no
    `except Exception` on the way out (Hydra's run_job, a sweep's job loop) swallows it, and not
    a KeyboardInterrupt, which Lightning turns into exit code 1."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped at once by a second {signal.Signals(signum).name}")
        self.signum = signum


class Stopped(BaseException):
    """A held request, acted on where no job was training (between jobs). A BaseException, so
    that Hydra passes it on rather than reporting it as a crash (exit 1)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name} while no job was training")
        self.signum = signum


class StopRequest:
    """The process's stop request: which signal asked (None: none yet) and when."""

    REPEAT_WINDOW_S = 0.5

    def __init__(self, pass_on: bool = False) -> None:
        self.pass_on = pass_on
        self.signum: int | None = None
        self.asked_at = 0.0
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, time_limit_signal()):
                if sig is not None:
                    self.previous[sig] = signal.signal(sig, self.on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous.clear()

    @property
    def installed(self) -> bool:
        return bool(self.previous)

    def on_signal(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            if time.monotonic() - self.asked_at < self.REPEAT_WINDOW_S:
                return
            raise StopNow(signum)
        self.signum, self.asked_at = signum, time.monotonic()
        print(f"\n[sweeplab] {signal.Signals(signum).name}: stopping at the next safe point "
              f"(a training job saves a checkpoint first); send it again to stop at once",
              file=sys.stderr, flush=True)
        if self.pass_on:
            pass_on(signum)

    def raise_if_asked(self) -> None:
        if self.signum is not None:
            raise Stopped(self.signum)

    @classmethod
    def current(cls) -> StopRequest | None:
        """The request installed for this process, if any (its SIGTERM handler's owner)."""
        handler = signal.getsignal(signal.SIGTERM)
        owner = getattr(handler, "__self__", None)
        return owner if isinstance(owner, StopRequest) else None


def raise_if_asked() -> None:
    """Between jobs and phases: raise `Stopped` if this process was asked to stop."""
    request = StopRequest.current()
    if request is not None:
        request.raise_if_asked()


def held_signal() -> int | None:
    """The signal this process was asked to stop by and has not acted on yet, if any."""
    request = StopRequest.current()
    return request.signum if request is not None else None


def hold_in_worker() -> bool:
    """Whether this process is a worker of a parallel launcher (joblib's loky workers): its
    parent passes stop requests on, and it holds them from its first job to its end, so that a
    job it is given after the request does not start (`raise_if_asked`)."""
    if multiprocessing.parent_process() is None:
        return False
    if StopRequest.current() is None and threading.current_thread() is threading.main_thread():
        StopRequest().__enter__()  # for the rest of this worker's life
    return True


def children(pid: int | None = None) -> list[int]:
    """This process's direct children (Linux: /proc/<pid>/task/<tid>/children)."""
    pid = pid or os.getpid()
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def pass_on(signum: int) -> None:
    """Send the request to the children that run jobs (joblib's workers): each saves its job's
    checkpoint and stops, rather than training on after this process exits."""
    for pid in children():
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
