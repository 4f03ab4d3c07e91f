"""The commands: `sweeplab-train`, `-eval`, `-predict`, `-compare` and `-lab` (pyproject's
entry points), `python -m sweeplab <verb>`, and scripts/<verb>.py in a checkout all run the
`main` of the module named after the verb."""

from __future__ import annotations

import importlib
import sys

VERBS = ("train", "eval", "predict", "compare", "lab")
USAGE = f"""usage: python -m sweeplab {{{",".join(VERBS)}}} [arguments]

The same commands as sweeplab-<verb> (`sweeplab-train --help` for training and sweeps)."""


def main(argv: list[str] | None = None) -> int | None:
    """`python -m sweeplab <verb> ...`: the verb's command, given the arguments after it."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in VERBS:
        print(USAGE, file=sys.stdout if argv[:1] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    sys.argv = [sys.argv[0], *argv[1:]]  # Hydra reads the command line from sys.argv
    return importlib.import_module(f"sweeplab.commands.{argv[0]}").main()
