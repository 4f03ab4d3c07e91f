"""Step cost of sweeplab against a raw PyTorch loop, measured in one process (scripts/bench.py).

For each case the same network (same seed and init), data, batch size and number of steps run
through (a) a minimal loop over pre-sliced float tensors and (b) sweeplab's training path as
`train()` runs it: the config composed from conf/train.yaml, `fit()` with its default loggers,
callbacks and progress bar (validation and test off, since (a) has none). Only the training loop
is timed (StepClock's on_train_start to on_train_end); set-up costs are measured separately as
per-job overhead. Repeats alternate which goes first, so machine noise hits both alike.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict

from bench.clock import StepClock
from sweeplab.checks import check_config
from sweeplab.runtime import set_threads
from sweeplab.tasks import build_network
from sweeplab.train import fit

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
FASHION = Path("/usr/share/datasets/fashion-mnist")
CLOCK = ["+callbacks.clock._target_=bench.clock.StepClock"]


@dataclass
class Case:
    name: str
    overrides: list[str]
    epochs: int
    data_note: str = ""
    raw_s: list[float] = field(default_factory=list)
    lab_s: list[float] = field(default_factory=list)
    steps: int = 0
    cfg: DictConfig | None = None
    dm: object = None
    device: str = "cpu"


def mnist_overrides(data_dir: Path) -> tuple[list[str], str]:
    """MNIST if its files are under data_dir, else Fashion-MNIST (same shape), else synthetic."""
    if (data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        return ["data=mnist", f"data.data_dir={data_dir}", "data.download=false"], "MNIST"
    if FASHION.is_dir():
        return (["data=fashion_mnist", f"data.data_dir={data_dir}", "data.download=false"],
                "Fashion-MNIST (real IDX data, MNIST's shape; MNIST itself is absent)")
    return (["data=digits", "data.image_size=28"],
            "synthetic uint8 28x28 (55,000 images; no MNIST or Fashion-MNIST here)")


def cases(data_dir: Path, quick: bool, device: str = "cpu",
          extra: tuple[str, ...] = ()) -> list[Case]:
    """The three step-cost cases; `extra` overrides go to every case (the dry GPU run's limits),
    `device` "cuda" trains them on the GPU."""
    mnist, note = mnist_overrides(data_dir)
    on = ["trainer.accelerator=gpu"] if device == "cuda" else []
    return [
        Case("spiral MLP 2-100-3, batch 100", ["data=spiral", "data.batch_size=100",
                                               "model=mlp", *on, *extra],
             10 if quick else 40, device=device),
        Case("MNIST MLP 784-64-10, batch 100", [*mnist, "model=mlp", "model.hidden=64",
                                                "model.activation=relu", *on, *extra], 1, note,
             device=device),
        Case("CNN 16x16 (16-32 ch), batch 100", ["data=digits", "data.image_size=16",
                                                 "model=cnn", *on, *extra], 3 if quick else 8,
             "sklearn digits resized to 16x16", device=device),
    ]


def compose_case(overrides: list[str], out: Path) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[  # the case's own overrides win
            *CLOCK, "threads=1", "test=false", "trainer.limit_val_batches=0", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return cfg


def synthetic_mnist(dm) -> None:
    """Swap digits for 55,000 random uint8 28x28 images (only where no MNIST-like data is)."""
    from sweeplab.data.base import Split

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (55_000, 1, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (55_000,), generator=g)
    dm.splits = {"train": Split(x, y), "val": Split(x[:1000], y[:1000]),
                 "test": Split(x[:1000], y[:1000])}


def run_sweeplab(case: Case, out: Path) -> float:
    """sweeplab's training path for one case; seconds in its training loop."""
    cfg = compose_case([*case.overrides, f"trainer.max_epochs={case.epochs}"], out)
    dm = check_config(cfg)
    set_threads(1)
    if "synthetic" in case.data_note:
        dm.setup()
        synthetic_mnist(dm)
    torch.manual_seed(int(cfg.seed))
    fit(cfg, dm, out)
    t = StepClock.last
    case.cfg, case.dm, case.steps = cfg, dm, int(t["steps"])
    return t["train_end"] - t["train_start"]


def raw_batches(dm, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The training split as float batches, shuffled and sliced once, before any timing."""
    split = dm.splits["train"]
    split = type(split)(split.x.cpu(), split.y.cpu())  # where training left them: maybe the GPU
    x = split.x.float() * dm.scale + dm.shift if split.x.dtype == torch.uint8 else split.x
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[order], split.y[order]
    return [(x[i:i + batch_size].contiguous(), y[i:i + batch_size].contiguous())
            for i in range(0, len(x), batch_size)]


def run_raw(case: Case) -> float:
    """The minimal loop on the case's network and data: zero_grad, forward, cross-entropy,
    backward, SGD step, for as many steps as sweeplab took."""
    cfg, dm = case.cfg, case.dm
    torch.manual_seed(int(cfg.seed))
    net = build_network(OmegaConf.to_container(cfg.model, resolve=True),
                        tuple(dm.input_shape), dm.num_classes,
                        OmegaConf.to_container(cfg.init, resolve=True))
    net = net.to(case.device)
    opt = torch.optim.SGD(net.parameters(), lr=float(cfg.optim.lr))
    batches = [(x.to(case.device), y.to(case.device))
               for x, y in raw_batches(dm, int(cfg.data.batch_size))]
    sync(case.device)
    start = time.perf_counter()
    for i in range(case.steps):
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    sync(case.device)
    return time.perf_counter() - start


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure_step_cost(all_cases: list[Case], repeats: int, log=print) -> None:
    """Raw and sweeplab runs of every case, `repeats` times; the order flips every repeat."""
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeats):
            for i, case in enumerate(all_cases):
                out = Path(tmp) / f"{rep}_{i}"
                raw_first = rep % 2 == 1  # repeat 0 builds the case's data via sweeplab
                raw = run_raw(case) if raw_first else 0.0
                lab = run_sweeplab(case, out)
                raw = raw if raw_first else run_raw(case)
                case.raw_s.append(raw)
                case.lab_s.append(lab)
                log(f"  {rep + 1}/{repeats} {case.name}: raw {raw:.3f} s, sweeplab {lab:.3f} s "
                    f"({case.steps} steps), ratio {lab / raw:.2f}")


def summarise(case: Case) -> dict:
    ratios = [lab / raw for lab, raw in zip(case.lab_s, case.raw_s, strict=True)]
    return {"case": case.name, "steps": case.steps, "data": case.data_note,
            "raw_ms_per_step": 1e3 * statistics.median(case.raw_s) / case.steps,
            "sweeplab_ms_per_step": 1e3 * statistics.median(case.lab_s) / case.steps,
            "ratio_min": min(ratios), "ratio_median": statistics.median(ratios),
            "ratio_max": max(ratios)}
