"""Point-in-time signals and causal regime labels on simulated paths."""
