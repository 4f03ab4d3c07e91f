"""SGD, Adam and AdamW for stacked parameters: one update for N models, each with its own
settings, as `torch.optim.Optimizer`s (Lightning steps, saves and restores them as any other).

A stacked parameter has a leading member dimension (N, ...). Each param group holds the
parameters of one stacked network and, per setting, a tensor with one value per member (lr,
momentum, betas, ...), plus `active`: a member set inactive (diverged) is no longer updated.
The update rules follow torch.optim's single-tensor formulas step for step, so a member follows
the path its job trained alone follows (checked in tests/test_stack.py). `MemberSchedules` steps
a torch scheduler per member and hands the learning rates to the stacked optimiser: schedules
are exactly the jobs' own.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from sweeplab.optim import build_scheduler, optimizer_settings

#: optimiser class -> the settings its stacked version takes per member; every other keyword
#: argument must keep torch's default (anything else trains job by job)
SETTINGS = {
    "torch.optim.SGD": ("lr", "momentum", "dampening", "weight_decay", "nesterov"),
    "torch.optim.Adam": ("lr", "betas", "eps", "weight_decay"),
    "torch.optim.AdamW": ("lr", "betas", "eps", "weight_decay"),
}
#: settings that may stay at these values only
FIXED = {"maximize": False, "amsgrad": False, "foreach": None, "capturable": False,
         "differentiable": False, "fused": None, "decoupled_weight_decay": False}


def why_not_stacked(optim: dict[str, Any]) -> str | None:
    """Why this optim config cannot be stacked, or None."""
    target = optim["_target_"]
    if target not in SETTINGS:
        return f"optim {target} has no stacked version (only {', '.join(SETTINGS)})"
    for key, value in optimizer_settings(optim).items():
        if key not in SETTINGS[target] and key in FIXED and value != FIXED[key]:
            return f"optim.{key}={value} has no stacked version"
    return None


def along(v: Tensor, p: Tensor) -> Tensor:
    """Per-member values `v` (N,) shaped to broadcast over a stacked parameter (N, ...)."""
    return v.view(-1, *([1] * (p.dim() - 1)))


def member_groups(param_groups: list[dict], optims: list[list[dict[str, Any]]],
                  device: torch.device | None = None) -> list[dict]:
    """Param groups with each member's settings as tensors: group g holds stacked network g's
    parameters, `optims[g]` its members' optim configs."""
    out = []
    for group, members in zip(param_groups, optims, strict=True):
        settings = [optimizer_settings(o) for o in members]
        group = dict(group)
        for key in SETTINGS[members[0]["_target_"]]:
            values = [s[key] for s in settings]
            if key == "betas":
                group["beta1"] = torch.tensor([b[0] for b in values], dtype=torch.float64)
                group["beta2"] = torch.tensor([b[1] for b in values], dtype=torch.float64)
            elif key == "nesterov":
                group[key] = torch.tensor(values, dtype=torch.bool)
            else:
                group[key] = torch.tensor(values, dtype=torch.float64)
        group["active"] = torch.ones(len(members), dtype=torch.bool)
        out.append(group)
    return out


class StackedOptimizer(torch.optim.Optimizer):
    """What the stacked optimisers share: closure handling, settings on the parameters'
    device and dtype, and updates that leave inactive members alone."""

    def __init__(self, param_groups: list[dict]) -> None:
        super().__init__(param_groups, {})
        self._on_device: dict[tuple, tuple[Tensor, Tensor]] = {}

    def setting(self, group: dict, key: str, p: Tensor, dtype=None) -> Tensor:
        """Setting `key` of every member, shaped to broadcast over `p`, on its device (copied
        there once per value the group holds, not once per step)."""
        value = group[key]
        cache_key = (key, id(group), p.device, dtype or p.dtype, p.dim())
        cached = self._on_device.get(cache_key)
        if cached is None or cached[0] is not value:
            cached = (value, along(value.to(p.device, dtype or p.dtype), p))
            self._on_device[cache_key] = cached
        return cached[1]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            everyone = bool(group["active"].all())
            for p in group["params"]:
                if p.grad is None:
                    continue
                scale, direction = self.direction(group, p, p.grad, self.state[p])
                if everyone:
                    p.addcmul_(scale, direction, value=-1)
                else:
                    p.copy_(torch.where(self.setting(group, "active", p, torch.bool),
                                        p - scale * direction, p))
        return loss

    def direction(self, group: dict, p: Tensor, grad: Tensor,
                  state: dict) -> tuple[Tensor, Tensor]:
        """(scale, direction): this step subtracts scale * direction from the parameter p."""
        raise NotImplementedError


def any_of(group: dict, key: str) -> bool:
    """Whether any member has a non-zero (or true) `key` (group settings stay on the CPU)."""
    return bool((group[key] != 0).any())


