"""The one batch loader every dataset uses: tensors in memory, batches sliced on the device."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch
from torch import Tensor


def scale_inputs(x: Tensor, scale: float, shift: float) -> Tensor:
    """Stored inputs (uint8 pixels) as the network sees them: `x.float() * scale + shift`.
    The one place inputs are scaled: batches, figures and predictions all go through it."""
    if x.dtype == torch.uint8 or scale != 1.0 or shift != 0.0:
        x = x.float()
        if scale != 1.0:
            x = x * scale
        if shift != 0.0:
            x = x + shift
    return x


class TensorLoader:
    """Yields `(x, y)` batches sliced from whole-dataset tensors.

    Inputs stored as uint8 are converted to float on the device one batch at a time:
    `x.float() * scale + shift` (scale 1/255 maps pixels to [0, 1]). Shuffling draws one
    permutation per epoch on the tensors' device from a seeded generator, so runs repeat.
    Under DDP each rank takes every `world_size`-th index of the epoch's order.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        scale: float = 1.0,
        shift: float = 0.0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"{len(x)} inputs but {len(y)} targets")
        self.x, self.y = x, y
        self.batch_size = max(1, min(batch_size, len(x))) if len(x) else 1
        self.shuffle = shuffle
        self.scale, self.shift = scale, shift
        self.drop_last = drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.seed = seed
        # batches served in the epoch under way, and where the next epoch starts (a resumed run
        # continues the interrupted epoch's order from the batch after the last one trained)
        self.position = 0
        self._start = 0

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        return math.ceil(len(self.x) / self.world_size)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def to(self, device: torch.device | str) -> TensorLoader:
        """Move the stored tensors once; later batches are slices on that device."""
        self.x, self.y = self.x.to(device), self.y.to(device)
        return self

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state.get("epoch", 0))
        self.position = int(state.get("position", 0))
        if 0 < self.position < len(self):
            self.epoch -= 1
            self._start = self.position

    @property
    def resumes_at(self) -> int:
        """The batch the next epoch starts from: 0, or where an interrupted epoch stopped."""
        return self._start

    @property
    def epoch_done(self) -> bool:
        """Whether the epoch under way has served all its batches."""
        return self.position >= len(self)

    def first_batch(self) -> tuple[Tensor, Tensor]:
        """A batch as training sees it, without moving the loader (what `auto` times)."""
        return self._convert(self.x[: self.batch_size]), self.y[: self.batch_size]

    def _order(self) -> Tensor | None:
        n = len(self.x)
        if not self.shuffle and self.world_size == 1:
            return None
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=g).to(self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        if self.world_size > 1:
            pad = self.num_samples * self.world_size - n
            if pad:
                order = torch.cat([order, order[:pad]])
            order = order[self.rank :: self.world_size]
        return order

    def _convert(self, x: Tensor) -> Tensor:
        return scale_inputs(x, self.scale, self.shift)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self._order()
        self.epoch += 1
        size = self.num_samples
        bs = self.batch_size
        start, self._start = self._start, 0
        for i in range(start, len(self)):
            self.position = i + 1
            lo, hi = i * bs, min((i + 1) * bs, size)
            if order is None:
                xb, yb = self.x[lo:hi], self.y[lo:hi]
            else:
                # index_select gathers rows 2-3x faster than x[idx] on the CPU
                idx = order[lo:hi]
                xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            yield self._convert(xb), yb


class BatchChunks:
    """Serves a TensorLoader's batches as `count` lists per epoch (several optimiser steps per
    Lightning step, see sweeplab.steps), of nearly equal sizes; none crosses an epoch's end.

    The loader keeps its place in single batches and this adds the chunks served, so a run
    resumes from a checkpoint written with any chunk size: the interrupted epoch's remaining
    batches are cut into as many chunks as Lightning still expects (`chunk_count`).
    """

    def __init__(self, loader: TensorLoader, count: int,
                 batches: Iterable[tuple[Tensor, Tensor]] | None = None) -> None:
        """`batches`: what to cut into chunks, if not `loader`'s batches as they are (a dataset's
        transform of them); `loader` keeps the place either way."""
        self.loader, self.count = loader, count
        self.batches = loader if batches is None else batches
        self.served = 0  # chunks served in the epoch under way
        self._resumed = 0  # chunks the interrupted epoch had served before the checkpoint

    def __len__(self) -> int:
        return self.count

    def state_dict(self) -> dict:
        return {**self.loader.state_dict(), "chunks": self.served}

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)
        self._resumed = int(state.get("chunks", 0))

    def give_back(self, batches: int) -> None:
        """The last `batches` of the chunk under way were not trained: a checkpoint written now
        resumes from the first of them."""
        self.loader.position -= batches

    def __iter__(self) -> Iterator[list[tuple[Tensor, Tensor]]]:
        start, total = self.loader.resumes_at, len(self.loader)
        done = self._resumed if start else 0
        edges = chunk_edges(start, total, self.count - done)
        batches = iter(self.batches)
        self._resumed = 0
        for j in range(len(edges) - 1):
            chunk = [next(batches) for _ in range(edges[j + 1] - edges[j])]
            self.served = done + j + 1
            yield chunk


def chunk_count(batches: int, size: int, resumed: dict | None = None) -> int:
    """Chunks per epoch: `size` batches each and the epoch's last batch alone (a stop request
    in it waits for the epoch's end, as it does after a K=1 run's last step). Resuming an
    epoch interrupted at batch `position` after `chunks` chunks, the nearest count that leaves
    each remaining chunk a batch (Lightning counts an epoch's chunks once for the whole run)."""
    count = 1 + math.ceil((batches - 1) / size)
    if resumed and 0 < resumed["position"] < batches:
        served, left = resumed["chunks"], batches - resumed["position"]
        count = min(max(count, served + min(2, left)), served + left)
    return count


def chunk_edges(start: int, end: int, count: int) -> list[int]:
    """Where `count` chunks of batches start[..end) begin and end: nearly equal sizes, and the
    last batch a chunk of its own when there are two chunks or more."""
    if count == 1:
        return [start, end]
    return [start + (j * (end - 1 - start)) // (count - 1) for j in range(count)] + [end]
