"""Command-line front for the scripts: check every job's config before Hydra runs any.

Hydra composes each job of a sweep only when it starts, so a bad value in the fifth job would
stop a sweep halfway. `run(main)` composes and checks every job first, prints one line naming the
key and what is allowed, and exits with code 2; only then does it hand over to Hydra.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.object_type import ObjectType
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import HydraException, OverrideParseException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sweeplab.config import ConfigError, RunConfig, allowed_keys
from sweeplab.data.errors import DataError
from sweeplab.slurm import check_launcher

#: Hydra flags after which the preflight steps aside (they print or change the config source)
PASS_THROUGH = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--resolve",
                "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                "--shell-completion", "-sc", "--experimental-rerun", "--version"}
MAX_CHECKED_JOBS = 512


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def group_options(group: str, config_dir: Path) -> list[str]:
    """A config group's options, Hydra's plugins' (hydra/launcher) and search paths' included."""
    try:
        loader = GlobalHydra.instance().config_loader()
        return sorted(loader.get_group_options(group, results_filter=ObjectType.CONFIG))
    except Exception:  # outside an initialised Hydra: this project's conf dir only
        return sorted(p.stem for p in (config_dir / group).glob("*.yaml"))


def explain_parse_error(overrides: list[str]) -> str:
    """Name the override that does not parse (Hydra's message names only the input)."""
    parser = OverridesParser.create()
    for o in overrides:
        try:
            parser.parse_overrides([o])
        except Exception as exc:
            first = str(exc).strip().splitlines()[0]
            return (f"{o}: cannot parse this override ({first}); sweeps look like "
                    f"key=a,b,c or key=range(1,5) or key=choice(a,b)")
    return "cannot parse the overrides"


def explain_compose_error(exc: Exception, overrides: list[str], config_dir: Path) -> str:
    """Hydra's composition errors, shortened to one line that names the key."""
    text = str(exc)
    if isinstance(exc, OverrideParseException):
        return explain_parse_error(overrides)
    m = re.search(r"Could not find '([^']+)'", text)
    if m:
        group, _, value = m.group(1).rpartition("/")
        options = group_options(group, config_dir)
        return f"{group}={value}: no such option; allowed: {', '.join(options)}"
    m = re.search(r"Could not override '([^']+)'", text)
    if m:
        key = m.group(1)
        append = re.search(r"To append to your config use (\S.*)", text)
        if key.startswith("hydra.") and append:  # a plugin's dict (additional_parameters)
            return f"{key}: Hydra adds new keys here only with a leading +: {append.group(1)}"
        rest = [o for o in overrides if not o.lstrip("+~").startswith(key + "=")]
        group = key.split(".")[0]
        try:
            cfg = compose(config_name="train", overrides=rest, return_hydra_config=True)
            node = cfg.get(group)
            if isinstance(node, dict) or OmegaConf.is_dict(node):
                chosen = _chosen(group, cfg)
                keys = [k for k in node.keys() if not str(k).startswith("_")]
                return (f"{key}: unknown key for {group}={chosen}; allowed: "
                        f"{', '.join(map(str, keys))}")
        except Exception:
            pass
        return f"{key}: unknown key"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if first.startswith("Ambiguous value"):  # Hydra's hint spans three more lines
        first += " (add -m to sweep over the values, or write key=[a,b] for a list)"
    return first


def _chosen(group: str, cfg) -> str:
    """The group's option as the user names it (`mnist`), else its class name."""
    choice = cfg.hydra.runtime.choices.get(group) if "hydra" in cfg else None
    if choice:
        return str(choice)
    node = cfg.get(group)
    target = node.get("_target_") or node.get("name") or node.get("scheme") or "?"
    return str(target).rsplit(".", 1)[-1]


def check_top_level(cfg, config_dir: Path) -> None:
    """Reject top-level keys that are neither a run setting nor a config group (`+new.key=1`)."""
    settings = allowed_keys(RunConfig)
    try:  # the search path's groups too (hydra.searchpath=[...])
        groups = sorted(GlobalHydra.instance().config_loader().list_groups(""))
    except Exception:
        groups = sorted(p.name for p in config_dir.iterdir() if p.is_dir())
    for key in cfg:
        if key == "hydra" or key in settings or key in groups:
            continue
        fail(f"{key}: unknown top-level key; allowed: {', '.join(settings)}, and the groups "
             f"{', '.join(groups)}")


def check_plugins(cfg) -> None:
    """hydra.launcher / hydra.sweeper must be chosen as groups, not overwritten with a value."""
    for part in ("launcher", "sweeper"):
        node = cfg.hydra.get(part)
        if not OmegaConf.is_dict(node) or "_target_" not in node:
            options = ", ".join(group_options(f"hydra/{part}", Path()))
            fail(f"hydra.{part}={node}: not a {part} config; choose one with "
                 f"hydra/{part}=<option>; allowed: {options}")
    if cfg.hydra.launcher._target_.endswith("SlurmLauncher"):
        try:  # the request against sinfo's partitions: sbatch would refuse it with a traceback
            check_launcher(cfg)
        except ConfigError as exc:
            fail(str(exc))


def expand(overrides: list[str], multirun: bool, sweeper_params: dict) -> list[list[str]]:
    """Every job's override list, as Hydra's basic sweeper would make them."""
    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    if not multirun:
        return [overrides]
    keys = {o.key_or_group for o in parsed}
    extra = [f"{k}={v}" for k, v in sweeper_params.items() if k not in keys]
    choices = []
    for o in parser.parse_overrides(extra) + parsed:
        if o.is_sweep_override():
            prefix = o.get_key_element()
            choices.append([f"{prefix}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([o.input_line])
    return [list(c) for c in itertools.product(*choices)]


def first_value(o: Override) -> str:
    """The override with one of its sweep's values: a choice's first, an interval's start."""
    if not o.is_sweep_override():
        return o.input_line
    if o.value_type == ValueType.INTERVAL_SWEEP:  # Optuna's interval(a,b), not enumerable
        return f"{o.get_key_element()}={o.value().start}"
    return f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()), None)}"


