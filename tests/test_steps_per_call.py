"""Several optimiser steps per Lightning step (`steps_per_call`): the same run as one step each,
weights, metrics, logged points, limits and resumes alike."""

from __future__ import annotations

import csv
import json

import lightning as L
import pytest
import torch
from omegaconf import open_dict

from conftest import compose_config, run_script
from sweeplab.config import ConfigError, validate
from sweeplab.progress import ThrottledRichProgressBar
from sweeplab.record import JobRecord
from sweeplab.robust import Interrupted
from sweeplab.stack.launch import Member, train_stack
from sweeplab.steps import saved_steps
from sweeplab.tasks import Classifier
from sweeplab.train import train

# 3 epochs of 4 steps (spiral: 72 training points, batches of 20), dropout, momentum and a
# schedule stepped every epoch: everything an exact replay has to get right
SPIRAL = ["data=spiral", "data.n_per_class=40", "model=mlp", "model.hidden=16",
          "model.dropout=0.3", "optim.momentum=0.9", "optim.scheduler=step",
          "optim.step_size=1", "optim.gamma=0.5", "trainer.max_epochs=3",
          "trainer.log_every_n_steps=2", "logger=csv"]
DEEP = ["data=spiral", "data.n_per_class=40", "model=deep", "model.hidden=[16,16]",
        "optim.momentum=0.9", "optim.scheduler=step", "optim.step_size=1", "optim.gamma=0.5",
        "trainer.max_epochs=3", "trainer.log_every_n_steps=2", "logger=csv"]
POLYNOMIAL = ["data=polynomial", "data.n=200", "model=mlp", "model.hidden=8",
              "optim.momentum=0.9", "trainer.max_epochs=2", "trainer.log_every_n_steps=3",
              "logger=csv"]


class BarAtEpochEnd(L.Callback):
    """Appends the progress bar's count and total at each epoch's end to `bar.txt`."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        bar = next(c for c in trainer.callbacks if isinstance(c, ThrottledRichProgressBar))
        task = bar.progress.tasks[bar.train_progress_bar_id]
        with open(f"{trainer.default_root_dir}/bar.txt", "a") as f:
            f.write(f"{task.completed:g}/{task.total:g}\n")


def run(folder, base: list[str], *overrides: str, stop_at: int | None = None) -> dict:
    """Train in-process; the record, the last checkpoint's weights and the CSV log rows."""
    cfg = compose_config([*base, *overrides], folder)
    if stop_at is None:
        train(cfg)
    else:
        with open_dict(cfg):
            cfg.callbacks.stop = {"_target_": "robust_helpers.SignalAtStep", "step": stop_at}
        with pytest.raises(Interrupted):
            train(cfg)
    ckpt = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    return {"record": json.loads((folder / "metrics.json").read_text()),
            "weights": ckpt["state_dict"], "rows": csv_rows(folder),
            "steps_per_call": saved_steps(folder / "checkpoints" / "last.ckpt")}


