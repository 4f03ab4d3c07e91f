"""Lessons of the labs on small generated data (lines, XOR, spirals, dropout sets).

Each lab's lesson, asserted in the robust form of ../shared/labs.md.

MNIST labs run on scikit-learn's digits resized to 28x28 (16x16 for the small-image CNNs); the
thresholds were measured on that data (seed 0, one torch thread) and each docstring states the
measured values. Steps are shortened where labs.md allows it; the direction and size of each
effect are the lab's.
"""

import pytest
import torch

from lab_helpers import FULL_BATCH_ADAM, checkpoint, metrics, only_at_end

pytestmark = pytest.mark.slow  # lesson reproductions: CI runs them, make test-fast does not


def test_mse_from_bad_init_stalls_but_random_init_fits(make_cfg, tmp_path):
    """Lab 1, course settings. Measured: bad init acc 0.65, w and b move < 0.01; default 1.0."""
    bad = metrics(make_cfg, tmp_path, "experiment=logreg_bad_init")
    state = checkpoint(tmp_path)
    assert bad["val/acc"] <= 0.70
    assert abs(float(state["net.linear.weight"]) + 5) < 0.05
    assert abs(float(state["net.linear.bias"]) + 10) < 0.05
    fit = metrics(make_cfg, tmp_path, "experiment=logreg_bad_init", "init=default",
                  "~init.weight", "init.bias=null")
    assert fit["val/acc"] == 1.0


def test_cross_entropy_escapes_the_bad_init(make_cfg, tmp_path):
    """Lab 2, course settings. Measured: lr 2 -> 1.0; lr 0.01 -> 0.65 (all predicted 0)."""
    assert metrics(make_cfg, tmp_path, "experiment=logreg_cross_entropy")["val/acc"] == 1.0
    slow = metrics(make_cfg, tmp_path, "experiment=logreg_cross_entropy", "optim.lr=0.01")
    assert slow["val/acc"] <= 0.70


def test_softmax_classifies_a_line_into_three_classes(make_cfg, tmp_path):
    """Lab 3, 100 of the course's 300 epochs. Measured: 0.95 (38 of 40) at 100, 1.0 at 300."""
    acc = metrics(make_cfg, tmp_path, "experiment=softmax_1d", "trainer.max_epochs=100")
    assert acc["val/acc"] >= 0.95 - 1e-6  # 38/40 in float32


def test_one_hidden_unit_cannot_separate_a_bump_but_four_can(make_cfg, tmp_path):
    """Lab 5, full-batch Adam 0.1, 1000 steps (labs.md: 2000). Measured: 1 unit 0.825,
    4 units 1.0."""
    run = ("experiment=hidden_layer_1d", *FULL_BATCH_ADAM, *only_at_end(1000))
    assert metrics(make_cfg, tmp_path, *run, "model.hidden=1")["val/acc"] <= 0.83
    assert metrics(make_cfg, tmp_path, *run, "model.hidden=4")["val/acc"] == 1.0


def test_more_neurons_fit_more_bumps(make_cfg, tmp_path):
    """Lab 6, full-batch Adam 0.1, 300 of the course's 600 steps. Measured: 1 unit 0.74
    (600 steps: 0.74); 9 units 1.0 on seeds 0, 1, 2 at 300 and at 600 steps (labs.md: on most
    seeds, so two of three must)."""
    run = ("experiment=more_neurons", *only_at_end(300))
    assert metrics(make_cfg, tmp_path, *run, "model.hidden=1")["val/acc"] <= 0.75
    nine = [metrics(make_cfg, tmp_path, *run, "model.hidden=9", f"seed={s}")["val/acc"]
            for s in range(3)]
    assert sum(acc == 1.0 for acc in nine) >= 2


def test_xor_needs_more_than_one_hidden_unit(make_cfg, tmp_path):
    """Lab 7, full-batch Adam 0.1, 1000 steps (labs.md: 2000). Measured: H=1 0.75, H=8 1.0."""
    run = ("experiment=xor_hidden", *FULL_BATCH_ADAM, *only_at_end(1000))
    assert metrics(make_cfg, tmp_path, *run, "model.hidden=1")["val/acc"] <= 0.75
    assert metrics(make_cfg, tmp_path, *run, "model.hidden=8")["val/acc"] == 1.0


