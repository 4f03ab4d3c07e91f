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
