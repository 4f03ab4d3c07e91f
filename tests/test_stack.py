"""Stacked sweeps: every member of a stack ends exactly as its job trained alone ends."""

from __future__ import annotations

import copy
import csv
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from omegaconf import open_dict

from conftest import ROOT, compose_config, run_script
from sweeplab.checkpoints import CheckpointMismatch
from sweeplab.record import JobRecord
from sweeplab.robust import Interrupted
from sweeplab.stack.launch import Member, train_stack
from sweeplab.stack.optim import StackedAdam, StackedSGD, member_groups
from sweeplab.stack.plan import plan
from sweeplab.tasks import Classifier
from sweeplab.train import train

SPIRAL = ["data=spiral", "data.n_per_class=60", "model=mlp", "model.hidden=16",
          "trainer.max_epochs=3", "logger=csv"]
CNN = ["data=digits", "data.seed=0", "model=cnn", "model.channels=[4,6]", "model.kernel_size=3",
       "model.padding=1", "model.hidden=[12]", "trainer.max_epochs=2", "logger=csv"]
DEEP = ["data=spiral", "data.n_per_class=60", "model=deep", "trainer.max_epochs=2",
        "logger=csv"]


def members_of(tmp_path, base: list[str], variants: list[list[str]]) -> list[Member]:
    out = []
    for i, v in enumerate(variants):
        cfg = compose_config([*base, *v], tmp_path / f"member{i}")
        (tmp_path / f"member{i}").mkdir(parents=True, exist_ok=True)
        out.append(Member(cfg, tmp_path / f"member{i}", list(v), None, JobRecord()))
    return out


def alone(tmp_path, base: list[str], variant: list[str], i: int) -> tuple[dict, dict]:
    """The job trained alone: its record and its checkpoint's state dict."""
    folder = tmp_path / f"alone{i}"
    try:
        train(compose_config([*base, *variant], folder))
    except Exception:
        pass  # a diverged job raises outside a sweep; its record says so
    ckpt = folder / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)["state_dict"] if ckpt.is_file() else {}
    return json.loads((folder / "metrics.json").read_text()), state


def assert_stacked_equals_alone(tmp_path, base: list[str], variants: list[list[str]]) -> None:
    members = members_of(tmp_path, base, variants)
    train_stack(members, tmp_path / "stack", None)
    for i, (member, variant) in enumerate(zip(members, variants, strict=True)):
        record, state = alone(tmp_path, base, variant, i)
        assert member.record.status == record["status"], variant
        assert member.record.error == record.get("error"), variant
        assert member.record.tested_on == record.get("tested_on"), variant
        assert set(member.record.metrics) == set(record["metrics"]), variant
        for key, value in record["metrics"].items():
            assert member.record.metrics[key] == pytest.approx(value, abs=1e-4), (variant, key)
        ckpt = member.out / "checkpoints" / "last.ckpt"
        if state:  # weights and batch-norm statistics, saved as the single-job module
            stacked = Classifier.load_from_checkpoint(ckpt, weights_only=True).state_dict()
            for key, value in state.items():
                if key.startswith("net."):
                    torch.testing.assert_close(stacked[key], value, rtol=1e-4, atol=1e-4)


