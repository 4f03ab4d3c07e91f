"""`python -m sweeplab <verb> ...`: see sweeplab.commands."""

from sweeplab.commands import main

raise SystemExit(main())
