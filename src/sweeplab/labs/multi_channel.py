"""Lab 22: channels in and out. A Conv2d has one kernel per (output, input) channel pair and
sums over the input channels."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from sweeplab.labs.conv_basics import SOBEL_X, line_image

SOBEL_Y = SOBEL_X.t().contiguous()
ONES = torch.ones(3, 3)
ZEROS = torch.zeros(3, 3)


def conv_with(kernels: list[list[Tensor]]) -> nn.Conv2d:
    """A Conv2d whose weight[o, i] is kernels[o][i]; bias 0."""
    c_out, c_in = len(kernels), len(kernels[0])
    layer = nn.Conv2d(c_in, c_out, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.stack([torch.stack(row) for row in kernels]))
        layer.bias.zero_()
    return layer


@torch.no_grad()
def results() -> dict[str, Tensor]:
    vertical, horizontal = line_image(), line_image(vertical=False)
    both = torch.cat([vertical, horizontal], dim=1)  # (1, 2, 5, 5)
    return {
        "vertical": vertical[0, 0], "horizontal": horizontal[0, 0],
        # one input channel, three detectors: vertical edges, horizontal edges, brightness
        "one_to_three": conv_with([[SOBEL_X], [SOBEL_Y], [ONES]])(vertical)[0],
        # two input channels into one: Gx on the vertical image plus Gy on the horizontal one
        "two_to_one": conv_with([[SOBEL_X, SOBEL_Y]])(both)[0, 0],
        # two in, three out: each detector on its own line, ones on both, each on the other
        "two_to_three": conv_with([[SOBEL_X, SOBEL_Y], [ONES, ONES], [SOBEL_Y, SOBEL_X]])(both)[0],
    }


def run(out: Path) -> dict[str, Tensor]:
    from sweeplab.labs.figures import grid_figure, save_figure

    r = results()
    print("vertical line image:\n", r["vertical"])
    print("1 -> 3 channels (kernels Gx, Gy, ones) on the vertical line:\n", r["one_to_three"])
    print("horizontal line image:\n", r["horizontal"])
    print("2 -> 1 channel (Gx on vertical + Gy on horizontal):\n", r["two_to_one"])
    print("2 -> 3 channels ([Gx,Gy], [ones,ones], [Gy,Gx]):\n", r["two_to_three"])
    panels = [(r["vertical"], "input: vertical")]
    panels += [(r["one_to_three"][i], f"1->3 out {i} ({k})")
               for i, k in enumerate(("Gx", "Gy", "ones"))]
    save_figure(grid_figure(panels, "one input channel, three output channels"), out,
                "multi_channel_1_to_3")
    panels = [(r["vertical"], "in 0: vertical"), (r["horizontal"], "in 1: horizontal"),
              (r["two_to_one"], "2->1")]
    panels += [(r["two_to_three"][i], f"2->3 out {i}") for i in range(3)]
    save_figure(grid_figure(panels, "two input channels"), out, "multi_channel_2_in")
    return r
