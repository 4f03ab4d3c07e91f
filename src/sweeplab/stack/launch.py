"""Run a sweep's jobs as stacks (one Trainer each, all in this process), the rest job by job.

Each member is still a job: Hydra's `run_job` gives it its folder, `.hydra/` and log before
training (where its config is resolved, and a `running` record written) and again after,
when its record (`metrics.json`, own status), final hyperparameters and metrics for its
loggers, and `checkpoints/last.ckpt` (the single-job module, loadable alone) are written.
During training each member's scalars go to its own loggers (`MemberLogger`) and its figures
to its own TensorBoard (`MemberFigures`); progress lines go to the terminal and to every
member's log; as each member's job ends, the sweep's `SweepProgress` prints its line (i/N).
"""

from __future__ import annotations

import hashlib
import logging
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import lightning as L
import torch
from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from sweeplab import resume
from sweeplab.best_checkpoint import keeps_best, tested_on
from sweeplab.callbacks import SaveLast
from sweeplab.checkpoints import load_checkpoint, save_module
from sweeplab.checks import build_datamodule
from sweeplab.hparams import log_final
from sweeplab.loggers import keep_csv_rows
from sweeplab.record import JobRecord
from sweeplab.robust import Interrupted, outcome
from sweeplab.runtime import job_overrides, output_dir, set_threads
from sweeplab.stack.figures import member_figures
from sweeplab.stack.logger import MemberLogger
from sweeplab.stack.module import StackModule
from sweeplab.stack.plan import plan
from sweeplab.stack.progress import StackProgress, member_logs
from sweeplab.stop import StopNow, raise_if_asked
from sweeplab.sweep.progress import SweepProgress
from sweeplab.sweep.run import run_jobs, start_progress
from sweeplab.train import (
    build_module,
    fit_module,
    optimized_metric,
    stop_interrupted,
    sweep_value,
    train_set_metrics,
)
from sweeplab.visualize import Visualize


@dataclass
class Member:
    """A stack member as its job sees it: resolved config, folder, overrides, earlier record."""

    cfg: DictConfig
    out: Path
    overrides: list[str]
    previous: resume.Previous | None
    record: JobRecord = field(default_factory=JobRecord)
    loggers: list = field(default_factory=list)
    #: where the job's logging writes (its train.log), for the stack's progress lines
    log_files: list[Path] = field(default_factory=list)


log = logging.getLogger(__name__)


def launch(launcher, cfgs: Sequence[DictConfig], initial_job_idx: int,
           progress: SweepProgress | None = None) -> list[JobReturn]:
    """Every job, the ones that cannot stack first; `progress` hears of each as it ends."""
    stacks, alone = plan(list(cfgs))
    progress = progress or start_progress(launcher, cfgs)
    for idx, cfg in enumerate(cfgs, start=initial_job_idx):
        with read_write(cfg.hydra), open_dict(cfg):  # HydraConfig made it read-only
            cfg.hydra.job.id = idx
            cfg.hydra.job.num = idx
    reasons: dict[str, list[int]] = {}
    for i, reason in alone:
        reasons.setdefault(reason, []).append(initial_job_idx + i)
    for reason, nums in reasons.items():
        print(f"[sweeplab] job by job ({len(nums)}: #{', #'.join(map(str, nums))}): {reason}",
              flush=True)
    returns: list[JobReturn | None] = [None] * len(cfgs)
    for i, _ in alone:
        returns[i] = run_jobs(launcher, [cfgs[i]], initial_job_idx + i, progress=progress)[0]
    for k, members in enumerate(stacks, start=1):
        raise_if_asked()  # a signal between two stacks stops here
        print(f"[sweeplab] stack {k}/{len(stacks)}: training {len(members)} jobs as one "
              f"stacked model", flush=True)
        runs = run_stack(launcher, [cfgs[i] for i in members], progress,
                         f"stack {k}/{len(stacks)}")
        for i, ret in zip(members, runs, strict=True):
            returns[i] = ret
    return returns


