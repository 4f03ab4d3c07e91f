"""Benchmark: sweeplab's step cost against a raw PyTorch loop, start-up, per-job overhead, peak
memory, dataset load, and stacked sweeps against the same sweeps run job by job.

`python scripts/bench.py` (about 3 minutes on 2 cores) or `--quick` (about a minute); `--json
PATH` also writes the figures. `--gpu` gives the GPU figures in one call (step cost on the GPU,
stacked sweeps, the small CNN's time to accuracy); `--gpu --dry` runs that code on the CPU at
tiny sizes. Results and how to read them: BENCHMARKS.md.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the bench/ package

from bench.cases import cases, measure_step_cost, summarise  # noqa: E402
from bench.runs import stacked_sweeps, whole_process  # noqa: E402

#: sweeplab / raw loop step-cost targets, and the per-job overhead target (ms)
TARGETS = {"spiral": 1.10, "MNIST": 1.10, "CNN": 1.10}
OVERHEAD_MS = 100


def target_for(case_name: str) -> float:
    return next(v for k, v in TARGETS.items() if k in case_name)


def machine() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cores = len(os.sched_getaffinity(0))
    return (f"{platform.processor() or platform.machine()}, {cores} cores, {gpu}; "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and jobs")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--only", choices=["steps", "process", "stacked"], default=None)
    parser.add_argument("--gpu", action="store_true",
                        help="the GPU figures instead (needs a CUDA device unless --dry)")
    parser.add_argument("--dry", action="store_true",
                        help="with --gpu: the same code on the CPU at tiny sizes")
    args = parser.parse_args()
    if args.dry and not args.gpu:
        parser.error("--dry goes with --gpu")
    repeats = args.repeats or (3 if args.quick else 7)
    torch.set_num_threads(1)
    report = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine(), "command": " ".join(["python", *sys.argv]),
              "quick": args.quick}
    print(f"# sweeplab bench, {report['date']}\n# {report['machine']}\n", flush=True)
    started = time.time()
    log = lambda s: print(s, flush=True)  # noqa: E731
    if args.gpu:
        from bench.gpu import gpu_report

        report.update(gpu_report(Path("data").resolve(), args.dry, 1 if args.dry else repeats,
                                 log=log))
    else:
        cpu_figures(args, repeats, report, log)
    report["bench_s"] = round(time.time() - started, 1)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def cpu_figures(args, repeats: int, report: dict, log) -> None:
    if args.only in (None, "steps"):
        all_cases = cases(Path("data").resolve(), args.quick)
        log(f"step cost, sweeplab / raw loop, {repeats} interleaved repeats (1 thread, CPU):")
        measure_step_cost(all_cases, repeats, log=log)
        report["step_cost"] = [summarise(c) for c in all_cases]
        if not torch.cuda.is_available():
            report["gpu"] = "no CUDA device: GPU figures not measured (scripts/bench.py --gpu)"
    if args.only in (None, "process"):
        report.update(whole_process(args.quick, log=log))
    if args.only == "stacked":
        with tempfile.TemporaryDirectory() as tmp:
            report["stacked"] = stacked_sweeps(Path(tmp), args.quick, log=log)


def mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_report(r: dict) -> None:
    print("\n## results")
    if "device" in r:
        print(f"device: {r['device']}" + (" (dry run: the --gpu code at tiny sizes)"
                                           if r["dry"] else ""))
    for c in r.get("step_cost", []):
        t = target_for(c["case"])
        print(f"{c['case']:34s} raw {c['raw_ms_per_step']:.3f} ms/step, sweeplab "
              f"{c['sweeplab_ms_per_step']:.3f} ms/step; ratio min {c['ratio_min']:.2f} median "
              f"{c['ratio_median']:.2f} max {c['ratio_max']:.2f} (target <= {t}: "
              f"{mark(c['ratio_median'] <= t)})")
        if c["data"]:
            print(f"{'':34s} data: {c['data']}")
    if "gpu" in r:
        print(f"GPU: {r['gpu']}")
    if "start_to_first_step_s" in r:
        s = r["start_to_first_step_s"]
        print(f"start to first step: {s:.2f} s (target <= 5: {mark(s <= 5)})")
        o, c = r["per_job_overhead_ms"], r["per_job_overhead_cpu_ms"]
        print(f"per-job overhead, sequential sweeps of 1 and {r['jobs']} tiny jobs, "
              f"{r['repeats']} interleaved pairs: wall min {o['min']:.0f} median "
              f"{o['median']:.0f} max {o['max']:.0f} ms; CPU min {c['min']:.0f} median "
              f"{c['median']:.0f} max {c['max']:.0f} ms (training "
              f"{r['training_ms_per_job']:.0f} ms/job; target <= {OVERHEAD_MS}: "
              f"{mark(o['median'] <= OVERHEAD_MS)})")
        print(f"peak memory: {r['peak_rss_mib_spiral']:.0f} MiB (one spiral run), "
              f"{r['peak_rss_mib_sweep']:.0f} MiB (the sweep)")
    for name, t in r.get("time_to_accuracy", {}).items():
        if "skipped" in t:
            print(f"time to accuracy, {name}: skipped ({t['skipped']})")
        else:
            reached = f"{t['seconds']:.2f} s" if t["reached"] else "not reached"
            print(f"time to accuracy, {name}: {reached} ({t['epochs']} epochs, best val/acc "
                  f"{t['best_val_acc']:.4f})")
    if "load_warm_s" in r:
        print(f"dataset load, {r['load_images']} 28x28 images from IDX files: warm "
              f"{r['load_warm_s']:.2f} s (target <= 1: {mark(r['load_warm_s'] <= 1)}), cold "
              f"(decompressing the .gz first) {r['load_cold_s']:.2f} s")
    elif "dataset_load" in r:
        print(f"dataset load: {r['dataset_load']}")
    for name, b in r.get("stacked", {}).items():
        target = {"spiral": 10, "mission": 3}[name]
        print(f"stacked sweep ({name}), {b['configs']} jobs: job by job {b['sequential_s']:.1f} s, "
              f"stacked {b['stacked_s']:.1f} s, x{b['speedup']:.1f} (target >= {target}: "
              f"{mark(b['speedup'] >= target)}); largest val/acc difference "
              f"{b['max_val_acc_diff']:.4f}")
    print(f"(bench took {r['bench_s']:.0f} s)")


if __name__ == "__main__":
    main()
