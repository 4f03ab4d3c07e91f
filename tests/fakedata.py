"""Small datasets written to disk by tests: MNIST-layout IDX files and class-per-folder PNGs."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in the IDX format: magic (0, 0, 0x08 = ubyte, ndim), sizes, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def learnable_digits(n: int, seed: int, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images where class k is a bright block at its own place: easy to learn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, (n, size, size), dtype=np.uint8)
    for i, k in enumerate(labels):
        row, col = 3 + (k // 5) * 12, 1 + (k % 5) * 5
        images[i, row : row + 8, col : col + 5] = 255
    return images, labels.astype(np.uint8)


def write_mnist(data_dir: Path, name: str = "MNIST", n_train: int = 600, n_test: int = 100,
                compress: bool = False) -> Path:
    """torchvision's layout, `<data_dir>/<name>/raw/<four files>`; returns the raw dir."""
    raw = Path(data_dir) / name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = learnable_digits(n, seed)
        for filename, array in zip(MNIST_FILES[split], (images, labels), strict=True):
            data = idx_bytes(array)
            if compress:
                (raw / f"{filename}.gz").write_bytes(gzip.compress(data))
            else:
                (raw / filename).write_bytes(data)
    return raw


def write_image_tree(root: Path, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 5,
                     size: tuple[int, int] = (12, 10)) -> Path:
    """`root/<class>/<i>.png`: RGB images whose colour depends on the class."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 40, (size[1], size[0], 3), dtype=np.uint8)
            pixels[..., k % 3] += 200
            Image.fromarray(pixels, "RGB").save(folder / f"{i}.png")
    return Path(root)
