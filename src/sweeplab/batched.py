"""Train the jobs of a sweep that share one architecture as one stacked model (torch.func).

Each job's network is built exactly as `train()` builds it (same seed, same init); their
parameters are stacked along a leading model dimension and trained together: one vmapped
forward, one backward, one update with per-model hyperparameters (`stacked_optim`). A small
model's step costs about the same for 1 or 64 copies, so a whole sweep trains in the time of
a few jobs. `why_not_batched` names what stops a sweep from being stacked (the launcher then
runs it job by job). The loss and metrics mirror `Classifier`/`Regressor` on stacked outputs.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from sweeplab.checks import check_config
from sweeplab.data.loader import TensorLoader
from sweeplab.optim import build_scheduler
from sweeplab.runtime import set_threads
from sweeplab.stacked_optim import STACKABLE, build_stacked_optimizer, set_lrs
from sweeplab.tasks import Classifier, TaskModule
from sweeplab.train import build_module

#: trainer keys the stacked loop implements; the others must keep these values (no effect on
#: the result otherwise: progress bar, summaries, sanity checks, ...)
TRAINER_NEEDS = {"max_steps": [-1], "limit_train_batches": [None, 1, 1.0],
                 "limit_val_batches": [None, 1, 1.0], "limit_test_batches": [None, 1, 1.0],
                 "fast_dev_run": [False, 0], "gradient_clip_val": [None, 0, 0.0],
                 "accumulate_grad_batches": [1], "precision": ["32-true", "32", 32],
                 "num_nodes": [1], "devices": [1, "1", "auto"], "strategy": ["auto"]}
#: trainer keys every job must share
TRAINER_SHARED = ("max_epochs", "log_every_n_steps", "check_val_every_n_epoch")


def _plain(node) -> Any:
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def why_not_batched(cfgs: list[DictConfig]) -> str | None:
    """Why these jobs cannot train as one stacked model, or None if they can."""
    models = [_plain(c.model) for c in cfgs]
    if any(m.get("batchnorm") or m.get("logit_batchnorm") for m in models):
        return "batch norm keeps running statistics per model"
    strip = [{k: v for k, v in m.items() if k != "dropout"} for m in models]
    if any(s != strip[0] for s in strip):
        return "the jobs differ in architecture (model config beyond dropout)"
    data = [{k: v for k, v in _plain(c.data).items() if k != "seed"} for c in cfgs]
    if any(d != data[0] for d in data):
        return "the jobs differ in data (beyond its seed)"
    targets = {_plain(c.optim)["_target_"] for c in cfgs}
    if len(targets) > 1:
        return "the jobs mix optimisers"
    if not targets <= set(STACKABLE):
        return (f"optim._target_={targets.pop()} has no stacked version (only "
                f"{', '.join(STACKABLE)})")
    trainers = [_plain(c.trainer) for c in cfgs]
    for key, allowed in TRAINER_NEEDS.items():
        bad = [t.get(key) for t in trainers if t.get(key, allowed[0]) not in allowed]
        if bad:
            return f"trainer.{key}={bad[0]} is not supported by the stacked loop"
    for key in TRAINER_SHARED:
        if len({t.get(key) for t in trainers}) > 1:
            return f"the jobs differ in trainer.{key}"
    return None


class StackedDropout(nn.Module):
    """Dropout whose rate is a buffer, so each stacked model keeps its own rate."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("p", torch.tensor(float(p)))

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        keep = 1.0 - self.p
        return x * (torch.rand_like(x) < keep) / keep


def swap_dropout(net: nn.Module) -> nn.Module:
    for name, child in net.named_children():
        if isinstance(child, nn.Dropout):
            setattr(net, name, StackedDropout(child.p))
        else:
            swap_dropout(child)
    return net


@dataclass
class JobResult:
    """What one job of the stack produced: final metrics and the scalars for its loggers."""

    metrics: dict[str, float] = field(default_factory=dict)
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    module: TaskModule | None = None


