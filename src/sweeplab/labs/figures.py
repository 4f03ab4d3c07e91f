"""Saving a lab's figure twice: as a PNG and into TensorBoard's Images tab."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import Tensor


def save_figure(fig: plt.Figure, out: Path, name: str) -> Path:
    """Write `<out>/<name>.png` and the same figure to TensorBoard event files in `out`."""
    from torch.utils.tensorboard import SummaryWriter

    path = out / f"{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    with SummaryWriter(log_dir=str(out)) as writer:
        writer.add_figure(name, fig, close=False)
    plt.close(fig)
    print(f"[sweeplab] figure: {path} (TensorBoard: tensorboard --logdir {out})")
    return path


def show_grid(ax: plt.Axes, t: Tensor, title: str) -> None:
    """A 2-D tensor as a grid of cells with each value written in it."""
    t = t.detach().float()
    ax.imshow(t.numpy(), cmap="coolwarm", vmin=-max(1.0, float(t.abs().max())),
              vmax=max(1.0, float(t.abs().max())))
    for (i, j), v in zip(torch.cartesian_prod(torch.arange(t.shape[0]),
                                              torch.arange(t.shape[1])).tolist(),
                         t.flatten().tolist(), strict=True):
        ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def grid_figure(panels: list[tuple[Tensor, str]], title: str) -> plt.Figure:
    """One row of grids: input, kernel, output, ..."""
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.8))
    for ax, (t, name) in zip(list(axes) if len(panels) > 1 else [axes], panels, strict=True):
        show_grid(ax, t, name)
    fig.suptitle(title)
    return fig
