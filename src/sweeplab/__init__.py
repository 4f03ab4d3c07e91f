"""sweeplab: deep-learning fundamentals by experiment, with Lightning and Hydra."""

from sweeplab.api import compose, config_dir, run

__version__ = "0.2.0"  # the one place: pyproject reads it (tool.setuptools.dynamic)
__all__ = ["__version__", "compose", "config_dir", "run"]