def stacked_loss(module: TaskModule, out: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
    """Per-model mean loss (N,) and hits (N,) for stacked outputs (N, B, ...), as
    `Classifier.loss_and_preds` / `Regressor` compute them for one model."""
    n = out.shape[0]
    if y.dim() < out.dim() - (1 if isinstance(module, Classifier) else 0):
        y = y.unsqueeze(0).expand(n, *y.shape)
    if not isinstance(module, Classifier):
        return F.mse_loss(out, y.expand_as(out), reduction="none").flatten(1).mean(1), None
    if module.binary_head:
        logits, target = out.squeeze(-1), y.float()
        if module.loss_name == "mse":
            loss = F.mse_loss(torch.sigmoid(logits), target, reduction="none")
        else:
            loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return loss.mean(1), ((logits > 0).long() == y).sum(1)
    if module.loss_name == "mse":
        one_hot = F.one_hot(y, module.num_classes).float()
        loss = F.mse_loss(out.softmax(-1), one_hot, reduction="none").flatten(1).mean(1)
    else:
        loss = F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none")
        loss = loss.view(n, -1).mean(1)
    return loss, (out.argmax(-1) == y).sum(1)


class Stack:
    """N networks of one architecture as stacked parameters plus one vmapped forward."""

    def __init__(self, modules: list[TaskModule], dropouts: list[float],
                 device: torch.device) -> None:
        widest = max(range(len(modules)), key=lambda i: dropouts[i])
        self.template = swap_dropout(copy.deepcopy(modules[widest].net)).to(device)
        names = [n for n, _ in self.template.named_parameters()]
        nets = [m.net for m in modules]
        if all(len(list(net.modules())) == len(list(nets[0].modules())) for net in nets):
            stacked = list(stack_module_state(nets)[0].values())
        else:  # networks without dropout layers name their parameters differently
            by_order = zip(*(net.parameters() for net in nets), strict=True)
            stacked = [torch.stack(ps) for ps in by_order]
        self.params = {n: p.to(device).detach().requires_grad_() for n, p in
                       zip(names, stacked, strict=True)}
        self.buffers = {n: torch.tensor(dropouts, device=device)
                        for n, _ in self.template.named_buffers()}
        self.nets = nets

    def forward(self, x: Tensor, shared: bool) -> Tensor:
        def one(params, buffers, xb):
            return functional_call(self.template, (params, buffers), (xb,))

        dims = (0, 0, None if shared else 0)
        return vmap(one, in_dims=dims, randomness="different")(self.params, self.buffers, x)

    def unstack_into_nets(self) -> None:
        with torch.no_grad():
            for i, net in enumerate(self.nets):
                for p, stacked in zip(net.parameters(), self.params.values(), strict=True):
                    p.copy_(stacked[i].to(p.device))


def batches(loaders: list[TensorLoader]):
    """(x, y, shared): one batch for every model, or a stacked batch per model."""
    if len(loaders) == 1:
        for x, y in loaders[0]:
            yield x, y, True
        return
    for group in zip(*loaders, strict=True):
        yield torch.stack([b[0] for b in group]), torch.stack([b[1] for b in group]), False


def evaluate(stack: Stack, module: TaskModule, loaders: list[TensorLoader]):
    """Per-model mean loss and accuracy (None for regression) over a whole split."""
    stack.template.eval()
    loss_sum, hit_sum, count = 0.0, 0.0, 0
    with torch.no_grad():
        for x, y, shared in batches(loaders):
            loss, hits = stacked_loss(module, stack.forward(x, shared), y)
            size = len(y) if shared else y.shape[1]
            loss_sum = loss_sum + loss.double() * size
            hit_sum = hit_sum + (hits.double() if hits is not None else 0.0)
            count += size
    acc = hit_sum / count if isinstance(module, Classifier) else None
    return loss_sum / count, acc


def _device(cfg: DictConfig) -> torch.device:
    accel = str(cfg.trainer.get("accelerator", "auto"))
    if torch.cuda.is_available() and accel in ("auto", "gpu", "cuda"):
        return torch.device("cuda")
    return torch.device("cpu")


def build_jobs(cfgs: list[DictConfig]) -> tuple[list, list[TaskModule]]:
    """Each job's DataModule (one shared when every job has the same data) and its module,
    built and initialised as `train()` does for that job alone."""
    dms, modules = [], []
    set_threads(int(cfgs[0].get("threads", 0)))
    shared = all(_plain(c.data) == _plain(cfgs[0].data) for c in cfgs)
    for cfg in cfgs:
        dm = dms[0] if dms and shared else check_config(cfg)
        L.seed_everything(int(cfg.seed), workers=False, verbose=False)
        modules.append(build_module(cfg, dm))
        dms.append(dm)
    return dms, modules


def _loaders(dms: list, split: str, device: torch.device) -> list[TensorLoader]:
    unique = dms[:1] if all(dm is dms[0] for dm in dms) else dms
    return [dm.loader(split).to(device) for dm in unique]


def _schedules(cfgs: list[DictConfig], max_epochs: int) -> list:
    """A torch scheduler per job on a one-parameter stand-in optimiser: exact lr schedules."""
    out = []
    for cfg in cfgs:
        optim = _plain(cfg.optim)
        stand_in = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=optim["lr"])
        out.append((stand_in, build_scheduler(stand_in, optim, max_epochs)))
    return out


