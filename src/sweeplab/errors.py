"""How sweeplab stops on bad input: one line on stderr naming what is wrong, exit code 2."""

from __future__ import annotations

import sys
from typing import NoReturn

#: exit codes: 1 a job (or a single run) did not complete, 2 bad config or data, 128 + N a signal
BAD_INPUT = 2


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(BAD_INPUT)
