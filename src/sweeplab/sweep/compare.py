"""Figures that compare the jobs of a sweep, read from each job's own logs (no re-training).

`compare(sweep_dir)` writes the summary table (summary.md, summary.csv), then one learning-curve
figure per metric with every job on it, one per metric with each configuration's mean ± std
over its seeds (when some configuration ran on several seeds), and a bar chart of each job's
final optimised metric, and links the figures from summary.md. Curves come from the CSV logger's
metrics.csv where a job has one, else from its TensorBoard event files.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from sweeplab.loggers import ASIDE
from sweeplab.record import atomic_write
from sweeplab.sweep.summary import (
    job_label,
    read_jobs,
    seed_groups,
    sort_jobs,
    varying_keys,
    write_summary,
)

CURVE_METRICS = ("train/loss", "val/loss", "val/acc")
Curve = tuple[list[float], list[float]]


def read_csv_curves(path: Path) -> dict[str, Curve]:
    """Epoch-level series from a CSV logger file: x is the number of epochs completed."""
    curves: dict[str, Curve] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            epoch = float(row.get("epoch") or 0) + 1
            for key, value in row.items():
                if key in ("epoch", "step") or value in ("", None):
                    continue
                xs, ys = curves.setdefault(key, ([], []))
                xs.append(epoch)
                ys.append(float(value))
    return curves


def read_event_curves(job_dir: Path) -> dict[str, Curve]:
    """Series from TensorBoard event files, by metric name (`~test/acc` read as `test/acc`).

    Steps are mapped to epochs completed by the `train/loss` points, one at each epoch's last
    step (linear in between, for per-step series); without them x stays the step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logging.getLogger("tensorboard").setLevel(logging.WARNING)  # one INFO line per event file
    acc = EventAccumulator(str(job_dir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = [t for t in acc.Tags().get("scalars", []) if t != "epoch"]  # older runs wrote it
    ends = sorted({e.step for e in acc.Scalars("train/loss")}) if "train/loss" in tags else []
    curves: dict[str, Curve] = {}
    for tag in tags:
        events = acc.Scalars(tag)
        steps = [e.step for e in events]
        xs = np.interp(steps, [0, *ends], range(len(ends) + 1)).tolist() if ends else steps
        curves[tag.removeprefix(ASIDE)] = (xs, [e.value for e in events])
    return curves


def read_curves(job_dir: Path) -> dict[str, Curve]:
    """A job's logged series by metric name; empty if it has no logs."""
    csv_path = job_dir / "metrics.csv"
    if csv_path.is_file():
        return read_csv_curves(csv_path)
    if any(job_dir.glob("events.out.tfevents.*")):
        return read_event_curves(job_dir)
    return {}


LINESTYLES = ("-", "--", ":", "-.")


def job_colors(jobs: list[dict]) -> dict[str, tuple]:
    """One colour per configuration, so the seeds of one configuration share it."""
    cmap = plt.get_cmap("tab10" if len(seed_groups(jobs)) <= 10 else "tab20")
    colors = {}
    for i, members in enumerate(seed_groups(jobs).values()):
        for r in members:
            colors[r["job"]] = cmap(i % cmap.N)
    return colors


def job_linestyles(jobs: list[dict]) -> dict[str, str]:
    """Within a configuration, one line style per seed."""
    return {r["job"]: LINESTYLES[k % len(LINESTYLES)]
            for members in seed_groups(jobs).values() for k, r in enumerate(members)}


def plot_curves(jobs: list[dict], curves: dict[str, dict[str, Curve]], metric: str,
                path: Path) -> bool:
    """Every job's `metric` against epochs on one figure; False if no job logged it."""
    drawn = [r for r in jobs if metric in curves.get(r["job"], {})]
    if not drawn:
        return False
    colors, styles, labels = job_colors(jobs), job_linestyles(jobs), legend_labels(jobs)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in drawn:
        xs, ys = curves[r["job"]][metric]
        ax.plot(xs, ys, marker="." if len(xs) < 30 else None, color=colors[r["job"]],
                linestyle=styles[r["job"]], label=labels.get(r["job"], "_"), alpha=0.85)
    finish_epoch_plot(fig, ax, metric, f"{metric}, every job", len(set(labels.values())), 7,
                      path)
    return True


def legend_labels(jobs: list[dict]) -> dict[str, str]:
    """One legend entry per job, or per configuration where it ran on several seeds (its seeds
    share its colour): a sweep of 20 seeds has one entry, not 20 (each entry also costs the
    figure's layout a few ms)."""
    varying = varying_keys(jobs)
    labels = {}
    for members in seed_groups(jobs).values():
        if len(members) == 1:
            labels[members[0]["job"]] = job_label(members[0], varying)
            continue
        rest = varying - {"seed"}
        label = job_label(members[0], rest) if rest else "every job"
        labels[members[0]["job"]] = f"{label} ({len(members)} seeds)"
    return labels


def plot_seed_bands(jobs: list[dict], curves: dict[str, dict[str, Curve]], metric: str,
                    path: Path) -> bool:
    """Per configuration run on several seeds, the mean of `metric` over its completed seeds
    with a band of one standard deviation, against epochs; False if no configuration has two
    seeds with that curve."""
    bands = []
    for members in seed_groups(jobs).values():
        runs = [curves[r["job"]][metric] for r in members
                if r.get("status") == "completed" and metric in curves.get(r["job"], {})]
        if len(runs) < 2:
            continue
        common = sorted(set.intersection(*(set(xs) for xs, _ in runs)))
        ys = np.array([[dict(zip(xs, vals, strict=True))[x] for x in common] for xs, vals in runs])
        bands.append((members[0], len(runs), common, ys.mean(0), ys.std(0, ddof=1)))
    if not bands:
        return False
    varying, colors = varying_keys(jobs) - {"seed"}, job_colors(jobs)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for first, n, xs, mean, std in bands:
        color = colors[first["job"]]
        label = job_label(first, varying) if varying else "every job"
        ax.plot(xs, mean, color=color, marker="." if len(xs) < 30 else None,
                label=f"{label} ({n} seeds)")
        ax.fill_between(xs, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
    finish_epoch_plot(fig, ax, metric, f"{metric}, mean ± std over seeds", len(bands), 8, path)
    return True


def finish_epoch_plot(fig, ax, metric: str, title: str, lines: int, fontsize: int,
                      path: Path) -> None:
    """Axes, grid and legend of a figure of `metric` against epochs; then save it."""
    ax.set(xlabel="epoch", ylabel=metric, title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=fontsize, loc="best", ncol=1 if lines <= 12 else 2)
    save(fig, path)


def plot_final(jobs: list[dict], metric: str, path: Path) -> bool:
    """A horizontal bar per job: its final `metric`, best at the top."""
    ordered = sort_jobs(jobs, metric)
    if not ordered:
        return False
    varying, colors = varying_keys(jobs), job_colors(jobs)
    labels = [job_label(r, varying) for r in ordered]
    values = [r.get("metrics", {}).get(metric, math.nan) for r in ordered]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * len(ordered)))
    y = range(len(ordered))
    ax.barh(y, [0 if math.isnan(v) else v for v in values],
            color=[colors[r["job"]] for r in ordered])
    for i, (v, r) in enumerate(zip(values, ordered, strict=True)):
        text = r.get("status", "?") if math.isnan(v) else f"{v:.4f}"
        ax.text(0 if math.isnan(v) else v, i, f" {text}", va="center", fontsize=8)
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=f"final {metric}", title=f"final {metric} per job")
    ax.grid(axis="x", alpha=0.3)
    save(fig, path)
    return True


