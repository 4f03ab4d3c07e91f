"""Each training lab's lesson, asserted in the robust form of ../shared/labs.md.

MNIST labs run on scikit-learn's digits resized to 28x28 (16x16 for the small-image CNNs); the
thresholds were measured on that data (seed 0, one torch thread) and each docstring states the
measured values. Steps are shortened where labs.md allows it; the direction and size of each
effect are the lab's.
"""

import json
import math

import torch

from sweeplab.train import train

DIGITS28 = ("data=digits", "data.image_size=28")
FULL_BATCH_ADAM = ("optim=adam", "optim.lr=0.1", "data.full_batch=true")


def metrics(make_cfg, tmp_path, *overrides: str) -> dict[str, float]:
    """Train one job in-process (no TensorBoard) and return its final metrics."""
    train(make_cfg(*overrides, "~logger"))
    return json.loads((tmp_path / "metrics.json").read_text())["metrics"]


def checkpoint(tmp_path) -> dict[str, torch.Tensor]:
    return torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def only_at_end(epochs: int) -> tuple[str, str]:
    """Train `epochs` epochs, validating once at the end (cheaper for tiny full-batch runs)."""
    return f"trainer.max_epochs={epochs}", f"trainer.check_val_every_n_epoch={epochs}"


# ------------------------------------------------------------ logistic and softmax regression


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


def test_softmax_regression_learns_digits(make_cfg, tmp_path):
    """Lab 4 on digits 28x28, 10 epochs of 13 steps (MNIST: 1 epoch = 550 steps, >= 0.90).
    Measured: test acc 0.914."""
    assert metrics(make_cfg, tmp_path, "experiment=softmax_mnist", *DIGITS28,
                   "trainer.max_epochs=10")["test/acc"] >= 0.88


# ------------------------------------------------------------ hidden units


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


# ------------------------------------------------------------ activations, depth, init on digits


def test_big_batches_leave_the_mlp_under_trained(make_cfg, tmp_path):
    """Lab 8, course settings on digits 28x28: batch 2000 covers all 1,222 training images, so
    30 epochs are 30 steps at lr 0.01 and the sigmoid net has barely moved (MNIST: 900 steps,
    ~63%). Measured: test acc 0.070, val loss 2.3025 (ln 10 = 2.3026: still guessing)."""
    m = metrics(make_cfg, tmp_path, "experiment=mlp_mnist", *DIGITS28, "callbacks=none")
    assert m["test/acc"] <= 0.20 and abs(m["val/loss"] - math.log(10)) < 0.05


def test_relu_and_tanh_learn_faster_than_sigmoid(make_cfg, tmp_path):
    """Lab 10 on digits 28x28, SGD 0.1, batch 100, 10 epochs = 130 steps (MNIST: 1 epoch).
    Measured test acc: sigmoid 0.724, tanh 0.919, relu 0.916."""
    acc = {a: metrics(make_cfg, tmp_path, "experiment=activations_mnist", *DIGITS28,
                      "optim.lr=0.1", "data.batch_size=100", "trainer.max_epochs=10",
                      f"model.activation={a}")["test/acc"] for a in ("sigmoid", "tanh", "relu")}
    assert acc["relu"] >= 0.90 and acc["tanh"] >= 0.90
    assert acc["sigmoid"] <= min(acc["relu"], acc["tanh"]) - 0.03


def test_depth_hurts_sigmoid_most(make_cfg, tmp_path):
    """Lab 11 on digits 28x28, 784-50-50-10, SGD 0.01, full batch, 300 steps.
    Measured test acc: sigmoid 0.070, tanh 0.766, relu 0.641."""
    acc = {a: metrics(make_cfg, tmp_path, "experiment=deep_mnist", *DIGITS28,
                      *only_at_end(300), f"model.activation={a}")["test/acc"]
           for a in ("sigmoid", "tanh", "relu")}
    assert acc["sigmoid"] <= 0.12 and acc["tanh"] >= 0.55
    assert acc["tanh"] > acc["relu"] > acc["sigmoid"]


def test_xavier_init_trains_a_deep_tanh_net(make_cfg, tmp_path):
    """Lab 16a on digits 28x28, SGD 0.01, full batch, 450 steps.
    Measured test acc: xavier 0.696, default 0.212, uniform(0,1) 0.070."""
    acc = {i: metrics(make_cfg, tmp_path, "experiment=xavier_mnist", *DIGITS28,
                      *only_at_end(450), f"init={i}", "callbacks=none")["test/acc"]
           for i in ("xavier", "default", "uniform")}
    assert acc["xavier"] >= 0.50 and acc["default"] <= 0.30 and acc["uniform"] <= 0.12


def test_he_init_trains_a_deep_relu_net(make_cfg, tmp_path):
    """Lab 16b on digits 28x28, SGD 0.01, full batch, 300 steps.
    Measured test acc: he 0.936, default 0.290."""
    acc = {i: metrics(make_cfg, tmp_path, "experiment=he_mnist", *DIGITS28,
                      *only_at_end(300), f"init={i}", "callbacks=none")["test/acc"]
           for i in ("he", "default")}
    assert acc["he"] >= 0.80 and acc["default"] <= 0.35


