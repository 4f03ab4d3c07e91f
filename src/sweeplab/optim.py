"""Optimiser and learning-rate schedule from a plain config dict (so checkpoints stay plain)."""

from __future__ import annotations

from typing import Any

import torch


def build_optimizer(params, name: str = "sgd", lr: float = 0.01, momentum: float = 0.0,
                    nesterov: bool = False, weight_decay: float = 0.0,
                    betas: tuple[float, float] = (0.9, 0.999), **_: Any) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov,
                               weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    raise ValueError(f"unknown optimiser {name!r}; allowed: sgd, adam")


def build_scheduler(optimizer: torch.optim.Optimizer, scheduler: str = "none",
                    step_size: int = 10, gamma: float = 0.1, max_epochs: int = 10,
                    **_: Any) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Stepped once per epoch: `step` decays by gamma every step_size epochs, `cosine` anneals
    to zero over max_epochs, `exponential` multiplies by gamma every epoch."""
    if scheduler == "none":
        return None
    if scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, max_epochs))
    if scheduler == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    raise ValueError(f"unknown scheduler {scheduler!r}; allowed: none, step, cosine, exponential")
