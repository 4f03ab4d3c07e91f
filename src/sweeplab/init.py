"""The one place weights are initialised: every Linear and Conv layer of a network."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


def _xavier(w: Tensor, distribution: str, gain: float) -> None:
    fn = nn.init.xavier_uniform_ if distribution == "uniform" else nn.init.xavier_normal_
    fn(w, gain=gain)


def _he(w: Tensor, distribution: str, nonlinearity: str) -> None:
    fn = nn.init.kaiming_uniform_ if distribution == "uniform" else nn.init.kaiming_normal_
    fn(w, nonlinearity=nonlinearity)


#: scheme -> what it does to one weight tensor; its keyword arguments are the scheme's keys in
#: conf/init/<scheme>.yaml (the values live there)
SCHEMES: dict[str, Callable[..., None]] = {
    "default": lambda w: None,  # PyTorch's own
    "uniform": lambda w, low, high: nn.init.uniform_(w, low, high),
    "normal": lambda w, mean, std: nn.init.normal_(w, mean, std),
    "xavier": _xavier,  # Glorot with `gain`
    "he": _he,  # Kaiming for `nonlinearity`
    "constant": lambda w, weight: nn.init.constant_(w, weight),  # the symmetry lesson
}


def init_weights(net: nn.Module, scheme: str, bias: float | None = None,
                 **params: float | str) -> nn.Module:
    """Re-initialise weights in place with `scheme`; biases are set to `bias` when given."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")
    for m in net.modules():
        if not isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d):
            continue
        SCHEMES[scheme](m.weight, **params)
        if bias is not None and m.bias is not None:
            nn.init.constant_(m.bias, bias)
    return net