AXES = {
    "optimiser settings, schedule, init": (SPIRAL, [
        ["optim.lr=0.05"], ["optim.lr=0.2", "optim.momentum=0.9", "optim.nesterov=true"],
        ["optim.weight_decay=0.01", "init=xavier", "optim.scheduler=step",
         "optim.step_size=1", "optim.gamma=0.5"]]),
    "activation": (SPIRAL, [["model.activation=sigmoid"], ["model.activation=tanh"],
                            ["model.activation=relu"]]),
    "batch norm": (SPIRAL, [["model.batchnorm=false"], ["model.batchnorm=true"],
                            ["model.batchnorm=true", "model.bn_after_activation=true"]]),
    "dropout": (SPIRAL, [["model.dropout=0"], ["model.dropout=0.5"],
                         ["model.dropout=0.2", "model.activation=relu"]]),
    "hidden sizes": (DEEP, [["model.hidden=[16,16]"], ["model.hidden=[8]"],
                            ["model.hidden=[16,16]", "model.batchnorm=true"]]),
    "loss": (SPIRAL, [["model.loss=ce"], ["model.loss=mse"]]),
    "adam": (SPIRAL, [["optim=adam", "optim.lr=0.01"],
                      ["optim=adam", "optim.lr=0.003", "optim.betas=[0.8,0.99]",
                       "optim.weight_decay=0.1", "optim.scheduler=cosine"]]),
    "the mission's axes together": (SPIRAL, [
        [f"model.activation={a}", f"optim.momentum={m}", f"model.dropout={d}",
         f"model.batchnorm={b}"]
        for a, m, d, b in [("sigmoid", 0, 0, "false"), ("tanh", 0.9, 0.5, "true"),
                           ("relu", 0.9, 0, "true"), ("relu", 0, 0.5, "false")]]),
    "cnn: momentum, seed, dropout, activation": (CNN, [
        ["optim.momentum=0.9", "init=xavier"], ["seed=3", "model.dropout=0.3"],
        ["model.activation=tanh", "model.dropout=0.5", "optim.lr=0.05"]]),
    "cnn: batch norm, pooling, logit batch norm, tested on the best epoch": ([
        *CNN, "test_on=best", "trainer.max_epochs=3"], [
        ["model.batchnorm=true"], ["model.batchnorm=true", "model.bn_after_activation=true"],
        ["model.batchnorm=false", "model.logit_batchnorm=true"],
        ["model.pool=avg", "model.batchnorm=true"], ["model.pool=avg"]]),
}


@pytest.mark.parametrize("axis", list(AXES))
def test_stacked_members_end_as_their_jobs_alone(axis, tmp_path):
    base, variants = AXES[axis]
    assert_stacked_equals_alone(tmp_path, base, variants)


def test_a_stack_stopped_before_any_validation_tests_its_last_weights_as_alone(tmp_path):
    # max_steps ends training mid-epoch: validated once after fit, no best epoch (tested_on last)
    assert_stacked_equals_alone(tmp_path, [*SPIRAL, "test_on=best", "trainer.max_steps=3"],
                                [["optim.lr=0.1"], ["optim.lr=0.3", "model.dropout=0.2"]])


def test_cnn_sweeps_stack_and_jobs_that_cannot_say_why(tmp_path):
    cfgs = [compose_config([*CNN, *v], tmp_path / str(i)) for i, v in enumerate(
        [["optim.momentum=0"], ["optim.momentum=0.9"], ["model.channels=[8]"],
         ["model.channels=[8]", "model.pool=avg"], ["trainer.gradient_clip_val=0.5"]])]
    stacks, alone = plan(cfgs)
    assert stacks == [[0, 1, 3, 2]]  # members of the same shape and pooling side by side
    assert alone == [(4, "gradient clipping would clip all members' gradients together")]


def test_stacked_members_are_tested_on_their_own_best_epoch_as_alone(tmp_path):
    variants = [["optim.lr=0.5", "optim.momentum=0.9"], ["optim.lr=0.05"],
                ["optim.lr=0.3", "model.dropout=0.3", "model.batchnorm=true"]]
    base = [*SPIRAL, "trainer.max_epochs=6", "test_on=best"]
    assert_stacked_equals_alone(tmp_path, base, variants)
    epochs = [json.loads((tmp_path / f"alone{i}" / "metrics.json").read_text())["metrics"]
              ["tested_epoch"] for i in range(len(variants))]
    assert len(set(epochs)) > 1 and min(epochs) < 6  # members' best epochs differ
    for i in range(len(variants)):
        stacked = torch.load(tmp_path / f"member{i}" / "checkpoints" / "best.ckpt",
                             weights_only=True)
        single = torch.load(tmp_path / f"alone{i}" / "checkpoints" / "best.ckpt",
                            weights_only=True)
        assert stacked["epoch"] == single["epoch"]
        for key, value in single["state_dict"].items():
            if key.startswith("net."):
                torch.testing.assert_close(stacked["state_dict"][key], value, rtol=1e-4,
                                           atol=1e-4)


def test_a_diverged_member_is_frozen_and_recorded_while_the_others_go_on(tmp_path):
    assert_stacked_equals_alone(tmp_path, [*DEEP, "model.hidden=[16,16]"],
                                [["optim.lr=0.1"], ["optim.lr=1e6"]])


