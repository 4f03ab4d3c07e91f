"""`hydra/launcher=batched`: train a sweep's jobs as one stacked model (see sweeplab.batched).

Hydra imports every module under `hydra_plugins` at start-up, so this one imports nothing heavy;
the work lives in `sweeplab.batched_launch`.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class BatchedLauncher(Launcher):
    def __init__(self) -> None:
        super().__init__()
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        from sweeplab.batched_launch import launch

        return launch(self, job_overrides, initial_job_idx)
