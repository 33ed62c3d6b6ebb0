"""Benchmark strategies: buy-and-hold, fixed weights (e.g. 60/40), equal weight, inverse volatility.

Each is written once, in array form (:class:`~strategies.base.BatchKind`): its weights on
``(decision dates, paths)`` arrays; one history is a batch of one path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from strategies.base import BatchKind, BatchSignals, Params, register
from strategies.history import cached, daily_returns, window_start


class WeightsParams(Params):
    """Static weights per asset; they must sum to 1 unless ``allow_cash`` is true."""

    weights: dict[str, float] = Field(..., description="asset -> weight (fraction of value)")
    allow_cash: bool = Field(False, description="allow weights summing to less than 1 (rest in cash)")

    @field_validator("weights")
    @classmethod
    def _non_empty(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("weights must name at least one asset")
        return v

    @model_validator(mode="after")
    def _sum(self) -> "WeightsParams":
        total = float(sum(self.weights.values()))
        if self.allow_cash:
            if total > 1.0 + 1e-9:
                raise ValueError(f"weights sum to {total:.6g} > 1")
        elif abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights sum to {total:.6g}, must sum to 1 (or set allow_cash: true)")
        return self


@register("fixed_weights", WeightsParams)
class FixedWeights(BatchKind):
    """Constant target weights, rebalanced on the run's schedule (e.g. 60/40)."""

    def __init__(self, name: str, params: WeightsParams) -> None:
        self.name, self.params = name, params

    def assets(self) -> list[str]:
        """Assets named in ``weights``."""
        return list(self.params.weights)

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """The same weights at every decision date of every path, (K, P, n)."""
        return _constant(self.params.weights, bs)


@register("buy_and_hold", WeightsParams)
class BuyAndHold(BatchKind):
    """Buy the weights on the first decision date and never rebalance."""

    def __init__(self, name: str, params: WeightsParams) -> None:
        self.name, self.params = name, params

    def assets(self) -> list[str]:
        """Assets named in ``weights``."""
        return list(self.params.weights)

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Weights on the first date, then NaN (hold), for every path, (K, P, n)."""
        w = _constant(self.params.weights, bs)
        w[1:] = np.nan
        return w


class UniverseParams(Params):
    """A list of assets to spread across."""

    assets: list[str] = Field(
        default_factory=lambda: ["SPY", "IWM", "QQQ", "GLD", "DBC", "TIP", "VNQ", "IEF", "TLT", "AGG", "HYG", "UUP"],
        description="assets to hold (those not yet listed are skipped)",
    )

    @field_validator("assets")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("assets must not be empty")
        if len(set(v)) != len(v):
            raise ValueError("assets must be unique")
        return v


@register("equal_weight", UniverseParams)
class EqualWeight(BatchKind):
    """1/N across the listed assets that have a price at each decision."""

    def __init__(self, name: str, params: UniverseParams) -> None:
        self.name, self.params = name, params

    def assets(self) -> list[str]:
        """The configured assets."""
        return list(self.params.assets)

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Equal weights over the assets listed at each date (the same on every path), (K, P, n)."""
        eq = _equal_listed(bs.listed(list(self.params.assets)))
        return np.broadcast_to(eq[:, None, :], (*bs.shape, eq.shape[1])).copy()


class InverseVolParams(UniverseParams):
    """Inverse-volatility weights over trailing returns."""

    window: int = Field(63, ge=5, le=756, description="trailing window in trading days")


@register("inverse_vol", InverseVolParams)
class InverseVol(BatchKind):
    """Weights proportional to 1 / trailing volatility (a naive risk-parity)."""

    def __init__(self, name: str, params: InverseVolParams) -> None:
        self.name, self.params = name, params

    def assets(self) -> list[str]:
        """The configured assets."""
        return list(self.params.assets)

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """``w_i ∝ 1/σ_i`` on every path, σ the sample std of the daily returns over the trailing window, (K, P, n).

        Before any asset has a full window: equal weight over the listed assets.
        """
        cols = list(self.params.assets)
        vol = np.stack([rolling_std(bs, c, int(self.params.window)) for c in cols], axis=2)  # (K, P, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(vol == 0, np.nan, 1.0 / vol)
            w = inv / row_sum(inv)[..., None]
        none = np.isnan(w).all(axis=2)  # (K, P)
        if none.any():
            eq = _equal_listed(bs.listed(cols))  # (K, n)
            w = np.where(none[..., None], eq[:, None, :], w)
        return np.nan_to_num(w, nan=0.0)


def rolling_std(bs: BatchSignals, asset: str, window: int) -> np.ndarray:
    """Sample std of ``asset``'s daily returns over the ``window`` rows ending at each decision, (K, P).

    pandas' rolling std (``min_periods=window``) on each path's returns from
    :func:`~strategies.history.window_start` on: on one history, the numbers
    ``returns().rolling(window).std()`` gives on the whole history. NaN without a full window.
    """
    def compute() -> np.ndarray:
        rows = np.asarray(bs.rows)
        lo, hi = window_start(bs, window), int(rows.max()) + 1
        std = pd.DataFrame(daily_returns(bs, asset, lo, hi)).rolling(window, min_periods=window).std().to_numpy()
        at = rows - lo  # -1: a decision before the first day (no window yet)
        return np.where((at >= 0)[:, None], std[np.maximum(at, 0)], np.nan)

    return cached(bs, ("rolling_std", asset, window), compute)


def row_sum(x: np.ndarray) -> np.ndarray:
    """Sum over the last axis, NaN counted as 0, added left to right (pandas' ``sum(axis=1)``)."""
    out = np.where(np.isnan(x[..., 0]), 0.0, x[..., 0])
    for j in range(1, x.shape[-1]):
        out = out + np.where(np.isnan(x[..., j]), 0.0, x[..., j])
    return out


# ------------------------------------------------------------------------------ batch helpers


def _constant(weights: dict[str, float], bs: BatchSignals) -> np.ndarray:
    row = np.array(list(weights.values()), dtype=float)
    return np.broadcast_to(row, (*bs.shape, len(row))).copy()


def _equal_listed(listed: np.ndarray) -> np.ndarray:
    """1/N over the listed assets of each row (0 where none is listed), (K, n)."""
    avail = listed.astype(float)
    n = avail.sum(axis=1, keepdims=True)
    return np.where(n > 0, avail / np.where(n > 0, n, 1.0), 0.0)