def test_xor_noise_in_loop_redraws_the_noise_every_epoch():
    """Lab 7's quirk: with noise_in_loop the same points arrive with new noise each epoch."""
    from sweeplab.data.xor import XorData

    def two_epochs(in_loop: bool):
        dm = XorData(n=8, noise=0.01, noise_in_loop=in_loop, batch_size=8, shuffle=False)
        return [next(iter(dm.train_dataloader()))[0] for _ in range(2)]

    first, second = two_epochs(True)
    assert not torch.equal(first, second) and (first - second).abs().max() < 0.1
    first, second = two_epochs(False)
    assert torch.equal(first, second)


def test_identical_hidden_units_stay_identical(make_cfg, tmp_path):
    """Lab 15, 50 of the course's 1000 epochs (symmetry holds at every step). Measured: the
    two units' weights and biases equal to the last bit; acc 0.80."""
    m = metrics(make_cfg, tmp_path, "experiment=same_weights", *only_at_end(50))
    state = checkpoint(tmp_path)
    w, b, out = (state["net.layers.1.weight"], state["net.layers.1.bias"],
                 state["net.layers.3.weight"])
    assert (w[0] - w[1]).abs().max() < 1e-6 and (b[0] - b[1]).abs().max() < 1e-6
    assert (out[0, 0] - out[0, 1]).abs() < 1e-6
    assert m["val/acc"] <= 0.83


def test_shuffled_spiral_is_separated_by_a_relu_net(make_cfg, tmp_path):
    """Lab 12 with a shuffled loader, [2,50,3], SGD 0.1, 100 epochs.
    Measured: test acc 0.977 (val 0.954)."""
    m = metrics(make_cfg, tmp_path, "experiment=spiral_deep", "data.shuffle=true",
                "model.hidden=[50]", *only_at_end(100), "callbacks=none")
    assert m["test/acc"] >= 0.95


def test_momentum_helps_on_the_unshuffled_spiral(make_cfg, tmp_path):
    """Lab 18, course settings but 250 points per arm (half the steps), paired on seed 0.
    Measured val acc, momentum 0 vs 0.5: 0.850 vs 0.925 (seed 1: 0.817 vs 0.925, seed 2:
    0.792 vs 0.908; with the course's 500 per arm, seed 0: 0.829 vs 0.913)."""
    acc = {m: metrics(make_cfg, tmp_path, "experiment=momentum_spiral", f"optim.momentum={m}",
                      "data.n_per_class=250", *only_at_end(100), "callbacks=none")["val/acc"]
           for m in (0.0, 0.5)}
    assert acc[0.5] - acc[0.0] >= 0.05


def test_dropout_lowers_training_accuracy_and_helps_held_out_accuracy(make_cfg, tmp_path):
    """Lab 13, course settings (Adam 0.01, full batch, 500 steps), seeds 0-2. Training accuracy
    in eval mode, p=0 vs 0.5, measured: 0.875/0.852, 0.864/0.828, 0.889/0.847. Held-out (test,
    200 points) accuracy: 0.805/0.835, 0.795/0.845, 0.810/0.830, a mean gain of 3.3 points
    (the 160-point val split gains 1.0 point on average)."""
    runs = {(p, s): metrics(make_cfg, tmp_path, "experiment=dropout_classification",
                            f"model.dropout={p}", f"seed={s}", *only_at_end(500),
                            "callbacks=none")
            for p in (0.0, 0.5) for s in range(3)}
    for s in range(3):
        assert runs[0.0, s]["train/acc_eval"] > runs[0.5, s]["train/acc_eval"]
    gain = sum(runs[0.5, s]["test/acc"] - runs[0.0, s]["test/acc"] for s in range(3)) / 3
    assert gain >= 0.01


def test_dropout_regression_fits_the_noise_less(make_cfg, tmp_path):
    """Lab 14, course settings (Adam 0.01, full batch, 500 steps). Measured, p=0 vs 0.5:
    training MSE (eval mode) 0.458 vs 0.889; MSE to the true x^2 0.313 vs 0.064
    (seeds 1, 2: 0.514 vs 0.160, 0.377 vs 0.155)."""
    runs = {p: metrics(make_cfg, tmp_path, "experiment=dropout_regression", f"model.dropout={p}",
                       *only_at_end(500), "callbacks=none") for p in (0.0, 0.5)}
    assert runs[0.5]["test/loss"] < runs[0.0]["test/loss"]
    assert runs[0.5]["train/loss_eval"] > runs[0.0]["train/loss_eval"]
