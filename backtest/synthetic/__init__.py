"""Synthetic markets: calibrated per-regime parametric generators for prices and macro series."""
