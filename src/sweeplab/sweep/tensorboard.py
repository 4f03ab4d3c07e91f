"""A sweep in TensorBoard's HParams tab, opening on what was swept.

At the sweep dir's root (TensorBoard's run `.`): the experiment, whose columns are the swept keys
(with their values as domains) and the job's status, and whose metrics are the optimised one first
then the others, read as the last value of each job's own curve (`val/acc`; `test/acc` under its
tag `~test/acc`); and a Text entry with the command and the settings every job shared. In each
job's folder: its session (its swept values, status, start and end), so failed and diverged jobs
are listed too.
Written while the sweep runs (`SweepBoard`: the experiment when it starts, each job's session when
it ends) and again once all its records are in; written again, the files replace the earlier ones.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as hp
from torch.utils.tensorboard.summary import text
from torch.utils.tensorboard.writer import FileWriter

from sweeplab.loggers import board_tag
from sweeplab.record import STATUSES, JobRecord, record_dict
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
        numeric = None not in [as_number(v) for v in raw]
        out[key] = [hparam_value(v, numeric) for v in raw]
    return out


def hparam_value(raw: str, numeric: bool) -> float | str:
    return float(raw) if numeric else raw or "(default)"


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
    keys = swept_keys(jobs)
    values = write_experiment(sweep_dir, jobs, keys)
    for i, r in enumerate(jobs):
        write_session(sweep_dir / r["job"], r, {k: values[k][i] for k in keys}, keys)


def write_experiment(sweep_dir: Path, jobs: list[dict], keys: list[str]) -> dict[str, list]:
    """The experiment and the Text entry at the sweep dir's root; each swept key's values."""
    header = read_header(sweep_dir, keys, constants(jobs))
    values = hparam_values(jobs, keys)
    metrics = metric_tags({k: 0.0 for r in jobs for k in r.get("metrics", {})})
    about = text("sweep", "\n".join(header.markdown()))
    write(sweep_dir, [experiment(keys, values, optimized(jobs), metrics), about])
    return values


def write_session(folder: Path, job: dict, chosen: dict, keys: list[str]) -> None:
    """Job `job`'s session in its folder: its swept values `chosen`, status, start and end."""
    duration = float(job.get("duration_s") or 0.0)
    start_time = (folder / "metrics.json").stat().st_mtime - duration
    chosen = chosen | {STATUS: job.get("status", "running")}
    write(folder, [hp.hparams_pb(chosen, trial_id=run_name(job, keys or None),
                                 start_time_secs=start_time),
                   session_end(chosen[STATUS], start_time + duration if duration else time.time())])


def expected_metrics(classifies: bool, test: bool) -> dict[str, float]:
    """The curves a job will log, by name (what its record's metrics will hold)."""
    names = ["train/loss", "val/loss"]
    names += ["train/acc", "val/acc", "val/acc_best"] if classifies else []
    names += (["test/loss"] + (["test/acc"] if classifies else [])) if test else []
    return dict.fromkeys(names, 0.0)


def planned_jobs(cfgs: Sequence[DictConfig]) -> list[dict]:
    """The sweep's jobs as the summary will read them, from their configs before any trains:
    overrides, optimised metric and the metrics they will record."""
    from sweeplab.checks import build_datamodule
    from sweeplab.train import optimized_metric

    jobs, tasks = [], {}
    for cfg in cfgs:
        job: dict = {"overrides": [o for o in cfg.hydra.overrides.task
                                   if not o.startswith("resume=")]}
        if not cfg.get("lab"):
            data = OmegaConf.to_yaml(cfg.data)
            if data not in tasks:  # a DataModule built, no data loaded
                tasks[data] = build_datamodule(cfg).classifies
            classifies = tasks[data]
            job["optimized_metric"] = optimized_metric(cfg, classifies)
            job["metrics"] = expected_metrics(classifies, bool(cfg.test))
        jobs.append(job)
    return jobs


class SweepBoard:
    """A sweep's HParams written while it runs, so TensorBoard opened mid-sweep lists the jobs
    done so far: the experiment once every job is known (the launcher's start), each job's
    session as it ends. The sweep's end writes both again from the records (`write_hparams`),
    replacing these."""

    def __init__(self, keys: list[str], numeric: dict[str, bool]) -> None:
        self.keys, self.numeric = keys, numeric

    @classmethod
    def start(cls, sweep_dir: Path, cfgs: Sequence[DictConfig]) -> SweepBoard:
        jobs = planned_jobs(cfgs)
        keys = swept_keys(jobs)
        values = write_experiment(sweep_dir, jobs, keys)
        return cls(keys, {k: all(isinstance(v, float) for v in values[k]) for k in keys})

    def finished(self, folder: Path) -> None:
        record = JobRecord.read(folder)
        if record is not None:
            job = record_dict(folder.name, record)
            chosen = {k: hparam_value(override_value(job, k), self.numeric[k])
                      for k in self.keys}
            write_session(folder, job, chosen, self.keys)


def write_run(folder: Path, hparams: dict, metric: str, metrics: dict[str, float],
              started: float) -> None:
    """A single run as an HParams experiment of one: all its hyperparameters, its curves' last
    values as metrics."""
    values = {k: [v if isinstance(v, bool | int | float) else str(v)] for k, v in hparams.items()}
    chosen = {k: v[0] for k, v in values.items()} | {STATUS: "completed"}
    write(folder, [experiment(list(values), values, metric, metric_tags(metrics)),
                   hp.hparams_pb(chosen, trial_id=folder.name, start_time_secs=started),
                   session_end("completed", time.time())])