def _row(values: Tensor | None, i: int) -> float:
    """Model i's value, rounded to float32 as Lightning's logged metrics are."""
    return float(values[i].float()) if values is not None else float("nan")


class StackedFit:
    """The training loop of a stack: epochs of stacked steps, validation, schedules, test."""

    def __init__(self, cfgs: list[DictConfig]) -> None:
        self.cfgs = cfgs
        self.dms, modules = build_jobs(cfgs)
        self.module, self.device = modules[0], _device(cfgs[0])
        self.stack = Stack(modules, [float(c.model.get("dropout", 0.0)) for c in cfgs],
                           self.device)
        self.optimizer = build_stacked_optimizer(list(self.stack.params.values()),
                                                 [_plain(c.optim) for c in cfgs])
        trainer = cfgs[0].trainer
        self.max_epochs, self.every = int(trainer.max_epochs), int(trainer.log_every_n_steps)
        self.val_every = int(trainer.check_val_every_n_epoch)
        self.schedules = _schedules(cfgs, self.max_epochs)
        self.results = [JobResult(module=m) for m in modules]
        self.step_log: list[tuple[int, int, Tensor]] = []
        self.best: Tensor | None = None
        self.step = 0

    def train_epoch(self, epoch: int, loaders: list[TensorLoader]) -> dict[str, Tensor]:
        self.stack.template.train()
        loss_sum, hit_sum, count = 0.0, 0.0, 0
        for x, y, shared in batches(loaders):
            loss, hits = stacked_loss(self.module, self.stack.forward(x, shared), y)
            for p in self.stack.params.values():
                p.grad = None
            loss.sum().backward()
            self.optimizer.step()
            size = len(y) if shared else y.shape[1]
            loss_sum = loss_sum + loss.detach().double() * size
            hit_sum = hit_sum + (hits.double() if hits is not None else 0.0)
            count += size
            if self.every and (self.step + 1) % self.every == 0:
                self.step_log.append((self.step, epoch, loss.detach()))
            self.step += 1
        out = {"train/loss": loss_sum / count}
        if isinstance(self.module, Classifier):
            out["train/acc"] = hit_sum / count
        return out

    def validate(self, loaders: list[TensorLoader]) -> dict[str, Tensor]:
        loss, acc = evaluate(self.stack, self.module, loaders)
        if acc is None:
            self.best = loss if self.best is None else torch.minimum(self.best, loss)
            return {"val/loss": loss, "val/loss_best": self.best}
        self.best = acc if self.best is None else torch.maximum(self.best, acc)
        return {"val/loss": loss, "val/acc": acc, "val/acc_best": self.best}

    def step_schedules(self) -> None:
        with warnings.catch_warnings():  # the stand-ins never step: torch warns about that
            warnings.simplefilter("ignore", UserWarning)
            for _, scheduler in self.schedules:
                if scheduler is not None:
                    scheduler.step()
        set_lrs(self.optimizer, [s.param_groups[0]["lr"] for s, _ in self.schedules])

    def record(self, step: int, epoch: int, values: dict[str, Tensor], final: bool = True,
               only: list[bool] | None = None) -> None:
        for i, r in enumerate(self.results):
            if only is None or only[i]:
                row = {k: _row(v, i) for k, v in values.items()}
                r.history.append((step, {**row, "epoch": float(epoch)}))
                if final:
                    r.metrics.update(row)

    def run(self) -> list[JobResult]:
        train = _loaders(self.dms, "train", self.device)
        val = _loaders(self.dms, "val", self.device)
        for epoch in range(self.max_epochs):
            values = self.train_epoch(epoch, train)
            if (epoch + 1) % self.val_every == 0:
                values.update(self.validate(val))
            self.record(self.step - 1, epoch, values)
            self.step_schedules()
        for step, epoch, losses in self.step_log:
            self.record(step, epoch, {"train/loss_step": losses}, final=False)
        tested = [bool(c.get("test", True)) for c in self.cfgs]
        if any(tested):
            loss, acc = evaluate(self.stack, self.module, _loaders(self.dms, "test", self.device))
            values = {"test/loss": loss, **({"test/acc": acc} if acc is not None else {})}
            self.record(self.step, self.max_epochs, values, only=tested)
        self.stack.unstack_into_nets()
        for r in self.results:
            r.metrics.update(epochs=float(self.max_epochs), steps=float(self.step))
            r.history.sort(key=lambda item: item[0])
        return self.results


def train_stacked(cfgs: list[DictConfig]) -> list[JobResult]:
    """Fit (and test, where asked) every job of `cfgs` as one stacked model."""
    return StackedFit(cfgs).run()
