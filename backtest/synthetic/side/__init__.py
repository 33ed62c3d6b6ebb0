"""Simulations beside a scenario run's main paths: pace and channel effects, pool sensitivity, pool tables."""
