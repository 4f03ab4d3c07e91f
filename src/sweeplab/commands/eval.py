"""Test metrics of a saved model: `sweeplab-eval ckpt_path=<job>/checkpoints/last.ckpt`.

Options: split=test|val (default test), threads=1. Rebuilds the job's DataModule from its
.hydra/config.yaml and runs Lightning's test loop on the saved weights: on the checkpoint the
job tested (best.ckpt in a sweep, last.ckpt in a single run) the numbers are those the training
run reported. Writes them to <job dir>/eval_<split>.json as well.
"""

import json
import sys
from pathlib import Path

import lightning as L
import torch

from sweeplab.config import ConfigError
from sweeplab.data.errors import DataError
from sweeplab.saved import fail, job_dir, load_job, parse_args


def evaluate(ckpt_path: str, split: str = "test") -> dict[str, float]:
    """The saved model's metrics on `split`, named as training names them (test/acc, ...)."""
    _, dm, module = load_job(ckpt_path)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    if split == "val":
        trainer.validate(module, dataloaders=dm.loader("val"), verbose=False)
    else:
        trainer.test(module, dataloaders=dm.loader("test"), verbose=False)
    # a best-so-far (val/acc_best) needs a training run's epochs: one validation has none
    return {k: float(v) for k, v in trainer.callback_metrics.items()
            if k.startswith(split) and not k.endswith("_best")}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv,
                      {"ckpt_path": None, "split": "test", "threads": 1}, __doc__)
    if args.split not in ("test", "val"):
        fail(f"split={args.split}: allowed: test, val")
    from sweeplab.cli import setup_process

    setup_process()  # quiet third-party notices
    torch.set_num_threads(int(args.threads))
    try:
        metrics = evaluate(args.ckpt_path, args.split)
    except (ConfigError, DataError) as exc:
        fail(str(exc))
    for name, value in sorted(metrics.items()):
        print(f"{name} = {value:.4f}")
    out = job_dir(Path(args.ckpt_path)) / f"eval_{args.split}.json"
    out.write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"[sweeplab] written to {out}")
    return 0
