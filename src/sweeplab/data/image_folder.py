"""Any class-per-folder image tree (`root/<class>/<image>`), resized and loaded into memory once."""

from __future__ import annotations

from pathlib import Path

import torch

from sweeplab.data.base import Split, split_off
from sweeplab.data.errors import DataError
from sweeplab.data.images import ImageData

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImageFolderData(ImageData):
    split_keys = {"val": "val_size", "test": "val_size"}  # test reports the held-out part
    def __init__(self, root: str, image_size: int = 64, channels: int = 3,
                 val_size: float = 0.2, standin: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.root, self.image_size, self.channels = Path(root), image_size, channels
        self.val_size = val_size
        self.input_shape = (channels, image_size, image_size)
        if standin and not self.root.exists():  # generated in prepare_data
            from sweeplab.labs.anime_standin import CLASSES

            self._files: dict[str, list[Path]] | None = None
            self._classes = list(CLASSES)
        else:
            # listing is cheap, so a folder that cannot train is reported before any job starts
            self._files = self._find_files()
            self._classes = list(self._files)
        self.num_classes = len(self._classes)
        self.task = "binary" if self.num_classes == 2 else "multiclass"

    def _find_files(self) -> dict[str, list[Path]]:
        if not self.root.is_dir():
            raise DataError(self.root, "no such folder (data.root)")
        classes = sorted(p.name for p in self.visible(self.root) if p.is_dir())
        if len(classes) < 2:
            raise DataError(self.root, f"needs at least two class folders (one per class), "
                                       f"found {len(classes)} ({', '.join(classes) or 'none'})")
        files = {name: sorted(p for p in self.visible(self.root / name)
                              if p.suffix.lower() in IMAGE_SUFFIXES) for name in classes}
        for name, found in files.items():
            if not found:
                raise DataError(self.root / name, f"no images in this class folder (looked for "
                                                  f"{', '.join(sorted(IMAGE_SUFFIXES))})")
        return files

    def visible(self, folder: Path) -> list[Path]:
        """A folder's entries but hidden ones (`.ipynb_checkpoints`, `.DS_Store`); a link that
        leads out of data.root is refused, so a shared tree cannot read files elsewhere."""
        root = self.root.resolve()
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        for p in entries:
            if p.is_symlink() and not p.resolve().is_relative_to(root):
                raise DataError(p, f"a link to {p.resolve()}, outside data.root ({root}); "
                                   f"copy the files in, or point data.root at their folder")
        return entries

    @property
    def class_names(self) -> list[str]:
        return self._classes

    def _read(self, path: Path) -> torch.Tensor:
        from PIL import Image

        mode = "RGB" if self.channels == 3 else "L"
        try:
            with Image.open(path) as img:
                img = img.convert(mode).resize((self.image_size, self.image_size),
                                               Image.BILINEAR)
                data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
        except Exception as exc:  # PIL raises many kinds for a damaged file
            raise DataError(path, f"cannot read this image ({exc})") from None
        return data.view(self.image_size, self.image_size, self.channels).permute(2, 0, 1)

    def prepare_data(self) -> None:
        """Generate the stand-in image set (`standin: true`) where `root` does not exist yet."""
        if self._files is None:
            from sweeplab.labs.anime_standin import make

            if not self.root.exists():
                make(self.root)
            self._files = self._find_files()

    def load(self) -> dict[str, Split]:
        self.prepare_data()
        images, labels = [], []
        for label, files in enumerate(self._files.values()):
            images += [self._read(p) for p in files]
            labels += [label] * len(files)
        x, y = torch.stack(images), torch.tensor(labels)
        train, val = split_off(x, y, self.val_size, self.seed)
        # the course's image-folder lab has no separate test set: test reports the held-out 20%
        return {"train": train, "val": val, "test": val}
