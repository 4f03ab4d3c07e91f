"""Lightning callbacks that every job uses by default."""

from __future__ import annotations

from pathlib import Path

import lightning as L


class SaveLast(L.Callback):
    """Write `<dirpath>/last.ckpt` once training ends (one file per job, not one per epoch)."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    @property
    def path(self) -> Path:
        return self.dirpath / "last.ckpt"

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self.dirpath.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(self.path, weights_only=False)


class PrintProgress(L.Callback):
    """Print training loss and accuracy (eval mode) every `every_n_epochs` epochs.

    The course's full-batch walkthrough printed these every 100 epochs; measuring them here
    rather than reading logged metrics keeps the lines independent of hook order.
    """

    def __init__(self, every_n_epochs: int = 100, split: str = "train") -> None:
        self.every_n_epochs, self.split = every_n_epochs, split

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from sweeplab.evaluate import evaluate

        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs or not trainer.is_global_zero:
            return
        result = evaluate(pl_module, trainer.datamodule.loader(self.split))
        acc = f" accuracy {result['acc']:.4f}" if "acc" in result else ""
        print(f"epoch {epoch}: {self.split} loss {result['loss']:.4f}{acc}", flush=True)
