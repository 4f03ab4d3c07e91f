"""sweeplab: deep-learning fundamentals by experiment, with Lightning and Hydra."""

__version__ = "0.1.0"

from sweeplab.resolvers import register as _register_resolvers

_register_resolvers()
