"""A sweep's jobs: expanded from the command line and composed, each once, with public Hydra APIs.

Composing one job costs Hydra 50-100 ms (defaults tree, YAML files, merges), more than a small
job's other overhead. Jobs that choose the same config-group options (`model=cnn`) differ only in
values (`optim.lr=0.1`), so `JobComposer` composes each distinct set of choices once, through the
config loader that every Hydra launcher uses, and gives each job a copy with its values set the
way Hydra sets a plain override (`OmegaConf.update(cfg, key, value, merge=True)`).
"""

from __future__ import annotations

import copy
import itertools
import re

from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from sweeplab.resolvers import safe_name


def expand(arguments: list[str], params: dict[str, str] | None = None) -> list[list[str]]:
    """Every job's override list: the cartesian product of the sweeps, in the order Hydra's
    basic sweeper uses (`hydra.sweeper.params` first, the command line overriding them)."""
    parser = OverridesParser.create()
    given = parser.parse_overrides(arguments)
    extra = [f"{k}={v}" for k, v in (params or {}).items()]
    lists: dict[str, list[str]] = {}  # a key given again on the command line replaces params
    for o in parser.parse_overrides(extra) + given:
        key = o.get_key_element()
        if o.is_sweep_override():
            if not o.is_discrete_sweep():
                raise ConfigCompositionException(
                    f"{o.input_line}: an interval sweep needs a search sweeper "
                    f"(hparams_search=...), not the default one")
            lists[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:
            lists[key] = [o.input_line]
    return [list(job) for job in itertools.product(*lists.values())]


def swept(jobs: list[list[str]]) -> list[str]:
    """The keys whose value differs between the jobs, in the command line's order."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for line in job:
            values.setdefault(key_of(line), set()).add(line.partition("=")[2])
    return [k for k, v in values.items() if len(v) > 1]


def key_of(line: str) -> str:
    return line.lstrip("+~").partition("=")[0]


def job_name(job: list[str], keys: list[str]) -> str:
    """A job's folder name: its values of the swept `keys`, as `hydra.job.override_dirname`
    orders and joins them (`model.activation=relu,seed=1`)."""
    return safe_name(",".join(sorted(o for o in job if key_of(o) in keys)))


def group_names(loader: ConfigLoader, parent: str = "") -> set[str]:
    """Every config group the loader knows (`model`, `hydra/launcher`, ...)."""
    names = set()
    for name in loader.list_groups(parent):
        path = f"{parent}/{name}" if parent else name
        names |= {path} | group_names(loader, path)
    return names


class JobComposer:
    """`loader.load_sweep_config(master, overrides)`, memoised on the config-group choices."""

    def __init__(self, loader: ConfigLoader, master: DictConfig,
                 swept_keys: list[str] | None = None) -> None:
        self.loader, self.master, self.swept_keys = loader, master, swept_keys
        self.parser = OverridesParser.create()
        self.groups = group_names(loader)
        self.bases: dict[tuple[str, ...], DictConfig] = {}

    def structural(self, o: Override) -> bool:
        """Overrides that change which files compose the config, or Hydra's own settings."""
        return (o.is_hydra_override() or o.key_or_group in self.groups or o.is_add()
                or o.is_delete() or o.is_force_add() or o.package is not None)

    def __call__(self, overrides: list[str]) -> DictConfig:
        parsed = self.parser.parse_overrides(overrides)
        choices = tuple(o.input_line for o in parsed if self.structural(o))
        if choices not in self.bases:
            self.bases[choices] = self.loader.load_sweep_config(self.master, list(choices))
        cfg = copy.deepcopy(self.bases[choices])
        for o in parsed:
            if self.structural(o):
                continue
            try:
                OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
            except (ConfigAttributeError, ConfigKeyError) as exc:
                raise ConfigCompositionException(
                    f"Could not override '{o.key_or_group}'.") from exc
        task = [o for o in parsed if not o.is_hydra_override()]
        dirname = cfg.hydra.job.config.override_dirname
        with open_dict(cfg.hydra):
            cfg.hydra.overrides.task = [o.input_line for o in task]
            cfg.hydra.job.override_dirname = override_dirname(
                task, list(dirname.exclude_keys), dirname.item_sep, dirname.kv_sep)
            if self.swept_keys:  # the folder (and TensorBoard run) named by what was swept
                cfg.hydra.sweep.subdir = job_name(overrides, self.swept_keys)
        return cfg


def override_dirname(overrides: list[Override], exclude_keys: list[str], item_sep: str,
                     kv_sep: str) -> str:
    """`hydra.job.override_dirname` as Hydra documents it: the sorted overrides, excluded keys
    left out, joined by `item_sep`, with `kv_sep` between key and value."""
    lines = sorted(o.input_line for o in overrides if o.key_or_group not in exclude_keys)
    return re.sub("=", kv_sep, item_sep.join(lines))
