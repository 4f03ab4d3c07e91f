"""`hydra/launcher=slurm`: submitit's Slurm launcher, waiting on its jobs as a sweep needs.

The plugin's own `launch` collects results in order and stops at the first job that Slurm ended
(scancel, time limit) with a traceback, leaving the others running unwatched; Ctrl-C leaves
them all running. This subclass keeps the plugin's submission and job side (`__call__`,
`checkpoint`) and replaces only the waiting (see sweeplab.slurm_launch). Hydra imports every
module under `hydra_plugins` at start-up, so this one imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as SubmititSlurmLauncher,
)


class SlurmLauncher(SubmititSlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        from sweeplab.slurm_launch import launch

        return launch(self, job_overrides, initial_job_idx)