def preflight(argv: list[str], config_dir: Path) -> bool:
    """Compose and check every job named by `argv`; exit 2 with one line on the first error.
    True when every job of a basic sweep was checked."""
    from sweeplab.compose_cache import JobComposer

    if any(a.split("=")[0] in PASS_THROUGH for a in argv):
        return False
    multirun = any(a in ("-m", "--multirun") for a in argv)
    overrides = [a for a in argv if not a.startswith("-")]
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir), version_base="1.3"):
        try:
            parser = OverridesParser.create()
            firsts = []
            for o in parser.parse_overrides(overrides):
                firsts.append(first_value(o))
            base = compose(config_name="train", overrides=firsts, return_hydra_config=True)
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            parsed = not isinstance(exc, OverrideParseException)
            fail(explain_compose_error(exc, firsts if parsed else overrides, config_dir))
        check_plugins(base)
        sweeper = base.hydra.sweeper
        basic = sweeper._target_.endswith("BasicSweeper")
        multirun = multirun or str(base.hydra.mode) == "RunMode.MULTIRUN"  # set by a config
        if not multirun:
            for line in overrides:
                if parser.parse_override(line).is_sweep_override():
                    fail(f"{line}: several values in a single run (add -m to sweep over the "
                         f"values, or write key=[a,b] for a list)")
        params = sweeper.get("params") if basic else None
        params = OmegaConf.to_container(params) if params else {}
        try:  # other sweepers (Optuna) choose their jobs as they go: check one representative
            jobs = expand(overrides, multirun, params) if basic else [firsts]
        except HydraException as exc:
            fail(explain_compose_error(exc, overrides, config_dir))
        datamodules = []
        composer = JobComposer(config_dir)
        try:
            for i, job in enumerate(jobs[:MAX_CHECKED_JOBS]):
                varying = [o for o in job if not all(o in other for other in jobs)]
                where = f" (in sweep job {i}: {' '.join(varying)})" if len(jobs) > 1 else ""
                datamodules.append(check_job(job, composer, config_dir, where))
        finally:
            HydraConfig.instance().cfg = None  # Hydra's own run sets it again
    GlobalHydra.instance().clear()
    # only once every config is good: missing dataset files (and a failed download) stop
    # here, not inside a job; a no-op for generated data, a file check once files exist
    for dm in filter(None, datamodules):
        try:
            dm.prepare_data()
        except (ConfigError, DataError) as exc:
            fail(str(exc))
    return basic and len(jobs) <= MAX_CHECKED_JOBS


def check_job(job: list[str], composer, config_dir: Path, where: str = ""):
    """Compose one job's config (through `composer`) and run every pre-training check; its
    DataModule. `where` names the sweep job in error lines."""
    from sweeplab.train import check_config

    try:
        cfg = composer(job)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        fail(explain_compose_error(exc, job, config_dir) + where)
    HydraConfig.instance().set_config(cfg)  # ${hydra:...} interpolations resolve as in a run
    check_top_level(cfg, config_dir)
    try:
        dm = check_config(cfg)[1]
    except ConfigError as exc:
        fail(str(exc) + where)
    return None if cfg.get("lab") else dm  # a lab that trains nothing needs no data files


def run(main: Callable[[], object], config_dir: Path | None = None) -> None:
    """Check every job, run Hydra's `main`, then exit non-zero if any job of a sweep failed."""
    from sweeplab import summary
    from sweeplab.compose_cache import compose_sweeps_fast, skip_sweeper_recheck

    config_dir = config_dir or Path(sys.argv[0]).resolve().parent.parent / "conf"
    if preflight(sys.argv[1:], config_dir):
        skip_sweeper_recheck()
    compose_sweeps_fast()
    try:
        main()
    except SystemExit:  # Hydra exits 1 when a sweeper raises: list the jobs that did run
        summary.summarise_unfinished()
        raise
    bad = [s for s in summary.LAST_STATUSES if s != "completed"]
    if bad:
        print(f"[sweeplab] {len(bad)} of {len(summary.LAST_STATUSES)} jobs did not complete",
              file=sys.stderr)
        raise SystemExit(1)
