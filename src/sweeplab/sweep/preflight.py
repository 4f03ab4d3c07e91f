"""Every check that can run before a job trains, with one line that names the problem.

- `explain_compose_error`: Hydra's composition errors as one line naming the key or option,
  read from the exceptions' own fields (the option list, the override, the config key).
- `check_job`: a composed job's config checked (`train.check_config`), its DataModule returned.
- `check_jobs`: every job of a sweep composed and checked before any trains; then the data files
  of each distinct dataset looked for (and downloaded where allowed).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sweeplab.config import ConfigError
from sweeplab.data.errors import DataError
from sweeplab.errors import fail
from sweeplab.slurm import check_launcher

SWEEP_HINT = "sweeps look like key=a,b,c or key=range(1,5) or key=choice(a,b)"
COMPOSE_ERRORS = (HydraException, OmegaConfBaseException, ValueError)


def explain_parse_error(overrides: list[str]) -> str:
    """Name the override that does not parse (Hydra's message names only the input)."""
    parser = OverridesParser.create()
    for o in overrides:
        try:
            parser.parse_overrides([o])
        except OverrideParseException as exc:
            first = str(exc).strip().splitlines()[0]
            key, _, value = o.partition("=")
            if value.startswith("~"):  # the shell expands ~ only at the start of a word
                return (f"{o}: cannot parse this override: Hydra does not read ~ inside a "
                        f"value; write the full path ({key}={os.path.expanduser(value)})")
            return f"{o}: cannot parse this override ({first}); {SWEEP_HINT}"
    return "cannot parse the overrides"


def explain_compose_error(exc: Exception, overrides: list[str],
                          compose: Callable[[list[str]], DictConfig] | None = None) -> str:
    """Hydra's composition error as one line. `compose` composes other overrides (to list the
    keys of the group a bad key was aimed at)."""
    if isinstance(exc, OverrideParseException):
        return explain_parse_error(overrides)
    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        group, _, value = exc.missing_cfg_file.rpartition("/")
        return f"{group}={value}: no such option; allowed: {', '.join(exc.options or [])}"
    cause = exc.__cause__
    key = getattr(cause, "full_key", None)
    if isinstance(cause, OmegaConfBaseException) and key:
        if str(key).startswith("hydra."):  # a plugin's dict (additional_parameters)
            line = next((o for o in overrides if o.split("=", 1)[0] == key), key)
            return f"{key}: Hydra adds new keys here only with a leading +: +{line}"
        return unknown_key(str(key), overrides, compose)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if first.startswith("Ambiguous value"):  # Hydra's hint spans three more lines
        first += " (add -m to sweep over the values, or write key=[a,b] for a list)"
    return first


def unknown_key(key: str, overrides: list[str],
                compose: Callable[[list[str]], DictConfig] | None) -> str:
    """`model.hiden: unknown key for model=mlp; allowed: ...` (the group's keys as composed)."""
    group = key.split(".")[0]
    rest = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] != key]
    try:
        cfg = compose(rest) if compose is not None and group != key else None
    except COMPOSE_ERRORS:
        cfg = None
    if group == key:  # a top-level key: the run's settings and the groups are what exists
        if cfg is None and compose is not None:
            try:
                cfg = compose(rest)
            except COMPOSE_ERRORS:
                cfg = None
        known = ", ".join(str(k) for k in cfg if k != "hydra") if cfg is not None else ""
        return (f"{key}: unknown key" + (f"; allowed: {known}" if known else "")
                + " (a new key needs a leading +: +key=value)")
    node = cfg.get(group) if cfg is not None else None
    if not OmegaConf.is_dict(node):
        return f"{key}: unknown key"
    choice = cfg.hydra.runtime.choices.get(group) if "hydra" in cfg else None
    keys = ", ".join(str(k) for k in node if not str(k).startswith("_"))
    if choice is None:  # a run setting with keys of its own (checkpoint.every_n_epochs)
        return f"{key}: unknown key; allowed: {keys}"
    return f"{key}: unknown key for {group}={choice}; allowed: {keys}"


def check_plugins(cfg: DictConfig, options: Callable[[str], list[str]]) -> None:
    """hydra.launcher / hydra.sweeper must be chosen as groups, not overwritten with a value."""
    for part in ("launcher", "sweeper"):
        node = cfg.hydra.get(part)
        if not OmegaConf.is_dict(node) or "_target_" not in node:
            fail(f"hydra.{part}={node}: not a {part} config; choose one with "
                 f"hydra/{part}=<option>; allowed: {', '.join(options(f'hydra/{part}'))}")
    if cfg.hydra.launcher._target_.endswith("SlurmLauncher"):
        try:  # the request against sinfo's partitions: sbatch would refuse it with a traceback
            check_launcher(cfg)
        except ConfigError as exc:
            fail(str(exc))


def check_job(cfg: DictConfig, where: str = ""):
    """Run every pre-training check on one composed job; its DataModule (None for a lab that
    trains nothing). `where` names the sweep job in error lines."""
    from sweeplab.train import check_config

    HydraConfig.instance().set_config(cfg)  # ${hydra:...} interpolations resolve as in a run
    try:
        dm = check_config(cfg)
    except ConfigError as exc:
        fail(str(exc) + where)
    return None if cfg.get("lab") else dm


def check_jobs(jobs: list[list[str]], compose: Callable[[list[str]], DictConfig],
               fetch: bool = True) -> list[DictConfig]:
    """Compose and check every job; exit 2 with one line on the first bad one. Then, with
    `fetch`, look for (or download) each distinct dataset's files. The composed configs."""
    cfgs, datamodules = [], {}
    for i, job in enumerate(jobs):
        varying = [o for o in job if not all(o in other for other in jobs)]
        where = f" (in sweep job {i}: {' '.join(varying)})" if len(jobs) > 1 else ""
        try:
            cfg = compose(job)
        except COMPOSE_ERRORS as exc:
            fail(explain_compose_error(exc, job, compose) + where)
        dm = check_job(cfg, where)
        if dm is not None:
            key = repr(OmegaConf.to_container(cfg.data, resolve=True))
            datamodules.setdefault(key, dm)
        cfgs.append(cfg)
    if fetch:
        prepare(datamodules.values())
    return cfgs


def prepare(datamodules) -> None:
    """Missing dataset files (and a failed download) stop here, before any job trains."""
    for dm in datamodules:
        try:
            dm.prepare_data()
        except (ConfigError, DataError) as exc:
            fail(str(exc))