def csv_rows(folder) -> list[dict[str, float]]:
    rows = []
    for path in sorted(folder.rglob("metrics.csv")):
        with path.open() as f:
            rows += [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
    return rows


def assert_same_run(a: dict, b: dict) -> None:
    assert a["record"]["status"] == b["record"]["status"]
    assert a["record"]["metrics"] == b["record"]["metrics"]
    assert a["weights"].keys() == b["weights"].keys()
    for key, value in a["weights"].items():
        assert torch.equal(value, b["weights"][key]), key
    assert a["rows"] == b["rows"]


@pytest.mark.parametrize("steps", ["4", "auto"])
def test_classifier_takes_the_same_steps_several_at_a_time(steps, tmp_path):
    one = run(tmp_path / "one", SPIRAL, "steps_per_call=1")
    several = run(tmp_path / "several", SPIRAL, f"steps_per_call={steps}")
    assert_same_run(one, several)
    assert one["steps_per_call"] == 0  # Lightning's own loop
    assert several["steps_per_call"] == (4 if steps == "4" else pytest.approx(4, abs=3))
    assert one["record"]["metrics"]["steps"] == 12
    logged = [r["step"] for r in one["rows"] if "train/loss_step" in r]
    assert logged == [1, 3, 5, 7, 9, 11]  # every second step, as Lightning logs


def test_regressor_takes_the_same_steps_several_at_a_time(tmp_path):
    assert_same_run(run(tmp_path / "one", POLYNOMIAL, "steps_per_call=1"),
                    run(tmp_path / "several", POLYNOMIAL, "steps_per_call=5"))


def test_a_dataset_transforming_its_batches_keeps_it_in_chunks(tmp_path):
    xor = ["data=xor", "data.noise_in_loop=true", "data.noise=0.3", "model=mlp",
           "model.hidden=4", "trainer.max_epochs=3", "logger=csv"]  # fresh noise every batch
    assert_same_run(run(tmp_path / "one", xor, "steps_per_call=1"),
                    run(tmp_path / "several", xor, "steps_per_call=3"))


def test_max_steps_stops_inside_a_chunk_at_the_same_step(tmp_path):
    one = run(tmp_path / "one", SPIRAL, "steps_per_call=1", "trainer.max_steps=8")
    several = run(tmp_path / "several", SPIRAL, "steps_per_call=5", "trainer.max_steps=8")
    assert several["record"]["metrics"]["steps"] == 8
    assert_same_run(one, several)


@pytest.mark.parametrize(("before", "after"), [("4", "3"), ("1", "4"), ("4", "1"), ("3", "auto")])
def test_resume_mid_epoch_with_another_steps_per_call_is_exact(before, after, tmp_path):
    reference = run(tmp_path / "reference", SPIRAL, "steps_per_call=1")
    stopped = run(tmp_path / "job", SPIRAL, f"steps_per_call={before}", stop_at=7)
    assert stopped["record"]["status"] == "interrupted"
    ckpt = torch.load(tmp_path / "job" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 7  # the step the signal came in, inside a chunk
    resumed = run(tmp_path / "job", SPIRAL, f"steps_per_call={after}", "resume=true")
    assert resumed["record"]["status"] == "completed"
    assert resumed["record"]["metrics"] == reference["record"]["metrics"]
    for key, value in reference["weights"].items():
        assert torch.equal(value, resumed["weights"][key]), key


def test_progress_bar_counts_batches_not_chunks(tmp_path):
    shown = []
    for steps in ("1", "3"):
        cfg = compose_config([*SPIRAL, f"steps_per_call={steps}",
                              "trainer.enable_progress_bar=true"], tmp_path / steps)
        with open_dict(cfg):
            cfg.callbacks.bar = {"_target_": "test_steps_per_call.BarAtEpochEnd"}
        train(cfg)
        shown.append((tmp_path / steps / "bar.txt").read_text().split())
    assert shown[0] == shown[1] == ["4/4"] * 3


def test_divergence_is_caught_at_the_same_step(tmp_path):
    records = []
    for steps in ("1", "6"):
        folder = tmp_path / steps
        with pytest.raises(Exception, match="diverged|became"):
            train(compose_config([*DEEP, "optim.lr=1e6", f"steps_per_call={steps}"], folder))
        records.append(json.loads((folder / "metrics.json").read_text()))
    assert records[0]["status"] == records[1]["status"] == "diverged"
    assert records[0]["error"] == records[1]["error"]


def stack_members(tmp_path, steps: str) -> list[Member]:
    members = []
    for i, variant in enumerate([["optim.lr=0.1"], ["optim.lr=0.3", "model.dropout=0.5"],
                                 ["optim.lr=1e6"]]):
        folder = tmp_path / f"{steps}-{i}"
        folder.mkdir(parents=True)
        cfg = compose_config([*DEEP, *variant, f"steps_per_call={steps}"], folder)
        members.append(Member(cfg, folder, variant, None, JobRecord()))
    return members


def test_stack_takes_the_same_steps_several_at_a_time(tmp_path):
    one, several = stack_members(tmp_path, "1"), stack_members(tmp_path, "4")
    train_stack(one, tmp_path / "stack1", None)
    train_stack(several, tmp_path / "stack4", None)
    assert [m.record.status for m in one] == ["completed", "completed", "diverged"]
    for a, b in zip(one, several, strict=True):
        assert (a.record.status, a.record.error) == (b.record.status, b.record.error)
        assert a.record.metrics == b.record.metrics
        if a.record.status == "completed":
            # (a frozen member's last per-step value is written again at the next log point
            # by Lightning's own loop; a job alone, and a chunk, stop logging it)
            assert csv_rows(a.out) == csv_rows(b.out)
            wa = torch.load(a.out / "checkpoints" / "last.ckpt", weights_only=True)
            wb = torch.load(b.out / "checkpoints" / "last.ckpt", weights_only=True)
            for key, value in wa["state_dict"].items():
                assert torch.equal(value, wb["state_dict"][key]), key


@pytest.mark.parametrize(("setting", "message"), [
    ("steps_per_call=0", "error: steps_per_call: must be auto or a whole number >= 1, got 0"),
    ("steps_per_call=fast", "error: steps_per_call: must be auto or a whole number >= 1"),
    ("trainer.gradient_clip_val=1.0",
     "error: steps_per_call: 4 needs one batch per Lightning step with "
     "trainer.gradient_clip_val=1.0; allowed: auto or 1"),
])
def test_bad_steps_per_call_stops_before_training(setting, message, tmp_path):
    extra = [] if setting.startswith("steps_per_call") else ["steps_per_call=4"]
    result = run_script(["train.py", *SPIRAL, "threads=1", setting, *extra], tmp_path)
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("setting", [
    "gradient_clip_val=0.5", "accumulate_grad_batches=2", "limit_train_batches=3",
    "limit_train_batches=1", "val_check_interval=0.5", "val_check_interval=1",
    "check_val_every_n_epoch=null", "overfit_batches=2", "fast_dev_run=true"])
def test_settings_counted_in_lightning_steps_need_one_step_per_call(setting, tmp_path):
    with pytest.raises(ConfigError, match=rf"steps_per_call: 3 needs one batch per Lightning "
                                          rf"step with trainer\.{setting.split('=')[0]}="):
        validate(compose_config([*SPIRAL, "steps_per_call=3", f"++trainer.{setting}"],
                                tmp_path))
    for steps in ("auto", "1"):  # auto falls back to one quietly
        validate(compose_config([*SPIRAL, f"steps_per_call={steps}", f"++trainer.{setting}"],
                                tmp_path))


def test_auto_falls_back_to_one_step_with_gradient_clipping(tmp_path):
    clipped = ["trainer.gradient_clip_val=1e9"]  # clips nothing: the same run either way
    assert_same_run(run(tmp_path / "one", SPIRAL, "steps_per_call=1", *clipped),
                    run(tmp_path / "auto", SPIRAL, "steps_per_call=auto", *clipped))


def test_compiled_network_writes_checkpoints_that_load_uncompiled(tmp_path):
    short = [*SPIRAL, "trainer.max_epochs=1", "model.dropout=0"]
    compiled = run(tmp_path / "compiled", short, "compile=true")
    plain = run(tmp_path / "plain", short, "compile=false")
    assert compiled["weights"].keys() == plain["weights"].keys()  # no `_orig_mod.` prefix
    ckpt = tmp_path / "compiled" / "checkpoints" / "last.ckpt"
    module = Classifier.load_from_checkpoint(ckpt, weights_only=True)  # as eval/predict load it
    for key, value in module.state_dict().items():
        assert torch.equal(value, compiled["weights"][key]), key
