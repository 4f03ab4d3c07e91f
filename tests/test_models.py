"""Every network family: output shapes, layer layout and the options each one takes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sweeplab.models.cnn import SmallCNN, conv_output_shape
from sweeplab.models.deep import DeepNet
from sweeplab.models.layers import ACTIVATIONS, Dropout
from sweeplab.models.logistic import LogisticRegression
from sweeplab.models.mlp import MLP
from sweeplab.models.softmax import SoftmaxRegression
from sweeplab.tasks import build_network


def linears(net: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("shape", [(2,), (1,), (1, 11, 11)])
def test_logistic_regression_gives_one_logit_from_any_input(shape):
    net = LogisticRegression(shape)
    assert net(torch.randn(5, *shape)).shape == (5, 1)
    assert len(linears(net)) == 1


def test_softmax_regression_gives_one_logit_per_class():
    net = SoftmaxRegression((1, 8, 8), 10)
    assert net(torch.randn(4, 1, 8, 8)).shape == (4, 10)
    assert linears(net) == [(64, 10)]


def test_mlp_has_exactly_one_hidden_layer():
    net = MLP((2,), 3, hidden=7)
    assert net(torch.randn(6, 2)).shape == (6, 3)
    assert linears(net) == [(2, 7), (7, 3)]
    assert isinstance(net.layers[2], nn.Sigmoid)  # the course's default activation


def test_deep_net_follows_any_list_of_hidden_sizes():
    net = DeepNet((1, 28, 28), 10, hidden=[50, 40, 30])
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert linears(net) == [(784, 50), (50, 40), (40, 30), (30, 10)]
    assert linears(DeepNet((2,), 3, hidden=[])) == [(2, 3)]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activation_is_used_between_layers(name):
    net = DeepNet((2,), 3, hidden=[4, 4], activation=name)
    acts = [m for m in net.modules() if isinstance(m, ACTIVATIONS[name])]
    assert len(acts) == 2
    assert net(torch.randn(3, 2)).shape == (3, 3)


def test_batchnorm_goes_before_the_activation_unless_asked_after():
    before = [type(m) for m in MLP((2,), 3, hidden=4, batchnorm=True).layers]
    after = [type(m) for m in MLP((2,), 3, hidden=4, batchnorm=True,
                                  bn_after_activation=True).layers]
    assert before[1:5] == [nn.Linear, nn.BatchNorm1d, nn.Sigmoid, nn.Linear]
    assert after[1:5] == [nn.Linear, nn.Sigmoid, nn.BatchNorm1d, nn.Linear]


def test_dropout_follows_each_hidden_layer_only_when_asked():
    assert sum(isinstance(m, nn.Dropout) for m in DeepNet((2,), 3, [4, 4], dropout=0.5)
               .modules()) == 2
    assert not any(isinstance(m, nn.Dropout) for m in DeepNet((2,), 3, [4, 4]).modules())


@pytest.mark.parametrize("shape, options, flat", [
    ((1, 28, 28), {}, 32 * 7 * 7),
    # lab 24: MNIST resized to 16x16, two 5x5 conv blocks with 2x2 pooling
    ((1, 16, 16), {}, 512),
    # lab 26: 64x64 RGB image folders
    ((3, 64, 64), {"channels": [32, 64], "kernel_size": 3, "padding": 1, "hidden": [128]},
     16384),
    # lab 23: the 11x11 lines net, 2x2 kernels and stride-1 pooling down to 7x7
    ((1, 11, 11), {"channels": [2, 1], "kernel_size": 2, "padding": 0, "pool_stride": 1}, 49),
])
def test_cnn_works_out_its_flattened_size_from_the_input(shape, options, flat):
    net = SmallCNN(shape, 10, **options)
    assert net(torch.randn(3, *shape)).shape == (3, 10)
    assert linears(net)[0][0] == flat


def test_cnn_options_build_the_blocks_they_name():
    net = SmallCNN((1, 16, 16), 10, channels=[4], pool="avg", batchnorm=True,
                   activation="tanh", logit_batchnorm=True, dropout=0.2, hidden=[8])
    kinds = {type(m) for m in net.modules()}
    assert {nn.AvgPool2d, nn.BatchNorm2d, nn.Tanh, nn.BatchNorm1d, Dropout} <= kinds
    assert nn.MaxPool2d not in kinds
    assert net(torch.randn(2, 1, 16, 16)).shape == (2, 10)


def test_conv_output_shape_matches_the_course_formula():
    # (M - K + 2P) / S + 1, then the same for the pool
    assert conv_output_shape((1, 5, 5), [1], 2, 0, 1, "none", 2, None) == (1, 4, 4)
    assert conv_output_shape((1, 4, 4), [1], 2, 0, 2, "none", 2, None) == (1, 2, 2)
    assert conv_output_shape((1, 4, 4), [1], 2, 1, 3, "none", 2, None) == (1, 2, 2)
    assert conv_output_shape((3, 64, 64), [32, 64], 3, 1, 1, "max", 2, None) == (64, 16, 16)


def test_build_network_takes_the_plain_model_config():
    net = build_network({"_target_": "sweeplab.models.deep.DeepNet", "hidden": [5],
                         "activation": "tanh", "loss": "auto", "input_shape": None},
                        (2,), 3)
    assert linears(net) == [(2, 5), (5, 3)]


def test_cnn_batchnorm_can_follow_the_activation():
    before = [type(m) for m in SmallCNN((1, 8, 8), 2, channels=[4], batchnorm=True).features]
    after = [type(m) for m in SmallCNN((1, 8, 8), 2, channels=[4], batchnorm=True,
                                       bn_after_activation=True).features]
    assert before == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
    assert after == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d, nn.MaxPool2d]


@pytest.mark.parametrize("family", ["logistic", "softmax", "mlp", "deep", "cnn"])
def test_every_model_config_file_builds_its_network(make_cfg, family):
    from omegaconf import OmegaConf

    net = build_network(OmegaConf.to_container(make_cfg(f"model={family}").model),
                        (1, 16, 16), 1 if family == "logistic" else 10)
    assert net(torch.randn(2, 1, 16, 16)).shape[0] == 2
