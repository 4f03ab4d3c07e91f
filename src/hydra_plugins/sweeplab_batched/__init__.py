"""sweeplab's Hydra plugins (found by Hydra's scan of the `hydra_plugins` namespace package)."""
