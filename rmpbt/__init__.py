"""``import rmpbt``: the public Python API of the rmpbt backtester (see :mod:`backtest.api`).

Names are loaded lazily from :mod:`backtest.api`::

    import rmpbt
    cfg = rmpbt.load_config("configs/quickstart.yaml", **{"costs.fee_bps": 5})
    res = rmpbt.run(cfg)
    res.metrics
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from backtest import API_NAMES, __version__

__all__ = ["__version__", *API_NAMES]


def __getattr__(name: str) -> Any:
    """Import an API name from :mod:`backtest.api` on first use."""
    if name in API_NAMES:
        return getattr(import_module("backtest.api"), name)
    raise AttributeError(f"module 'rmpbt' has no attribute {name!r}")
