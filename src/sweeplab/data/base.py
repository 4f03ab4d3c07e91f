"""The DataModule every dataset shares: tensors made once in `prepare`, served by TensorLoader."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import lightning as L
import torch
from torch import Tensor

from sweeplab.config import ConfigError
from sweeplab.data.loader import BatchChunks, TensorLoader, scale_inputs

log = logging.getLogger(__name__)


@dataclass
class Split:
    x: Tensor
    y: Tensor


class TensorDataModule(L.LightningDataModule):
    """Base for every dataset: subclasses implement `load()` and set the task attributes.

    `load()` returns the train, validation and test splits as tensors (images as uint8).
    Everything else (device placement, batching, shuffling, DDP sharding) lives here.
    """

    #: "multiclass", "binary" or "regression"; set by subclasses
    task: str = "multiclass"
    #: number of classes (classification) or output size (regression)
    num_classes: int = 2
    #: shape of one input, e.g. (1, 28, 28) or (2,)
    input_shape: tuple[int, ...] = (2,)
    #: pixel scaling applied per batch on the device: x.float() * scale + shift
    scale: float = 1.0
    shift: float = 0.0

    def __init__(
        self,
        batch_size: int = 64,
        shuffle: bool = True,
        full_batch: bool = False,
        seed: int = 0,
        eval_batch_size: int = 1000,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.full_batch = full_batch
        self.seed = seed
        self.eval_batch_size = eval_batch_size
        self.splits: dict[str, Split] | None = None
        self._loaders: dict[str, TensorLoader] = {}
        #: Lightning training steps per epoch, each a list of batches (sweeplab.steps); None:
        #: one batch per step
        self.train_calls: int | None = None

    def load(self) -> dict[str, Split]:
        """Return {"train": Split, "val": Split, "test": Split}."""
        raise NotImplementedError

    #: the config key that sizes each held-out split, named when that split comes out empty
    split_keys: dict[str, str] = {"val": "val_size", "test": "test_size"}

    def setup(self, stage: str | None = None) -> None:
        if self.splits is None:
            splits = self.load()
            check_splits(splits, {split: f"data.{key}={getattr(self, key, '?')}"
                                  for split, key in self.split_keys.items()})
            self.splits = splits

    def scaled(self, x: Tensor) -> Tensor:
        """Stored inputs as the network sees them (the loader's scaling)."""
        return scale_inputs(x, self.scale, self.shift)

    @property
    def classifies(self) -> bool:
        """Classification (binary or multiclass) rather than regression."""
        return self.task != "regression"

    @property
    def class_names(self) -> list[str]:
        return [str(i) for i in range(self.num_classes)]

    def _device_and_rank(self) -> tuple[torch.device, int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return torch.device("cpu"), 0, 1
        return trainer.strategy.root_device, trainer.global_rank, trainer.world_size

    def loader(self, split: str) -> TensorLoader:
        """The loader for one split, its tensors moved to the training device once."""
        self.setup()
        device, rank, world = self._device_and_rank()
        cached = self._loaders.get(split)
        if cached is not None and cached.x.device == device:
            return cached
        data = self.splits[split]
        train = split == "train"
        if train:
            bs = len(data.x) if self.full_batch else self.batch_size
        else:
            bs = len(data.x) if self.full_batch else max(self.batch_size, self.eval_batch_size)
        loader = TensorLoader(
            data.x, data.y, batch_size=bs, shuffle=train and self.shuffle, seed=self.seed,
            scale=self.scale, shift=self.shift, rank=rank, world_size=world,
        ).to(device)
        if cached is not None:
            loader.epoch = cached.epoch
        self._loaders[split] = loader
        return loader

    def train_batches(self):
        """The training batches, one at a time (a dataset may transform them on the way)."""
        return self.loader("train")

    def train_dataloader(self):
        if self.train_calls is None:
            return self.train_batches()
        return BatchChunks(self.loader("train"), self.train_calls, self.train_batches())

    def val_dataloader(self) -> TensorLoader:
        return self.loader("val")

    def test_dataloader(self) -> TensorLoader:
        return self.loader("test")

    def predict_dataloader(self) -> TensorLoader:
        return self.loader("test")

    def state_dict(self) -> dict:
        train = self._loaders.get("train")
        return {"train_epoch": train.epoch if train else 0}

    def load_state_dict(self, state: dict) -> None:
        self.loader("train").epoch = int(state.get("train_epoch", 0))


def check_splits(splits: dict[str, Split], settings: dict[str, str]) -> None:
    """Every split must hold examples (an empty one reports a NaN metric as if it were one);
    a validation split larger than what is left to train on is said out loud."""
    sizes = {name: len(split.y) for name, split in splits.items()}
    counts = ", ".join(f"{n} {name}" for name, n in sizes.items())
    for name, n in sizes.items():
        if n == 0:
            given = ", ".join(dict.fromkeys(settings.values())) or "data's sizes"
            raise ConfigError(f"the {name} split is empty ({counts}) with {given}; choose "
                              f"sizes that leave every split at least one example")
    held_out = settings.get("val", "").startswith("data.val_size")
    if held_out and sizes.get("val", 0) > sizes.get("train", 0):
        log.warning(f"{settings['val']} holds out {sizes['val']} examples for validation and "
                    f"leaves {sizes['train']} to train on; a fraction (data.val_size=0.1) "
                    f"scales with the dataset")


def split_off(x: Tensor, y: Tensor, size: float, seed: int) -> tuple[Split, Split]:
    """Split a seeded random `size` off (a fraction if < 1, else a count): (rest, held_out)."""
    n = len(x)
    k = int(round(size * n)) if size < 1 else int(size)
    k = max(0, min(k, n - 1))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    # sorted, so a dataset generated in class order keeps that order (two labs rely on it)
    held, rest = order[:k].sort().values, order[k:].sort().values
    return Split(x[rest], y[rest]), Split(x[held], y[held])
