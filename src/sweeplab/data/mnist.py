"""MNIST through torchvision's dataset class, in its folder layout under `data_dir`.

Files a user already has (`<data_dir>/MNIST/raw/train-images-idx3-ubyte`, ...) are used as they
are; otherwise torchvision downloads them when `download` is true. The validation set is a seeded
split of the 60,000 training images; the test set is the official 10,000.
"""

from __future__ import annotations

from pathlib import Path

from sweeplab.data.base import Split, split_off
from sweeplab.data.images import ImageData, resize_uint8


class DataNotFoundError(RuntimeError):
    """The dataset's files are missing and could not be fetched."""


class MNISTData(ImageData):
    num_classes = 10
    #: torchvision's dataset class name, also the folder it reads under data_dir
    dataset_name = "MNIST"
    #: other folders holding the four IDX .gz files, used before any download
    system_dirs: tuple[str, ...] = ()

    def __init__(self, data_dir: str = "data", download: bool = True, val_size: float = 5000,
                 image_size: int = 28, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)
        self.download, self.val_size, self.image_size = download, val_size, image_size
        self.input_shape = (1, image_size, image_size)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / self.dataset_name / "raw"

    def _ensure_files(self) -> None:
        import torchvision.datasets as tvd

        cls = getattr(tvd, self.dataset_name)
        probe = cls.__new__(cls)
        probe.root = str(self.data_dir)
        if probe._check_exists():
            return
        if self._copy_from_system_dirs(cls):
            return
        error = None
        if self.download:
            try:
                cls(str(self.data_dir), train=True, download=True)
                return
            except Exception as exc:  # network failure, checksum mismatch, ...
                error = exc
        names = [Path(url).name.removesuffix(".gz") for url, _ in cls.resources]
        where = [str(self.raw_dir)] + list(self.system_dirs)
        reason = f"download failed ({error})" if error else "download=false"
        raise DataNotFoundError(
            f"{self.dataset_name} files not found; looked in {', '.join(where)} and {reason}. "
            f"Put {', '.join(names)} (or their .gz) in {self.raw_dir}, or set "
            f"paths.data_dir to a folder that holds {self.dataset_name}/raw/."
        )

    def _copy_from_system_dirs(self, cls) -> bool:
        import gzip
        import shutil

        for folder in map(Path, self.system_dirs):
            names = [Path(url).name for url, _ in cls.resources]
            if not all((folder / n).exists() for n in names):
                continue
            self.raw_dir.mkdir(parents=True, exist_ok=True)
            for n in names:
                target = self.raw_dir / n.removesuffix(".gz")
                if not target.exists():
                    with gzip.open(folder / n, "rb") as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
            return True
        return False

    def load(self) -> dict[str, Split]:
        import torchvision.datasets as tvd

        self._ensure_files()
        cls = getattr(tvd, self.dataset_name)
        train = cls(str(self.data_dir), train=True, download=False)
        test = cls(str(self.data_dir), train=False, download=False)
        x_train = resize_uint8(train.data.unsqueeze(1), self.image_size)
        x_test = resize_uint8(test.data.unsqueeze(1), self.image_size)
        fit, val = split_off(x_train, train.targets.long(), self.val_size, self.seed)
        return {"train": fit, "val": val, "test": Split(x_test, test.targets.long())}


class FashionMNISTData(MNISTData):
    dataset_name = "FashionMNIST"
    system_dirs = ("/usr/share/datasets/fashion-mnist",)

    @property
    def class_names(self) -> list[str]:
        return ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                "Sneaker", "Bag", "Ankle boot"]

