"""What sweeplab's sweeper and launchers do (src/hydra_plugins/sweeplab holds only their shells).

`checked_sweep`: expand the command line into jobs, compose and check every one before any
trains (exit 2 with one line on the first bad one), then hand the composed configs to the
launcher, so no job is composed or checked twice. `run_jobs`: Hydra's own `run_job` for each
composed config, one after another, as Hydra's basic launcher does, each finished job told to
the sweep's `SweepProgress` (its line on the terminal, its HParams session).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from sweeplab.errors import fail
from sweeplab.stop import raise_if_asked
from sweeplab.sweep.compose import JobComposer, expand, job_name, swept
from sweeplab.sweep.header import record_start
from sweeplab.sweep.lock import lock_folder
from sweeplab.sweep.preflight import COMPOSE_ERRORS, check_jobs, explain_compose_error
from sweeplab.sweep.progress import SweepProgress

log = logging.getLogger(__name__)


def checked_sweep(sweeper: Any, arguments: list[str]) -> list[Sequence[JobReturn]]:
    config, loader = sweeper.config, sweeper.hydra_context.config_loader
    try:
        jobs = expand(arguments, sweeper.params)
    except COMPOSE_ERRORS as exc:
        fail(explain_compose_error(exc, arguments))
    if not jobs:  # e.g. seed=range(0,0): nothing would run, and exit 0 would say all went well
        empty = [o.input_line for o in OverridesParser.create().parse_overrides(arguments)
                 if o.is_sweep_override() and not list(o.sweep_string_iterator())]
        fail(f"{' '.join(empty or arguments)}: no values to sweep over, so the sweep has no jobs")
    keys = swept(jobs)
    names = [job_name(job, keys) for job in jobs]
    # jobs named by their swept values alone when those tell them apart (not `seed=1,1`)
    if len(set(names)) < len(jobs) or not all(names) or any("'" in n for n in names):
        keys, names = [], []
    composer = JobComposer(loader, config, keys)
    cfgs = check_jobs(jobs, composer)
    sweep_dir = Path(config.hydra.sweep.dir)
    sweeper.lock = lock_folder(sweep_dir)  # held until this process ends
    record_start(sweep_dir, str(config.task_name), Path(config.hydra.runtime.cwd))
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    launcher = sweeper.launcher
    if hasattr(launcher, "launch_composed"):  # sweeplab's launchers take the checked configs
        return [launcher.launch_composed(cfgs, initial_job_idx=0)]
    if names:  # another launcher composes each job itself: its folder goes as an override
        jobs = [[*job, f"hydra.sweep.subdir='{name}'"]
                for job, name in zip(jobs, names, strict=True)]
    return [launcher.launch(jobs, initial_job_idx=0)]


def compose_jobs(launcher: Any, job_overrides: Sequence[Sequence[str]]) -> list[DictConfig]:
    """Configs for a launcher called with override lists (by a sweeper other than sweeplab's)."""
    composer = JobComposer(launcher.hydra_context.config_loader, launcher.config)
    return [composer(list(overrides)) for overrides in job_overrides]


def start_progress(launcher: Any, cfgs: Sequence[DictConfig]) -> SweepProgress:
    """The sweep's progress, with its HParams experiment written now: every job is known."""
    from sweeplab.sweep.tensorboard import SweepBoard

    try:  # like the summary's: a problem here must not stop a sweep
        board = SweepBoard.start(Path(str(launcher.config.hydra.sweep.dir)), cfgs)
    except Exception as exc:
        print(f"[sweeplab] warning: no HParams until the sweep ends: {exc!r}", flush=True)
        board = None
    return SweepProgress(len(cfgs), board)


def run_jobs(launcher: Any, cfgs: Sequence[DictConfig], initial_job_idx: int,
             task_function=None, progress: SweepProgress | None = None) -> list[JobReturn]:
    """Run each composed job in this process, in order (its folder, .hydra/, logs), telling
    `progress` as each finishes (by default a new one for these jobs)."""
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    progress = progress or start_progress(launcher, cfgs)
    runs = []
    for idx, cfg in enumerate(cfgs, start=initial_job_idx):
        raise_if_asked()  # a signal between two jobs (or before the first) stops here
        log.debug(f"\t#{idx} : {' '.join(filter_overrides(cfg.hydra.overrides.task))}")
        with read_write(cfg.hydra), open_dict(cfg):  # HydraConfig made it read-only
            cfg.hydra.job.id = idx
            cfg.hydra.job.num = idx
        runs.append(run_job(hydra_context=launcher.hydra_context,
                            task_function=task_function or launcher.task_function,
                            config=cfg, job_dir_key="hydra.sweep.dir",
                            job_subdir_key="hydra.sweep.subdir"))
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)
        progress.finished(runs[-1])
    return runs
