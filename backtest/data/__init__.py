"""Market data: the source registry and sources, cache, release lags, validation, rates and the calibrated market model."""
