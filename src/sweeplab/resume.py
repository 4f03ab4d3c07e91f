"""`resume=true`: find the job a run continues, skip it if it already finished.

A sweep job continues in its own folder (the same `hydra.sweep.dir` gives the same job folders).
A single run gets a new time-stamped folder, so it continues the newest earlier run of the same
task with the same overrides (or the folder named by `hydra.run.dir`, if that one has a record).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sweeplab.checkpoints import CheckpointMismatch
from sweeplab.record import FILENAME, JobRecord

#: overrides that do not change what a job computes
IGNORED_KEYS = ("resume", "threads", "trainer.enable_progress_bar", "checkpoint.every_n_epochs",
                "checkpoint.min_interval_s")


#: data and trainer settings a resumed job may change: how long it trains, where files are,
#: what it prints, the hardware it runs on and how evaluation is batched. Every other data and
#: trainer setting, and the seed, must be the checkpoint's (README: "When things go wrong").
MAY_CHANGE = ("trainer.max_epochs", "trainer.max_steps", "trainer.max_time",
              "trainer.min_epochs", "trainer.min_steps", "trainer.enable_progress_bar",
              "trainer.enable_model_summary", "trainer.log_every_n_steps", "trainer.accelerator",
              "data.data_dir", "data.root", "data.download", "data.eval_batch_size")


def settings(cfg: DictConfig) -> dict[str, Any]:
    """What a checkpoint records of the run that made it, to compare on resume: the seed and
    the data and trainer settings, less those in `MAY_CHANGE`."""
    flat = {"seed": cfg.get("seed")}
    for group in ("data", "trainer"):
        node = OmegaConf.to_container(cfg[group], resolve=True) if group in cfg else {}
        flat |= {f"{group}.{k}": v for k, v in node.items()}
    return {k: v for k, v in flat.items() if k not in MAY_CHANGE}


def check_settings(path: Path, saved: dict[str, Any] | None, now: dict[str, Any]) -> None:
    """Refuse to resume with settings other than the checkpoint's, naming each
    (`data.batch_size: 16 -> 8`). A checkpoint that recorded none (an older one) is not checked."""
    if saved is None:
        return
    diffs = [f"{k}: {saved.get(k, '<unset>')} -> {now.get(k, '<unset>')}"
             for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
    if diffs:
        raise CheckpointMismatch(f"{path}: made with different settings: {'; '.join(diffs)}; "
                                 f"resume with the settings it was made with, or start a new run")


def check_resumable(path: Path, ckpt: dict[str, Any], cfg: DictConfig) -> int:
    """Refuse checkpoint `ckpt` if it was made with other data or trainer settings than `cfg`'s;
    the step it continues from."""
    from sweeplab.robust import GracefulStop  # its callback state holds the settings

    saved = ckpt.get("callbacks", {}).get(GracefulStop.__qualname__, {}).get("settings")
    check_settings(path, saved, settings(cfg))
    return int(ckpt.get("global_step", 0))


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
