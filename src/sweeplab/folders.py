"""Where a run writes: checked before anything trains, so an unusable folder is one line."""

from __future__ import annotations

import os
from pathlib import Path

from sweeplab.errors import fail


def check_writable(folder: Path, key: str) -> None:
    """Exit 2 with one line naming the path if `folder` cannot be made or written to: a file in
    its place, a read-only mount or folder. (A disk that fills up later is not seen here.)"""
    for existing in (folder, *folder.parents):
        if not existing.exists():
            continue
        if not existing.is_dir():
            fail(f"{existing}: a file, not a folder, so {folder} cannot be made; choose "
                 f"another {key}")
        if not os.access(existing, os.W_OK | os.X_OK):
            fail(f"{existing}: not writable (read-only folder or mount), so nothing can be "
                 f"saved in {folder}; choose another {key}")
        return
