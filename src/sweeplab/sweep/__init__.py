"""Sweeps: expanding and checking every job before any trains, running them, summarising them."""
