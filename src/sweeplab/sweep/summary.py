"""The sweep summary: one row per job from its metrics.json, sorted by the optimised metric."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path
from typing import Any

from sweeplab.record import atomic_write, job_records, larger_is_better, record_dict

#: the jobs' statuses as the summary saw them: the command's exit code is read from it
STATUS_FILE = "summary.json"

COLUMNS = ("train/loss", "train/acc", "train/loss_eval", "train/acc_eval", "val/loss", "val/acc",
           "val/acc_best", "test/loss", "test/acc")


def read_jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every job under the sweep dir that wrote a record, as plain dicts with a `job` name."""
    return [record_dict(name, record) for name, record in job_records(sweep_dir)]


def job_label(record: dict, varying: set[str] | None = None) -> str:
    """The job's overrides; only the keys that differ across the sweep when `varying` is given."""
    overrides = record.get("overrides") or []
    if varying is not None:
        overrides = [o for o in overrides if o.split("=", 1)[0] in varying]
    return " ".join(overrides) if overrides else record.get("job", "?")


def varying_keys(jobs: list[dict]) -> set[str]:
    """Override keys whose value is not the same in every job."""
    seen: dict[str, set[str]] = {}
    for r in jobs:
        for o in r.get("overrides") or []:
            key, _, value = o.partition("=")
            seen.setdefault(key, set()).add(value)
    n = len(jobs)
    return {k for k, vals in seen.items()
            if len(vals) > 1 or sum(k == o.partition("=")[0] for r in jobs
                                    for o in r.get("overrides") or []) < n}


def sort_jobs(jobs: list[dict], metric: str) -> list[dict]:
    """Completed jobs best first by `metric`, then the others."""
    larger_better = larger_is_better(metric)

    def key(r: dict) -> tuple:
        v = r.get("metrics", {}).get(metric, math.nan)
        ok = r.get("status") == "completed" and not math.isnan(v)
        return (not ok, -v if (ok and larger_better) else (v if ok else 0.0))

    return sorted(jobs, key=key)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4f}"
    return "" if v is None else str(v)


def table_rows(jobs: list[dict], metric: str) -> tuple[list[str], list[list[str]]]:
    present = [c for c in COLUMNS if any(c in j.get("metrics", {}) for j in jobs)]
    if metric not in present:
        present.insert(0, metric)
    header = ["job", "status", *present, "duration_s", "error"]
    rows = []
    varying = varying_keys(jobs) if len(jobs) > 1 else None
    for r in sort_jobs(jobs, metric):
        m = r.get("metrics", {})
        rows.append([job_label(r, varying), r.get("status", "?"),
                     *[_fmt(m.get(c)) for c in present],
                     _fmt(r.get("duration_s")), (r.get("error") or "")[:200]])
    return header, rows


def seed_groups(jobs: list[dict]) -> dict[str, list[dict]]:
    """Jobs keyed by their overrides without `seed`: the same configuration run on several seeds."""
    groups: dict[str, list[dict]] = {}
    for r in jobs:
        rest = sorted(o for o in r.get("overrides") or [] if o.partition("=")[0] != "seed")
        groups.setdefault(" ".join(rest), []).append(r)
    return groups


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def group_rows(jobs: list[dict], metric: str) -> tuple[list[str], list[list[str]]]:
    """One "mean ± std" row per configuration run on more than one seed, best mean first."""
    header, _ = table_rows(jobs, metric)
    present = header[2:-2]
    varying = varying_keys(jobs) - {"seed"}
    rows = []
    for members in seed_groups(jobs).values():
        seeds = [r for r in members if any(o.startswith("seed=") for o in r.get("overrides", []))]
        if len(seeds) < 2:
            continue
        done = [r for r in members if r.get("status") == "completed"]
        cells = []
        for c in present:
            values = [r["metrics"][c] for r in done
                      if not math.isnan(r["metrics"].get(c, math.nan))]
            m, sd = mean_std(values)
            cells.append("" if math.isnan(m) else f"{m:.4f} ± {sd:.4f}")
        label = job_label(members[0], varying) if varying else "all"
        rows.append((mean_std([r["metrics"].get(metric, math.nan) for r in done])[0],
                     [label, f"{len(done)}/{len(members)}", *cells]))
    sign = -1 if larger_is_better(metric) else 1
    rows.sort(key=lambda t: math.inf if math.isnan(t[0]) else sign * t[0])
    return ["configuration", "seeds done", *present], [r for _, r in rows]


def optuna_lines(sweep_dir: Path) -> list[str]:
    """Optuna's best parameters (optimization_results.yaml), as markdown lines."""
    path = sweep_dir / "optimization_results.yaml"
    if not path.is_file():
        return []
    from omegaconf import OmegaConf

    result = OmegaConf.to_container(OmegaConf.load(path))
    lines = ["", "## Best parameters (Optuna)", ""]
    if "best_params" in result:
        lines.append(f"Best value: {_fmt(float(result.get('best_value', math.nan)))}")
        lines += [""] + [f"- `{k}={v}`" for k, v in result["best_params"].items()]
    for i, sol in enumerate(result.get("solutions", [])):
        lines.append(f"- solution {i}: values {sol['values']}, params {sol['params']}")
    return lines


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]]


def write_summary(sweep_dir: Path, metric: str | None = None) -> tuple[Path, Path, list[dict]]:
    """Write summary.csv and summary.md; returns their paths and the job records."""
    jobs = read_jobs(sweep_dir)
    metric = metric or next((j["optimized_metric"] for j in jobs if j.get("optimized_metric")),
                            "val/acc")
    header, rows = table_rows(jobs, metric)
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    csv_path, md_path = sweep_dir / "summary.csv", sweep_dir / "summary.md"
    atomic_write(csv_path, buf.getvalue())
    lines = [f"# Sweep summary: {sweep_dir.name}", "",
             f"{len(jobs)} jobs, sorted by `{metric}` "
             f"({'higher' if larger_is_better(metric) else 'lower'} is better).", "",
             *markdown_table(header, rows)]
    group_header, groups = group_rows(jobs, metric)
    if groups:
        lines += ["", "## Seeds: mean ± standard deviation per configuration", "",
                  *markdown_table(group_header, groups)]
    lines += optuna_lines(sweep_dir)
    atomic_write(md_path, "\n".join(lines) + "\n")
    statuses = {j["job"]: j.get("status", "?") for j in jobs}
    atomic_write(sweep_dir / STATUS_FILE, json.dumps({"statuses": statuses}, indent=2) + "\n")
    return csv_path, md_path, jobs


def unfinished(sweep_dir: Path) -> tuple[int, int] | None:
    """(jobs that did not complete, jobs) as the sweep's last summary recorded them; None if
    the sweep wrote no summary."""
    try:
        statuses = json.loads((sweep_dir / STATUS_FILE).read_text())["statuses"]
    except (OSError, ValueError, KeyError):
        return None
    return sum(s != "completed" for s in statuses.values()), len(statuses)
