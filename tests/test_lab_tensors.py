"""The labs that train nothing: exact tensors as the course shows them, and each lab's figure
written as PNG and to TensorBoard by `scripts/lab.py` and by `train.py experiment=<name>`."""

import json

import pytest
import torch

from conftest import run_script
from sweeplab.labs import (
    LABS,
    activation_functions,
    conv_basics,
    momentum_polynomial,
    multi_channel,
    pooling,
    run,
)
from sweeplab.train import train


def rows(*row, n=3):
    return torch.tensor([list(row)] * n, dtype=torch.float32)


def test_activation_curves_and_derivatives_equal_torch_functions():
    c = activation_functions.curves()
    z = torch.arange(-10.0, 10.0, 0.1)
    assert torch.equal(c["z"], z)
    assert torch.equal(c["sigmoid"], torch.sigmoid(z))
    assert torch.equal(c["tanh"], torch.tanh(z))
    assert torch.equal(c["relu"], torch.relu(z))
    assert torch.allclose(c["sigmoid_grad"], torch.sigmoid(z) * (1 - torch.sigmoid(z)), atol=1e-6)
    assert torch.allclose(c["tanh_grad"], 1 - torch.tanh(z) ** 2, atol=1e-6)
    assert torch.equal(c["relu_grad"], (z > 0).float())


def test_sobel_finds_the_vertical_line_and_output_size_follows_the_formula():
    r = conv_basics.results()
    assert torch.equal(r["sobel"], rows(-4, 0, 4))
    assert torch.equal(r["ones_s1_p0"], torch.full((3, 3), 4.0))
    assert torch.equal(r["ones_s2_p0"], torch.full((2, 2), 4.0))
    assert torch.equal(r["ones_s3_p0"], torch.tensor([[4.0]]))
    assert torch.equal(r["ones_s3_p1"], torch.tensor([[1.0, 2.0], [2.0, 4.0]]))
    for m, k, s, p in ((5, 3, 1, 0), (4, 2, 2, 0), (4, 2, 3, 1)):
        out = torch.nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, m, m))
        assert out.shape[-1] == conv_basics.output_size(m, k, s, p)


def test_relu_then_max_pooling_gives_the_course_tensors():
    r = pooling.results()
    assert torch.equal(r["relu"], rows(0, 0, 4))
    assert torch.equal(r["max_pool_s1"], rows(2, 3, 3))
    assert torch.equal(r["max_pool_s2"], torch.tensor([[2.0, 3.0], [2.0, 3.0]]))


def test_channels_in_and_out_give_exact_tensors():
    r = multi_channel.results()
    assert torch.equal(r["one_to_three"][0], rows(-4, 0, 4))
    assert torch.equal(r["one_to_three"][1], torch.zeros(3, 3))
    assert torch.equal(r["one_to_three"][2], torch.full((3, 3), 3.0))
    # Gx on the vertical line plus Gy on the horizontal one: the two responses add up
    diagonal = torch.tensor([[-8.0, -4.0, 0.0], [-4.0, 0.0, 4.0], [0.0, 4.0, 8.0]])
    assert torch.equal(r["two_to_one"], diagonal)
    assert torch.equal(r["two_to_three"][0], diagonal)
    assert torch.equal(r["two_to_three"][1], torch.full((3, 3), 6.0))
    assert torch.equal(r["two_to_three"][2], torch.zeros(3, 3))


def test_momentum_passes_the_saddle_and_escapes_the_local_minimum():
    r = momentum_polynomial.results()
    assert abs(r["quartic_m0.0"][-1] - 4) < 0.05
    assert abs(r["quartic_m0.9"][-1] + 2) < 0.05
    assert 1.5 < r["cubic_m0.0"][-1] < 2
    assert r["cubic_m0.9"][-1] < 0


@pytest.mark.parametrize("name", ["activation_functions", "conv_basics", "pooling",
                                  "multi_channel", "momentum_polynomial"])
def test_lab_writes_png_and_tensorboard_figure(name, tmp_path):
    run(name, tmp_path)
    assert list(tmp_path.glob("*.png"))
    assert list(tmp_path.glob("events.out.tfevents.*"))


def test_lab_script_prints_tensors_and_writes_figure(tmp_path):
    result = run_script(["lab.py", "conv_basics", "--out", str(tmp_path / "fig")], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[-4.,  0.,  4.]" in result.stdout
    assert (tmp_path / "fig" / "conv_sobel.png").is_file()


def test_train_dispatches_a_lab_experiment(make_cfg, tmp_path):
    train(make_cfg("experiment=pooling"))
    assert (tmp_path / "pooling.png").is_file()
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "completed"


def test_every_registered_lab_has_an_experiment_file():
    from conftest import CONF

    for name in LABS:
        if name != "make_anime_standin":
            assert (CONF / "experiment" / f"{name}.yaml").is_file()
