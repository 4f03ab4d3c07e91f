"""sweeplab: deep-learning fundamentals by experiment, with Lightning and Hydra."""

__version__ = "0.1.0"
