"""Compare the jobs of a finished sweep: `python scripts/compare.py <sweep dir>`.

The same command as `sweeplab-compare` (src/sweeplab/commands/compare.py), for a checkout that runs
scripts rather than installed commands."""

from sweeplab.commands.compare import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())
