"""The job record: `metrics.json` in each job's folder, written here and read here only.

It says how the job ended (status), what it was (overrides), what it measured (metrics, and
which one it optimised, with its direction) and how long it took. The sweep summary, `resume=true`
and the command's exit code all read it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

FILENAME = "metrics.json"
#: how a job can end: running (started, or killed without a chance to say so), completed,
#: diverged, failed (any other exception), interrupted (stopped by a signal, resumable)
STATUSES = ("running", "completed", "diverged", "failed", "interrupted")


def larger_is_better(metric: str) -> bool:
    """Whether a larger value of `metric` is better (accuracy) or a smaller one (loss)."""
    return "loss" not in metric and "err" not in metric


@dataclass
class JobRecord:
    status: str = "running"
    overrides: list[str] = field(default_factory=list)
    optimized_metric: str | None = None
    #: the weights the test measured: "best" (by the optimised metric, metrics.tested_epoch)
    #: or "last"
    tested_on: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    duration_s: float | None = None
    threads: int | None = None
    resumed_from: str | None = None
    lab: str | None = None
    stacked_jobs: int | None = None

    @property
    def finished(self) -> bool:
        """Done for good: a resumed run skips it (a diverged job would diverge again)."""
        return self.status in ("completed", "diverged")

    @property
    def value(self) -> float:
        """The optimised metric it recorded (NaN if none)."""
        return float(self.metrics.get(self.optimized_metric or "", math.nan))

    @property
    def mode(self) -> str:
        """"max" or "min": the direction of the optimised metric."""
        return "max" if larger_is_better(self.optimized_metric or "") else "min"

    def write(self, folder: Path) -> None:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["mode"] = self.mode
        atomic_write(folder / FILENAME, json.dumps(data, indent=2, default=str) + "\n")

    @classmethod
    def read(cls, folder: Path) -> JobRecord | None:
        """The folder's record; None if it has none, a `failed` one if it cannot be read."""
        path = folder / FILENAME
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            return cls(status="failed", error=f"unreadable {FILENAME}: {exc}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def atomic_write(path: Path, text: str) -> None:
    """Write then rename, so a reader (or a kill) never sees half a file; a failed write (a
    full disk) leaves no temporary file and names `path` in its OSError."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, os.strerror(exc.errno) if exc.errno else str(exc),
                      str(path)) from None


def job_records(sweep_dir: Path) -> list[tuple[str, JobRecord]]:
    """(job folder name, record) for every job under a sweep dir that wrote one."""
    out = []
    for path in sorted(sweep_dir.glob(f"*/{FILENAME}")):
        record = JobRecord.read(path.parent)
        if record is not None:
            out.append((path.parent.name, record))
    return out


def record_dict(name: str, record: JobRecord) -> dict[str, Any]:
    """A record as the summary tables use it: a plain dict with its folder name as `job`."""
    return {**asdict(record), "job": name}
