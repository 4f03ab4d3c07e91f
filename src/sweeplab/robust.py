"""What keeps a long sweep going when one job goes wrong, and loses nothing when it is stopped.

- `DivergenceGuard` stops a job whose training loss is no longer finite: status "diverged".
- `GracefulStop` turns SIGINT/SIGTERM into a resumable checkpoint: status "interrupted".
- `outcome` maps whatever ended a job to the status and error line its metrics.json records.

A job's statuses: running (started, or killed without a chance to say so), completed, diverged,
failed (any other exception), interrupted (stopped by a signal, resumable).
"""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint

from sweeplab.checkpoints import save_trainer_checkpoint
from sweeplab.config import ConfigError
from sweeplab.data.errors import DataError
from sweeplab.stop import StopNow, StopRequest


class Diverged(RuntimeError):
    """The loss became NaN or infinite; training further cannot recover."""


class Interrupted(RuntimeError):
    """A signal stopped the job after its checkpoint was saved."""

    def __init__(self, signum: int, checkpoint: Path) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name}; checkpoint saved to {checkpoint}")
        self.signum, self.checkpoint = signum, checkpoint


class StoppedAfterJob(Interrupted):
    """A signal arrived once the job's training was over (its last step, validation or test):
    the job completed and is recorded so; what comes after it (the sweep's next job) waits."""

    def __init__(self, signum: int, checkpoint: Path) -> None:
        super().__init__(signum, checkpoint)
        self.args = (f"stopped by {signal.Signals(signum).name} after this job completed",)


def outcome(exc: BaseException) -> tuple[str, str]:
    """The status and the one-line error that a job ended by `exc` records."""
    if isinstance(exc, Diverged):
        return "diverged", str(exc)
    if isinstance(exc, Interrupted):
        return "interrupted", str(exc)
    if isinstance(exc, KeyboardInterrupt | SystemExit | StopNow):
        return "interrupted", "stopped before a checkpoint could be saved (Ctrl-C outside " \
                              "training, or pressed twice); resume=true starts it again"
    if isinstance(exc, ConfigError | DataError):
        return "failed", str(exc)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return "failed", f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class DivergenceGuard(L.Callback):
    """Stop the job as soon as the training loss is NaN or infinite.

    The check never makes a GPU step wait: the flag accumulates on the loss's device and is read
    on the host every `every` steps and at each epoch end (on the CPU, where reading is free,
    every step). A GPU job thus stops at most `every - 1` steps after the loss went bad.

    A module that trains several models at once (a stack) says so by returning each one's loss
    as `member_loss` and having `freeze(i, message)`: a member that diverges is frozen with the
    message a job alone would raise, and the others go on; training stops when none is left.
    """

    def __init__(self, every: int = 16) -> None:
        self.every = every
        self._bad: torch.Tensor | None = None
        self._loss: torch.Tensor | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        if isinstance(outputs, dict) and "member_loss" in outputs:
            if loss_device_is_cpu_or_due(outputs["member_loss"], trainer, self.every):
                self.freeze_members(trainer, pl_module, outputs["member_loss"],
                                    lambda v: self.message(v, trainer))
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        if loss.device.type == "cpu" and loss.numel() == 1:
            value = loss.item()  # a CPU scalar: reading it is cheaper than any tensor op
            if not math.isfinite(value):
                raise Diverged(self.message(value, trainer))
            return
        loss = loss.detach()
        bad = ~torch.isfinite(loss).all()
        self._bad = bad if self._bad is None else self._bad | bad
        self._loss = loss
        if trainer.global_step % self.every == 0:
            self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        members = getattr(pl_module, "member_val_loss", None)
        if members is not None:
            if not trainer.sanity_checking:
                self.freeze_members(trainer, pl_module, members, lambda v: (
                    f"validation loss is {v} after epoch {trainer.current_epoch}; "
                    f"{self.advice()}"))
            return
        value = trainer.callback_metrics.get("val/loss")
        if not trainer.sanity_checking and value is not None and not torch.isfinite(value).all():
            raise Diverged(f"validation loss is {float(value)} after epoch "
                           f"{trainer.current_epoch}; {self.advice()}")

    @staticmethod
    def freeze_members(trainer: L.Trainer, pl_module: L.LightningModule, losses: torch.Tensor,
                       message) -> None:
        bad = (~torch.isfinite(losses) & pl_module.active).nonzero().flatten().tolist()
        for i in bad:
            pl_module.freeze(i, message(float(losses[i])))
        if bad and not bool(pl_module.active.any()):
            trainer.should_stop = True

    def check(self, trainer: L.Trainer) -> None:
        if self._bad is None or not bool(self._bad):
            return
        value = float(self._loss.float().mean()) if self._loss is not None else float("nan")
        raise Diverged(self.message(value, trainer))

    def message(self, value: float, trainer: L.Trainer) -> str:
        return (f"training loss became {value} by step {trainer.global_step} (epoch "
                f"{trainer.current_epoch}); {self.advice()}")

    @staticmethod
    def advice() -> str:
        return "try a smaller optim.lr or trainer.gradient_clip_val"


def log_training_epoch(trainer: L.Trainer) -> None:
    """Send the epoch's training metrics to the loggers now. Lightning logs them after the
    epoch-end hooks, so a stop at the epoch's end would leave that epoch out of the curve (the
    resumed run starts with the next epoch)."""
    metrics = {k: v for k, v in trainer.callback_metrics.items()
               if k.startswith("train/") and not k.endswith("_step")}
    if not metrics:
        return
    for logger in trainer.loggers:
        logger.log_metrics({**metrics, "epoch": trainer.current_epoch}, trainer.global_step - 1)
        logger.save()


