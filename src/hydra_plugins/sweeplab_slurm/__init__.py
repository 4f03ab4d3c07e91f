"""sweeplab's Slurm launcher (found by Hydra's scan of the `hydra_plugins` namespace package)."""
