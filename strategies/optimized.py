"""Optimizer-driven allocation: a cvxpy ``Allocator`` re-solved at every decision date.

The optimizer sees only trailing returns up to the decision date (the signal frame's
prices), the regime labels known by then, and the T-bill rate known by then. Written once
as a batch form (:meth:`Optimized.batch_weights`): one history (a run, a tune's variants)
is solved date by date with the compiled cvxpy problem; a batch of scenario paths is solved
for all paths at once (:func:`backtest.optimizer.batch.optimise_batch`, for the configs
:func:`backtest.optimizer.batch.check_supported` covers; others go path by path). Solver
failures follow the configured fallback and are recorded in ``fallbacks`` (written by
the pipeline to ``fallbacks.csv`` and counted in the terminal summary).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from backtest.optimizer import OptimizerConfig  # cvxpy-free; make_allocator is imported on use
from backtest.signals import SignalFrame
from strategies.base import BatchKind, BatchSignals, Params, register
from strategies.history import one_history


class OptimizedParams(Params):
    """Assets, an optional strategic base, and the optimizer block."""

    assets: list[str] = Field(
        default_factory=lambda: ["SPY", "IWM", "QQQ", "GLD", "DBC", "TIP", "VNQ", "IEF", "TLT", "AGG", "HYG"],
        description="assets the optimizer allocates across",
    )
    base: dict[str, float] | None = Field(None, description="benchmark / fallback weights (e.g. 60/40)")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)

    @model_validator(mode="after")
    def _check(self) -> "OptimizedParams":
        if not self.assets or len(set(self.assets)) != len(self.assets):
            raise ValueError("assets must be a non-empty list without duplicates")
        if self.base:
            unknown = [a for a in self.base if a not in self.assets]
            if unknown:
                raise ValueError(f"base names {unknown[0]!r}, which is not in assets")
        return self


def window_inputs(sf: SignalFrame, date: pd.Timestamp, assets: list[str], window: int) -> dict[str, Any]:
    """Point-in-time optimizer inputs at ``date``: trailing returns, regimes, rf (annual)."""
    rets = sf.returns()[assets]
    pos = sf.days.get_loc(date)
    lo = max(0, pos + 1 - window)
    rate = sf.signal("cash_rate").iloc[: pos + 1].dropna()
    return {
        "returns_window": rets.iloc[lo : pos + 1],
        "regime_window": sf.regime.iloc[lo : pos + 1],
        "current_regime": sf.regime.iloc[pos],
        "rf": float(rate.iloc[-1]) / 100.0 if len(rate) else 0.0,
    }


@register("optimized", OptimizedParams)
class Optimized(BatchKind):
    """Weights from a compiled cvxpy problem (mean-variance, min-variance, max-Sharpe, risk parity, min-CVaR, TE-limited)."""

    def __init__(self, name: str, params: OptimizedParams) -> None:
        self.name, self.params = name, params
        from backtest.optimizer import make_allocator  # lazy: imports cvxpy

        self._allocator = make_allocator(params.optimizer, params.assets, name=name)

    def assets(self) -> list[str]:
        """The optimizer's universe."""
        return list(self.params.assets)

    @property
    def fallbacks(self) -> list[dict[str, Any]]:
        """Fallback records of the last ``weights`` call."""
        return self._allocator.fallbacks

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Weights of a batch, shape (K, P, n): one history solved date by date, paths across paths.

        One history (:class:`~strategies.history.HistoryBatch`): the compiled cvxpy problem
        at each decision date with trailing data only, ``base`` as the anchor
        (:attr:`fallbacks` records the solver fallbacks). A batch of paths: the same
        decisions (trailing returns, ``base`` as the anchor, the last T-bill rate) through
        :func:`backtest.optimizer.batch.optimise_batch` (no cvxpy per path).

        Raises
        ------
        Unsupported
            A batch of paths with an optimizer block the batch solver does not cover, or an
            unknown T-bill rate at a decision date.
        """
        assets = list(self.params.assets)
        sf = one_history(bs)
        if sf is not None:
            return self._solve(sf, bs.dates)[:, None, :]
        from backtest.optimizer.batch import optimise_batch  # numba solver, no cvxpy

        anchors = None
        if self.params.base:
            base = np.array([self.params.base.get(a, 0.0) for a in assets], dtype=float)
            anchors = np.broadcast_to(base, (*bs.shape, len(assets)))
        return optimise_batch(self.params.optimizer, assets, anchors, bs, name=self.name, rf_known=True)

    def _solve(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> np.ndarray:
        """Solve at each decision date of one history with trailing data only, (K, n)."""
        assets = self.params.assets
        from backtest.optimizer import make_allocator  # lazy: imports cvxpy

        self._allocator = make_allocator(self.params.optimizer, assets, name=self.name)  # fresh records
        base = pd.Series(self.params.base, dtype=float).reindex(assets).fillna(0.0) if self.params.base else None
        window = self.params.optimizer.estimator.window
        out = np.zeros((len(dates), len(assets)))
        prev: pd.Series | None = None
        for i, d in enumerate(dates):
            inp = window_inputs(sf, d, assets, window)
            w = self._allocator.allocate(d, prev_weights=prev, base_weights=base, **inp)
            out[i] = w.reindex(assets).fillna(0.0).to_numpy()
            prev = w
        return out
