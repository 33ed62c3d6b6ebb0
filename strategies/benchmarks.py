"""Benchmark strategies: buy-and-hold, fixed weights (e.g. 60/40), equal weight, inverse volatility.

Each also has a batch form (:class:`~strategies.base.BatchStrategy`): the closed form of its
``weights`` on ``(decision dates, paths)`` arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from backtest.signals import SignalFrame
from strategies.base import BatchSignals, Params, Unsupported, constant_rows, own_weights, register


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
class FixedWeights:
    """Constant target weights, rebalanced on the run's schedule (e.g. 60/40)."""

    def __init__(self, name: str, params: WeightsParams) -> None:
        self.name, self.params = name, params

    def assets(self) -> list[str]:
        """Assets named in ``weights``."""
        return list(self.params.weights)

    def weights(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """The same weights at every decision date."""
        return constant_rows(self.params.weights, dates)

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """The same weights at every decision date of every path, (K, P, n)."""
        _own(self, FixedWeights)
        return _constant(self.params.weights, bs)


@register("buy_and_hold", WeightsParams)
class BuyAndHold:
    """Buy the weights on the first decision date and never rebalance."""

    def __init__(self, name: str, params: WeightsParams) -> None:
        self.name, self.params = name, params

    def assets(self) -> list[str]:
        """Assets named in ``weights``."""
        return list(self.params.weights)

    def weights(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Weights on the first date, then all-NaN rows (hold)."""
        out = constant_rows(self.params.weights, dates)
        out.iloc[1:] = np.nan
        return out

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Weights on the first date, then NaN (hold), for every path, (K, P, n)."""
        _own(self, BuyAndHold)
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
class EqualWeight:
    """1/N across the listed assets that have a price at each decision."""

    def __init__(self, name: str, params: UniverseParams) -> None:
        self.name, self.params = name, params

    def assets(self) -> list[str]:
        """The configured assets."""
        return list(self.params.assets)

    def weights(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Equal weights over the assets priced at each date."""
        avail = sf.available().reindex(index=dates, columns=self.params.assets).fillna(False).astype(float)
        n = avail.sum(axis=1).replace(0, np.nan)
        return avail.div(n, axis=0).fillna(0.0)

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Equal weights over the assets listed at each date (the same on every path), (K, P, n)."""
        _own(self, EqualWeight)
        eq = _equal_listed(bs.listed(list(self.params.assets)))
        return np.broadcast_to(eq[:, None, :], (*bs.shape, eq.shape[1])).copy()


class InverseVolParams(UniverseParams):
    """Inverse-volatility weights over trailing returns."""

    window: int = Field(63, ge=5, le=756, description="trailing window in trading days")


@register("inverse_vol", InverseVolParams)
class InverseVol:
    """Weights proportional to 1 / trailing volatility (a naive risk-parity)."""

    def __init__(self, name: str, params: InverseVolParams) -> None:
        self.name, self.params = name, params

    def assets(self) -> list[str]:
        """The configured assets."""
        return list(self.params.assets)

    def weights(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """``w_i ∝ 1/σ_i`` with σ over the trailing window ending at each date."""
        r = sf.returns()[self.params.assets]
        vol = r.rolling(self.params.window, min_periods=self.params.window).std()
        inv = (1.0 / vol.replace(0.0, np.nan)).reindex(dates)
        w = inv.div(inv.sum(axis=1), axis=0)
        # Before enough history for any asset: equal weight over what is listed.
        avail = sf.available().reindex(index=dates, columns=self.params.assets).fillna(False).astype(float)
        eq = avail.div(avail.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
        none = w.isna().all(axis=1)
        w.loc[none] = eq.loc[none]
        return w.fillna(0.0)

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """``w_i ∝ 1/σ_i`` on every path (trailing sample std of daily returns), (K, P, n)."""
        _own(self, InverseVol)
        cols = list(self.params.assets)
        win = int(self.params.window)
        rows = np.asarray(bs.rows)
        lo, hi = int(rows.min()) - win, int(rows.max()) + 1
        vol = np.full((*bs.shape, len(cols)), np.nan)
        for j, c in enumerate(cols):  # one asset at a time: a (L, P) block, not (L, P, n)
            px = bs.prices([c], lo, hi)[:, :, 0]
            rets = np.full_like(px, np.nan)
            rets[1:] = px[1:] / px[:-1] - 1.0
            for k, r in enumerate(rows):
                x = rets[r - lo - win + 1 : r - lo + 1]  # (win, P): the trailing window ending at r
                vol[k, :, j] = np.where(np.isfinite(x).all(axis=0), np.std(x, axis=0, ddof=1), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(vol == 0, np.nan, 1.0 / vol)
            w = inv / np.nansum(inv, axis=2, keepdims=True)
        none = np.isnan(w).all(axis=2)  # (K, P)
        if none.any():
            eq = _equal_listed(bs.listed(cols))  # (K, n)
            w = np.where(none[..., None], eq[:, None, :], w)
        return np.nan_to_num(w, nan=0.0)


# ------------------------------------------------------------------------------ batch helpers


def _own(strategy: object, cls: type) -> None:
    if not own_weights(strategy, cls):
        raise Unsupported(f"{type(strategy).__name__} overrides weights()")


def _constant(weights: dict[str, float], bs: BatchSignals) -> np.ndarray:
    row = np.array(list(weights.values()), dtype=float)
    return np.broadcast_to(row, (*bs.shape, len(row))).copy()


def _equal_listed(listed: np.ndarray) -> np.ndarray:
    """1/N over the listed assets of each row (0 where none is listed), (K, n)."""
    avail = listed.astype(float)
    n = avail.sum(axis=1, keepdims=True)
    return np.where(n > 0, avail / np.where(n > 0, n, 1.0), 0.0)
