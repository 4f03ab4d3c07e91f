"""A small CNN: conv blocks (conv, optional BN, activation, optional pool) then a classifier.

The flattened size is worked out from the input shape, so one config serves 28x28, 16x16 and
64x64 RGB inputs; `conv_output_shape` lets validation reject stacks that shrink an image to
nothing before any training.
"""

from __future__ import annotations

from torch import Tensor, nn

from sweeplab.models.layers import activation as make_activation
from sweeplab.models.layers import fully_connected


def conv_output_shape(input_shape: tuple[int, ...], channels: list[int], kernel_size: int,
                      padding: int, stride: int, pool: str, pool_size: int,
                      pool_stride: int | None) -> tuple[int, int, int]:
    """(C, H, W) after the conv blocks; (M - K + 2P) / S + 1 per conv and per pool."""
    _, h, w = input_shape
    c = input_shape[0]
    for c_out in channels:
        h = (h - kernel_size + 2 * padding) // stride + 1
        w = (w - kernel_size + 2 * padding) // stride + 1
        if pool != "none":
            s = pool_stride or pool_size
            h = (h - pool_size) // s + 1
            w = (w - pool_size) // s + 1
        c = c_out
    return c, h, w


class SmallCNN(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], out_features: int,
                 channels: list[int] = (16, 32), kernel_size: int = 5, padding: int = 2,
                 stride: int = 1, pool: str = "max", pool_size: int = 2,
                 pool_stride: int | None = None, activation: str = "relu",
                 batchnorm: bool = False, dropout: float = 0.0, hidden: list[int] = (),
                 logit_batchnorm: bool = False, bn_after_activation: bool = False) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c_in = input_shape[0]
        for c_out in channels:
            blocks.append(nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding))
            block = [make_activation(activation)]
            if batchnorm:
                bn = nn.BatchNorm2d(c_out)
                block = block + [bn] if bn_after_activation else [bn, *block]
            blocks += block
            if pool == "max":
                blocks.append(nn.MaxPool2d(pool_size, stride=pool_stride or pool_size))
            elif pool == "avg":
                blocks.append(nn.AvgPool2d(pool_size, stride=pool_stride or pool_size))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        c, h, w = conv_output_shape(tuple(input_shape), list(channels), kernel_size, padding,
                                    stride, pool, pool_size, pool_stride)
        head = fully_connected(c * h * w, list(hidden), out_features, activation, dropout)
        if logit_batchnorm:  # the course's BN CNN normalises its logits too
            head.append(nn.BatchNorm1d(out_features))
        self.classifier = nn.Sequential(nn.Flatten(), *head)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
