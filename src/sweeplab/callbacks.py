"""Lightning callbacks that every job uses by default."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from sweeplab.checkpoints import save_trainer_checkpoint


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
        save_trainer_checkpoint(trainer, self.path)


class PrintProgress(L.Callback):
    """Print training loss and accuracy (eval mode) every `every_n_epochs` epochs.

    The course's full-batch walkthrough printed these every 100 epochs; measuring them here
    rather than reading logged metrics keeps the lines independent of hook order.
    """

    def __init__(self, every_n_epochs: int = 100, split: str = "train",
                 show_prediction: bool = True) -> None:
        self.every_n_epochs, self.split = every_n_epochs, split
        self.show_prediction = show_prediction

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from sweeplab.evaluate import evaluate

        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs or not trainer.is_global_zero:
            return
        result = evaluate(pl_module, trainer.datamodule.loader(self.split))
        acc = f" accuracy {result['acc']:.4f}" if "acc" in result else ""
        print(f"epoch {epoch}: {self.split} loss {result['loss']:.4f}{acc}", flush=True)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The walkthrough's last step: one random test image, its probabilities and label."""
        if not (self.show_prediction and trainer.is_global_zero
                and hasattr(pl_module, "probabilities")):
            return
        import torch

        test = trainer.datamodule.loader("test")
        i = int(torch.randint(len(test.x), (1,)))
        x = trainer.datamodule.scaled(test.x[i : i + 1]).to(pl_module.device)
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            probs = pl_module.probabilities(pl_module(x))[0]
        pl_module.train(was_training)
        shown = " ".join(f"{k}:{p:.2f}" for k, p in enumerate(probs.tolist()))
        print(f"test image {i}: predicted {int(probs.argmax())}, true {int(test.y[i])}; "
              f"probabilities {shown}", flush=True)