def test_batchnorm_after_sigmoid_rescues_adam_at_lr_0_1(make_cfg, tmp_path):
    """Lab 19 on digits 28x28, Adam 0.1, full batch, 30 steps.
    Measured test acc: BN 0.925, no BN 0.070."""
    acc = {bn: metrics(make_cfg, tmp_path, "experiment=batchnorm_mnist", *DIGITS28,
                       *only_at_end(30), f"model.batchnorm={bn}", "callbacks=none")["test/acc"]
           for bn in ("true", "false")}
    assert acc["true"] >= 0.85 and acc["true"] - acc["false"] >= 0.20


# ------------------------------------------------------------ spirals, momentum, dropout


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


# ------------------------------------------------------------ CNNs


def test_tiny_cnn_tells_line_directions_apart_when_its_one_channel_layer_starts_alive(
        make_cfg, tmp_path):
    """Lab 23, 1000 images, 5 epochs (labs.md: 1-2k images, 5 epochs), seeds 0-3. The second
    conv has one channel: on seeds 0 and 2 PyTorch's default init leaves its ReLU output zero for
    every image, so nothing trains (loss stays ln 2). Every seed that starts alive reaches val
    acc 1.0 (measured: seeds 1, 3, 4, 5)."""
    import lightning as L

    from sweeplab.data.lines import LinesData
    from sweeplab.tasks import build_network

    for seed in range(4):
        L.seed_everything(seed, verbose=False)  # the same draw train() makes for this seed
        net = build_network({"_target_": "sweeplab.models.cnn.SmallCNN", "channels": [2, 1],
                             "kernel_size": 2, "padding": 0, "pool_stride": 1},
                            (1, 11, 11), 2)
        images = LinesData(n=1000, offset=0, seed=seed).load()["train"].x.float() / 255
        alive = bool((net.features[:5](images) > 0).any())
        m = metrics(make_cfg, tmp_path, "experiment=cnn_lines", "data.n=1000",
                    "trainer.max_epochs=5", "callbacks=none", f"seed={seed}")
        if alive:
            assert m["val/acc"] == 1.0
        else:
            assert abs(m["val/loss"] - math.log(2)) < 0.01


def test_small_cnn_learns_16x16_digits(make_cfg, tmp_path):
    """Lab 24 on digits 16x16, SGD 0.1, batch 100, 15 epochs = 195 steps (MNIST: 1 epoch
    = 550 steps, >= 0.95). Measured test acc 0.947 (5 epochs: 0.738)."""
    m = metrics(make_cfg, tmp_path, "experiment=cnn_small_mnist", "data=digits",
                "trainer.max_epochs=15", "callbacks=none")
    assert m["test/acc"] >= 0.92


def test_batchnorm_cnn_beats_the_plain_one(make_cfg, tmp_path):
    """Lab 25 on digits 16x16, SGD 0.1, batch 100, 10 epochs (the course's).
    Measured test acc: BN 0.989, plain 0.900 (5 epochs: 0.903 vs 0.738)."""
    acc = {bn: metrics(make_cfg, tmp_path, "experiment=cnn_small_mnist_bn", "data=digits",
                       "trainer.max_epochs=10", f"model.batchnorm={bn}",
                       "callbacks=none")["test/acc"] for bn in ("true", "false")}
    assert acc["true"] >= 0.975 and acc["true"] > acc["false"]


def test_cnn_learns_the_generated_two_class_folder(make_cfg, tmp_path):
    """Lab 26 without data.root: the stand-in (2 x 50 images, 64x64 RGB) is generated into the
    data dir on first use; course settings. Measured: val acc 1.0 (train 1.0)."""
    m = metrics(make_cfg, tmp_path, "experiment=cnn_anime", "callbacks=none")
    assert len(list((tmp_path / "data" / "anime_standin" / "discs").glob("*.png"))) == 50
    assert m["val/acc"] == 1.0


def test_fullbatch_walkthrough_prints_rising_accuracy_every_100_epochs(make_cfg, tmp_path,
                                                                      capsys):
    """The MNIST walkthrough on digits 28x28: full-batch GD at lr 0.1, 500 of its 1000 epochs.
    Measured accuracy at the prints (1000 epochs): 0.755 0.874 0.908 0.926 0.941 0.951 0.957
    0.959 0.966 0.968 (test acc 0.933)."""
    metrics(make_cfg, tmp_path, "experiment=mlp_fullbatch", *DIGITS28, "callbacks=none",
            "trainer.max_epochs=500")
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch ")]
    assert [int(ln.split()[1].rstrip(":")) for ln in lines] == list(range(100, 501, 100))
    accuracy = [float(ln.rsplit("accuracy", 1)[1]) for ln in lines]
    assert all(b > a for a, b in zip(accuracy, accuracy[1:], strict=False))
