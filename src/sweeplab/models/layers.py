"""Pieces the networks share: activation lookup and the fully connected stack."""

from __future__ import annotations

import math

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def fully_connected(in_features: int, hidden: list[int], out_features: int, act: str,
                    dropout: float = 0.0, batchnorm: bool = False,
                    bn_after_activation: bool = False) -> list[nn.Module]:
    """Linear layers through `hidden`, each followed by BN (optional), activation, dropout."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers.append(nn.Linear(width, h))
        block = [activation(act)]
        if batchnorm:
            # the course's BN lab normalises after the sigmoid; the usual place is before it
            bn = nn.BatchNorm1d(h)
            block = block + [bn] if bn_after_activation else [bn] + block
        layers += block
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_features))
    return layers


def flat_size(input_shape: tuple[int, ...] | list[int]) -> int:
    return math.prod(input_shape)
