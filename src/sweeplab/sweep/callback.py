"""The Hydra callback that ends every multirun: the summary, the figures, where to look."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sweeplab.sweep.header import INFO_FILE, record_start
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
    print_summary(sweep_dir, jobs)
    print(f"[sweeplab] summary: {md_path} (and summary.csv)")
    print(f"[sweeplab] TensorBoard: tensorboard --logdir {sweep_dir}", flush=True)
    return md_path


def print_summary(sweep_dir: Path, jobs: list[dict]) -> None:
    """The summary's tables drawn for a terminal (summary.md keeps the Markdown)."""
    from rich.console import Console
    from rich.table import Table

    from sweeplab.sweep.header import read_header
    from sweeplab.sweep.summary import constants, group_rows, optimized, swept_keys, table_rows

    console = Console(soft_wrap=False)
    metric = optimized(jobs)
    about = read_header(sweep_dir, swept_keys(jobs), constants(jobs))
    console.print(f"[bold]{about.task}[/bold]: {len(jobs)} jobs, best first by {metric}",
                  highlight=False)
    for line in about.markdown()[1:]:
        console.print(line.replace("`", ""), highlight=False, markup=False)
    header, rows = table_rows(jobs, metric)
    test = f"test/{metric.split('/')[-1]}"
    shown = ["job", "status", metric, *([test] if test in header else []), "duration_s", "error"]
    cells = [[row[header.index(c)] for c in shown] for row in rows]
    for row in cells:  # the whole message is in summary.md
        row[-1] = row[-1] if len(row[-1]) <= 60 else row[-1][:59] + "…"
    tables = [(None, shown, cells)]
    group_header, groups = group_rows(jobs, metric)
    if groups:
        keep = [0, 1, group_header.index(metric)]
        tables.append(("seeds: mean ± std", [group_header[i] for i in keep],
                       [[row[i] for i in keep] for row in groups]))
    for title, columns, cells in tables:
        table = Table(title=title, header_style="bold")
        for i, c in enumerate(columns):  # the error column gives way to the others
            widest = max([len(c), *(len(row[i]) for row in cells)])
            table.add_column(c, no_wrap=True, min_width=None if c == "error" else min(widest, 40))
        for row in cells:
            table.add_row(*row)
        console.print(table)


class SweepSummary(Callback):
    """Announce the sweep dir when a multirun starts; summarise it when it ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # nothing is written yet: sweeplab's sweeper checks every job first, and a sweep that
        # stops there leaves no folder behind (it records its start once the checks pass)
        print(f"[sweeplab] sweep dir: {config.hydra.sweep.dir}", flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir():
            if not (sweep_dir / INFO_FILE).is_file():  # another sweeper (Optuna) ran it
                record_start(sweep_dir, str(config.task_name), Path(config.hydra.runtime.cwd))
            summarise(sweep_dir)
