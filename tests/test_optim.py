"""Optimisers and per-epoch learning-rate schedules built from the plain optim config."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from sweeplab.optim import build_optimizer, build_scheduler

SCHEDULE = {"scheduler": "none", "step_size": 10, "gamma": 0.1}


def params():
    return [torch.nn.Parameter(torch.zeros(2))]


def sgd(**kw) -> dict:
    return {"_target_": "torch.optim.SGD", "lr": 1.0, **SCHEDULE, **kw}


def test_sgd_takes_momentum_nesterov_and_weight_decay():
    opt = build_optimizer(params(), sgd(lr=0.5, momentum=0.9, nesterov=True, weight_decay=0.01))
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD)
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.5, 0.9, True, 0.01)


def test_adam_takes_betas_from_a_list():
    opt = build_optimizer(params(), {"_target_": "torch.optim.Adam", "lr": 0.002,
                                     "betas": [0.8, 0.99], **SCHEDULE})
    assert isinstance(opt, torch.optim.Adam)
    assert opt.param_groups[0]["betas"] == (0.8, 0.99)


def lrs(scheduler_name: str, epochs: int, **options) -> list[float]:
    optim = sgd(scheduler=scheduler_name, **options)
    opt = build_optimizer(params(), optim)
    sched = build_scheduler(opt, optim, epochs)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_step_schedule_decays_by_gamma_every_step_size_epochs():
    assert lrs("step", 5, step_size=2, gamma=0.1) == pytest.approx([1, 1, 0.1, 0.1, 0.01])


def test_exponential_schedule_multiplies_every_epoch():
    assert lrs("exponential", 3, gamma=0.5) == pytest.approx([1, 0.5, 0.25])


def test_cosine_schedule_anneals_towards_zero_over_max_epochs():
    values = lrs("cosine", 4)
    assert values[0] == 1 and values == sorted(values, reverse=True) and values[-1] < 0.2


def test_no_scheduler_by_default():
    assert build_scheduler(build_optimizer(params(), sgd()), sgd(), 10) is None


@pytest.mark.parametrize("name, cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                       ("adamw", torch.optim.AdamW)])
def test_optim_config_files_build_their_optimiser(make_cfg, name, cls):
    optim = OmegaConf.to_container(make_cfg(f"optim={name}", "optim.scheduler=step").optim)
    opt = build_optimizer(params(), optim)
    assert type(opt) is cls
    assert build_scheduler(opt, optim, 3) is not None


def test_a_new_optimiser_is_one_yaml_file_and_trains_in_a_sweep(tmp_path):
    """conf/optim/adamw.yaml names torch.optim.AdamW and nothing else in sweeplab knows it."""
    from conftest import run_script

    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", "data=spiral", "data.n_per_class=50", "model=mlp",
                         "optim=adamw", "optim.weight_decay=0,0.1", "trainer.max_epochs=2",
                         "threads=1", "trainer.enable_progress_bar=false",
                         f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list(sweep.glob("*/checkpoints/last.ckpt"))) == 2
    assert "optim.weight_decay=0.1" in (sweep / "summary.md").read_text()
