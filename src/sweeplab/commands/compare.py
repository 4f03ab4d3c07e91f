"""Compare the jobs of a finished sweep: `sweeplab-compare <sweep dir>`.

Writes summary.md (table, seed means, Optuna's best parameters, figures) and the PNGs into the
sweep dir, from each job's own logs: nothing is re-trained.
"""

import sys
from pathlib import Path

from sweeplab.cli import setup_process
from sweeplab.sweep.compare import compare


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    setup_process()
    sweep_dir = Path(argv[0])
    if not any(sweep_dir.glob("*/metrics.json")):
        print(f"error: {sweep_dir}: no job folders with metrics.json (is it a sweep dir?)",
              file=sys.stderr)
        return 2
    md_path, figures = compare(sweep_dir)
    print(md_path.read_text())
    for path in figures:
        print(f"[sweeplab] figure: {path}")
    print(f"[sweeplab] summary: {md_path}")
    return 0
