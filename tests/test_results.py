"""Looking at results: the comparison figures and tables of a real sweep (run through joblib,
with seeds), the TensorBoard figures of a job, and eval.py / predict.py on a saved model."""

from __future__ import annotations

import csv
import json
import os
import runpy
from pathlib import Path

from PIL import Image

from conftest import ROOT, run_script
from sweeplab.train import train

QUIET = ["threads=1", "trainer.enable_progress_bar=false"]
TINY_SPIRAL = ["data=spiral", "data.n_per_class=100", "trainer.max_epochs=2"]
FIGURES = ("curves_train_loss.png", "curves_val_loss.png", "curves_val_acc.png",
           "final_val_acc.png")


def script(name: str) -> dict:
    """A script's functions, loaded in this process (no subprocess start-up)."""
    return runpy.run_path(str(ROOT / "scripts" / f"{name}.py"), run_name=f"script_{name}")


def assert_images(folder: Path, names=FIGURES) -> None:
    for name in names:
        with Image.open(folder / name) as img:
            assert img.format == "PNG" and img.width > 100 and img.height > 100


def test_seed_sweep_through_joblib_compares_jobs_and_groups_seeds(tmp_path):
    sweep = tmp_path / "sweep"
    # threads=0: the launcher's two parallel jobs share this process's cores
    result = run_script(["train.py", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                         *TINY_SPIRAL, "optim.lr=0.1,0.3", "seed=0,1", "threads=0",
                         "trainer.enable_progress_bar=false", f"hydra.sweep.dir={sweep}"],
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    cores = len(os.sched_getaffinity(0))
    records = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert [r["threads"] for r in records] == [max(1, cores // 2)] * 4
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert sorted(r["job"] for r in rows) == ["optim.lr=0.1,seed=0", "optim.lr=0.1,seed=1",
                                              "optim.lr=0.3,seed=0", "optim.lr=0.3,seed=1"]
    # a folder (and TensorBoard run) per job named as its row, a column per swept key
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == sorted(r["job"] for r in rows)
    assert sorted((r["optim.lr"], r["seed"]) for r in rows) == [
        ("0.1", "0"), ("0.1", "1"), ("0.3", "0"), ("0.3", "1")]
    # each row carries its configuration's seed mean and spread
    lr01 = [r for r in rows if r["optim.lr"] == "0.1"]
    assert lr01[0]["configuration"] == "optim.lr=0.1" and lr01[0]["val/acc mean"]
    md = (sweep / "summary.md").read_text()
    groups = [line for line in md.splitlines() if line.startswith("| optim.lr=0.") and "±" in line]
    assert sorted(g.split(" | ")[0] for g in groups) == ["| optim.lr=0.1", "| optim.lr=0.3"]
    assert all(" | 2/2 | " in g for g in groups)
    assert_images(sweep)  # drawn at the end of the multirun
    assert "![curves_val_acc](curves_val_acc.png)" in md
    assert_images(sweep, ["seeds_val_acc.png", "seeds_train_loss.png"])  # mean ± std bands
    assert "![seeds_val_acc](seeds_val_acc.png)" in md

    # compare.py redraws them from the jobs' logs alone
    for name in FIGURES:
        (sweep / name).unlink()
    result = run_script(["compare.py", str(sweep)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_images(sweep)
    assert md.splitlines()[:12] == (sweep / "summary.md").read_text().splitlines()[:12]
    assert "figure:" in result.stdout

    # a saved job of the sweep: eval.py repeats its test metrics (on the best epoch's weights,
    # which a sweep tests), predict.py draws one point
    job = next(p.parent for p in sweep.glob("*/metrics.json"))
    ckpt = job / "checkpoints" / "best.ckpt"
    metrics = script("eval")["evaluate"](str(ckpt))
    trained = json.loads((job / "metrics.json").read_text())["metrics"]
    assert metrics["test/acc"] == trained["test/acc"]
    assert script("predict")["main"]([f"ckpt_path={ckpt}", "index=0"]) == 0
    assert_images(job, ["predict_0.png"])


def saved_job(make_cfg, tmp_path, *overrides: str) -> Path:
    """Train one job in this process and lay it out as Hydra does (.hydra/config.yaml)."""
    from omegaconf import OmegaConf

    cfg = make_cfg(*overrides)
    train(cfg)
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp_path / ".hydra" / "config.yaml")
    return tmp_path / "checkpoints" / "last.ckpt"


def test_eval_and_predict_on_an_image_classifier(make_cfg, tmp_path, capsys):
    ckpt = saved_job(make_cfg, tmp_path, "data=digits", "model=softmax", "trainer.max_epochs=2",
                     "callbacks.visualize.every_n_epochs=1", "callbacks.visualize.histograms=true")
    trained = json.loads((tmp_path / "metrics.json").read_text())["metrics"]

    assert script("eval")["main"]([f"ckpt_path={ckpt}"]) == 0
    evaluated = json.loads((tmp_path / "eval_test.json").read_text())
    assert evaluated["test/acc"] == trained["test/acc"]
    assert evaluated["test/loss"] == trained["test/loss"]

    out = tmp_path / "digit.png"
    assert script("predict")["main"]([f"ckpt_path={ckpt}", "index=5", f"out={out}"]) == 0
    printed = capsys.readouterr().out
    assert "test example 5: true label" in printed and "predicted" in printed
    assert printed.count("  0.") + printed.count("  1.0") == 10  # one probability per digit
    assert_images(tmp_path, ["digit.png"])

    # the job's TensorBoard figures and histograms
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"~val/predictions", "~val/confusion_matrix", "~test/predictions",
            "~test/confusion_matrix"} <= set(tags["images"])
    # figures on the scalars' step axis: each val figure at the step of a val/acc point
    assert [e.step for e in events.Images("~val/predictions")] == [
        e.step for e in events.Scalars("val/acc")]
    assert any(t.startswith("weights/") for t in tags["histograms"])
    assert any(t.startswith("grads/") for t in tags["histograms"])


def test_2d_and_1d_data_get_regions_and_curves(make_cfg, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for name, overrides in (("spiral", TINY_SPIRAL), ("line", ["data=synthetic",
                                                               "model=logistic",
                                                               "trainer.max_epochs=1"])):
        cfg = make_cfg(*overrides)
        cfg.paths.output_dir = str(tmp_path / name)
        train(cfg)
        events = EventAccumulator(str(tmp_path / name), size_guidance={"images": 0})
        events.Reload()
        expected = "~test/decision_regions" if name == "spiral" else "~test/fit"
        assert expected in events.Tags()["images"]


def test_test_on_best_measures_the_weights_of_the_best_validation_epoch(make_cfg, tmp_path):
    from sweeplab.sweep.compare import read_csv_curves

    last = saved_job(make_cfg, tmp_path, "data=spiral", "data.n_per_class=100", "optim.lr=2",
                     "trainer.max_epochs=8", "test_on=best", "logger=both",
                     "callbacks.visualize.every_n_epochs=0", "callbacks.visualize.at_end=false")
    record = json.loads((tmp_path / "metrics.json").read_text())
    val_acc = read_csv_curves(tmp_path / "metrics.csv")["val/acc"][1]
    best_epoch = 1 + val_acc.index(max(val_acc))
    assert record["tested_on"] == "best" and record["metrics"]["tested_epoch"] == best_epoch
    assert best_epoch < len(val_acc)  # this run's last epoch is not its best
    best = tmp_path / "checkpoints" / "best.ckpt"
    assert script("eval")["main"]([f"ckpt_path={best}"]) == 0
    tested = json.loads((tmp_path / "eval_test.json").read_text())
    assert tested["test/acc"] == record["metrics"]["test/acc"]
    assert script("eval")["main"]([f"ckpt_path={last}"]) == 0  # the last epoch's: still kept
    assert json.loads((tmp_path / "eval_test.json").read_text()) != tested


def test_learning_curves_are_the_first_tensorboard_cards(make_cfg, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from sweeplab.sweep.compare import read_event_curves

    train(make_cfg(*TINY_SPIRAL, "callbacks.visualize.every_n_epochs=1"))
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    scalars, images = events.Tags()["scalars"], events.Tags()["images"]
    assert "epoch" not in scalars and {"~test/acc", "~test/loss"} <= set(scalars)
    curves = sorted(t for t in scalars if t.startswith(("train/", "val/")))
    # Time Series orders cards by tag: the learning curves before the test results and figures
    assert sorted(scalars + images)[: len(curves)] == curves
    assert {"train/loss", "val/loss", "val/acc"} <= set(curves)
    # the comparison figures still put the curves on epochs
    read = read_event_curves(tmp_path)
    assert read["val/acc"][0] == read["train/loss"][0] == [1.0, 2.0]
    assert read["test/acc"][0] == [2.0]


def test_prediction_captions_and_confusion_counts_are_legible_at_tensorboards_size():
    import types

    import torch

    from sweeplab.visualize import confusion, image_grid

    names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
             "Bag", "Ankle boot"]
    dm = types.SimpleNamespace(class_names=names, num_classes=10)
    y = torch.arange(16) % 10
    preds = torch.where(torch.arange(16) % 3 == 0, (y + 9) % 10, y)  # "Ankle boot (true T-shirt)"
    for fig in (image_grid(torch.rand(16, 1, 28, 28), y, preds, dm),
                confusion(preds.repeat(50), y.repeat(50), dm)):
        fig.canvas.draw()
        width = fig.get_size_inches()[0] * fig.dpi
        assert width <= 540  # about TensorBoard's image card: shown near its own size
        texts = [t for t in fig.axes[0].texts]
        assert texts and min(t.get_fontsize() for t in texts) >= 9
        boxes = [t.get_window_extent() for t in texts]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_predict_and_eval_reject_bad_arguments(tmp_path, capsys):
    import pytest

    for name, argv, message in (("eval", ["ckpt=1"], "ckpt: unknown argument"),
                                ("eval", [f"ckpt_path={tmp_path}/x.ckpt"], "no such checkpoint"),
                                ("predict", [], "ckpt_path=<job dir>")):
        with pytest.raises(SystemExit) as exc:
            script(name)["main"](argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
