"""What a sweep was: its command, task, git commit, and the settings every job shared.

`record_start` writes `sweep.json` into the sweep dir when a multirun starts (the command and the
commit are facts of that moment); `read_header` reads it back with the swept keys and constants
taken from the job records, for the summary's header and TensorBoard's Text tab.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sweeplab.record import atomic_write

INFO_FILE = "sweep.json"


@dataclass
class SweepHeader:
    task: str = ""
    command: str = ""
    git_commit: str | None = None
    swept: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)

    def markdown(self) -> list[str]:
        """The header lines of summary.md (and of the sweep's TensorBoard Text entry)."""
        lines = [f"- task: `{self.task}`"]
        if self.command:
            lines.append(f"- command: `{self.command}`")
        if self.git_commit:
            lines.append(f"- git commit: `{self.git_commit}`")
        lines.append(f"- swept: {', '.join(f'`{k}`' for k in self.swept) or 'nothing'}")
        lines.append("- the same in every job: "
                     + (" ".join(f"`{c}`" for c in self.constants) or "only the defaults"))
        return lines


def git_commit(cwd: Path) -> str | None:
    """The commit checked out in `cwd` (with `-dirty` if files changed); None outside git."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                             cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def record_start(sweep_dir: Path, task: str, cwd: Path) -> None:
    """Write sweep.json: the command as typed, the task, the git commit of the folder run from."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    info = {"task": task, "command": shlex.join(["python", *sys.argv]),
            "git_commit": git_commit(cwd)}
    atomic_write(sweep_dir / INFO_FILE, json.dumps(info, indent=2) + "\n")


def read_header(sweep_dir: Path, swept: list[str], constants: list[str]) -> SweepHeader:
    """The sweep's header: sweep.json (if the sweep wrote one) and what its jobs share."""
    try:
        info = json.loads((sweep_dir / INFO_FILE).read_text())
    except (OSError, ValueError):
        info = {}
    known = {k: v for k, v in info.items() if k in ("task", "command", "git_commit")}
    header = SweepHeader(**known, swept=swept, constants=constants)
    header.task = header.task or sweep_dir.parent.name
    return header
