"""Base for image datasets: uint8 (N, C, H, W) tensors, scaled and normalised per batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sweeplab.data.base import TensorDataModule


class ImageData(TensorDataModule):
    task = "multiclass"

    def __init__(self, mean: float = 0.0, std: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        # (x / 255 - mean) / std, done as one multiply-add per batch on the device
        self.scale = 1.0 / (255.0 * std)
        self.shift = -mean / std


def resize_uint8(images: Tensor, size: int) -> Tensor:
    """Resize a uint8 (N, C, H, W) batch once at load time, antialiased."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True,
                        align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)