def loss_device_is_cpu_or_due(loss: torch.Tensor, trainer: L.Trainer, every: int) -> bool:
    """Whether to read a stack's losses on the host now: every step on the CPU (free), every
    `every` steps on a GPU (each read waits for the device)."""
    return loss.device.type == "cpu" or trainer.global_step % every == 0


class GracefulStop(Checkpoint):
    """SIGINT or SIGTERM: save a checkpoint at the next safe point, then raise `Interrupted`.

    Safe points are the end of a training step that is not the last of its epoch, and the end
    of an epoch (after its validation); Lightning resumes exactly from either. As a `Checkpoint`
    callback its epoch-end hook runs after the LightningModule's, as ModelCheckpoint's does.
    A signal that arrives during the test lets the job finish. A second signal stops at once
    (no checkpoint, `StopNow`), unless it follows the first within 0.5 s: Slurm delivers
    SIGTERM, SIGCONT, SIGTERM within 70 ms at a time limit, which is one request. In a Slurm job
    the signal submitit asks for before the time limit (SIGUSR2) is a request too. The request
    is the process's (`sweeplab.stop.StopRequest`, installed by the command line), so one that
    came while the job was being set up stops it at its first safe point. The
    checkpoint also holds what Lightning leaves out and an exact resume needs: torch's random
    state (dropout) and the training epoch's running sums.
    """

    def __init__(self, path: Path, every_n_epochs: int = 0, min_interval_s: float = 0.0,
                 settings: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.settings = settings  # the run's, recorded in the checkpoint (resume.settings)
        self.every_n_epochs, self.min_interval_s = every_n_epochs, min_interval_s
        self.saved_at = time.monotonic()
        self.request: StopRequest | None = None
        self.own_request = False
        self.module: L.LightningModule | None = None
        self.trainer: L.Trainer | None = None
        self.restore: dict[str, Any] | None = None
        #: the metrics when the checkpoint resumed from was saved; a fit resumed from its end
        #: trains no more and would otherwise end without its training metrics
        self.restored_metrics: dict[str, float] = {}

    # ------------------------------------------------------------ signals

    def __enter__(self) -> GracefulStop:
        """Share the process's stop request (the command line's), or hold one for this fit."""
        self.request = StopRequest.current()
        if self.request is None:
            self.request, self.own_request = StopRequest().__enter__(), True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.own_request:
            self.request.__exit__(*exc)
        self.own_request = False

    @property
    def signum(self) -> int | None:
        return self.request.signum if self.request is not None else None

    def take_over(self, trainer: L.Trainer) -> None:
        """Replace the SIGTERM handler Lightning installs for each fit and test.

        Lightning's own handling stops training at the end of the step and exits the process
        (status 0) without a checkpoint; a sweep must record the job and stop cleanly instead.
        A SIGTERM that Lightning's handler caught before this point counts as ours.
        """
        if self.request.installed:
            signal.signal(signal.SIGTERM, self.request.on_signal)
        if trainer.received_sigterm and self.request.signum is None:
            self.request.signum = signal.SIGTERM

    # ------------------------------------------------------------ safe points

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.module, self.trainer = pl_module, trainer

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.take_over(trainer)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.restore is not None:
            torch.set_rng_state(self.restore["rng"])
            if torch.cuda.is_available() and self.restore.get("cuda_rng"):
                torch.cuda.set_rng_state_all(self.restore["cuda_rng"])
            if "train_sums" in self.restore and hasattr(pl_module, "train_sums"):
                pl_module.train_sums.load_state_dict(self.restore["train_sums"])
            self.restore = None
        self.take_over(trainer)
        self.saved_at = time.monotonic()
        self.stop_if_asked(trainer)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        # after the last step of an epoch the epoch's validation is still to run; wait for the
        # epoch's end, where a resumed run picks up cleanly
        if batch_idx + 1 < trainer.num_training_batches:
            self.stop_if_asked(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.signum is not None:
            log_training_epoch(trainer)
        self.stop_if_asked(trainer)
        if self.periodic_due(trainer.current_epoch + 1):
            save_trainer_checkpoint(trainer, self.path)
            self.saved_at = time.monotonic()

    def periodic_due(self, epochs_done: int) -> bool:
        """Whether the end of this epoch gets a periodic checkpoint (`checkpoint` in the run's
        config): the same file and the same safe point as a stop's, so resume reads it."""
        return (self.every_n_epochs > 0 and epochs_done % self.every_n_epochs == 0
                and time.monotonic() - self.saved_at >= self.min_interval_s)

    def raise_if_asked_after_training(self) -> None:
        """A request that came after the last safe point: honoured once the job is recorded."""
        if self.signum is not None:
            raise StoppedAfterJob(self.signum, self.path)

    def stop_if_asked(self, trainer: L.Trainer) -> None:
        if self.signum is None:
            return
        save_trainer_checkpoint(trainer, self.path)
        raise Interrupted(self.signum, self.path)

    # ------------------------------------------------------------ checkpoint state

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"rng": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        if self.module is not None and hasattr(self.module, "train_sums"):
            state["train_sums"] = self.module.train_sums.state_dict()
        if self.settings is not None:
            state["settings"] = self.settings
        if self.trainer is not None:
            state["metrics"] = {k: float(v) for k, v in self.trainer.callback_metrics.items()
                                if torch.as_tensor(v).numel() == 1}
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "rng" in state_dict:
            self.restore = state_dict
        self.restored_metrics = dict(state_dict.get("metrics", {}))