def in_job(launcher, cfg: DictConfig, task) -> JobReturn:
    return run_job(hydra_context=launcher.hydra_context, task_function=task, config=cfg,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


def prepare(cfg: DictConfig) -> Member:
    """Inside the member's job: its resolved config and folder; a `running` record."""
    out = output_dir(cfg)
    overrides = [o for o in job_overrides() if not o.startswith("resume=")]
    previous = resume.find_previous(out, overrides, True) if cfg.resume else None
    member = Member(OmegaConf.create(OmegaConf.to_container(cfg, resolve=True)), out, overrides,
                    previous, JobRecord(overrides=overrides, threads=torch.get_num_threads()))
    if previous is None or not previous.record.finished:
        member.record.write(out)  # a stack killed outright still shows its jobs
    member.log_files = [Path(h.baseFilename) for h in logging.getLogger().handlers
                        if isinstance(h, logging.FileHandler)]
    return member


def stack_folder(cfg: DictConfig, members: list[Member]) -> Path:
    """Where a stack keeps its checkpoint between a signal and `resume=true`."""
    names = "\n".join(sorted(m.out.name for m in members))
    return Path(cfg.hydra.sweep.dir) / "stacks" / hashlib.sha1(names.encode()).hexdigest()[:10]


def run_stack(launcher, cfgs: list[DictConfig], progress: SweepProgress,
              label: str) -> list[JobReturn]:
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    members = [in_job(launcher, cfg, prepare).return_value for cfg in cfgs]
    folder = stack_folder(cfgs[0], members)
    if all(m.previous is not None and m.previous.record.finished for m in members):
        for m in members:
            print(f"[sweeplab] {m.out}: already {m.previous.record.status}, skipped", flush=True)
        returns = [in_job(launcher, cfg, lambda _, m=m: sweep_value(m.previous.record.value))
                   for cfg, m in zip(cfgs, members, strict=True)]
        for ret in returns:
            progress.finished(ret)
        return returns
    ckpt = folder / "checkpoints" / "last.ckpt"
    started, stopped = time.time(), None
    try:
        with member_logs([f for m in members for f in m.log_files]):
            train_stack(members, folder, ckpt if ckpt.is_file() else None, label)
    except Interrupted as exc:
        stopped = exc
        for m in members:
            if m.record.status == "running":
                m.record.status, m.record.error = outcome(exc)
    except (KeyboardInterrupt, StopNow) as exc:
        stopped = exc
        for m in members:
            m.record.status, m.record.error = outcome(exc)
    except Exception as exc:
        for m in members:
            m.record.status, m.record.error = outcome(exc)
    seconds = (time.time() - started) / len(members)
    returns = []
    for cfg, m in zip(cfgs, members, strict=True):
        returns.append(in_job(launcher, cfg,
                              partial(finish, member=m, seconds=seconds, jobs=len(cfgs))))
        progress.finished(returns[-1])
    if isinstance(stopped, Interrupted):
        stop_interrupted(stopped)
    if isinstance(stopped, KeyboardInterrupt | StopNow):
        raise SystemExit(128 + getattr(stopped, "signum", signal.SIGINT))
    if ckpt.is_file():
        ckpt.unlink()  # finished: the members' own checkpoints hold the results
    return returns


def stack_callbacks(cfg: DictConfig, members: list[Member], label: str) -> list[L.Callback]:
    """The configured callbacks that act on the whole stack (not the ones writing a single
    model's checkpoint or figures: each member's checkpoint is written after training, its
    figures by `MemberFigures`), and the stack's progress lines."""
    callbacks = [instantiate(cb) for cb in cfg.get("callbacks", {}).values() if cb]
    figures = member_figures([(m.cfg, m.loggers) for m in members])
    return [*(cb for cb in callbacks if not isinstance(cb, SaveLast | Visualize)),
            *([figures] if figures else []), StackProgress(label)]


def train_stack(members: list[Member], folder: Path, ckpt_path: Path | None,
                label: str = "stack") -> None:
    """Build each member's model as its job would, train them as one, record each outcome."""
    first = members[0].cfg
    for m in members:
        m.record.threads = set_threads(int(first.threads))
    dm = build_datamodule(first)
    dm.prepare_data()
    modules, rng_states = [], []
    for m in members:
        L.seed_everything(int(m.cfg.seed), workers=False, verbose=False)
        dm.setup()
        modules.append(build_module(m.cfg, dm))
        rng_states.append(torch.get_rng_state())  # where the job's dropout masks start
        m.record.optimized_metric = optimized_metric(m.cfg, dm.classifies)
        if ckpt_path is not None:
            m.record.resumed_from = str(ckpt_path)
        m.record.write(m.out)
    metric = optimized_metric(first, dm.classifies)
    stack = StackModule(modules, [int(m.cfg.seed) for m in members], rng_states,
                        [OmegaConf.to_container(m.cfg.optim) for m in members],
                        int(first.trainer.max_epochs),
                        metric if keeps_best(first, metric) else None)
    loggers = []
    resumed_at = (resume.check_resumable(ckpt_path, load_checkpoint(ckpt_path), first)
                  if ckpt_path is not None else None)  # other data or trainer settings: refused
    for i, m in enumerate(members):
        m.loggers = [instantiate(lg) for lg in m.cfg.get("logger", {}).values() if lg]
        if resumed_at is not None:
            keep_csv_rows(m.loggers, resumed_at)
        loggers += [MemberLogger(i, lg) for lg in m.loggers]
    trainer, metrics = fit_module(first, stack, dm, folder, loggers,
                                  stack_callbacks(first, members, label), ckpt_path)
    for i, m in enumerate(members):
        if i in stack.diverged:
            m.record.status, m.record.error = "diverged", stack.diverged[i]
            continue
        module = stack.member_module(i)
        m.record.metrics = stack.member_metrics(metrics, i)
        m.record.metrics["epochs"] = float(trainer.current_epoch)
        m.record.metrics["steps"] = float(trainer.global_step)
        if m.cfg.test and stack.best_weights is not None and \
                stack.best_weights.tested_epoch(i) is not None:
            m.record.metrics["tested_epoch"] = stack.best_weights.tested_epoch(i)
        m.record.tested_on = tested_on(m.cfg, m.record.metrics)
        m.record.status = "completed"
        savers = [instantiate(cb) for cb in m.cfg.get("callbacks", {}).values() if cb]
        for saver in savers:
            if isinstance(saver, SaveLast):
                save_module(module, saver.path, trainer.current_epoch, trainer.global_step)
    after_test(stack, members, dm)


def after_test(stack: StackModule, members: list[Member], dm) -> None:
    """What a job alone does with the weights it tested (its best epoch's when it keeps them,
    which its module then holds): measure the training set (`eval_train`), and keep them in
    `checkpoints/best.ckpt` as its ModelCheckpoint does."""
    best = stack.best_weights
    if best is not None:
        best.swap()
    for i, m in enumerate(members):
        if m.record.status != "completed":
            continue
        module = stack.member_module(i)
        if m.cfg.eval_train:
            m.record.metrics.update(train_set_metrics(module, dm))
        if best is not None and best.tested_epoch(i) is not None:
            save_module(module, m.out / "checkpoints" / "best.ckpt", int(best.epoch[i]),
                        int(best.step[i]))
    if best is not None:
        best.swap()


def finish(cfg: DictConfig, member: Member, seconds: float, jobs: int) -> float | None:
    """Inside the member's job again: its record and final logs, as `train()` writes them."""
    record = member.record
    record.stacked_jobs = jobs
    record.duration_s = round(seconds, 3)
    if record.status == "completed":
        log_final(member.loggers, member.cfg, record.metrics)
    record.write(member.out)
    log.info(f"{record.status} in {record.duration_s:.1f} s (one of {jobs} stacked jobs): "
             + (record.error or f"{record.optimized_metric} = {record.value:.4f}"))
    return sweep_value(record.value)
