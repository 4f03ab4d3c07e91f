"""Lab 17: SGD on one parameter, without and with momentum, on two polynomials.

The cubic w^3 has a saddle at 0; the quartic 2w^4 - 9w^3 - 21w^2 + 88w + 48 a local minimum near
w = 4 and the global one near w = -2. Momentum carries w past both. (The course also added noise
to the loss value; a constant added to a loss leaves its gradient unchanged, so it is left out.)
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor


def cubic(w: Tensor) -> Tensor:
    return w**3


def quartic(w: Tensor) -> Tensor:
    return 2 * w**4 - 9 * w**3 - 21 * w**2 + 88 * w + 48


#: name -> (function, start, learning rate, steps), as in the course
PROBLEMS = {"cubic": (cubic, 4.0, 0.01, 10), "quartic": (quartic, 6.0, 0.001, 100)}
MOMENTA = (0.0, 0.9)


def descend(fn, start: float, lr: float, steps: int, momentum: float) -> Tensor:
    """The path of w under torch.optim.SGD: start, then w after each step."""
    w = torch.tensor(start, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr, momentum=momentum)
    path = [w.item()]
    for _ in range(steps):
        opt.zero_grad()
        fn(w).backward()
        opt.step()
        path.append(w.item())
    return torch.tensor(path)


def results() -> dict[str, Tensor]:
    return {f"{name}_m{m}": descend(fn, w0, lr, steps, m)
            for name, (fn, w0, lr, steps) in PROBLEMS.items() for m in MOMENTA}


def run(out: Path) -> dict[str, Tensor]:
    from sweeplab.labs.figures import plt, save_figure

    r = results()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (name, (fn, w0, lr, steps)) in zip(axes, PROBLEMS.items(), strict=True):
        lo = min(float(r[f"{name}_m{m}"].min()) for m in MOMENTA) - 0.5
        hi = max(float(r[f"{name}_m{m}"].max()) for m in MOMENTA) + 0.5
        grid = torch.linspace(lo, hi, 300)
        ax.plot(grid, fn(grid), color="gray", label=name)
        for m in MOMENTA:
            path = r[f"{name}_m{m}"]
            print(f"{name}: w from {w0} with lr {lr}, {steps} steps, momentum {m}: "
                  f"final w = {path[-1]:.4f}")
            ax.plot(path, fn(path), "o-", markersize=3, label=f"momentum {m}")
        ax.set_xlabel("w")
        ax.set_title(f"{name}: SGD lr {lr}, {steps} steps")
        ax.legend()
    save_figure(fig, out, "momentum_polynomial")
    return r
