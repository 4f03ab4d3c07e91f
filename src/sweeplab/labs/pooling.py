"""Lab 21: activation after a convolution, then max pooling."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from sweeplab.labs.conv_basics import SOBEL_X, conv, line_image

POOL_IMAGE = torch.tensor([[1.0, 2.0, 3.0, -4.0], [0.0, 2.0, -3.0, 0.0],
                           [0.0, 2.0, 3.0, 1.0], [0.0, 0.0, 0.0, 0.0]])


@torch.no_grad()
def results() -> dict[str, Tensor]:
    z = conv(SOBEL_X)(line_image())
    img = POOL_IMAGE.view(1, 1, 4, 4)
    return {"conv": z[0, 0], "relu": torch.relu(z)[0, 0], "pool_image": POOL_IMAGE,
            "max_pool_s1": nn.MaxPool2d(2, stride=1)(img)[0, 0],
            "max_pool_s2": nn.MaxPool2d(2)(img)[0, 0]}


def run(out: Path) -> dict[str, Tensor]:
    from sweeplab.labs.figures import grid_figure, save_figure

    r = results()
    print("Sobel output:\n", r["conv"])
    print("after ReLU (negative responses cut):\n", r["relu"])
    print("image to pool:\n", r["pool_image"])
    print("MaxPool2d(2, stride=1):\n", r["max_pool_s1"])
    print("MaxPool2d(2) (stride 2):\n", r["max_pool_s2"])
    fig = grid_figure([(r["conv"], "conv output"), (r["relu"], "ReLU"),
                       (r["pool_image"], "pool input"), (r["max_pool_s1"], "max pool 2, stride 1"),
                       (r["max_pool_s2"], "max pool 2, stride 2")], "activation, then pooling")
    save_figure(fig, out, "pooling")
    return r
