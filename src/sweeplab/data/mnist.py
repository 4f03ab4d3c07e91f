"""MNIST through torchvision's dataset class, in its folder layout under `data_dir`.

Files a user already has (`<data_dir>/MNIST/raw/train-images-idx3-ubyte`, ...) are used as they
are; otherwise torchvision downloads them when `download` is true. The validation set is a seeded
split of the 60,000 training images; the test set is the official 10,000.
"""

from __future__ import annotations

import socket
from pathlib import Path

from sweeplab.config import ConfigError
from sweeplab.data.base import Split, split_off
from sweeplab.data.images import ImageData, resize_uint8

#: seconds a download may wait on the network before giving up (torchvision sets no timeout)
DOWNLOAD_TIMEOUT = 20


class DataNotFoundError(RuntimeError):
    """The dataset's files are missing and could not be fetched."""


class MNISTData(ImageData):
    num_classes = 10
    #: torchvision's dataset class name, also the folder it reads under data_dir
    dataset_name = "MNIST"
    #: other folders holding the four IDX .gz files, used before any download
    system_dirs: tuple[str, ...] = ()

    def __init__(self, data_dir: str = "data", download: bool = True, val_size: float = 5000,
                 image_size: int = 28, train_size: float = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)
        self.download, self.val_size, self.image_size = download, val_size, image_size
        self.train_size = train_size
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
        # .gz files a user dropped into raw/ count too, even with download=false
        if self._copy_from_system_dirs(cls, (str(self.raw_dir), *self.system_dirs)):
            return
        error = None
        if self.download:
            error = self._try_download(cls)
            if error is None:
                return
        names = [Path(url).name.removesuffix(".gz") for url, _ in cls.resources]
        where = [str(self.raw_dir)] + list(self.system_dirs)
        # torchvision's message spans several lines (one per mirror); keep ours to one
        reason = f"download failed ({' '.join(str(error).split())[:300]})" if error \
            else "download=false"
        raise DataNotFoundError(
            f"{self.dataset_name} files not found; looked in {', '.join(where)} and {reason}. "
            f"Put {', '.join(names)} (or their .gz) in {self.raw_dir}, or set "
            f"paths.data_dir to a folder that holds {self.dataset_name}/raw/."
        )

    def _try_download(self, cls) -> Exception | None:
        """Let torchvision fetch the files; the error if that fails (None on success)."""
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # offline machines fail fast, not hang
        try:
            cls(str(self.data_dir), train=True, download=True)
            return None
        except Exception as exc:  # network failure, checksum mismatch, ...
            return exc
        finally:
            socket.setdefaulttimeout(previous)

    def prepare_data(self) -> None:
        """Find or fetch the files (Lightning calls this once, before `setup`), then check
        that the validation split leaves images to train on."""
        self._ensure_files()
        labels = self.raw_dir / "train-labels-idx1-ubyte"
        n = int.from_bytes(labels.read_bytes()[4:8], "big")  # IDX header: magic, count
        if self.val_size >= 1 and int(self.val_size) >= n:
            raise ConfigError(f"data.val_size={int(self.val_size)} leaves no training images: "
                              f"{labels.parent} holds {n}; use a smaller data.val_size")

    def _copy_from_system_dirs(self, cls, folders: tuple[str, ...]) -> bool:
        import gzip
        import shutil

        for folder in map(Path, folders):
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
        if 0 < self.train_size < len(fit.x):  # a seeded subset of the rest, for quick runs
            _, fit = split_off(fit.x, fit.y, self.train_size, self.seed + 1)
        return {"train": fit, "val": val, "test": Split(x_test, test.targets.long())}


class FashionMNISTData(MNISTData):
    dataset_name = "FashionMNIST"
    system_dirs = ("/usr/share/datasets/fashion-mnist",)

    @property
    def class_names(self) -> list[str]:
        return ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                "Sneaker", "Bag", "Ankle boot"]

