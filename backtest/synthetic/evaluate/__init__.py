"""Strategies on scenario paths: vectorised weights, simulation and scoring, distributions, the robust choice, aggregation."""
