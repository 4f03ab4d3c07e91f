"""Weight initialisation: each scheme's statistics, bias handling, and the config files."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from sweeplab.init import SCHEMES, init_weights
from sweeplab.tasks import build_network


def big_layer(fan_in: int = 400, fan_out: int = 300) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(fan_in, fan_out)


def test_default_keeps_pytorch_initialisation():
    layer = big_layer()
    before = layer.weight.clone(), layer.bias.clone()
    init_weights(layer, "default")
    assert torch.equal(layer.weight, before[0]) and torch.equal(layer.bias, before[1])


def test_uniform_draws_every_weight_from_its_range():
    w = init_weights(big_layer(), "uniform", low=-0.3, high=0.5).weight
    assert w.min() >= -0.3 and w.max() < 0.5
    assert w.mean().item() == pytest.approx(0.1, abs=0.01)
    assert w.var().item() == pytest.approx(0.8**2 / 12, rel=0.05)


def test_normal_has_the_requested_mean_and_std():
    w = init_weights(big_layer(), "normal", mean=0.2, std=0.05).weight
    assert w.mean().item() == pytest.approx(0.2, abs=0.002)
    assert w.std().item() == pytest.approx(0.05, rel=0.03)


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_xavier_variance_is_two_over_fan_in_plus_fan_out(distribution):
    w = init_weights(big_layer(400, 300), "xavier", distribution=distribution, gain=1.5).weight
    assert w.var().item() == pytest.approx(1.5**2 * 2 / (400 + 300), rel=0.05)


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_he_variance_is_two_over_fan_in(distribution):
    w = init_weights(big_layer(400, 300), "he", distribution=distribution,
                     nonlinearity="relu").weight
    assert w.var().item() == pytest.approx(2 / 400, rel=0.05)


def test_he_counts_the_kernel_in_a_convolution_fan_in():
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 64, 5)
    init_weights(conv, "he", distribution="normal", nonlinearity="relu")
    assert conv.weight.var().item() == pytest.approx(2 / (16 * 25), rel=0.05)


def test_constant_makes_every_weight_equal_and_hidden_units_identical():
    net = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2))
    init_weights(net, "constant", weight=0.5, bias=0.0)
    for layer in (net[0], net[2]):
        assert torch.all(layer.weight == 0.5) and torch.all(layer.bias == 0.0)
    hidden = net[1](net[0](torch.randn(5, 3)))
    assert torch.allclose(hidden, hidden[:, :1].expand_as(hidden))  # the symmetry lesson


def test_bias_is_left_alone_unless_given():
    layer = big_layer()
    bias = layer.bias.clone()
    init_weights(layer, "normal", mean=0.0, std=0.1)
    assert torch.equal(layer.bias, bias)
    init_weights(layer, "normal", mean=0.0, std=0.1, bias=0.25)
    assert torch.all(layer.bias == 0.25)


def test_every_linear_and_conv_layer_is_initialised_but_not_batchnorm():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2),
                        nn.BatchNorm1d(2))
    init_weights(net, "constant", weight=0.3)
    assert torch.all(net[0].weight == 0.3) and torch.all(net[3].weight == 0.3)
    assert torch.all(net[1].weight == 1.0) and torch.all(net[4].weight == 1.0)


def test_unknown_scheme_is_rejected():
    with pytest.raises(ValueError, match="allowed: default, uniform"):
        init_weights(nn.Linear(2, 2), "zeros")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_init_config_file_applies_to_a_network(make_cfg, scheme):
    cfg = make_cfg("data=spiral", "model=deep", f"init={scheme}")
    init = OmegaConf.to_container(cfg.init, resolve=True)
    assert init["scheme"] == scheme
    net = build_network(OmegaConf.to_container(cfg.model), (2,), 3, init)
    first = net.layers[1].weight
    if scheme == "constant":
        assert torch.all(first == first[0, 0])
    elif scheme == "he":
        bound = math.sqrt(6 / 2)  # kaiming uniform for relu: sqrt(6 / fan_in), fan_in = 2
        assert 0.8 < first.abs().max() <= bound  # PyTorch's default stays under 0.71
