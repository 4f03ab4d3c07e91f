"""`hydra/sweeper=sweeplab` (the default): the cartesian product of the command line's sweeps,
every job composed and checked before any job trains."""

from __future__ import annotations

from typing import Any

from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class CheckedSweeper(Sweeper):
    def __init__(self, params: dict[str, str] | None = None) -> None:
        super().__init__()
        self.params = dict(params or {})
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Launcher | None = None
        self.lock: int | None = None  # the sweep folder's lock (sweeplab.sweep.lock)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        from sweeplab.sweep.run import checked_sweep

        return checked_sweep(self, arguments)
