"""Lab 9: sigmoid, tanh and ReLU on z = arange(-10, 10, 0.1), with derivatives from autograd."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

FUNCTIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


def curves() -> dict[str, Tensor]:
    """Each function and its derivative (`<name>_grad`) on the course's grid `z`."""
    out: dict[str, Tensor] = {"z": torch.arange(-10.0, 10.0, 0.1)}
    for name, fn in FUNCTIONS.items():
        z = out["z"].clone().requires_grad_(True)
        y = fn(z)
        y.sum().backward()  # each output depends on its own z only, so this is dy/dz pointwise
        out[name], out[f"{name}_grad"] = y.detach(), z.grad
    return out


def run(out: Path) -> dict[str, Tensor]:
    from sweeplab.labs.figures import plt, save_figure

    c = curves()
    at = [0, 80, 100, 120, 199]  # z = -10, -2, 0, 2, 9.9
    print("z       ", [round(float(c["z"][i]), 1) for i in at])
    for name in FUNCTIONS:
        print(f"{name:8}", [round(float(c[name][i]), 4) for i in at],
              " derivative", [round(float(c[f"{name}_grad"][i]), 4) for i in at])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name in FUNCTIONS:
        left.plot(c["z"], c[name], label=name)
        right.plot(c["z"], c[f"{name}_grad"], label=f"d {name}/dz")
    left.set_title("activation")
    right.set_title("derivative (autograd)")
    for ax in (left, right):
        ax.set_xlabel("z")
        ax.legend()
        ax.grid(alpha=0.3)
    save_figure(fig, out, "activation_functions")
    return c
