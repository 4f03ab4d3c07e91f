"""The one place weights are initialised: every Linear and Conv layer of a network."""

from __future__ import annotations

from torch import nn

SCHEMES = ("default", "uniform", "normal", "xavier", "he", "constant")


def init_weights(net: nn.Module, scheme: str = "default", low: float = 0.0, high: float = 1.0,
                 mean: float = 0.0, std: float = 0.1, distribution: str = "uniform",
                 gain: float = 1.0, nonlinearity: str = "relu", weight: float = 1.0,
                 bias: float | None = None) -> nn.Module:
    """Re-initialise weights in place; biases are set to `bias` when given, else left as built.

    default: PyTorch's own; uniform: U(low, high); normal: N(mean, std); xavier: Glorot with
    `gain`; he: Kaiming for `nonlinearity`; constant: every weight equal to `weight` (the
    symmetry lesson).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")
    for m in net.modules():
        if not isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d):
            continue
        w = m.weight
        if scheme == "uniform":
            nn.init.uniform_(w, low, high)
        elif scheme == "normal":
            nn.init.normal_(w, mean, std)
        elif scheme == "xavier":
            fn = nn.init.xavier_uniform_ if distribution == "uniform" else nn.init.xavier_normal_
            fn(w, gain=gain)
        elif scheme == "he":
            fn = nn.init.kaiming_uniform_ if distribution == "uniform" else nn.init.kaiming_normal_
            fn(w, nonlinearity=nonlinearity)
        elif scheme == "constant":
            nn.init.constant_(w, weight)
        if bias is not None and m.bias is not None:
            nn.init.constant_(m.bias, bias)
    return net
