"""Cheaper composition of a sweep's jobs: the largest per-job cost of a small job.

Composing one job costs Hydra 50-100 ms (defaults tree, YAML, merges), and a sweep composed every
job three times: once in the CLI's preflight check, once in BasicSweeper's check that the batch
composes ("this repeat[s] work the launcher will do", says Hydra), once in the launcher.

- `JobComposer` (preflight): composes each distinct set of config-group choices once; a job that
  differs only in values gets a copy of that composition with its value overrides applied by
  Hydra's own `_apply_overrides_to_config` (what Hydra does after composing the defaults).
- `compose_sweeps_fast`: Hydra's `load_sweep_config`, which every launcher uses, goes through
  `SweepComposer`: the same shortcut, then the job's own override list and output-dir name set
  as Hydra sets them (the job's .hydra/ files come out the same).
- `skip_sweeper_recheck`: BasicSweeper's check that every job composes is dropped when the
  preflight has just checked them all.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from hydra import compose
from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, open_dict


class JobComposer:
    """`compose(config_name="train", overrides=job, return_hydra_config=True)`, memoised on the
    job's config-group choices (call inside an initialised Hydra, as `compose` needs)."""

    def __init__(self, config_dir: Path) -> None:
        self.groups = {p.relative_to(config_dir).as_posix() for p in config_dir.rglob("*")
                       if p.is_dir()}
        self.parser = OverridesParser.create()
        self.bases: dict[tuple[str, ...], DictConfig] = {}

    def structural(self, o: Override) -> bool:
        """Overrides that change which files compose the config (or Hydra's own settings)."""
        key = o.key_or_group
        return (key in self.groups or key.split(".")[0].split("/")[0] == "hydra"
                or o.is_add() or o.is_delete() or o.is_force_add() or o.package is not None)

    def __call__(self, job: list[str]) -> DictConfig:
        parsed = self.parser.parse_overrides(job)
        choices = tuple(o.input_line for o in parsed if self.structural(o))
        if choices not in self.bases:
            self.bases[choices] = compose(config_name="train", overrides=list(choices),
                                          return_hydra_config=True)
        cfg = copy.deepcopy(self.bases[choices])
        ConfigLoaderImpl._apply_overrides_to_config(
            [o for o in parsed if not self.structural(o)], cfg)
        return cfg


def compose_sweeps_fast() -> None:
    """Route Hydra's `load_sweep_config` (every launcher composes its jobs with it) through a
    SweepComposer per master config."""
    original = ConfigLoaderImpl.load_sweep_config
    if getattr(original, "fast", False):
        return
    composers: dict[tuple[int, int], tuple[DictConfig, SweepComposer]] = {}

    @functools.wraps(original)
    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]):
        entry = composers.get((id(self), id(master_config)))
        if entry is None or entry[0] is not master_config:
            entry = (master_config, SweepComposer(self, master_config, original))
            composers[(id(self), id(master_config))] = entry
        return entry[1](list(sweep_overrides))

    load_sweep_config.fast = True
    ConfigLoaderImpl.load_sweep_config = load_sweep_config


def skip_sweeper_recheck() -> None:
    """BasicSweeper composes every job to check it; the preflight has just done so."""
    BasicSweeper.validate_batch_is_legal = lambda self, batch: None


class SweepComposer:
    """`config_loader.load_sweep_config(master, overrides)` (Hydra's, passed as `load`),
    memoised on the config-group choices; jobs differing only in values get a copy of that
    composition with Hydra's own override steps applied."""

    def __init__(self, config_loader, master: DictConfig, load=None) -> None:
        self.loader, self.master = config_loader, master
        self.load = load or type(config_loader).load_sweep_config
        self.parser = OverridesParser.create()
        self.bases: dict[tuple[str, ...], DictConfig] = {}

    def structural(self, o: Override) -> bool:
        return (o.is_hydra_override() or self.loader.repository.group_exists(o.key_or_group)
                or o.is_add() or o.is_delete() or o.is_force_add() or o.package is not None)

    def __call__(self, overrides: list[str]) -> DictConfig:
        parsed = self.parser.parse_overrides(overrides)
        choices = tuple(o.input_line for o in parsed if self.structural(o))
        if choices not in self.bases:
            self.bases[choices] = self.load(self.loader, self.master, list(choices))
        cfg = copy.deepcopy(self.bases[choices])
        ConfigLoaderImpl._apply_overrides_to_config(
            [o for o in parsed if not self.structural(o)], cfg)
        task = [o for o in parsed if not o.is_hydra_override()]
        dirname = cfg.hydra.job.config.override_dirname
        with open_dict(cfg.hydra):
            cfg.hydra.overrides.task = [o.input_line for o in task]
            cfg.hydra.job.override_dirname = get_overrides_dirname(
                overrides=task, exclude_keys=list(dirname.exclude_keys),
                item_sep=dirname.item_sep, kv_sep=dirname.kv_sep)
        return cfg
