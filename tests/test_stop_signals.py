"""Which signals stop a job: Slurm's burst of SIGTERMs at a time limit is one request."""

from __future__ import annotations

import os
import signal

import pytest

from sweeplab.robust import GracefulStop
from sweeplab.stop import StopNow, StopRequest


def test_a_sigterm_repeated_within_the_window_is_the_same_stop_request(tmp_path):
    # Slurm 22.05 at a time limit: SIGTERM, SIGCONT, SIGTERM within 70 ms
    with GracefulStop(tmp_path / "last.ckpt") as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGCONT)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signum == signal.SIGTERM
        stop.request.asked_at -= StopRequest.REPEAT_WINDOW_S  # the window is behind us
        with pytest.raises(StopNow):  # a later one still means "stop at once"
            os.kill(os.getpid(), signal.SIGTERM)


def test_the_time_limit_signal_is_acted_on_only_inside_a_slurm_job(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    before = signal.getsignal(signal.SIGUSR2)
    with GracefulStop(tmp_path / "last.ckpt") as stop:
        os.kill(os.getpid(), signal.SIGUSR2)
        assert stop.signum == signal.SIGUSR2
    assert signal.getsignal(signal.SIGUSR2) == before
    monkeypatch.delenv("SUBMITIT_EXECUTOR")
    with GracefulStop(tmp_path / "last.ckpt"):
        assert signal.getsignal(signal.SIGUSR2) == before