class StackedSGD(StackedOptimizer):
    """torch.optim.SGD per member: lr, momentum, dampening, weight decay, Nesterov."""

    def direction(self, group: dict, p: Tensor, grad: Tensor,
                  state: dict) -> tuple[Tensor, Tensor]:
        d_p = grad
        if any_of(group, "weight_decay"):
            d_p = grad.addcmul(self.setting(group, "weight_decay", p), p)
        if any_of(group, "momentum"):
            momentum = self.setting(group, "momentum", p)
            if "momentum_buffer" not in state:
                buf = state["momentum_buffer"] = d_p.clone()
            else:
                buf = state["momentum_buffer"]
                buf.mul_(momentum)
                if any_of(group, "dampening"):
                    buf.addcmul_(1 - self.setting(group, "dampening", p), d_p)
                else:
                    buf.add_(d_p)
            # a member without momentum gets buf == d_p: its plain SGD step
            if not any_of(group, "nesterov"):
                d_p = buf
            elif bool(group["nesterov"].all()):
                d_p = d_p.addcmul(momentum, buf)
            else:
                d_p = torch.where(self.setting(group, "nesterov", p, torch.bool),
                                  d_p.addcmul(momentum, buf), buf)
        return self.setting(group, "lr", p), d_p


class StackedAdam(StackedOptimizer):
    """torch.optim.Adam per member: lr, betas, eps, weight decay (L2, added to the gradient)."""

    decoupled = False

    def direction(self, group: dict, p: Tensor, grad: Tensor,
                  state: dict) -> tuple[Tensor, Tensor]:
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float64)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        step = float(state["step"])
        lr, decay = self.setting(group, "lr", p), self.setting(group, "weight_decay", p)
        if not self.decoupled and any_of(group, "weight_decay"):
            grad = grad.addcmul(decay, p)
        beta1, beta2 = (self.setting(group, k, p, torch.float64) for k in ("beta1", "beta2"))
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, (1 - beta1).to(p.dtype))
        exp_avg_sq.mul_(beta2.to(p.dtype)).addcmul_((1 - beta2).to(p.dtype) * grad, grad)
        lr64 = self.setting(group, "lr", p, torch.float64)
        step_size = (lr64 / (1 - beta1 ** step)).to(p.dtype)
        bias2_sqrt = (1 - beta2 ** step).sqrt().to(p.dtype)
        denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(self.setting(group, "eps", p))
        direction = exp_avg / denom
        if self.decoupled:  # AdamW: p * (1 - lr * decay) - step_size * direction
            return torch.ones_like(step_size), direction.mul_(step_size).addcmul_(lr * decay, p)
        return step_size, direction


class StackedAdamW(StackedAdam):
    """torch.optim.AdamW per member: Adam with decoupled weight decay."""

    decoupled = True


OPTIMIZERS = {"torch.optim.SGD": StackedSGD, "torch.optim.Adam": StackedAdam,
              "torch.optim.AdamW": StackedAdamW}


def build_stacked_optimizer(param_groups: list[dict],
                            optims: list[list[dict[str, Any]]]) -> StackedOptimizer:
    """The stacked optimiser for stacked networks' parameters (one class for all members)."""
    targets = {o["_target_"] for members in optims for o in members}
    if len(targets) != 1:
        raise ValueError(f"one optimiser class per stack, got {sorted(targets)}")
    return OPTIMIZERS[targets.pop()](member_groups(param_groups, optims))


class MemberSchedules:
    """Each member's own torch lr scheduler, stepped once per epoch as a job's is, with its
    learning rate handed to the stacked optimiser.

    Each scheduler runs on a one-parameter stand-in optimiser (a scheduler only reads and
    writes its optimiser's `lr`), so the schedules are torch's own. Lightning saves and
    restores it through `state_dict`, and steps it through `LightningModule.lr_scheduler_step`.
    """

    def __init__(self, optimizer: StackedOptimizer, optims: list[list[dict[str, Any]]],
                 max_epochs: int) -> None:
        self.optimizer = optimizer
        self.stand_ins = [[torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=o["lr"])
                           for o in members] for members in optims]
        self.schedulers = [[build_scheduler(s, o, max_epochs) for s, o in zip(ss, members,
                                                                                strict=True)]
                           for ss, members in zip(self.stand_ins, optims, strict=True)]

    def step(self) -> None:
        with warnings.catch_warnings():  # the stand-ins never step: torch warns about that
            warnings.simplefilter("ignore", UserWarning)
            for schedulers in self.schedulers:
                for scheduler in schedulers:
                    if scheduler is not None:
                        scheduler.step()
        self.hand_over()

    def hand_over(self) -> None:
        for group, stand_ins in zip(self.optimizer.param_groups, self.stand_ins, strict=True):
            group["lr"] = torch.tensor([s.param_groups[0]["lr"] for s in stand_ins],
                                       dtype=torch.float64)

    def state_dict(self) -> dict[str, Any]:
        return {"lrs": [[s.param_groups[0]["lr"] for s in ss] for ss in self.stand_ins],
                "schedulers": [[s.state_dict() if s is not None else {} for s in ss]
                               for ss in self.schedulers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for ss, schedulers, lrs, states in zip(self.stand_ins, self.schedulers, state["lrs"],
                                               state["schedulers"], strict=True):
            for stand_in, scheduler, lr, sched_state in zip(ss, schedulers, lrs, states,
                                                            strict=True):
                stand_in.param_groups[0]["lr"] = lr
                if scheduler is not None:
                    scheduler.load_state_dict(sched_state)
        self.hand_over()

    @property
    def any(self) -> bool:
        return any(s is not None for ss in self.schedulers for s in ss)
