"""The scenario model: history as arrays, analogue pools, bootstrap, drifts, betas, contexts, the path generator."""
