"""sweeplab's Hydra plugins: the sweeper that checks every job first, and two launchers.

Hydra imports every module under `hydra_plugins` at start-up to find plugins, so these modules
import nothing heavy; the work lives in `sweeplab.sweep.run`.
"""
