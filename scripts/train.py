"""Train one job, or sweep with -m: `python scripts/train.py -m model.activation=sigmoid,relu`.

The same command as `sweeplab-train` (src/sweeplab/commands/train.py), for a checkout that runs
scripts rather than installed commands."""

from sweeplab.commands.train import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())
