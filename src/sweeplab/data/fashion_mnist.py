"""Fashion-MNIST: MNIST's layout and sizes with clothing classes; also found in Debian's
`dataset-fashion-mnist` install (/usr/share/datasets/fashion-mnist)."""

from sweeplab.data.mnist import FashionMNISTData

__all__ = ["FashionMNISTData"]
