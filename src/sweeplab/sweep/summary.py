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
from sweeplab.resolvers import safe_name
from sweeplab.sweep.header import read_header

#: the jobs' statuses as the summary saw them: the command's exit code is read from it
STATUS_FILE = "summary.json"

COLUMNS = ("train/loss", "train/acc", "train/loss_eval", "train/acc_eval", "val/loss", "val/acc",
           "val/acc_best", "test/loss", "test/acc")


def read_jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every job under the sweep dir that wrote a record, as plain dicts with a `job` name."""
    return [record_dict(name, record) for name, record in job_records(sweep_dir)]


def swept_keys(jobs: list[dict]) -> list[str]:
    """The override keys that differ across the sweep, in the order the command gave them."""
    varying = varying_keys(jobs) if len(jobs) > 1 else set()
    keys: list[str] = []
    for r in jobs:
        for o in r.get("overrides") or []:
            key = o.partition("=")[0]
            if key in varying and key not in keys:
                keys.append(key)
    return keys


def constants(jobs: list[dict]) -> list[str]:
    """The overrides every job of the sweep shares (`data=digits`), in the command's order; not
    `task_name`, which the header names."""
    swept = {*swept_keys(jobs), "task_name"}
    return [o for o in (jobs[0].get("overrides") or [] if jobs else [])
            if o.partition("=")[0] not in swept]


def run_name(record: dict, swept: list[str] | None = None) -> str:
    """A job's short name: its swept overrides, sorted, comma-joined (`activation=relu,seed=1`),
    as its folder, TensorBoard run, HParams trial, table row and legend entry all show it."""
    overrides = record.get("overrides") or []
    if swept is not None:
        overrides = [o for o in overrides if o.partition("=")[0] in swept]
    return safe_name(",".join(sorted(overrides))) if overrides else record.get("job", "?")


def job_label(record: dict, varying: set[str] | list[str] | None = None) -> str:
    """The job's overrides; only the keys that differ across the sweep when `varying` is given."""
    return run_name(record, None if varying is None else list(varying))


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


def override_value(record: dict, key: str) -> str:
    """The value a job gave `key` on its command line ("" if it left the default)."""
    return next((o.partition("=")[2] for o in record.get("overrides") or []
                 if o.partition("=")[0] == key), "")


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


def metric_columns(jobs: list[dict], metric: str) -> list[str]:
    """The metrics the table shows: the optimised one first, then the others any job has."""
    present = [c for c in COLUMNS if any(c in j.get("metrics", {}) for j in jobs)]
    return [metric, *[c for c in present if c != metric]]


def table_rows(jobs: list[dict], metric: str) -> tuple[list[str], list[list[str]]]:
    """One row per job, best first: its run name, a column per swept key, status, metrics."""
    present, swept = metric_columns(jobs, metric), swept_keys(jobs)
    header = ["job", *swept, "status", *present, "duration_s", "error"]
    rows = []
    for r in sort_jobs(jobs, metric):
        m = r.get("metrics", {})
        rows.append([run_name(r, swept if swept else None),
                     *[override_value(r, k) for k in swept], r.get("status", "?"),
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


def group_stats(jobs: list[dict], metric: str) -> list[tuple[str, list[dict], dict]]:
    """(configuration, its jobs, {metric: (mean, std)}) for each configuration run on more than
    one seed, best mean first; means over the completed jobs."""
    swept = [k for k in swept_keys(jobs) if k != "seed"]
    out = []
    for members in seed_groups(jobs).values():
        seeds = [r for r in members if any(o.startswith("seed=") for o in r.get("overrides", []))]
        if len(seeds) < 2:
            continue
        done = [r for r in members if r.get("status") == "completed"]
        stats = {c: mean_std([r["metrics"][c] for r in done
                              if not math.isnan(r["metrics"].get(c, math.nan))])
                 for c in metric_columns(jobs, metric)}
        out.append((run_name(members[0], swept) if swept else "all", members, stats))
    sign = -1 if larger_is_better(metric) else 1
    out.sort(key=lambda t: math.inf if math.isnan(t[2][metric][0]) else sign * t[2][metric][0])
    return out


def group_rows(jobs: list[dict], metric: str) -> tuple[list[str], list[list[str]]]:
    """One "mean ± std" row per configuration run on more than one seed, best mean first."""
    present = metric_columns(jobs, metric)
    rows = []
    for label, members, stats in group_stats(jobs, metric):
        done = sum(r.get("status") == "completed" for r in members)
        rows.append([label, f"{done}/{len(members)}",
                     *["" if math.isnan(stats[c][0]) else f"{stats[c][0]:.4f} ± {stats[c][1]:.4f}"
                       for c in present]])
    return ["configuration", "seeds done", *present], rows


def csv_rows(jobs: list[dict], metric: str) -> list[list[str]]:
    """summary.csv: the job table, each row with its configuration's seed mean and std."""
    header, rows = table_rows(jobs, metric)
    groups = group_stats(jobs, metric)
    if not groups:
        return [header, *rows]
    present = metric_columns(jobs, metric)
    of_job = {run_name(r, swept_keys(jobs)): (label, stats)
              for label, members, stats in groups for r in members}
    header = [*header, "configuration", *[f"{c} {s}" for c in present for s in ("mean", "std")]]
    out = [header]
    for row in rows:
        label, stats = of_job.get(row[0], ("", {}))
        out.append([*row, label, *[_fmt(stats[c][i]) if stats else ""
                                   for c in present for i in (0, 1)]])
    return out


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
    metric = metric or optimized(jobs)
    header, rows = table_rows(jobs, metric)
    buf = io.StringIO()
    csv.writer(buf).writerows(csv_rows(jobs, metric))
    csv_path, md_path = sweep_dir / "summary.csv", sweep_dir / "summary.md"
    atomic_write(csv_path, buf.getvalue())
    about = read_header(sweep_dir, swept_keys(jobs), constants(jobs))
    lines = [f"# Sweep summary: {about.task}", "", *about.markdown(), "",
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


def optimized(jobs: list[dict]) -> str:
    """The metric the sweep optimised (as its jobs recorded it)."""
    return next((j["optimized_metric"] for j in jobs if j.get("optimized_metric")), "val/acc")


def unfinished(sweep_dir: Path) -> tuple[int, int] | None:
    """(jobs that did not complete, jobs) as the sweep's last summary recorded them; None if
    the sweep wrote no summary."""
    try:
        statuses = json.loads((sweep_dir / STATUS_FILE).read_text())["statuses"]
    except (OSError, ValueError, KeyError):
        return None
    return sum(s != "completed" for s in statuses.values()), len(statuses)
