"""The whole-process figures of scripts/bench.py, each from `scripts/train.py` run as a user would
run it: start to first step, per-job overhead of a sequential sweep, peak memory, dataset load,
and the throughput of a batched sweep against the same sweep run job by job."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
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


def run(args: list[str], tmp: Path) -> tuple[float, float, str]:
    """Run a Python script (args[1]) or code; (wall seconds, peak RSS in MiB, output)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "OMP_NUM_THREADS": "1"}
    if args[1] != "-c":
        args = [args[0], "-c", PEAK, *args[1:]]
    log = tmp / f"log_{time.monotonic_ns()}.txt"
    start = time.time()
    with open(log, "w") as f:
        code = subprocess.run(args, cwd=tmp, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    wall = time.time() - start
    text = log.read_text()
    if code != 0:
        raise RuntimeError(f"{' '.join(args[3:6])} ... failed:\n{text[-2000:]}")
    peaks = [int(k) for k in re.findall(r"sweeplab-peak-kib (\d+)", text)]
    return wall, (max(peaks) / 1024 if peaks else float("nan")), text


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
        _, peak, _ = run([sys.executable, TRAIN, *TINY, *QUIET, *clock_args(clock),
                          f"hydra.run.dir={tmp}/start_{i}"], tmp)
        times.append(clocks(clock)[0]["first_step"] - start)
        peaks.append(peak)
    return {"start_to_first_step_s": statistics.median(times), "all_s": times,
            "peak_rss_mib_spiral": max(peaks)}


def sweep_run(tmp: Path, name: str, jobs: int) -> tuple[float, float, list[dict]]:
    clock = tmp / f"{name}.jsonl"
    wall, peak, _ = run([sys.executable, TRAIN, "-m", *TINY, *QUIET, *clock_args(clock),
                         "hydra/launcher=sequential", f"seed=range({jobs})",
                         f"hydra.sweep.dir={tmp}/{name}"], tmp)
    return wall, peak, clocks(clock)


def per_job_overhead(tmp: Path, jobs: int) -> dict:
    """What one more job adds to a sequential sweep, beyond its training loop.

    Two sweeps of tiny spiral jobs, of 1 and of `jobs` jobs: the difference in wall time,
    less the difference in time spent in training loops, over the extra jobs. It covers
    everything a job costs (preflight check, composition, Hydra's job set-up, data, Trainer,
    validation, test, checkpoint, logs, metrics.json) and leaves out the fixed start-up.
    """
    one_wall, _, one = sweep_run(tmp, "one", 1)
    wall, peak, many = sweep_run(tmp, "many", jobs)

    def training(c: list[dict]) -> float:
        return sum(j["train_end"] - j["train_start"] for j in c)

    extra = (wall - one_wall) - (training(many) - training(one))
    return {"jobs": len(many), "per_job_overhead_ms": 1e3 * extra / (len(many) - 1),
            "training_ms_per_job": 1e3 * training(many) / len(many), "sweep_wall_s": wall,
            "peak_rss_mib_sweep": peak}


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
        _, _, text = run([sys.executable, "-c", LOAD, str(tmp / "data")], tmp)
        seconds, n, _ = text.strip().splitlines()[-1].split()
        out[f"load_{label}_s"] = float(seconds)
        out["load_images"] = int(n)
    return out


def stacked_vs_sequential(tmp: Path, name: str, sweep: list[str]) -> dict:
    """One sweep run job by job (`hydra/launcher=sequential`) and stacked (the default), each
    as one `scripts/train.py -m` process, end-to-end wall time; the largest difference in any
    job's val/acc between the two."""
    common = [sys.executable, TRAIN, "-m", *QUIET, *sweep]
    seq, _, _ = run([*common, "hydra/launcher=sequential", f"hydra.sweep.dir={tmp}/{name}_seq"],
                    tmp)
    stacked, peak, text = run([*common, f"hydra.sweep.dir={tmp}/{name}_stacked"], tmp)
    assert "as one stacked model" in text, text[-1000:]
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


def stacked_sweeps(tmp: Path, quick: bool, log=print) -> dict:
    out = {}
    log("stacked sweep: 64 spiral MLP configs ...")
    out["spiral"] = stacked_vs_sequential(tmp, "spiral", spiral_grid(
        *((4, 4, 5) if quick else (8, 8, 20))))
    if FASHION.is_dir():
        log("stacked sweep: the mission's 24 Fashion-MNIST jobs ...")
        out["mission"] = stacked_vs_sequential(
            tmp, "mission", [*MISSION, f"trainer.max_epochs={1 if quick else 5}"])
    return out


def whole_process(quick: bool, log=print) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        log("start to first step ...")
        results.update(start_to_first_step(tmp, 2 if quick else 3))
        log("per-job overhead ...")
        results.update(per_job_overhead(tmp, 20))
        log("dataset load ...")
        results.update(dataset_load(tmp))
        results["stacked"] = stacked_sweeps(tmp, quick, log)
    return results
