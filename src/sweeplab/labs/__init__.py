"""The labs that train nothing: each module's `run(out)` prints what the course shows, writes its
figure (PNG and TensorBoard) into `out`, and returns the tensors it printed.

Run one with `python scripts/lab.py <name> [--out DIR]` or `python scripts/train.py
experiment=<name>` (the experiment file sets `lab: <name>`).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

#: lab name -> module under sweeplab.labs (imported only when run, so matplotlib loads lazily)
LABS: dict[str, str] = {
    "activation_functions": "activation_functions",
    "conv_basics": "conv_basics",
    "pooling": "pooling",
    "multi_channel": "multi_channel",
    "momentum_polynomial": "momentum_polynomial",
    "make_anime_standin": "anime_standin",
}

#: where a lab writes when no --out is given (relative to the working directory)
DEFAULT_OUT = {"make_anime_standin": "data/anime_standin"}


def default_out(name: str) -> Path:
    return Path(DEFAULT_OUT.get(name, f"outputs/labs/{name}"))


def run(name: str, out: Path | str | None = None) -> dict[str, Any]:
    """Run lab `name`, writing into `out` (default: `default_out(name)`); its printed tensors."""
    if name not in LABS:
        raise ValueError(f"unknown lab {name!r}; allowed: {', '.join(LABS)}")
    out = Path(out) if out is not None else default_out(name)
    out.mkdir(parents=True, exist_ok=True)
    return import_module(f"sweeplab.labs.{LABS[name]}").run(out)
