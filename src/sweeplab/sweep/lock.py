"""One sweep per folder: a sweep holds a lock on its folder for as long as its process lives, so a
second sweep aimed at the same folder stops with one line instead of overwriting the first."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sweeplab.errors import fail

LOCK_FILE = ".sweep.lock"


def lock_folder(folder: Path) -> int:
    """Take the folder's lock (exit 2 with one line if another sweep holds it); the open file
    descriptor that holds it. The kernel releases the lock when the process ends, however it
    ends, so a killed sweep never leaves its folder locked."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        fail(f"{folder}: another sweep (pid {holder}) is running in this folder; wait for it "
             f"to end, or choose another hydra.sweep.dir")
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd
