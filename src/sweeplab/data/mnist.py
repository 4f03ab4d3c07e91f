"""MNIST through torchvision's dataset class, in its folder layout under `data_dir`.

Files a user already has (`<data_dir>/MNIST/raw/train-images-idx3-ubyte`, ..., raw or .gz) are
read as they are, by sweeplab's own checked IDX reader; otherwise torchvision downloads them when
`download` is true. The validation set is a seeded split of the 60,000 training images; the test
set is the official 10,000.
"""

from __future__ import annotations

import socket
from pathlib import Path

from sweeplab.config import ConfigError
from sweeplab.data.base import Split, split_off
from sweeplab.data.errors import DataError
from sweeplab.data.idx import read_count, read_split
from sweeplab.data.images import ImageData, resize_uint8

#: seconds a download may wait on the network before giving up (torchvision sets no timeout)
DOWNLOAD_TIMEOUT = 20


class DataNotFoundError(DataError):
    """The dataset's files are missing and could not be fetched."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(path, problem)
        self.args = (problem,)  # the message already names every folder it looked in

    def __str__(self) -> str:
        return self.problem


#: the four IDX files of every MNIST-style dataset, by split: (images, labels)
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class MNISTData(ImageData):
    num_classes = 10
    #: torchvision's dataset class name, also the folder it reads under data_dir
    dataset_name = "MNIST"
    #: other folders holding the four IDX .gz files, used before any download
    system_dirs: tuple[str, ...] = ()
    split_keys = {"val": "val_size"}  # the test set is the official one

    def __init__(self, data_dir: str = "data", download: bool = True, val_size: float = 5000,
                 image_size: int = 28, train_size: float = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir).expanduser()
        self.download, self.val_size, self.image_size = download, val_size, image_size
        self.train_size = train_size
        self.input_shape = (1, image_size, image_size)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / self.dataset_name / "raw"

    def find_files(self) -> dict[str, Path] | None:
        """The four files (raw or .gz), all from one folder: raw_dir first, then system dirs."""
        names = [n for pair in FILES.values() for n in pair]
        for folder in (self.raw_dir, *map(Path, self.system_dirs)):
            found = {}
            for n in names:
                found[n] = next((p for p in (folder / n, folder / f"{n}.gz") if p.is_file()), None)
            if all(found.values()):
                return found
        return None

    def _ensure_files(self) -> dict[str, Path]:
        found = self.find_files()
        if found:
            return found
        import torchvision.datasets as tvd

        error = None
        if self.download:
            error = self._try_download(getattr(tvd, self.dataset_name))
            found = self.find_files()
            if found:
                return found
        names = [n for pair in FILES.values() for n in pair]
        where = [str(self.raw_dir)] + list(self.system_dirs)
        # torchvision's message spans several lines (one per mirror); keep ours to one
        reason = f"download failed ({' '.join(str(error).split())[:300]})" if error \
            else "download=false"
        raise DataNotFoundError(
            self.raw_dir,
            f"{self.dataset_name} files not found; looked in {', '.join(where)} and {reason}. "
            f"Put {', '.join(names)} (or their .gz) in {self.raw_dir}, or set "
            f"paths.data_dir to a folder that holds {self.dataset_name}/raw/."
        )

    def _try_download(self, cls) -> Exception | None:
        """Let torchvision fetch the files; the error if that fails (None on success). A failed
        download leaves no empty folders behind (torchvision makes them before fetching)."""
        made = [p for p in (self.raw_dir, self.raw_dir.parent, self.data_dir) if not p.exists()]
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # offline machines fail fast, not hang
        try:
            cls(str(self.data_dir), train=True, download=True)
            return None
        except Exception as exc:  # network failure, checksum mismatch, ...
            for folder in made:  # innermost first; one that holds anything stays
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            return exc
        finally:
            socket.setdefaulttimeout(previous)

    def prepare_data(self) -> None:
        """Find or fetch the files (Lightning calls this once, before `setup`), then check
        that the validation split leaves images to train on."""
        files = self._ensure_files()
        n = read_count(files[FILES["train"][1]])
        if n == 0:
            raise DataError(files[FILES["train"][1]], "holds no labels (an empty IDX file)")
        if self.val_size >= 1 and int(self.val_size) >= n:
            raise ConfigError(f"data.val_size={int(self.val_size)} leaves no training images: "
                              f"{files[FILES['train'][1]].parent} holds {n}; use a smaller "
                              f"data.val_size")

    def load(self) -> dict[str, Split]:
        files = self._ensure_files()
        splits = {}
        for split, (images, labels) in FILES.items():
            x, y = read_split(files[images], files[labels], self.num_classes)
            splits[split] = Split(resize_uint8(x, self.image_size), y)
        fit, val = split_off(splits["train"].x, splits["train"].y, self.val_size, self.seed)
        if 0 < self.train_size < len(fit.x):  # a seeded subset of the rest, for quick runs
            _, fit = split_off(fit.x, fit.y, self.train_size, self.seed + 1)
        return {"train": fit, "val": val, "test": splits["test"]}


class FashionMNISTData(MNISTData):
    dataset_name = "FashionMNIST"
    system_dirs = ("/usr/share/datasets/fashion-mnist",)

    @property
    def class_names(self) -> list[str]:
        return ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                "Sneaker", "Bag", "Ankle boot"]

