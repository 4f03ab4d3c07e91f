"""Test metrics of a saved model: `python scripts/eval.py ckpt_path=<job>/checkpoints/last.ckpt`.

The same command as `sweeplab-eval` (src/sweeplab/commands/eval.py), for a checkout that runs
scripts rather than installed commands."""

from sweeplab.commands.eval import evaluate, main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())
