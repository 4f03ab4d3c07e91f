"""What a sweep tells as its jobs finish: a line per job on the terminal, its HParams session.

sweeplab's launchers (job by job or stacked) hand every finished job to one `SweepProgress`, so
the numbering (`job 3/8`) and the time left count the whole sweep whichever way a job ran.
"""

from __future__ import annotations

import time
from pathlib import Path

from hydra.core.utils import JobReturn

from sweeplab.record import JobRecord


class SweepProgress:
    """Counts a sweep's finished jobs; for each, prints its line and writes its HParams session
    (when `board` is given: `sweep.tensorboard.SweepBoard`)."""

    def __init__(self, total: int, board=None) -> None:
        self.total, self.board, self.done = total, board, 0
        self.started = time.time()

    def finished(self, run: JobReturn) -> None:
        self.done += 1
        out = Path(run.hydra_cfg.hydra.runtime.output_dir)
        if self.board is not None:
            try:  # the summary writes HParams again at the end: this must not stop a sweep
                self.board.finished(out)
            except Exception as exc:
                print(f"[sweeplab] warning: no HParams for {out.name} yet: {exc!r}", flush=True)
        if self.total > 1:
            left = (time.time() - self.started) / self.done * (self.total - self.done)
            print(progress_line(out, self.done, self.total, left), flush=True)


def progress_line(out: Path, done: int, total: int, seconds_left: float) -> str:
    """`[sweeplab] job 2/6 model.activation=relu: completed, val/acc 0.9133 (3.1 s); about
    12 s left`: one line per finished job of a sweep."""
    record = JobRecord.read(out)
    if record is None:
        result = "no record"
    elif record.status == "completed":
        result = f"completed, {record.optimized_metric} {record.value:.4f}"
    else:
        result = f"{record.status}: {(record.error or '')[:100]}"
    took = f" ({record.duration_s:.1f} s)" if record and record.duration_s else ""
    left = f"; about {duration(seconds_left)} left" if done < total else ""
    return f"[sweeplab] job {done}/{total} {out.name}: {result}{took}{left}"


def duration(seconds: float) -> str:
    """`45 s`, `3 min`, `1 h 20 min`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
