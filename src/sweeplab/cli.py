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
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sweeplab.config import ConfigError

#: Hydra flags after which the preflight steps aside (they print or change the config source)
PASS_THROUGH = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--resolve",
                "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                "--shell-completion", "-sc", "--experimental-rerun", "--version"}
MAX_CHECKED_JOBS = 512


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def explain_compose_error(exc: Exception, overrides: list[str], config_dir: Path) -> str:
    """Hydra's composition errors, shortened to one line that names the key."""
    text = str(exc)
    m = re.search(r"Could not find '([^']+)'", text)
    if m:
        group = m.group(1).split("/")[0]
        options = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
        value = m.group(1).split("/", 1)[-1]
        return f"{group}={value}: no such option; allowed: {', '.join(options)}"
    m = re.search(r"Could not override '([^']+)'", text)
    if m:
        key = m.group(1)
        rest = [o for o in overrides if not o.lstrip("+~").startswith(key + "=")]
        group = key.split(".")[0]
        try:
            cfg = compose(config_name="train", overrides=rest)
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
    return first


def _chosen(group: str, cfg) -> str:
    node = cfg.get(group)
    target = node.get("_target_") or node.get("name") or node.get("scheme") or "?"
    return str(target).rsplit(".", 1)[-1]


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


def preflight(argv: list[str], config_dir: Path) -> bool:
    """Compose and check every job named by `argv`; exit 2 with one line on the first error.
    True when every job of a basic sweep was checked."""
    from sweeplab.compose_cache import JobComposer
    from sweeplab.train import check_config

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
                if o.is_sweep_override():
                    v = next(iter(o.sweep_string_iterator()), None)
                    firsts.append(f"{o.get_key_element()}={v}")
                else:
                    firsts.append(o.input_line)
            base = compose(config_name="train", overrides=firsts, return_hydra_config=True)
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            fail(explain_compose_error(exc, firsts if "firsts" in dir() else overrides,
                                       config_dir))
        sweeper = base.hydra.sweeper
        basic = sweeper._target_.endswith("BasicSweeper")
        params = sweeper.get("params") if basic else None
        params = OmegaConf.to_container(params) if params else {}
        try:
            jobs = expand(overrides, multirun and basic, params) if basic or not multirun \
                else [firsts]
        except HydraException as exc:
            fail(explain_compose_error(exc, overrides, config_dir))
        composer = JobComposer(config_dir)
        for job in jobs[:MAX_CHECKED_JOBS]:
            try:
                cfg = composer(job)
            except (HydraException, OmegaConfBaseException, ValueError) as exc:
                fail(explain_compose_error(exc, job, config_dir))
            HydraConfig.instance().set_config(cfg)
            try:
                check_config(cfg)
            except ConfigError as exc:
                fail(str(exc))
    GlobalHydra.instance().clear()
    return basic and len(jobs) <= MAX_CHECKED_JOBS


def run(main: Callable[[], object], config_dir: Path | None = None) -> None:
    """Check every job, run Hydra's `main`, then exit non-zero if any job of a sweep failed."""
    from sweeplab import summary
    from sweeplab.compose_cache import compose_sweeps_fast, skip_sweeper_recheck

    config_dir = config_dir or Path(sys.argv[0]).resolve().parent.parent / "conf"
    if preflight(sys.argv[1:], config_dir):
        skip_sweeper_recheck()
    compose_sweeps_fast()
    main()
    bad = [s for s in summary.LAST_STATUSES if s != "completed"]
    if bad:
        print(f"[sweeplab] {len(bad)} of {len(summary.LAST_STATUSES)} jobs did not complete",
              file=sys.stderr)
        raise SystemExit(1)
