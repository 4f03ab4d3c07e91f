"""`resume=true`: find the job a run continues, skip it if it already finished.

A sweep job continues in its own folder (the same `hydra.sweep.dir` gives the same job folders).
A single run gets a new time-stamped folder, so it continues the newest earlier run of the same
task with the same overrides (or the folder named by `hydra.run.dir`, if that one has a record).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sweeplab.record import FILENAME, JobRecord

#: overrides that do not change what a job computes
IGNORED_KEYS = ("resume", "threads", "trainer.enable_progress_bar", "checkpoint.every_n_epochs",
                "checkpoint.min_interval_s")


@dataclass
class Previous:
    """An earlier attempt at this job: its folder, its record, and the checkpoint to load."""

    folder: Path
    record: JobRecord

    @property
    def checkpoint(self) -> Path | None:
        path = self.folder / "checkpoints" / "last.ckpt"
        return path if path.is_file() else None


def same_job(a: list[str], b: list[str]) -> bool:
    def key(overrides: list[str]) -> list[str]:
        return sorted(o for o in overrides if o.lstrip("+~").split("=", 1)[0] not in IGNORED_KEYS
                      and not o.startswith("hydra."))
    return key(a) == key(b)


def find_previous(out: Path, overrides: list[str], multirun: bool) -> Previous | None:
    """The earlier attempt at the job writing to `out`, or None."""
    record = JobRecord.read(out)
    if record is not None:
        return Previous(out, record)
    if multirun:
        return None
    runs = [p.parent for p in out.parent.glob(f"*/{FILENAME}") if p.parent != out]
    for folder in sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True):
        record = JobRecord.read(folder)
        if record is not None and same_job(record.overrides, overrides):
            return Previous(folder, record)
    return None
