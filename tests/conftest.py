"""Shared fixtures: configs composed as a user's command line would, and scripts run as
subprocesses, both with one torch thread so parallel test workers do not oversubscribe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from sweeplab.resolvers import register as register_resolvers

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
QUIET = ["threads=1", "trainer.enable_progress_bar=false"]

torch.set_num_threads(1)
register_resolvers()  # what the scripts' entry point does before Hydra composes


def compose_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """The config `scripts/train.py <overrides>` would run, writing into `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=QUIET + list(overrides))
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.data_dir = str(output_dir / "data")
    return cfg


def run_script(args: list[str], cwd: Path, timeout: float = 600,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python scripts/<args>` from `cwd` with this checkout's src on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1",
                "HYDRA_FULL_ERROR": "0", **(env or {})}
    script = ROOT / "scripts" / args[0]
    return subprocess.run([sys.executable, str(script), *args[1:]], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def make_cfg(tmp_path):
    def _make(*overrides: str) -> DictConfig:
        return compose_config(list(overrides), tmp_path)

    return _make
