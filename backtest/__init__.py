"""rmpbt: a regime-aware portfolio-allocation backtester for Fed liquidity regimes."""

__version__ = "0.1.0"
