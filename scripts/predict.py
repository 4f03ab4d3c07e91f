"""One test example through a saved model: `python scripts/predict.py ckpt_path=<ckpt> [index=N]`.

The same command as `sweeplab-predict` (src/sweeplab/commands/predict.py), for a checkout that runs
scripts rather than installed commands."""

from sweeplab.commands.predict import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())
