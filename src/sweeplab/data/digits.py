"""scikit-learn's bundled 8x8 handwritten digits (1,797 images), optionally resized to 16x16 or
28x28 so MNIST-shaped models apply; real data that needs no download."""

from __future__ import annotations

import torch

from sweeplab.data.base import Split, split_off
from sweeplab.data.images import ImageData, resize_uint8


class DigitsData(ImageData):
    num_classes = 10

    def __init__(self, image_size: int = 8, val_size: float = 0.15, test_size: float = 0.2,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.image_size, self.val_size, self.test_size = image_size, val_size, test_size
        self.input_shape = (1, image_size, image_size)

    def load(self) -> dict[str, Split]:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels = torch.from_numpy(bunch.images).float() * (255.0 / 16.0)
        images = pixels.round().to(torch.uint8).unsqueeze(1)
        images = resize_uint8(images, self.image_size)
        labels = torch.from_numpy(bunch.target).long()
        rest, test = split_off(images, labels, self.test_size, 1234)
        train, val = split_off(rest.x, rest.y, self.val_size, self.seed)
        return {"train": train, "val": val, "test": test}
