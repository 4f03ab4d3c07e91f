"""A sweep in TensorBoard's HParams tab, opening on what was swept.

At the sweep dir's root (TensorBoard's run `.`): the experiment, whose columns are the swept keys
(with their values as domains) and the job's status, and whose metrics are the optimised one first
then the others, read as the last value of each job's own curve (`val/acc`; `test/acc` under its
tag `~test/acc`); and a Text entry with the command and the settings every job shared. In each
job's folder: its session (its swept values, status, start and end), so failed and diverged jobs
are listed too.
Written once the sweep's records are in; written again, the files replace the earlier ones.
"""

from __future__ import annotations

import time
from pathlib import Path

from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as hp
from torch.utils.tensorboard.summary import text
from torch.utils.tensorboard.writer import FileWriter

from sweeplab.loggers import board_tag
from sweeplab.record import STATUSES
from sweeplab.sweep.header import read_header
from sweeplab.sweep.summary import (
    COLUMNS,
    constants,
    optimized,
    override_value,
    run_name,
    swept_keys,
)

#: the event files sweeplab writes for HParams end with this, so a rewrite can replace them
SUFFIX = ".sweeplab-hparams"
STATUS = "status"
SESSION_STATUS = {"completed": api_pb2.STATUS_SUCCESS, "diverged": api_pb2.STATUS_FAILURE,
                  "failed": api_pb2.STATUS_FAILURE, "interrupted": api_pb2.STATUS_UNKNOWN,
                  "running": api_pb2.STATUS_RUNNING}


def as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def hparam_values(jobs: list[dict], keys: list[str]) -> dict[str, list[float | str]]:
    """Each swept key's value per job: numbers where every job's value is one, else strings."""
    out = {}
    for key in keys:
        raw = [override_value(r, key) for r in jobs]
        numbers = [as_number(v) for v in raw]
        out[key] = numbers if None not in numbers else [v or "(default)" for v in raw]
    return out


def metric_tags(metrics: dict[str, float]) -> list[str]:
    """The curves whose last value HParams shows, in the summary's order (not `*_eval`, which
    no logger holds)."""
    return [c for c in COLUMNS if c in metrics and not c.endswith("_eval")]


def experiment(keys: list[str], values: dict[str, list], metric: str,
               metrics: list[str]) -> Summary:
    """The experiment config: swept keys first, then status; the optimised metric first, then
    the test results."""
    hparams = [hp.HParam(k, hp.Discrete(sorted(set(values[k])))) for k in keys]
    hparams.append(hp.HParam(STATUS, hp.Discrete(list(STATUSES))))
    shown = [hp.Metric(board_tag(metric), display_name=f"{metric} (optimised)")]
    # TensorBoard ticks the first five: the test results right after the optimised metric
    rest = sorted((m for m in metrics if m != metric), key=lambda m: not m.startswith("test/"))
    shown += [hp.Metric(board_tag(m), display_name=m) for m in rest]
    return hp.hparams_config_pb(hparams, shown)


def session_end(status: str, end_time: float) -> Summary:
    info = plugin_data_pb2.SessionEndInfo(
        status=SESSION_STATUS.get(status, api_pb2.STATUS_UNKNOWN), end_time_secs=end_time)
    meta = metadata.create_summary_metadata(
        plugin_data_pb2.HParamsPluginData(session_end_info=info))
    return Summary(value=[Summary.Value(tag=metadata.SESSION_END_INFO_TAG, metadata=meta)])


def write(folder: Path, summaries: list[Summary]) -> None:
    """One event file of `summaries` in `folder`, replacing the one written before."""
    for old in folder.glob(f"events.out.tfevents.*{SUFFIX}"):
        old.unlink()
    writer = FileWriter(str(folder), filename_suffix=SUFFIX)
    for s in summaries:
        writer.add_summary(s)
    writer.close()


def write_hparams(sweep_dir: Path, jobs: list[dict]) -> None:
    """The sweep's HParams experiment and Text at its root, a session in every job's folder."""
    metric, keys = optimized(jobs), swept_keys(jobs)
    header = read_header(sweep_dir, keys, constants(jobs))
    values = hparam_values(jobs, keys)
    metrics = metric_tags({k: 0.0 for r in jobs for k in r.get("metrics", {})})
    about = text("sweep", "\n".join(header.markdown()))
    write(sweep_dir, [experiment(keys, values, metric, metrics), about])
    now = time.time()
    for i, r in enumerate(jobs):
        folder = sweep_dir / r["job"]
        duration = float(r.get("duration_s") or 0.0)
        start_time = (folder / "metrics.json").stat().st_mtime - duration
        chosen = {k: values[k][i] for k in keys} | {STATUS: r.get("status", "running")}
        name = run_name(r, keys or None)
        write(folder, [hp.hparams_pb(chosen, trial_id=name, start_time_secs=start_time),
                       session_end(chosen[STATUS], start_time + duration if duration else now)])


def write_run(folder: Path, hparams: dict, metric: str, metrics: dict[str, float],
              started: float) -> None:
    """A single run as an HParams experiment of one: all its hyperparameters, its curves' last
    values as metrics."""
    values = {k: [v if isinstance(v, bool | int | float) else str(v)] for k, v in hparams.items()}
    chosen = {k: v[0] for k, v in values.items()} | {STATUS: "completed"}
    write(folder, [experiment(list(values), values, metric, metric_tags(metrics)),
                   hp.hparams_pb(chosen, trial_id=folder.name, start_time_secs=started),
                   session_end("completed", time.time())])
