"""Optimisers and per-epoch learning-rate schedules built from the plain optim config."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from sweeplab.optim import build_optimizer, build_scheduler


def params():
    return [torch.nn.Parameter(torch.zeros(2))]


def test_sgd_takes_momentum_nesterov_and_weight_decay():
    opt = build_optimizer(params(), name="sgd", lr=0.5, momentum=0.9, nesterov=True,
                          weight_decay=0.01)
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD)
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.5, 0.9, True, 0.01)


def test_adam_takes_betas_from_a_list():
    opt = build_optimizer(params(), name="adam", lr=0.002, betas=[0.8, 0.99])
    assert isinstance(opt, torch.optim.Adam)
    assert opt.param_groups[0]["betas"] == (0.8, 0.99)


def lrs(scheduler_name: str, epochs: int, **options) -> list[float]:
    opt = build_optimizer(params(), name="sgd", lr=1.0)
    sched = build_scheduler(opt, scheduler=scheduler_name, max_epochs=epochs, **options)
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
    assert build_scheduler(build_optimizer(params()), scheduler="none") is None


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_optim_config_files_build_their_optimiser(make_cfg, name):
    optim = OmegaConf.to_container(make_cfg(f"optim={name}", "optim.scheduler=step").optim)
    opt = build_optimizer(params(), **optim)
    assert type(opt).__name__.lower() == name
    assert build_scheduler(opt, max_epochs=3, **optim) is not None
