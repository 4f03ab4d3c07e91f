"""The command line's front: what happens before Hydra starts and after it returns.

Before: the process is set up for running jobs (config resolvers, quiet third-party notices, a
headless plotting backend), then the command line is composed once with Hydra's Compose API so a
typo, an unknown option or a bad sweep syntax stops with one line and exit code 2 instead of
Hydra's multi-line report. Every job of a `-m` sweep is then checked by sweeplab's sweeper before
any job trains (src/hydra_plugins/sweeplab). After: a sweep's exit code is read from the
summary it wrote in its folder (1 when any job did not complete).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.object_type import ObjectType
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sweeplab.api import config_dir as packaged_config_dir
from sweeplab.api import searchpath_override
from sweeplab.errors import fail
from sweeplab.folders import check_writable
from sweeplab.resolvers import safe_name
from sweeplab.stop import StopNow, Stopped, StopRequest
from sweeplab.sweep.compose import expand
from sweeplab.sweep.preflight import (
    COMPOSE_ERRORS,
    check_jobs,
    check_plugins,
    explain_compose_error,
)
from sweeplab.sweep.summary import unfinished
from sweeplab.train import CHECKED_SWEEPER, stop_interrupted

#: Hydra flags after which the preflight steps aside (they print something else or change which
#: config is the primary one)
PASS_THROUGH = {"--help", "-h", "--hydra-help", "--info", "-i", "--config-path", "-cp",
                "--config-name", "-cn", "--shell-completion", "-sc", "--experimental-rerun",
                "--version"}
#: Hydra flags followed by a value: `--cfg job` prints the config (checked first, not run),
#: `--config-dir DIR` adds a config folder to the search path
WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-dir", "-cd"}


def split_argv(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line's overrides, and its valued flags by long name (`cfg`, `config_dir`)."""
    overrides, flags, i = [], {}, 0
    names = {"-c": "cfg", "-p": "package", "-cd": "config_dir"}
    while i < len(argv):
        arg = argv[i]
        flag, eq, value = arg.partition("=")
        if flag in WITH_VALUE:
            if not eq:
                value, i = (argv[i + 1] if i + 1 < len(argv) else ""), i + 1
            flags[names.get(flag, flag[2:].replace("-", "_"))] = value
        elif not arg.startswith("-"):
            overrides.append(arg)
        i += 1
    return overrides, flags


def with_config_dir(overrides: list[str], folder: str | None) -> list[str]:
    """`--config-dir DIR` as the preflight's compose sees it: DIR on hydra.searchpath."""
    if not folder:
        return overrides
    given = [o for o in overrides if o.split("=")[0].lstrip("+~") == "hydra.searchpath"]
    if not given:
        return [*overrides, searchpath_override([folder])]
    parsed = OverridesParser.create().parse_overrides(given[-1:])[0].value()
    dirs = [*(parsed if isinstance(parsed, list) else []), f"file://{Path(folder).resolve()}"]
    return [o for o in overrides if o not in given] + [f"hydra.searchpath=[{','.join(dirs)}]"]


def setup_process() -> None:
    """What an entry point sets for the whole process, once."""
    import matplotlib

    from sweeplab.resolvers import register

    register()
    matplotlib.use("Agg")  # figures go to files: sweeps run on machines without a display
    # Lightning's start-up chatter (accelerator lines, tips) buries the per-job progress lines
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    for message in (r".*isinstance\(treespec, LeafSpec\).*",
                    r".*smaller than the logging interval.*",
                    r"Checkpoint directory .* exists and is not empty",  # resume: last.ckpt
                    # resume: the CSV rows before the checkpoint are kept (loggers.keep_csv_rows)
                    r"Experiment logs directory .* exists and is not empty",
                    r"Encountered `nan` values in tensor"):  # a diverged job's epoch means
        warnings.filterwarnings("ignore", message=message)


def first_value(o: Override) -> str:
    """The override with one of its sweep's values: a choice's first, an interval's start."""
    if not o.is_sweep_override():
        return o.input_line
    if o.value_type == ValueType.INTERVAL_SWEEP:  # Optuna's interval(a,b), not enumerable
        return f"{o.get_key_element()}={o.value().start}"
    return f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()), None)}"


def ad_hoc_task_name(argv: list[str]) -> str | None:
    """An ad-hoc sweep's task name: its swept keys (`model.activation+seed`), so that it gets its
    own folder under outputs/multirun/ rather than `train/`. None for a single run and for a
    sweep whose task is named (`task_name=`, an experiment, an hparams_search)."""
    if (not any(a in ("-m", "--multirun") for a in argv)
            or any(a.split("=")[0] in PASS_THROUGH for a in argv)):
        return None
    try:
        parsed = OverridesParser.create().parse_overrides(split_argv(argv)[0])
    except COMPOSE_ERRORS:
        return None  # the preflight says what is wrong
    if any(o.key_or_group in ("task_name", "experiment", "hparams_search") for o in parsed):
        return None
    keys = [o.key_or_group for o in parsed if o.is_sweep_override()]
    name = safe_name("+".join(dict.fromkeys(keys)))  # a comma would make it a sweep of names
    return name if keys and name.replace("+", "").replace(".", "").replace("_", "").isalnum() \
        else None


def group_options(group: str) -> list[str]:
    """A config group's options, Hydra's plugins' (hydra/launcher) and search paths' included."""
    loader = GlobalHydra.instance().config_loader()
    return sorted(loader.get_group_options(group, results_filter=ObjectType.CONFIG))


