"""The Hydra callback that ends every multirun: the summary, the figures, where to look."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sweeplab.sweep.header import record_start
from sweeplab.sweep.summary import write_summary

log = logging.getLogger(__name__)


def summarise(sweep_dir: Path, figures: bool = True) -> Path | None:
    """Write the sweep's summary (and comparison figures); print it and where to look.
    None when no job wrote a record."""
    if not any(sweep_dir.glob("*/metrics.json")):
        return None
    _, md_path, jobs = write_summary(sweep_dir)
    try:  # like the figures: a problem here must not fail a finished sweep
        from sweeplab.sweep.tensorboard import write_hparams

        write_hparams(sweep_dir, jobs)
    except Exception as exc:
        print(f"[sweeplab] warning: no HParams for TensorBoard: {exc!r}", flush=True)
    if figures:
        try:  # figures are a bonus: a plotting problem must not fail a finished sweep
            from sweeplab.sweep.compare import add_figures

            add_figures(sweep_dir, jobs)
        except Exception as exc:
            print(f"[sweeplab] warning: no comparison figures: {exc!r}", flush=True)
    print(md_path.read_text(), flush=True)
    print(f"[sweeplab] summary: {md_path} (and summary.csv)")
    print(f"[sweeplab] TensorBoard: tensorboard --logdir {sweep_dir}", flush=True)
    return md_path


class SweepSummary(Callback):
    """Announce the sweep dir when a multirun starts; summarise it when it ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        record_start(sweep_dir, str(config.task_name), Path(config.hydra.runtime.cwd))
        print(f"[sweeplab] sweep dir: {sweep_dir}", flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir():
            summarise(sweep_dir)
