"""scripts/bench.py --gpu: the one command for a short GPU loan, tried on the CPU."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def bench(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_gpu_bench_dry_run_prints_and_writes_every_gpu_figure(tmp_path):
    out = tmp_path / "gpu.json"
    done = bench("--gpu", "--dry", "--json", str(out), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["dry"] is True and report["device"] == "cpu"
    assert [c["case"].split()[0] for c in report["step_cost"]] == ["spiral", "MNIST", "CNN"]
    assert all(c["ratio_median"] > 0 for c in report["step_cost"])
    runs = report["time_to_accuracy"]
    assert len(runs) == 3 and all("seconds" in r for r in runs.values()), runs
    assert any(r["reached"] for r in runs.values()), runs
    assert report["stacked"]["spiral"]["max_val_acc_diff"] == 0.0
    assert "time to accuracy" in done.stdout and "stacked sweep (spiral)" in done.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_bench_without_a_gpu_says_so_in_one_line(tmp_path):
    done = bench("--gpu", tmp_path=tmp_path)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("error: --gpu needs a CUDA device")
