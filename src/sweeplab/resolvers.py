"""OmegaConf resolvers the configs use: the working dir, a per-process run id, job dir names,
a folder's own name (a logger's run name).

Entry points call `register()` before Hydra composes (scripts, tests' conftest).
"""

from __future__ import annotations

import os
import re
import secrets

from omegaconf import OmegaConf

# one id per process: concurrent sweeps started in the same second still get distinct dirs
RUN_ID = secrets.token_hex(3)
MAX_NAME = 120


def safe_name(overrides: str) -> str:
    """Overrides (`a=1,b=2`) made safe for a path and short enough for a run list."""
    return re.sub(r"[/\\\s]+", "_", str(overrides))[:MAX_NAME]


def job_dir(num: int | str, overrides: str = "") -> str:
    """A job's folder name: its number, then its overrides made safe for a path."""
    name = safe_name(overrides)
    return f"{num}_{name}" if name else str(num)


def register() -> None:
    for name, fn in (("sweeplab.cwd", os.getcwd), ("sweeplab.uid", lambda: RUN_ID),
                     ("sweeplab.job_dir", job_dir),
                     ("sweeplab.basename", os.path.basename)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=name == "sweeplab.uid")
