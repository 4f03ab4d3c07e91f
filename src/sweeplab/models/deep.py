"""A fully connected network with any list of hidden sizes."""

from __future__ import annotations

from torch import Tensor, nn

from sweeplab.models.layers import flat_size, fully_connected


class DeepNet(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], out_features: int,
                 hidden: list[int] = (64, 64), activation: str = "relu", dropout: float = 0.0,
                 batchnorm: bool = False, bn_after_activation: bool = False) -> None:
        super().__init__()
        self.hidden = list(hidden)
        self.layers = nn.Sequential(nn.Flatten(), *fully_connected(
            flat_size(input_shape), self.hidden, out_features, activation, dropout, batchnorm,
            bn_after_activation))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