def test_sigterm_saves_the_stack_and_resume_ends_as_an_uninterrupted_run(tmp_path):
    variants = [["model.dropout=0.3"], ["optim.momentum=0.9", "model.batchnorm=true"]]
    base = [*SPIRAL, "test_on=best"]  # the best weights so far are in the stack's checkpoint
    reference = members_of(tmp_path / "reference", base, variants)
    train_stack(reference, tmp_path / "reference" / "stack", None)

    stopped = members_of(tmp_path / "run", base, variants)
    with open_dict(stopped[0].cfg):
        stopped[0].cfg.callbacks.stop = {"_target_": "robust_helpers.SignalAtStep", "step": 13}
    folder = tmp_path / "run" / "stack"
    with pytest.raises(Interrupted):
        train_stack(stopped, folder, None)
    ckpt = folder / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 13

    changed = members_of(tmp_path / "run", [*base, "data.batch_size=7"], variants)
    with pytest.raises(CheckpointMismatch, match="data.batch_size: 20 -> 7"):
        train_stack(changed, folder, ckpt)

    resumed = members_of(tmp_path / "run", base, variants)
    train_stack(resumed, folder, ckpt)
    for a, b in zip(resumed, reference, strict=True):
        assert a.record.status == "completed" and a.record.tested_on == "best"
        assert a.record.metrics == pytest.approx(b.record.metrics, abs=1e-6)
        # the CSV curve written before the signal is kept, every epoch once
        epochs = [r["epoch"] for r in csv.DictReader((a.out / "metrics.csv").open())
                  if r.get("train/loss")]
        assert epochs == ["0", "1", "2"]


@pytest.mark.slow
def test_sigterm_to_a_stacked_sweep_exits_143_and_resume_ends_as_uninterrupted(tmp_path):
    sweep = [*SPIRAL, "threads=1", "trainer.enable_progress_bar=false", "optim.lr=0.1,0.3",
             "model.dropout=0,0.3"]
    reference = run_script(["train.py", "-m", *sweep, f"hydra.sweep.dir={tmp_path / 'ref'}"],
                           cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr[-2000:]

    # the stack pauses after step 8 (mid-epoch, past a validation) until the signal comes
    args = ["-m", *sweep, f"hydra.sweep.dir={tmp_path / 'run'}",
            "+callbacks.pause={_target_:robust_helpers.PauseAtStep,step:8}"]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train.py"), *args],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "paused at step 8" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert any("training 4 jobs as one stacked model" in line for line in seen)
    assert "to continue:" in err and "resume=true" in err and "Traceback" not in err
    stopped = {p.parent.name: json.loads(p.read_text())
               for p in (tmp_path / "run").glob("*/metrics.json")}
    assert len(stopped) == 4 and {r["status"] for r in stopped.values()} == {"interrupted"}

    resumed = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *args,
                              "resume=true"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for name, _ in stopped.items():
        after = json.loads((tmp_path / "run" / name / "metrics.json").read_text())
        expected = json.loads((tmp_path / "ref" / name / "metrics.json").read_text())
        assert after["status"] == "completed" and after["tested_on"] == "best"
        assert after["resumed_from"].endswith("last.ckpt")
        assert after["metrics"] == pytest.approx(expected["metrics"], abs=1e-6), name


def test_stacked_sgd_and_adam_follow_torch_for_each_member():
    def train_pair(make_stacked, make_torch, steps=5):
        torch.manual_seed(0)
        nets = [torch.nn.Linear(3, 2) for _ in range(2)]
        stacked = [torch.stack([p.detach() for p in ps]).requires_grad_()
                   for ps in zip(*(n.parameters() for n in nets), strict=True)]
        opt = make_stacked(stacked)
        singles = [copy.deepcopy(n) for n in nets]
        opts = [make(n.parameters()) for make, n in zip(make_torch, singles, strict=True)]
        x = torch.randn(steps, 8, 3)
        for t in range(steps):
            w, b = stacked
            (torch.einsum("bi,moi->mbo", x[t], w) + b[:, None]).pow(2).sum().backward()
            opt.step()
            opt.zero_grad()
            for net, o in zip(singles, opts, strict=True):
                o.zero_grad()
                net(x[t]).pow(2).sum().backward()
                o.step()
        for i, net in enumerate(singles):
            for p, s in zip(net.parameters(), stacked, strict=True):
                torch.testing.assert_close(s[i], p, rtol=1e-5, atol=1e-6)

    sgd = [{"_target_": "torch.optim.SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01,
            "nesterov": True}, {"_target_": "torch.optim.SGD", "lr": 0.05}]
    train_pair(lambda ps: StackedSGD(member_groups([{"params": ps}], [sgd])),
               [lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01,
                                           nesterov=True),
                lambda ps: torch.optim.SGD(ps, lr=0.05)])
    adam = [{"_target_": "torch.optim.Adam", "lr": 0.01},
            {"_target_": "torch.optim.Adam", "lr": 0.003, "betas": [0.8, 0.99],
             "weight_decay": 0.1}]
    train_pair(lambda ps: StackedAdam(member_groups([{"params": ps}], [adam])),
               [lambda ps: torch.optim.Adam(ps, lr=0.01),
                lambda ps: torch.optim.Adam(ps, lr=0.003, betas=(0.8, 0.99), weight_decay=0.1)])


