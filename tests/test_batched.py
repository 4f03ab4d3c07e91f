"""The batched launcher: a sweep trained as one stacked model gives the sequential results."""

import copy
import json

import pytest
import torch

from conftest import run_script
from sweeplab.batched import train_stacked, why_not_batched
from sweeplab.stacked_optim import StackedAdam, StackedSGD
from sweeplab.tasks import Classifier
from sweeplab.train import train

SPIRAL = ["data=spiral", "data.n_per_class=100", "model=mlp", "model.hidden=16",
          "trainer.max_epochs=3"]


def _train_pair(stacked_optimizer, torch_optimizers, steps=5):
    """Train two copies of a small net stacked and two with torch.optim; final weights."""
    torch.manual_seed(0)
    nets = [torch.nn.Linear(3, 2) for _ in range(2)]
    stacked = [torch.stack([p.detach() for p in ps]).requires_grad_()
               for ps in zip(*(n.parameters() for n in nets), strict=True)]
    opt = stacked_optimizer(stacked)
    singles = [copy.deepcopy(n) for n in nets]
    opts = [make(n.parameters()) for make, n in zip(torch_optimizers, singles, strict=True)]
    x = torch.randn(steps, 8, 3)
    for t in range(steps):
        w, b = stacked
        (torch.einsum("bi,moi->mbo", x[t], w) + b[:, None]).pow(2).sum().backward()
        opt.step()
        for p in stacked:
            p.grad = None
        for net, o in zip(singles, opts, strict=True):
            o.zero_grad()
            net(x[t]).pow(2).sum().backward()
            o.step()
    return stacked, singles


def test_stacked_sgd_follows_torch_sgd_for_each_model():
    stacked, singles = _train_pair(
        lambda ps: StackedSGD(ps, lr=[0.1, 0.05], momentum=[0.9, 0.0],
                              weight_decay=[0.01, 0.0], nesterov=[True, False]),
        [lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01,
                                    nesterov=True),
         lambda ps: torch.optim.SGD(ps, lr=0.05)])
    for i, net in enumerate(singles):
        for p, s in zip(net.parameters(), stacked, strict=True):
            torch.testing.assert_close(s[i], p, rtol=1e-5, atol=1e-6)


def test_stacked_adam_follows_torch_adam_for_each_model():
    stacked, singles = _train_pair(
        lambda ps: StackedAdam(ps, lr=[0.01, 0.003], betas=[(0.9, 0.999), (0.8, 0.99)], eps=1e-8,
                               weight_decay=[0.0, 0.1]),
        [lambda ps: torch.optim.Adam(ps, lr=0.01),
         lambda ps: torch.optim.Adam(ps, lr=0.003, betas=(0.8, 0.99), weight_decay=0.1)])
    for i, net in enumerate(singles):
        for p, s in zip(net.parameters(), stacked, strict=True):
            torch.testing.assert_close(s[i], p, rtol=1e-5, atol=1e-6)


def test_stacked_jobs_match_jobs_trained_alone(make_cfg, tmp_path):
    variants = [["optim.lr=0.05"], ["optim.lr=0.2", "optim.momentum=0.9"],
                ["optim.lr=0.1", "optim.weight_decay=0.01", "init=xavier", "seed=3",
                 "optim.scheduler=step", "optim.step_size=1", "optim.gamma=0.5"]]
    cfgs = [make_cfg(*SPIRAL, *v) for v in variants]
    assert why_not_batched(cfgs) is None
    results = train_stacked(cfgs)
    for cfg, result in zip(cfgs, results, strict=True):
        train(cfg)
        alone = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
        assert set(result.metrics) == set(alone)
        for key, value in alone.items():
            assert result.metrics[key] == pytest.approx(value, abs=1e-4), key


def test_dropout_rates_stack_and_a_job_without_dropout_is_unchanged(make_cfg, tmp_path):
    cfgs = [make_cfg(*SPIRAL, "model.dropout=0.0"), make_cfg(*SPIRAL, "model.dropout=0.5")]
    assert why_not_batched(cfgs) is None
    plain, dropped = train_stacked(cfgs)
    train(cfgs[0])
    alone = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert plain.metrics["val/acc"] == pytest.approx(alone["val/acc"], abs=1e-4)
    assert plain.metrics["train/loss"] != pytest.approx(dropped.metrics["train/loss"], abs=1e-3)


@pytest.mark.parametrize("change, reason", [
    (["model.hidden=32"], "architecture"),
    (["model.batchnorm=true"], "batch norm"),
    (["optim=adam"], "optimisers"),
    (["data.noise=0.5"], "data"),
])
def test_sweeps_that_cannot_stack_are_named(make_cfg, change, reason):
    cfgs = [make_cfg(*SPIRAL), make_cfg(*SPIRAL, *change)]
    assert reason in why_not_batched(cfgs)


def test_batched_launcher_writes_each_jobs_outputs_and_summary(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", "hydra/launcher=batched", *SPIRAL, "threads=1",
                         "trainer.enable_progress_bar=false", "optim.lr=0.05,0.2",
                         f"hydra.sweep.dir={sweep}", f"paths.log_dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "training 2 jobs as one stacked model" in result.stdout
    jobs = sorted(sweep.glob("*/metrics.json"))
    assert len(jobs) == 2
    for path in jobs:
        record = json.loads(path.read_text())
        assert record["status"] == "completed"
        assert 0 < record["metrics"]["val/acc"] <= 1
        assert list(path.parent.glob("events.out.tfevents.*"))
        ckpt = path.parent / "checkpoints" / "last.ckpt"
        assert Classifier.load_from_checkpoint(ckpt, weights_only=True).net is not None
        lr = next(o for o in record["overrides"] if o.startswith("optim.lr="))
        assert lr in path.parent.name
        assert lr in (path.parent / ".hydra" / "overrides.yaml").read_text()
    assert "optim.lr=0.2" in (sweep / "summary.md").read_text()


def test_batched_launcher_falls_back_with_a_notice(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_script(["train.py", "-m", "hydra/launcher=batched", *SPIRAL, "threads=1",
                         "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                         "model.hidden=4,8", f"hydra.sweep.dir={sweep}",
                         f"paths.log_dir={tmp_path}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    notices = [line for line in result.stdout.splitlines() if "batched launcher" in line]
    assert len(notices) == 1 and "one by one" in notices[0]
    assert len(list(sweep.glob("*/metrics.json"))) == 2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_stacked_jobs_train_on_the_gpu(make_cfg):
    cfgs = [make_cfg(*SPIRAL, "trainer.accelerator=gpu", f"optim.lr={lr}") for lr in (0.1, 0.2)]
    results = train_stacked(cfgs)
    assert all(0 < r.metrics["val/acc"] <= 1 for r in results)
