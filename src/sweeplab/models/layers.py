"""Pieces the networks share: activation lookup and the fully connected stack."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

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


def dropout(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Zero each element with probability p and scale the others by 1 / (1 - p).

    The mask is drawn as torch's CPU dropout draws it (`bernoulli_(1 - p)` on a contiguous
    tensor shaped like x), from `generator` or, if None, torch's default one: a single model
    and a stack member (given the generator its job would use) draw the same masks.
    """
    noise = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    noise.bernoulli_(1 - p, generator=generator)
    noise.div_(1 - p)
    return x * noise


class Dropout(nn.Dropout):
    """nn.Dropout through `dropout` above, so single models and stacks share one implementation."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        return dropout(x, self.p)


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
            layers.append(Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_features))
    return layers


def flat_size(input_shape: tuple[int, ...] | list[int]) -> int:
    return math.prod(input_shape)
