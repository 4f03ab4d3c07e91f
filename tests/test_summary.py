"""The sweep summary: one row per job, best first by the optimised metric, failures last."""

from __future__ import annotations

import csv
import json

from sweeplab.sweep.summary import write_summary


def job(sweep, name, overrides, metrics=None, status="completed", metric="val/acc", **extra):
    folder = sweep / name
    folder.mkdir(parents=True)
    record = {"status": status, "optimized_metric": metric, "overrides": overrides,
              "metrics": metrics or {}, "duration_s": 1.5, **extra}
    (folder / "metrics.json").write_text(json.dumps(record))


def test_rows_are_sorted_best_first_with_failed_jobs_last(tmp_path):
    common = ["data=spiral", "model=deep"]
    job(tmp_path, "0_a", [*common, "model.activation=sigmoid"], {"val/acc": 0.5})
    job(tmp_path, "1_b", [*common, "model.activation=tanh"], status="failed",
        error="RuntimeError: boom")
    job(tmp_path, "2_c", [*common, "model.activation=relu"], {"val/acc": 0.9})
    csv_path, md_path, jobs = write_summary(tmp_path)
    rows = list(csv.DictReader(csv_path.open()))
    # only the key that varies names a job
    assert [r["job"] for r in rows] == ["model.activation=relu", "model.activation=sigmoid",
                                        "model.activation=tanh"]
    assert [r["status"] for r in rows] == ["completed", "completed", "failed"]
    assert rows[2]["error"] == "RuntimeError: boom"
    md = md_path.read_text()
    assert "3 jobs, sorted by `val/acc` (higher is better)" in md
    assert md.index("activation=relu") < md.index("activation=sigmoid")


def test_loss_metrics_sort_lowest_first(tmp_path):
    job(tmp_path, "0_a", ["optim.lr=0.1"], {"val/loss": 0.3}, metric="val/loss")
    job(tmp_path, "1_b", ["optim.lr=0.01"], {"val/loss": 0.1}, metric="val/loss")
    csv_path, md_path, _ = write_summary(tmp_path)
    assert [r["job"] for r in csv.DictReader(csv_path.open())] == ["optim.lr=0.01",
                                                                   "optim.lr=0.1"]
    assert "(lower is better)" in md_path.read_text()


def test_unreadable_metrics_file_shows_as_a_failed_row(tmp_path):
    job(tmp_path, "0_a", ["seed=0"], {"val/acc": 0.7})
    (tmp_path / "1_b").mkdir()
    (tmp_path / "1_b" / "metrics.json").write_text("{not json")
    rows = list(csv.DictReader(write_summary(tmp_path)[0].open()))
    assert [r["status"] for r in rows] == ["completed", "failed"]
    assert "unreadable metrics.json" in rows[1]["error"]