def test_a_sweep_trains_stacked_by_default_and_each_job_keeps_its_outputs(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", *DEEP, "model.hidden=[16,16]", "logger=tensorboard",
                         "threads=1", "trainer.enable_progress_bar=false",
                         "optim.lr=0.1,1e6", "model.activation=sigmoid,relu",
                         f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]  # one job diverged, as job by job
    assert "training 4 jobs as one stacked model" in result.stdout
    records = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}
    assert len(records) == 4
    for name, record in records.items():
        folder = sweep / name
        assert (folder / ".hydra" / "overrides.yaml").is_file()
        assert list(folder.glob("events.out.tfevents.*"))
        if "relu" in name and "1000000" in name:
            assert record["status"] == "diverged"
            assert "training loss became nan" in record["error"]
            continue
        assert record["status"] == "completed" and record["stacked_jobs"] == 4
        module = Classifier.load_from_checkpoint(folder / "checkpoints" / "last.ckpt",
                                                 weights_only=True)
        assert module.net is not None
    assert "diverged" in (sweep / "summary.md").read_text()
    # a sweep's members are tested on their best epoch (test_on=auto), kept in best.ckpt
    assert {r["tested_on"] for r in records.values() if r["status"] == "completed"} == {"best"}
    ckpt = next(sweep.glob("*/checkpoints/best.ckpt"))
    evaluated = run_script(["eval.py", f"ckpt_path={ckpt}"], cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    test_acc = json.loads((ckpt.parent.parent / "eval_test.json").read_text())["test/acc"]
    assert test_acc == pytest.approx(records[ckpt.parent.parent.name]["metrics"]["test/acc"],
                                     abs=1e-6)


def test_sequential_launcher_and_unstackable_jobs_run_job_by_job(tmp_path):
    result = run_script(["train.py", "-m", *SPIRAL, "threads=1", "trainer.max_epochs=1",
                         "trainer.enable_progress_bar=false", "optim.lr=0.1,0.2",
                         "trainer.gradient_clip_val=null,0.5",
                         f"hydra.sweep.dir={tmp_path / 'a'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training 2 jobs as one stacked model" in result.stdout
    assert "job by job (2: #1, #3): gradient clipping would clip all members' gradients " \
           "together" in result.stdout
    result = run_script(["train.py", "-m", *SPIRAL, "threads=1", "trainer.max_epochs=1",
                         "trainer.enable_progress_bar=false", "hydra/launcher=sequential",
                         "optim.lr=0.1,0.2", f"hydra.sweep.dir={tmp_path / 'b'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stacked" not in result.stdout
    records = [json.loads(p.read_text()) for p in (tmp_path / "b").glob("*/metrics.json")]
    assert len(records) == 2 and all("stacked_jobs" not in r for r in records)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_stacked_jobs_train_on_the_gpu(tmp_path):
    members = members_of(tmp_path, [*SPIRAL, "trainer.accelerator=gpu"],
                         [["optim.lr=0.1"], ["optim.lr=0.2"]])
    train_stack(members, tmp_path / "stack", None)
    assert all(0 < m.record.metrics["val/acc"] <= 1 for m in members)

