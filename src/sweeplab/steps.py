"""Several optimiser steps per Lightning step (`steps_per_call`), for small models on small data.

A small model's step is a fraction of a millisecond; Lightning's per-step machinery (hooks,
progress, logging, loop bookkeeping) costs about as much again. With `steps_per_call` K > 1 the
training loader hands the module K consecutive batches at once (never across an epoch end) and
the module steps the optimiser once per batch, through Lightning's manual optimisation. Every
batch, step and logged value is the one a K=1 run has, in the same order:

- `trainer.global_step` counts optimiser steps (manual optimisation's counter), so
  `max_steps`, `log_every_n_steps` and the divergence guard see the same step numbers;
- `train/loss_step` is written to the loggers at the steps a K=1 run writes it, and the epoch
  and validation metrics carry that run's step (the `step` metric Lightning's logger connector
  takes as the x-axis), so curves line up point for point;
- the loader stores its place in single batches, so a run resumes exactly whatever K it had
  and whatever K the resumed run picks;
- the epoch's lr schedule steps once per completed epoch, as Lightning steps it for K=1.

`auto` measures the network's forward pass once on the training device and picks K so that a
Lightning step lasts about `TARGET_S`; a step that already lasts half that keeps K=1.
Settings whose unit is Lightning's step (gradient clipping, accumulation, batch limits,
validation inside an epoch, fast_dev_run) keep Lightning's own loop (`why_one_step`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from sweeplab.config import ConfigError
from sweeplab.data.loader import BatchChunks, chunk_count
from sweeplab.robust import DivergenceGuard, GracefulStop

#: how long `auto` makes a Lightning step: long enough that Lightning's per-step cost is small
TARGET_S = 0.004
#: the largest K `auto` picks (the progress bar moves once per chunk)
MAX_AUTO = 256


def why_one_step(trainer: dict[str, Any]) -> str | None:
    """The trainer setting (as `key=value`) that needs one batch per Lightning step, or None."""
    def unset(key: str, *defaults: Any) -> bool:
        value = trainer.get(key)
        # 1.0 is a whole epoch, 1 a single batch: compare types too
        return value is None or any(value == d and type(value) is type(d) for d in defaults)

    for key, defaults in (("gradient_clip_val", (0, 0.0)), ("accumulate_grad_batches", (1,)),
                          ("limit_train_batches", (1.0,)), ("val_check_interval", (1.0,)),
                          ("overfit_batches", (0, 0.0)), ("fast_dev_run", (False,))):
        if not unset(key, *defaults):
            return f"trainer.{key}={trainer[key]}"
    if "check_val_every_n_epoch" in trainer and trainer["check_val_every_n_epoch"] is None:
        return "trainer.check_val_every_n_epoch=null"
    return None


class SeveralSteps:
    """What a LightningModule needs to take K optimiser steps per Lightning step.

    The module implements `train_step(batch)` (one batch's loss, or a dict with `loss`) and
    logs its per-step values through `log_step`; this mixin's `training_step` runs one batch
    under automatic optimisation and a chunk of batches under manual optimisation.
    """

    def training_step(self, batch, batch_idx: int):
        if self.automatic_optimization:
            return self.train_step(batch)
        trainer, optimizer = self.trainer, self.optimizers()
        guards = [cb for cb in trainer.callbacks if isinstance(cb, DivergenceGuard)]
        stops = [cb for cb in trainer.callbacks if isinstance(cb, GracefulStop)]
        # a stop request ends the chunk after the step it came in, as it ends a K=1 run; in an
        # epoch's last chunk (its last batch) it waits for the epoch's end, as K=1 does
        stoppable = batch_idx + 1 < trainer.num_training_batches
        for i, one in enumerate(batch):
            if trainer.should_stop or 0 <= trainer.max_steps <= trainer.global_step or (
                    stoppable and any(stop.signum is not None for stop in stops)):
                trainer.train_dataloader.give_back(len(batch) - i)  # not trained: not served
                break
            out = self.train_step(one)
            optimizer.zero_grad()
            self.manual_backward(out["loss"] if isinstance(out, dict) else out)
            optimizer.step()
            for guard in guards:  # a K=1 run checks after every step, so does this one
                guard.on_train_batch_end(trainer, self, out, one, batch_idx + i)
        return None

    def log_step(self, metrics: dict[str, Tensor], batch_size: int) -> None:
        """Per-step values, written on the steps a K=1 run writes them (`logs_this_step`).

        Under manual optimisation Lightning would keep only the chunk's last value and write it
        at the chunk's count, so they go to the loggers directly, at the optimiser step.
        """
        trainer = self.trainer
        if not metrics or not logs_this_step(trainer):
            return
        if self.automatic_optimization:
            self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=batch_size)
            return
        scalars = {k: float(v) for k, v in metrics.items()} | {"epoch": trainer.current_epoch}
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=trainer.global_step)
            logger.save()

    def forward_all(self, x: Tensor) -> Any:
        """Every output the module computes for `x` (what `auto` times)."""
        return self(x)

    def networks(self) -> list[torch.nn.Module]:
        """The networks `compile=true` compiles."""
        return [self.net]

    def compile_networks(self) -> None:
        """torch.compile each network's forward in place (`nn.Module.compile`): its parameters
        and state_dict keys stay as they are, so checkpoints load compiled or not."""
        for net in self.networks():
            net.compile()


def logs_this_step(trainer: L.Trainer) -> bool:
    """Whether Lightning writes this training step's logged values to the loggers.

    `self.log` costs about as much as a small model's whole step; Lightning keeps only the
    value of the steps it writes (every `log_every_n_steps` optimiser steps, and the last),
    so logging on those steps only gives the same logs.
    """
    every = trainer.log_every_n_steps
    return bool(trainer.fast_dev_run or trainer.should_stop
                or trainer.accumulate_grad_batches > 1
                or (every and (trainer.global_step + 1) % every == 0))


def stepping_total(trainer: L.Trainer) -> float:
    """The optimiser steps the fit will take (Lightning's `estimated_stepping_batches` counts
    its own steps, which are chunks here)."""
    loader = trainer.train_dataloader
    if not isinstance(loader, BatchChunks):
        return trainer.estimated_stepping_batches
    epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
    total = len(loader.loader) * epochs if epochs else float("inf")
    return min(total, trainer.max_steps) if trainer.max_steps >= 0 else total


def seconds_per_step(module: SeveralSteps, x: Tensor, repeats: int = 5) -> float:
    """A training step's duration, estimated as three forward passes (forward, backward about
    twice that) in eval mode without gradients: nothing the run computes changes (no dropout
    draw, no batch-norm statistic)."""
    def sync() -> None:
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)

    was_training = module.training
    module.eval()
    with torch.no_grad():
        for _ in range(2):  # warm-up: allocations, kernel choice
            module.forward_all(x)
        sync()
        started = time.perf_counter()
        for _ in range(repeats):
            module.forward_all(x)
        sync()
    module.train(was_training)
    return 3 * (time.perf_counter() - started) / repeats


def auto_steps(step_s: float, batches: int) -> int:
    """K for a step of `step_s` seconds: a Lightning step of about TARGET_S, at most an epoch."""
    if step_s * 2 >= TARGET_S:
        return 1
    return max(1, min(int(TARGET_S / max(step_s, 1e-9)), MAX_AUTO, batches))


class StepsPerCall(L.Callback):
    """Sets up and keeps exact a run with K optimiser steps per Lightning step.

    Before the training data is read it picks K (`auto`: measured) and has the DataModule serve
    chunks of about K batches; at each epoch's end it steps the epoch's lr schedule (Lightning
    leaves that to a manually optimised module) and gives the epoch and evaluation metrics the
    step a K=1 run logs them at.
    """

    def __init__(self, steps: int | str, resumed: dict[str, int] | None = None) -> None:
        """`resumed`: the state this callback saved in the checkpoint the run resumes from."""
        self.steps = steps
        self.chosen: int | None = None
        self.chunks: BatchChunks | None = None
        self.resumed = resumed if resumed and "chunks" in resumed else None

    def state_dict(self) -> dict[str, int]:
        """Marks the checkpoint as written under several steps per call (`saved_steps`), with
        where the epoch stood (the chunk count of the resumed run depends on it)."""
        state = {"steps": self.chosen or 1}
        if self.chunks is not None:
            state |= {"position": self.chunks.loader.position, "chunks": self.chunks.served}
        return state

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loader = trainer.datamodule.loader("train")
        k = self.steps
        if k == "auto":
            x, _ = loader.first_batch()
            k = auto_steps(seconds_per_step(pl_module, x), len(loader))
        self.chosen = int(k)
        trainer.datamodule.train_calls = chunk_count(len(loader), self.chosen, self.resumed)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.chunks = trainer.train_dataloader

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.log_step(pl_module, trainer.global_step - 1)
        if trainer.datamodule.loader("train").epoch_done:
            schedulers = pl_module.lr_schedulers()
            for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
                if scheduler is not None:
                    scheduler.step()

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # inside fit, validation runs before the epoch's last step is counted (K=1 logs it at
        # the step before); trainer.validate after fit logs at the step count
        self.log_step(pl_module, trainer.global_step - int(trainer.state.fn == "fit"))

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.log_step(pl_module, trainer.global_step)

    @staticmethod
    def log_step(pl_module: L.LightningModule, step: int) -> None:
        """The x-axis of the metrics logged with these (Lightning's `step` metric)."""
        if not pl_module.trainer.sanity_checking:
            pl_module.log("step", float(max(step, 0)))
            pl_module.log("epoch", float(pl_module.trainer.current_epoch))


def steps_callback(cfg: DictConfig, dm: Any, ckpt_path: Path | None = None) -> StepsPerCall | None:
    """The callback for the run's `steps_per_call` (None: one batch per Lightning step, either
    asked for or because a trainer setting counts Lightning steps); sets up `dm` to match.

    A resumed run continues in the loop its checkpoint was written in: Lightning counts the
    optimiser steps of its own loop and of manual optimisation apart, and restores only the
    counter of the loop it runs. Within several steps per call any K continues any other.
    """
    dm.train_calls = None
    steps = cfg.get("steps_per_call", 1)
    reason = why_one_step(OmegaConf.to_container(cfg.trainer, resolve=True))
    saved = saved_state(ckpt_path) if ckpt_path is not None else None
    if saved is None:
        return None if steps == 1 or reason else StepsPerCall(steps)
    if not saved:
        return None
    if reason:
        raise ConfigError(f"{ckpt_path}: written taking several optimiser steps per Lightning "
                          f"step, which {reason} does not allow; resume it without {reason}")
    return StepsPerCall(steps, saved)


def saved_state(ckpt_path: Path) -> dict[str, int]:
    """What StepsPerCall saved in a checkpoint (empty: written by Lightning's own loop)."""
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    return ckpt.get("callbacks", {}).get(StepsPerCall.__qualname__, {})


def saved_steps(ckpt_path: Path) -> int:
    """The K a checkpoint was written with (0: Lightning's own loop, one batch per step)."""
    return int(saved_state(ckpt_path).get("steps", 0))
