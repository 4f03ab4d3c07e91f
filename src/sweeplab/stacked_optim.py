"""SGD and Adam on stacked parameters: one update for N models, each with its own settings.

Parameters of N same-shaped models are stacked along a leading dimension (`torch.func`'s
`stack_module_state`). Each update rule is written out on those tensors with per-model
hyperparameters of shape (N,), following torch.optim's formulas step for step, so one model
trained here follows the same path as with torch.optim (checked in tests/test_batched.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sweeplab.optim import optimizer_settings


def per_model(values: list[float], like: Tensor) -> Tensor:
    """A (N,) tensor of one hyperparameter, in float64 (bias corrections need it)."""
    return torch.tensor(values, dtype=torch.float64, device=like.device)


def along(v: Tensor, p: Tensor) -> Tensor:
    """`v` (N,) shaped to broadcast over the stacked parameter `p` (N, ...)."""
    return v.to(p.dtype).view(-1, *([1] * (p.dim() - 1)))


class StackedSGD:
    """torch.optim.SGD (dampening 0) for every model: lr, momentum, nesterov, weight decay."""

    def __init__(self, params: list[Tensor], lr: list[float], momentum: list[float],
                 weight_decay: list[float], nesterov: list[bool]) -> None:
        self.params = params
        like = params[0]
        self.lr, self.momentum = per_model(lr, like), per_model(momentum, like)
        self.weight_decay = per_model(weight_decay, like)
        self.nesterov = torch.tensor(nesterov, device=like.device)
        self.any_momentum = any(m != 0 for m in momentum)
        self.any_decay = any(w != 0 for w in weight_decay)
        self.buffers: list[Tensor | None] = [None] * len(params)

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            g = p.grad
            if self.any_decay:
                g = g + along(self.weight_decay, p) * p
            if self.any_momentum:
                buf = self.buffers[i]
                if buf is None:
                    buf = self.buffers[i] = g.clone()
                else:
                    buf.mul_(along(self.momentum, p)).add_(g)
                # a model without momentum gets buf == g: the plain SGD step
                nesterov = g + along(self.momentum, p) * buf
                g = torch.where(self.nesterov.view(-1, *([1] * (p.dim() - 1))), nesterov, buf)
            p.sub_(along(self.lr, p) * g)


class StackedAdam:
    """torch.optim.Adam (eps 1e-8, no amsgrad) for every model: lr, betas, weight decay."""

    def __init__(self, params: list[Tensor], lr: list[float], betas: list[tuple[float, float]],
                 weight_decay: list[float], eps: float) -> None:
        self.params = params
        like = params[0]
        self.lr = per_model(lr, like)
        self.beta1 = per_model([b[0] for b in betas], like)
        self.beta2 = per_model([b[1] for b in betas], like)
        self.weight_decay = per_model(weight_decay, like)
        self.any_decay = any(w != 0 for w in weight_decay)
        self.eps = eps
        self.t = 0
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        step_size = self.lr / (1 - self.beta1 ** self.t)
        bias2_sqrt = (1 - self.beta2 ** self.t).sqrt()
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
            g = p.grad
            if self.any_decay:
                g = g + along(self.weight_decay, p) * p
            m.lerp_(g, along(1 - self.beta1, p))
            v.mul_(along(self.beta2, p)).add_(along(1 - self.beta2, p) * g * g)
            denom = (v.sqrt() / along(bias2_sqrt, p)).add_(self.eps)
            p.sub_(along(step_size, p) * m / denom)


#: the torch.optim classes with a stacked twin here
STACKABLE = ("torch.optim.SGD", "torch.optim.Adam")


def build_stacked_optimizer(params: list[Tensor], optims: list[dict]):
    """The stacked optimiser for N jobs' optim configs (all naming one class of STACKABLE)."""
    targets = {o["_target_"] for o in optims}
    settings = [optimizer_settings(o) for o in optims]
    if targets == {"torch.optim.SGD"}:
        return StackedSGD(params, *([s[k] for s in settings]
                                    for k in ("lr", "momentum", "weight_decay", "nesterov")))
    if targets == {"torch.optim.Adam"}:
        return StackedAdam(params, [s["lr"] for s in settings],
                           [tuple(s["betas"]) for s in settings],
                           [s["weight_decay"] for s in settings], eps=settings[0]["eps"])
    raise ValueError(f"cannot stack optimisers {sorted(targets)}; one of {', '.join(STACKABLE)} "
                     f"per sweep")


def set_lrs(optimizer, lrs: list[float]) -> None:
    """New per-model learning rates (after each epoch's schedule step)."""
    optimizer.lr = per_model(lrs, optimizer.params[0])


