"""The whole-process figures of scripts/bench.py, each from `scripts/train.py` run as a user would
run it: start to first step, per-job overhead of a sequential sweep, peak memory, dataset load,
and the throughput of a batched sweep against the same sweep run job by job."""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.cases import CONF, FASHION

ROOT = CONF.parent
TRAIN = str(ROOT / "scripts" / "train.py")
QUIET = ["threads=1", "trainer.enable_progress_bar=false"]
TINY = ["data=spiral", "model=mlp", "trainer.max_epochs=1"]


#: runs a script and prints its peak resident memory at exit (VmHWM: this process's own pages;
#: getrusage would also count the pages of the bench process it was forked from)
PEAK = """
import atexit, re, runpy, sys
def peak():
    kib = re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)
    print(f"sweeplab-peak-kib {kib}", file=sys.stderr)
atexit.register(peak)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@dataclass
class Ran:
    """One subprocess run: wall seconds, CPU seconds (user + system), peak RSS in MiB, output."""

    wall: float
    cpu: float
    peak_mib: float
    text: str


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], tmp: Path) -> Ran:
    """Run a Python script (args[1]) or code as a child process and measure it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "OMP_NUM_THREADS": "1"}
    if args[1] != "-c":
        args = [args[0], "-c", PEAK, *args[1:]]
    log = tmp / f"log_{time.monotonic_ns()}.txt"
    start, cpu = time.time(), child_cpu()
    with open(log, "w") as f:
        code = subprocess.run(args, cwd=tmp, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    wall, cpu = time.time() - start, child_cpu() - cpu
    text = log.read_text()
    if code != 0:
        raise RuntimeError(f"{' '.join(args[3:6])} ... failed:\n{text[-2000:]}")
    peaks = [int(k) for k in re.findall(r"sweeplab-peak-kib (\d+)", text)]
    return Ran(wall, cpu, max(peaks) / 1024 if peaks else float("nan"), text)


def clock_args(path: Path) -> list[str]:
    return ["+callbacks.clock._target_=bench.clock.StepClock",
            f"+callbacks.clock.path={path}"]


def clocks(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def start_to_first_step(tmp: Path, repeats: int) -> dict:
    """From launching `python scripts/train.py` to its first training step; peak memory."""
    times, peaks = [], []
    for i in range(repeats):
        clock = tmp / f"start_{i}.jsonl"
        start = time.time()
        ran = run([sys.executable, TRAIN, *TINY, *QUIET, *clock_args(clock),
                   f"hydra.run.dir={tmp}/start_{i}"], tmp)
        times.append(clocks(clock)[0]["first_step"] - start)
        peaks.append(ran.peak_mib)
    return {"start_to_first_step_s": statistics.median(times), "all_s": times,
            "peak_rss_mib_spiral": max(peaks)}


def sweep_run(tmp: Path, name: str, jobs: int) -> tuple[Ran, list[dict]]:
    clock = tmp / f"{name}.jsonl"
    ran = run([sys.executable, TRAIN, "-m", *TINY, *QUIET, *clock_args(clock),
               "hydra/launcher=sequential", f"seed=range({jobs})",
               f"hydra.sweep.dir={tmp}/{name}"], tmp)
    return ran, clocks(clock)


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def per_job_overhead(tmp: Path, jobs: int, repeats: int) -> dict:
    """What one more job adds to a sequential sweep, beyond its training loop.

    Sweeps of tiny spiral jobs, of 1 and of `jobs` jobs, alternating which runs first, each
    pair giving one figure: the difference in time, less the difference in time spent in
    training loops, over the extra jobs. It covers everything a job costs (preflight check,
    composition, Hydra's job set-up, data, Trainer, validation, test, checkpoint, figures,
    logs, metrics.json) and leaves out the fixed start-up. Measured in wall time and in CPU
    time (user + system of the process; steadier on a busy machine).
    """
    wall_ms, cpu_ms, train_ms, peak = [], [], [], 0.0

    def training(c: list[dict], key: str) -> float:
        return sum(j[f"{key}_end"] - j[f"{key}_start"] for j in c)

    for r in range(repeats):
        order = [1, jobs] if r % 2 == 0 else [jobs, 1]
        runs = {n: sweep_run(tmp, f"sweep{n}_{r}", n) for n in order}
        (one, one_clock), (many, many_clock) = runs[1], runs[jobs]
        extra = len(many_clock) - len(one_clock)
        wall_ms.append(1e3 * ((many.wall - one.wall) - (training(many_clock, "train")
                                                        - training(one_clock, "train"))) / extra)
        cpu_ms.append(1e3 * ((many.cpu - one.cpu) - (training(many_clock, "cpu")
                                                     - training(one_clock, "cpu"))) / extra)
        train_ms.append(1e3 * training(many_clock, "train") / len(many_clock))
        peak = max(peak, many.peak_mib)
    return {"jobs": jobs, "repeats": repeats, "per_job_overhead_ms": spread(wall_ms),
            "per_job_overhead_cpu_ms": spread(cpu_ms),
            "training_ms_per_job": statistics.median(train_ms), "peak_rss_mib_sweep": peak}


LOAD = """
import sys, time
from sweeplab.data.mnist import FashionMNISTData
dm = FashionMNISTData(data_dir=sys.argv[1], download=False)
start = time.perf_counter()
dm.setup()
seconds = time.perf_counter() - start
print(seconds, len(dm.splits["train"].x) + len(dm.splits["val"].x), dm.splits["train"].x.dtype)
"""


def dataset_load(tmp: Path) -> dict:
    """Fashion-MNIST (60,000 + 10,000 28x28, the size of MNIST) from IDX files into tensors:
    cold (the .gz files decompressed into data_dir first) and warm (IDX files there)."""
    if not FASHION.is_dir():
        return {"dataset_load": f"skipped: {FASHION} not installed"}
    out = {}
    for label in ("cold", "warm"):
        text = run([sys.executable, "-c", LOAD, str(tmp / "data")], tmp).text
        seconds, n, _ = text.strip().splitlines()[-1].split()
        out[f"load_{label}_s"] = float(seconds)
        out["load_images"] = int(n)
    return out


def stacked_vs_sequential(tmp: Path, name: str, sweep: list[str]) -> dict:
    """One sweep run job by job (`hydra/launcher=sequential`) and stacked (the default), each
    as one `scripts/train.py -m` process, end-to-end wall time; the largest difference in any
    job's val/acc between the two."""
    common = [sys.executable, TRAIN, "-m", *QUIET, *sweep]
    seq = run([*common, "hydra/launcher=sequential", f"hydra.sweep.dir={tmp}/{name}_seq"],
              tmp).wall
    ran = run([*common, f"hydra.sweep.dir={tmp}/{name}_stacked"], tmp)
    stacked, peak = ran.wall, ran.peak_mib
    assert "as one stacked model" in ran.text, ran.text[-1000:]
    acc = {}
    for kind in ("seq", "stacked"):
        acc[kind] = {p.parent.name: json.loads(p.read_text())["metrics"].get("val/acc", 0.0)
                     for p in (tmp / f"{name}_{kind}").glob("*/metrics.json")}
    diff = max(abs(acc["seq"][k] - acc["stacked"][k]) for k in acc["seq"])
    return {"configs": len(acc["seq"]), "sequential_s": seq, "stacked_s": stacked,
            "speedup": seq / stacked, "max_val_acc_diff": diff, "peak_rss_mib_stacked": peak}


def spiral_grid(lrs: int, momenta: int, epochs: int) -> list[str]:
    lr = ",".join(str(round(0.02 * (k + 1), 3)) for k in range(lrs))
    momentum = ",".join(str(round(0.9 * k / max(1, momenta - 1), 3)) for k in range(momenta))
    return ["data=spiral", "model=mlp", f"trainer.max_epochs={epochs}", f"optim.lr={lr}",
            f"optim.momentum={momentum}"]


#: the mission's sweep (issue 10): 3 activations x 2 momenta x 2 dropout rates x batch norm
MISSION = ["data=fashion_mnist", "data.download=false", "model=mlp",
           "model.activation=sigmoid,tanh,relu", "optim.momentum=0,0.9",
           "model.dropout=0,0.5", "model.batchnorm=false,true", "~callbacks.visualize"]


def stacked_sweeps(tmp: Path, quick: bool, log=print, tiny: bool = False) -> dict:
    """The spiral grid and (where Fashion-MNIST is found) the mission's sweep, stacked and job by
    job; `tiny`: a 2x2 spiral grid of 2 epochs alone (the dry run of `--gpu`)."""
    out = {}
    log("stacked sweep: spiral MLP configs ...")
    sizes = (2, 2, 2) if tiny else (4, 4, 5) if quick else (8, 8, 20)
    out["spiral"] = stacked_vs_sequential(tmp, "spiral", spiral_grid(*sizes))
    fashion = fashion_overrides()
    if fashion is not None and not tiny:
        log("stacked sweep: the mission's 24 Fashion-MNIST jobs ...")
        out["mission"] = stacked_vs_sequential(
            tmp, "mission", [*MISSION, *fashion, f"trainer.max_epochs={1 if quick else 5}"])
    return out


def fashion_overrides() -> list[str] | None:
    """Fashion-MNIST from Debian's package, else from the working tree's data/ (where a GPU
    machine without network has it); None if neither has it."""
    if FASHION.is_dir():
        return []
    local = ROOT / "data"
    if (local / "FashionMNIST" / "raw").is_dir():
        return [f"paths.data_dir={local}"]
    return None


def whole_process(quick: bool, log=print) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        log("start to first step ...")
        results.update(start_to_first_step(tmp, 2 if quick else 3))
        log("per-job overhead ...")
        results.update(per_job_overhead(tmp, 20, 3 if quick else 5))
        log("dataset load ...")
        results.update(dataset_load(tmp))
        results["stacked"] = stacked_sweeps(tmp, quick, log)
    return results
