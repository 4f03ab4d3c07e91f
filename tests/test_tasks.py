"""The loss follows the task: BCE on one logit for two classes, cross-entropy for more, MSE for
regression, and `model.loss` overrides it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sweeplab.tasks import Classifier, Regressor

NET = {"_target_": "sweeplab.models.softmax.SoftmaxRegression"}
SGD = {"name": "sgd", "lr": 0.1}


def classifier(num_classes: int, loss: str = "auto") -> Classifier:
    return Classifier(net=NET, optim=SGD, init=None, input_shape=[2], num_classes=num_classes,
                      loss=loss)


def out_features(module) -> int:
    return module.net.linear.out_features


def test_two_classes_train_one_logit_with_binary_cross_entropy():
    module = classifier(2)
    assert (out_features(module), module.loss_name) == (1, "bce")
    logits, y = torch.tensor([[2.0], [-1.0]]), torch.tensor([1, 1])
    loss, preds = module.loss_and_preds(logits, y)
    assert loss.item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits.squeeze(1), y.float()).item())
    assert preds.tolist() == [1, 0]


def test_several_classes_train_one_logit_each_with_cross_entropy():
    module = classifier(3)
    assert (out_features(module), module.loss_name) == (3, "ce")
    logits, y = torch.tensor([[2.0, 0.0, 1.0]]), torch.tensor([2])
    loss, preds = module.loss_and_preds(logits, y)
    assert loss.item() == pytest.approx(F.cross_entropy(logits, y).item())
    assert preds.tolist() == [0]


def test_ce_override_gives_two_classes_two_logits():
    assert out_features(classifier(2, "ce")) == 2


def test_mse_override_scores_predicted_probabilities():
    module = classifier(3, "mse")
    logits, y = torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([1])
    loss, _ = module.loss_and_preds(logits, y)
    # probabilities 1/3 each against the one-hot [0, 1, 0]
    assert loss.item() == pytest.approx(((1 / 3) ** 2 * 2 + (2 / 3) ** 2) / 3)
    binary = classifier(2, "mse")
    loss, _ = binary.loss_and_preds(torch.tensor([[0.0]]), torch.tensor([1]))
    assert loss.item() == pytest.approx(0.25)


def test_probabilities_have_one_column_per_class_for_either_head():
    for module in (classifier(2), classifier(3)):
        p = module.probabilities(module(torch.randn(4, 2)))
        assert p.shape == (4, module.num_classes)
        assert torch.allclose(p.sum(1), torch.ones(4))


def test_regression_trains_on_mean_squared_error():
    module = Regressor(net={"_target_": "sweeplab.models.mlp.MLP", "hidden": 4}, optim=SGD,
                       init=None, input_shape=[1])
    x, y = torch.randn(5, 1), torch.randn(5, 1)
    assert module._step((x, y), "val").item() == pytest.approx(
        F.mse_loss(module(x), y).item())
