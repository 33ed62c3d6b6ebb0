"""rmpbt: a regime-aware portfolio-allocation backtester for Fed liquidity regimes.

The Python API (:mod:`backtest.api`) is re-exported here lazily, so ``import backtest``
stays light (nothing heavy is imported until a name is used)::

    import backtest
    res = backtest.run("configs/quickstart.yaml", **{"costs.fee_bps": 5})
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

API_NAMES = ("Result", "ScenarioResult", "TuneOutput", "calibrate", "decide", "load_config", "now", "run",
             "scenarios", "tune", "EvidenceResult", "evidence")
__all__ = ["__version__", *API_NAMES]


def __getattr__(name: str) -> Any:
    """Import an API name from :mod:`backtest.api` on first use."""
    if name in API_NAMES:
        return getattr(import_module("backtest.api"), name)
    raise AttributeError(f"module 'backtest' has no attribute {name!r}")