def preflight(argv: list[str], config_dir: Path, every_job: bool = True) -> Path | None:
    """Compose the command line once (with each sweep's first value); exit 2 with one line
    when it does not compose. A sweep driven by another sweeper (Optuna chooses its jobs as it
    goes) has this representative job checked in full. With `every_job`, a sweeplab sweep has
    every job composed and checked here as its sweeper would (a dry run that trains nothing);
    the command line leaves that to the sweeper itself. Returns the sweep's folder (None for
    a single run)."""
    if any(a.split("=")[0] in PASS_THROUGH for a in argv):
        return None
    multirun = any(a in ("-m", "--multirun") for a in argv)
    overrides, flags = split_argv(argv)
    parser = OverridesParser.create()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir), version_base="1.3"):
        def compose_job(job: list[str]) -> DictConfig:
            return compose(config_name="train", overrides=job, return_hydra_config=True)

        try:
            overrides = with_config_dir(overrides, flags.get("config_dir"))
            parsed = parser.parse_overrides(overrides)
        except COMPOSE_ERRORS as exc:
            fail(explain_compose_error(exc, overrides))
        firsts = [first_value(o) for o in parsed]
        try:
            base = compose_job(firsts)
        except COMPOSE_ERRORS as exc:
            fail(explain_compose_error(exc, firsts, compose_job))
        check_plugins(base, group_options)
        if "cfg" in flags:  # the config is printed, not run: checked, no data fetched
            try:
                check_jobs([firsts], compose_job, fetch=False)
            finally:
                HydraConfig.instance().cfg = None
            GlobalHydra.instance().clear()
            return None
        multirun = multirun or base.hydra.mode == RunMode.MULTIRUN  # set by a config
        if not multirun:
            for o in parsed:
                if o.is_sweep_override():
                    fail(f"{o.input_line}: several values in a single run (add -m to sweep "
                         f"over the values, or write key=[a,b] for a list)")
            try:  # before Hydra makes the run's folder: a bad run leaves nothing behind
                check_jobs([firsts], compose_job)
            finally:
                HydraConfig.instance().cfg = None
        else:
            ours = base.hydra.sweeper._target_ == CHECKED_SWEEPER
            params = base.hydra.sweeper.get("params") if ours else None
            try:
                if not ours:
                    check_jobs([firsts], compose_job)
                elif every_job:
                    try:
                        jobs = expand(overrides, OmegaConf.to_container(params) if params else {})
                    except COMPOSE_ERRORS as exc:
                        fail(explain_compose_error(exc, overrides))
                    check_jobs(jobs, compose_job)
            finally:
                HydraConfig.instance().cfg = None  # Hydra's own run sets it again
        folder = Path(base.hydra.sweep.dir) if multirun else None
        check_writable(folder or Path(base.hydra.run.dir),
                       "hydra.sweep.dir" if multirun else "hydra.run.dir")
    GlobalHydra.instance().clear()
    return folder


def run(main: Callable[[], object], config_dir: Path | None = None) -> None:
    """Check the command line, run Hydra's `main`, then exit non-zero if any job of a sweep
    did not complete (read from the summary the sweep wrote). A stop request (SIGINT, SIGTERM)
    is held for the whole run: whenever it comes, the process ends with the summary so far, the
    resume line and exit code 128 + signal."""
    with StopRequest(pass_on=True) as request:
        folder = None
        try:
            folder = start(main, config_dir)
        except Stopped as exc:
            stop_interrupted(exc, folder or sweep_folder())
        except StopNow as exc:
            print(f"[sweeplab] {exc}", file=sys.stderr, flush=True)
            raise SystemExit(128 + exc.signum) from None
        except SystemExit as exc:
            if request.signum is not None and exc.code != 128 + request.signum:
                stop_interrupted(Stopped(request.signum), folder or sweep_folder())
            raise
        if request.signum is not None:  # after the last job, or during the summary
            stop_interrupted(Stopped(request.signum), folder)
    counts = unfinished(folder) if folder is not None else None
    if counts and counts[0]:
        print(f"[sweeplab] {counts[0]} of {counts[1]} jobs did not complete", file=sys.stderr)
        raise SystemExit(1)


def sweep_folder() -> Path | None:
    """The sweep folder the command line names (set by `start` before Hydra runs)."""
    given = [a.split("=", 1)[1] for a in sys.argv if a.startswith("hydra.sweep.dir=")]
    return Path(given[-1]) if given else None


def start(main: Callable[[], object], config_dir: Path | None) -> Path | None:
    """Preflight, then Hydra's `main`; the sweep's folder (None for a single run)."""
    from sweeplab.sweep.callback import summarise

    setup_process()
    config_dir = config_dir or packaged_config_dir()
    task = ad_hoc_task_name(sys.argv[1:])
    if task is not None:  # before Hydra starts: every job and the sweep's folder see the same
        sys.argv.append(f"task_name={task}")
    folder = preflight(sys.argv[1:], config_dir, every_job=False)  # the sweeper checks each job
    if folder is not None and not any(a.startswith("hydra.sweep.dir=") for a in sys.argv):
        sys.argv.append(f"hydra.sweep.dir={folder}")  # the folder whose summary is read below
    try:
        main()
    except SystemExit as exc:
        # Hydra exits 1 when a sweeper raises (Optuna with no completed trial): list the jobs
        # that did run, then exit as Hydra did
        if exc.code == 1 and folder is not None and folder.is_dir():
            summarise(folder, figures=False)
        raise
    return folder
