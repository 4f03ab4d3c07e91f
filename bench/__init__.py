"""sweeplab's benchmarks (run with `python scripts/bench.py`): what the framework costs on top of
the arithmetic. Not part of the installed package."""
