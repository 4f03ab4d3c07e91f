"""Which jobs of a sweep train together: as few stacks as possible, job by job only for what
cannot stack, each with a one-line reason.

Members of a stack share their batches, so they share everything but what `MEMBER_GROUPS`
lists: the data (with its seed, hence the shuffle order), the trainer settings, the optimiser
class and what the job runs after training. Within a stack, members are ordered so that those
sharing layer sizes, activation, batch norm and dropout sit next to each other (one call each).
"""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sweeplab.config import model_class
from sweeplab.stack.net import FAMILIES
from sweeplab.stack.optim import why_not_stacked

#: what may differ between the members of a stack (where things are written, and the model)
MEMBER_GROUPS = ("model", "optim", "init", "seed", "paths", "callbacks", "logger", "hydra",
                 "resume")


def _plain(node: Any) -> Any:
    if not OmegaConf.is_config(node):
        return node
    try:
        return OmegaConf.to_container(node, resolve=True)
    except Exception:  # an interpolation only a running job can resolve: compare it as written
        return OmegaConf.to_container(node, resolve=False)


def why_alone(cfg: DictConfig) -> str | None:
    """Why this job cannot join a stack, or None."""
    if cfg.get("lab"):
        return f"lab={cfg.lab} trains nothing"
    target = cfg.model._target_
    if not issubclass(model_class(target), FAMILIES):
        return f"model {target.rsplit('.', 1)[-1]} has layers with no stacked version"
    reason = why_not_stacked(_plain(cfg.optim))
    if reason:
        return reason
    trainer = _plain(cfg.trainer)
    if trainer.get("strategy", "auto") != "auto" or trainer.get("num_nodes", 1) != 1 or \
            trainer.get("devices", 1) not in (1, "1", "auto"):
        return "training on several devices"
    if trainer.get("gradient_clip_val"):
        return "gradient clipping would clip all members' gradients together"
    if str(trainer.get("precision", "32-true")) not in ("32-true", "32"):
        return f"trainer.precision={trainer['precision']}"
    return None


def shared(cfg: DictConfig) -> str:
    """What every member of a stack has in common, as one comparable string."""
    common = {k: _plain(cfg[k]) for k in cfg if k not in MEMBER_GROUPS}
    common["optim"] = cfg.optim._target_
    return json.dumps(common, sort_keys=True, default=str)


def member_order(cfg: DictConfig) -> tuple:
    """Members next to each other in a stack share layer sizes and settings, head, and then
    the layers after each Linear or Conv2d (activation, batch norm and its place, dropout or
    none)."""
    m = cfg.model
    shape = tuple(str(m.get(k)) for k in ("channels", "kernel_size", "padding", "stride", "pool",
                                          "pool_size", "pool_stride", "logit_batchnorm"))
    return (str(m._target_), *shape, str(m.get("hidden")), str(m.get("loss")),
            str(m.get("activation")), bool(m.get("batchnorm")),
            bool(m.get("bn_after_activation")), float(m.get("dropout", 0.0)) > 0)


def plan(cfgs: list[DictConfig]) -> tuple[list[list[int]], list[tuple[int, str]]]:
    """(stacks as lists of job indices, jobs to run alone with the reason)."""
    alone: list[tuple[int, str]] = []
    stacks: dict[str, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        reason = why_alone(cfg)
        if reason:
            alone.append((i, reason))
        else:
            stacks.setdefault(shared(cfg), []).append(i)
    out = []
    for members in stacks.values():
        if len(members) == 1:
            alone.append((members[0], "no other job shares its data and trainer settings"))
        else:
            out.append(sorted(members, key=lambda i: member_order(cfgs[i])))
    return out, sorted(alone)
