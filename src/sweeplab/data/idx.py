"""A small, strict reader for the IDX files MNIST-style datasets ship in (raw or .gz).

torchvision's reader trusts the header and fails deep inside numpy on a damaged file; this one
checks the magic number, the dimensions and the byte count first, and names the file in a
`DataError` that says what is wrong.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import torch

from sweeplab.data.errors import DataError

#: IDX type codes for the element types the datasets use
UINT8 = 0x08


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it ends in .gz."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(path, f"not a valid gzip file ({exc})") from None
    except EOFError:
        raise DataError(path, "truncated gzip file (it ends before the compressed data does)"
                        ) from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None


def read_idx(path: Path, ndim: int) -> torch.Tensor:
    """An unsigned-byte IDX tensor with `ndim` dimensions, checked against its header."""
    data = read_bytes(path)
    expected = f"0x{UINT8 << 8 | ndim:08X}"
    if len(data) < 4:
        raise DataError(path, f"too short for an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if data[0] != 0 or data[1] != 0 or data[2] != UINT8 or data[3] != ndim:
        raise DataError(path, f"wrong magic number 0x{magic:08X}; expected {expected} "
                              f"(unsigned bytes, {ndim} dimensions): not this kind of IDX file")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(path, f"truncated header ({len(data)} bytes)")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    size = math.prod(dims)
    if len(data) - header != size:
        shape = "x".join(map(str, dims))
        what = "truncated" if len(data) - header < size else "has trailing bytes"
        raise DataError(path, f"{what}: the header says {shape} = {size} bytes of data, the file "
                              f"holds {len(data) - header}")
    if size == 0:  # torch.frombuffer refuses an empty buffer; the caller names the problem
        return torch.zeros(dims, dtype=torch.uint8)
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).view(*dims)


def read_count(path: Path) -> int:
    """The item count in an IDX file's header (its first dimension)."""
    data = read_bytes(path)
    if len(data) < 8:
        raise DataError(path, f"too short for an IDX file ({len(data)} bytes)")
    return int.from_bytes(data[4:8], "big")


def read_split(images: Path, labels: Path, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, H, W) uint8 and labels (N,) int64, checked against each other."""
    x, y = read_idx(images, 3), read_idx(labels, 1)
    if len(x) != len(y):
        raise DataError(labels, f"{len(y)} labels for {len(x)} images in {images.name}")
    if len(x) == 0:
        raise DataError(images, "holds no images")
    if int(y.max()) >= num_classes:
        raise DataError(labels, f"label {int(y.max())} is out of range for {num_classes} classes")
    return x.unsqueeze(1), y.long()