def save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def figure_name(metric: str, kind: str) -> str:
    return f"{kind}_{metric.replace('/', '_')}.png"


def add_figures(sweep_dir: Path, jobs: list[dict] | None = None) -> list[Path]:
    """Draw the comparison figures for a summarised sweep and link them from summary.md."""
    jobs = read_jobs(sweep_dir) if jobs is None else jobs
    metric = next((j["optimized_metric"] for j in jobs if j.get("optimized_metric")), "val/acc")
    curves = {r["job"]: read_curves(sweep_dir / r["job"]) for r in jobs}
    paths = []
    for m in CURVE_METRICS:
        path = sweep_dir / figure_name(m, "curves")
        if plot_curves(jobs, curves, m, path):
            paths.append(path)
    for m in CURVE_METRICS:
        path = sweep_dir / figure_name(m, "seeds")
        if plot_seed_bands(jobs, curves, m, path):
            paths.append(path)
    path = sweep_dir / figure_name(metric, "final")
    if plot_final(jobs, metric, path):
        paths.append(path)
    md = sweep_dir / "summary.md"
    if paths and md.is_file():
        links = ["", "## Figures", "", *[f"![{p.stem}]({p.name})" for p in paths]]
        atomic_write(md, md.read_text() + "\n".join(links) + "\n")
    return paths


def compare(sweep_dir: Path) -> tuple[Path, list[Path]]:
    """The table and the figures for one sweep dir; returns summary.md and the PNG paths."""
    _, md_path, jobs = write_summary(sweep_dir)
    return md_path, add_figures(sweep_dir, jobs)
