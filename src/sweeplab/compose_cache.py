"""Cheaper composition of a sweep's jobs: the largest per-job cost of a small job.

Composing one job costs Hydra 50-100 ms (defaults tree, YAML, merges), and a sweep composed every
job three times: once in the CLI's preflight check, once in BasicSweeper's check that the batch
composes ("this repeat[s] work the launcher will do", says Hydra), once in the launcher.

- `JobComposer` (preflight): composes each distinct set of config-group choices once; a job that
  differs only in values gets a copy of that composition with its value overrides applied by
  Hydra's own `_apply_overrides_to_config` (what Hydra does after composing the defaults).
- `share_sweep_compositions`: the launcher reuses the composition BasicSweeper just made for the
  same job, instead of composing it again.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from hydra import compose
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig


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


def share_sweep_compositions() -> None:
    """Let the launcher take the composition BasicSweeper made of the same job (once)."""
    original = ConfigLoaderImpl.load_sweep_config
    if getattr(original, "shared", False):
        return
    pending: dict[tuple, tuple[DictConfig, DictConfig]] = {}

    @functools.wraps(original)
    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]):
        key = (id(self), id(master_config), tuple(sweep_overrides))
        hit = pending.pop(key, None)
        if hit is not None and hit[0] is master_config:
            return hit[1]
        cfg = original(self, master_config, sweep_overrides)
        # the checker discards its copy untouched; the launcher gets this one
        pending[key] = (master_config, copy.deepcopy(cfg))
        return cfg

    load_sweep_config.shared = True
    ConfigLoaderImpl.load_sweep_config = load_sweep_config
