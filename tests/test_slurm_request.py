"""A Slurm request is checked against the partitions `sinfo` lists before anything is submitted
(no cluster needed: the partitions are given)."""

from __future__ import annotations

import math

import pytest
from omegaconf import OmegaConf

from sweeplab import slurm
from sweeplab.config import ConfigError

CPU_NODE = slurm.Partition("debug", True, cpus=2, memory_mb=21694, gpus=0, time_limit_min=math.inf)
GPU_NODE = slurm.Partition("gpu", False, cpus=32, memory_mb=256000, gpus=4, time_limit_min=120)


def request(trainer: str = "cpu", **launcher) -> OmegaConf:
    settings = {"partition": None, "timeout_min": 60, "gpus_per_node": None,
                "tasks_per_node": 1, "cpus_per_task": 1, "mem_gb": None,
                "signal_delay_s": 120, **launcher}
    return OmegaConf.create({"trainer": {"accelerator": trainer},
                             "hydra": {"launcher": settings,
                                       "runtime": {"choices": {"hydra/launcher": "slurm"}}}})


@pytest.fixture(autouse=True)
def cluster(monkeypatch):
    monkeypatch.setattr(slurm.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(slurm, "partitions", lambda: {"debug": CPU_NODE, "gpu": GPU_NODE})


def test_the_defaults_fit_a_small_cpu_node():
    slurm.check_launcher(request())


@pytest.mark.parametrize("trainer, settings, named", [
    ("cpu", {"gpus_per_node": 1}, "gpus_per_node=1: partition debug has no GPUs"),
    ("cpu", {"cpus_per_task": 4}, "cpus_per_task=4 x tasks_per_node=1: partition debug has"),
    ("cpu", {"mem_gb": 64}, "mem_gb=64: partition debug has at most 21694 MB"),
    ("cpu", {"partition": "big"}, "partition=big: no such partition; set one that"),
    ("cpu", {"timeout_min": 1}, "signal_delay_s=120: with timeout_min=1"),
    ("gpu", {"partition": "gpu"}, "trainer.accelerator=gpu but hydra.launcher.gpus_per_node"),
    ("gpu", {"partition": "gpu", "gpus_per_node": 8}, "gpus_per_node=8: partition gpu has"),
    ("gpu", {"partition": "gpu", "gpus_per_node": 1, "timeout_min": 240}, "at most 120 minutes"),
])
def test_a_request_the_partition_cannot_meet_names_the_setting(trainer, settings, named):
    with pytest.raises(ConfigError, match="hydra.launcher|trainer") as exc:
        slurm.check_launcher(request(trainer, **settings))
    assert named in str(exc.value) and "set " in str(exc.value)


def test_sinfo_columns_are_read_as_slurm_writes_them():
    assert slurm.parse_time("infinite") == math.inf
    assert slurm.parse_time("30:00") == 30 and slurm.parse_time("1-02:00:00") == 26 * 60
    assert slurm.parse_gpus("(null)") == 0 and slurm.parse_gpus("gpu:a100:4(S:0-1)") == 4
    assert slurm.parse_gpus("gpu:2,gpu:v100:1") == 3


def test_a_new_sbatch_option_without_plus_is_told_to_add_one(capsys):
    from conftest import CONF
    from sweeplab.cli import preflight

    with pytest.raises(SystemExit) as exc:
        preflight(["-m", "hydra/launcher=slurm", "data=spiral",
                   "hydra.launcher.additional_parameters.account=myproj"], CONF)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1
    assert "with a leading +: +hydra.launcher.additional_parameters.account=myproj" in err[0]


def test_threads_follow_the_cpus_slurm_allocated_even_without_binding(monkeypatch):
    import torch

    from sweeplab import runtime as train_module

    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "2")
    monkeypatch.setattr(train_module.os, "sched_getaffinity", lambda pid: set(range(16)))
    try:
        assert train_module.set_threads(0) == 2  # TaskPlugin=task/none: all 16 cores visible
    finally:
        torch.set_num_threads(1)
