"""Optimiser and learning-rate schedule from the plain optim config (so checkpoints stay plain).

The optim config names a `torch.optim` class in `_target_`; every key but the schedule's is passed
to it, so an optimiser is one YAML file (conf/optim/adamw.yaml) and its defaults are torch's or
the YAML's, never this module's.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from sweeplab.config import SCHEDULE_KEYS, optimizer_class


def optimizer_kwargs(optim: dict[str, Any]) -> dict[str, Any]:
    """The optimiser's own keyword arguments from an optim config (lists become tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in optim.items()
            if k != "_target_" and k not in SCHEDULE_KEYS}


def optimizer_settings(optim: dict[str, Any]) -> dict[str, Any]:
    """Every keyword argument the optimiser will run with: the config's, else torch's default."""
    cls = optimizer_class(optim["_target_"])
    defaults = {n: p.default for n, p in inspect.signature(cls).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **optimizer_kwargs(optim)}


def build_optimizer(params, optim: dict[str, Any]) -> torch.optim.Optimizer:
    return optimizer_class(optim["_target_"])(params, **optimizer_kwargs(optim))


def build_scheduler(optimizer: torch.optim.Optimizer, optim: dict[str, Any],
                    max_epochs: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Stepped once per epoch: `step` decays by gamma every step_size epochs, `cosine` anneals
    to zero over max_epochs, `exponential` multiplies by gamma every epoch."""
    scheduler = optim["scheduler"]
    if scheduler == "none":
        return None
    if scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=optim["step_size"],
                                               gamma=optim["gamma"])
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, max_epochs))
    if scheduler == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=optim["gamma"])
    raise ValueError(f"unknown scheduler {scheduler!r}; allowed: none, step, cosine, exponential")
