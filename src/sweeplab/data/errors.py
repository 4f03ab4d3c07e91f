"""The one exception a dataset raises for files it cannot use."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A data file or folder that cannot be used; the message names it and says what is wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = Path(path), problem
