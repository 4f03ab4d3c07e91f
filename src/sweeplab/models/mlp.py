"""A multilayer perceptron with one hidden layer of `hidden` units."""

from __future__ import annotations

from sweeplab.models.deep import DeepNet


class MLP(DeepNet):
    def __init__(self, input_shape: tuple[int, ...], out_features: int, hidden: int = 100,
                 activation: str = "sigmoid", dropout: float = 0.0, batchnorm: bool = False,
                 bn_after_activation: bool = False) -> None:
        super().__init__(input_shape, out_features, [hidden], activation, dropout, batchnorm,
                         bn_after_activation)
