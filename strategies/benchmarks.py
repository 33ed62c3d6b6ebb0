"""Benchmark strategies: buy-and-hold, fixed weights (e.g. 60/40), equal weight, inverse volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from backtest.signals import SignalFrame
from strategies.base import Params, constant_rows, register


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
