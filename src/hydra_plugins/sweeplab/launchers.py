"""`hydra/launcher=sweeplab` (the default: the jobs that can share a process train as stacked
models, the rest one after another) and `hydra/launcher=sequential` (every job on its own, one
after another, as Hydra's basic launcher runs them). `hydra/launcher=batched` is the default's
former name."""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class SequentialLauncher(Launcher):
    """Hydra's basic launcher's behaviour, and it runs configs the sweeper has composed."""

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
        """Called by another sweeper (Optuna), a batch at a time: the sweep's other jobs are
        not known yet, so its HParams wait for its end."""
        from sweeplab.sweep.progress import SweepProgress
        from sweeplab.sweep.run import compose_jobs

        cfgs = compose_jobs(self, job_overrides)
        return self.launch_composed(cfgs, initial_job_idx, SweepProgress(len(cfgs)))

    def launch_composed(self, cfgs: Sequence[DictConfig], initial_job_idx: int,
                        progress=None) -> Sequence[JobReturn]:
        """Called by sweeplab's sweeper with every job of the sweep (`progress` None: a new
        one, which writes the sweep's HParams experiment now)."""
        from sweeplab.sweep.run import run_jobs

        return run_jobs(self, cfgs, initial_job_idx, progress=progress)


class StackingLauncher(SequentialLauncher):
    """Jobs that share data and trainer settings train as stacked models in this process."""

    def launch_composed(self, cfgs: Sequence[DictConfig], initial_job_idx: int,
                        progress=None) -> Sequence[JobReturn]:
        from sweeplab.stack.launch import launch

        return launch(self, cfgs, initial_job_idx, progress)
