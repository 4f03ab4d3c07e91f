"""Run a lab that trains nothing: `python scripts/lab.py <name> [--out DIR]`.

The same command as `sweeplab-lab` (src/sweeplab/commands/lab.py), for a checkout that runs
scripts rather than installed commands."""

from sweeplab.commands.lab import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())
