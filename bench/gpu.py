"""The GPU figures (`python scripts/bench.py --gpu`), made to fit a short loan of a GPU machine.

One call gives: the step-cost ratios of the three cases on the GPU, the stacked-sweep figures,
and the time from the first training step to a target validation accuracy for the small CNN:
Fashion-MNIST to 91% and, where its files are present, MNIST to 99%, under each setting of
`SETTINGS` (the settings that fail to compose on this checkout are reported, not run).

`--dry` runs the same code on the CPU with tiny sizes (digits data, a low target, a few steps):
that is how the command is tested without a GPU. Data must be on the machine: the GPU machine
has no network, so copy Debian's Fashion-MNIST files into `data/FashionMNIST/raw/` (and MNIST's,
if you have them, into `data/MNIST/raw/`) of the working tree first, as BENCHMARKS.md shows.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from bench.cases import cases, compose_case, measure_step_cost, summarise
from bench.clock import TimeToAccuracy
from bench.runs import stacked_sweeps
from sweeplab.checks import check_config
from sweeplab.config import ConfigError
from sweeplab.runtime import set_threads
from sweeplab.train import fit

#: the CNN runs compared, by name: the overrides each adds to the small CNN's config
SETTINGS = {
    "fp32, batch 100": [],
    "bf16-mixed, batch 100": ["trainer.precision=bf16-mixed"],
    "bf16-mixed, batch 500, lr 0.2": ["trainer.precision=bf16-mixed", "data.batch_size=500",
                                      "optim.lr=0.2"],
}

CNN = ["model=cnn", "optim.momentum=0.9", "trainer.enable_progress_bar=false"]


@dataclass
class Target:
    name: str
    overrides: list[str]
    accuracy: float
    max_epochs: int


def targets(data_dir: Path, dry: bool) -> list[Target]:
    if dry:
        return [Target("digits 8x8 (dry run)", ["data=digits", "data.image_size=8"], 0.5, 3)]
    found = []
    if (data_dir / "FashionMNIST" / "raw").is_dir():
        found.append(Target("Fashion-MNIST", ["data=fashion_mnist", f"data.data_dir={data_dir}",
                                              "data.download=false"], 0.91, 20))
    if (data_dir / "MNIST" / "raw").is_dir():
        found.append(Target("MNIST", ["data=mnist", f"data.data_dir={data_dir}",
                                      "data.download=false"], 0.99, 15))
    return found


def time_to_accuracy(target: Target, setting: list[str], device: str, out: Path) -> dict:
    """Train the small CNN until val/acc reaches the target (or max_epochs); the seconds from
    its first step, validation included, and the epochs it took."""
    on = ["trainer.accelerator=gpu"] if device == "cuda" else []
    try:
        cfg = compose_case([*target.overrides, *CNN, *on, *setting,
                            f"trainer.max_epochs={target.max_epochs}",
                            "trainer.limit_val_batches=1.0",
                            "+callbacks.tta._target_=bench.clock.TimeToAccuracy",
                            f"+callbacks.tta.target={target.accuracy}"], out)
        dm = check_config(cfg)
    except (ConfigError, HydraException, OmegaConfBaseException) as exc:
        return {"skipped": str(exc).splitlines()[0]}
    set_threads(1)
    torch.manual_seed(int(cfg.seed))
    fit(cfg, dm, out)
    tta = TimeToAccuracy.last
    return {"seconds": tta.seconds, "epochs": tta.epochs, "best_val_acc": tta.best,
            "reached": tta.seconds is not None}


def gpu_report(data_dir: Path, dry: bool, repeats: int, log=print) -> dict:
    """Every GPU figure (on the CPU with tiny sizes when `dry`)."""
    device = "cpu" if dry else "cuda"
    if not dry and not torch.cuda.is_available():
        raise SystemExit("error: --gpu needs a CUDA device (use --dry to try the command on "
                         "the CPU)")
    report: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                    "dry": dry}
    log(f"step cost on {report['device']}, {repeats} interleaved repeats:")
    extra = ("trainer.limit_train_batches=5",) if dry else ()
    all_cases = cases(data_dir, quick=True, device=device, extra=extra)
    measure_step_cost(all_cases, repeats, log=log)
    report["step_cost"] = [summarise(c) for c in all_cases]
    report["time_to_accuracy"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets(data_dir, dry):
            for name, setting in SETTINGS.items():
                log(f"time to {target.accuracy:.0%} on {target.name}, {name} ...")
                result = time_to_accuracy(target, setting, device, Path(tmp) / "tta")
                report["time_to_accuracy"][f"{target.name}, {name}"] = result
                log(f"  {result}")
        report["stacked"] = stacked_sweeps(Path(tmp), quick=True, log=log, tiny=dry)
    return report
