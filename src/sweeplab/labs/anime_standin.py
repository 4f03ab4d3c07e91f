"""An offline stand-in for the course's two-character image folders: `n_per_class` 64x64 RGB
PNGs per class, written as `<out>/<class>/<i>.png` for `data=image_folder data.root=<out>`.

Class `discs` shows a disc, class `bars` a diagonal bar, each of random size and place on a
noisy background. Like two cartoon characters, the classes differ in shape and in colour
tendency (discs warm, bars cool, with random shade), so a small CNN learns them in a few epochs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

CLASSES = ("bars", "discs")


def make_image(label: int, g: torch.Generator, size: int = 64) -> Tensor:
    """One (3, size, size) uint8 image of class `label`."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    cy, cx = (torch.rand(2, generator=g) * size * 0.5 + size * 0.25).tolist()
    r = float(torch.rand(1, generator=g)) * size * 0.1 + size * 0.18
    if CLASSES[label] == "discs":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    else:
        sign = 1 if float(torch.rand(1, generator=g)) < 0.5 else -1
        along = ((xx - cx) + sign * (yy - cy)).abs() < r * 0.35
        mask = along & ((yy - cy).abs() < r * 1.6)
    background = torch.rand(3, 1, 1, generator=g) * 0.4
    colour = torch.rand(3, 1, 1, generator=g) * 0.3 + 0.4
    colour[0 if CLASSES[label] == "discs" else 2] = 1.0  # warm discs, cool bars
    img = background + 0.08 * torch.randn(3, size, size, generator=g)
    img = torch.where(mask, colour.expand(3, size, size), img)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


def make(out: Path, n_per_class: int = 50, seed: int = 0) -> Path:
    """Write the stand-in folder tree; returns `out`."""
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    for label, name in enumerate(CLASSES):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            img = make_image(label, g).permute(1, 2, 0).contiguous().numpy()
            Image.fromarray(img, "RGB").save(folder / f"{i:03d}.png")
    return out


def run(out: Path) -> dict[str, Path]:
    make(out)
    print(f"[sweeplab] wrote {len(CLASSES)} classes x 50 images (64x64 RGB) to {out}; train with "
          f"python scripts/train.py experiment=cnn_anime data.root={out}")
    return {"root": out}
