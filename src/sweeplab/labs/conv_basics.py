"""Lab 20: what Conv2d computes, and its output size (M - K + 2P) / S + 1."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

SOBEL_X = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def line_image(size: int = 5, column: int = 2, vertical: bool = True) -> Tensor:
    """A (1, 1, size, size) image of zeros with one line of ones."""
    img = torch.zeros(1, 1, size, size)
    if vertical:
        img[0, 0, :, column] = 1.0
    else:
        img[0, 0, column, :] = 1.0
    return img


def conv(kernel: Tensor, stride: int = 1, padding: int = 0) -> nn.Conv2d:
    """A one-channel Conv2d holding `kernel`, bias 0."""
    k = kernel.shape[-1]
    layer = nn.Conv2d(1, 1, k, stride=stride, padding=padding)
    with torch.no_grad():
        layer.weight.copy_(kernel.view(1, 1, k, k))
        layer.bias.zero_()
    return layer


def output_size(m: int, k: int, stride: int = 1, padding: int = 0) -> int:
    return (m - k + 2 * padding) // stride + 1


@torch.no_grad()
def results() -> dict[str, Tensor]:
    img, ones4, ones_k = line_image(), torch.ones(1, 1, 4, 4), torch.ones(2, 2)
    out = {"image": img[0, 0], "sobel": conv(SOBEL_X)(img)[0, 0]}
    for stride, padding in ((1, 0), (2, 0), (3, 0), (3, 1)):
        out[f"ones_s{stride}_p{padding}"] = conv(ones_k, stride, padding)(ones4)[0, 0]
    return out


def run(out: Path) -> dict[str, Tensor]:
    from sweeplab.labs.figures import grid_figure, plt, save_figure

    r = results()
    print("image (5x5, column 2 = 1):\n", r["image"])
    print("Sobel Gx kernel:\n", SOBEL_X)
    print("conv output (3x3):\n", r["sobel"])
    for key in ("ones_s1_p0", "ones_s2_p0", "ones_s3_p0", "ones_s3_p1"):
        s, p = int(key.split("_s")[1][0]), int(key[-1])
        print(f"4x4 ones, 2x2 ones kernel, stride {s}, padding {p}: size "
              f"(4 - 2 + 2*{p}) / {s} + 1 = {output_size(4, 2, s, p)}\n", r[key])
    fig = grid_figure([(r["image"], "input"), (SOBEL_X, "kernel (Sobel Gx)"),
                       (r["sobel"], "output")], "Conv2d: a vertical edge detector")
    save_figure(fig, out, "conv_sobel")
    fig, axes = plt.subplots(1, 4, figsize=(10.4, 2.8))
    from sweeplab.labs.figures import show_grid

    for ax, key in zip(axes, ("ones_s1_p0", "ones_s2_p0", "ones_s3_p0", "ones_s3_p1"),
                       strict=True):
        show_grid(ax, r[key], f"stride {key.split('_s')[1][0]}, padding {key[-1]}")
    fig.suptitle("4x4 ones * 2x2 ones: output size (M - K + 2P) / S + 1")
    save_figure(fig, out, "conv_stride_padding")
    return r
