"""The point-in-time signal frame that strategies read.

A :class:`SignalFrame` holds, for every trading day ``t``, only what is known at the
close of ``t``: closing prices, macro signals aligned by release date, and the regime
label computed causally. Strategies receive a ``SignalFrame`` and decision dates, never
the raw ``MarketData``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from backtest.data.base import MarketData, asof
from backtest.instruments import CURVE_NODES
from backtest.regimes.signals import liquidity_signals


@dataclass(frozen=True)
class SignalFrame:
    """Point-in-time inputs of a strategy.

    Attributes
    ----------
    prices : pd.DataFrame
        Adjusted closes, trading days x tickers (NaN before an asset's first price).
    signals : pd.DataFrame
        Named signals on the same days (see ``backtest.regimes.signals.SIGNALS``).
    regime : pd.Series
        Regime label (``qe``, ``plateau``, ``qt``, ``rmp``) known at each day's close.
    extra : dict[str, pd.DataFrame]
        Optional extra frames (e.g. regime probabilities), same index.
    yields : pd.DataFrame
        Treasury constant-maturity yields known at each close (percent; columns among
        ``DGS3MO``, ``DGS2``, ``DGS10``, ``DGS30``, those loaded); empty when none is. Read by
        strategies that size curve trades in duration units (:mod:`backtest.instruments`).
    """

    prices: pd.DataFrame
    signals: pd.DataFrame
    regime: pd.Series
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    yields: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def days(self) -> pd.DatetimeIndex:
        """Trading days covered."""
        return pd.DatetimeIndex(self.prices.index)

    def returns(self) -> pd.DataFrame:
        """Daily simple returns of each ticker (NaN before its first price)."""
        return self.prices.pct_change(fill_method=None)

    def available(self) -> pd.DataFrame:
        """True where an asset has a price (is listed) on a day."""
        return self.prices.notna()

    def signal(self, name: str) -> pd.Series:
        """One signal, or a Series of NaN if it is not available."""
        if name in self.signals.columns:
            return self.signals[name]
        return pd.Series(float("nan"), index=self.days, name=name)


def build_signal_frame(
    md: MarketData, regime: pd.Series, extra: dict[str, pd.DataFrame] | None = None
) -> SignalFrame:
    """Build the point-in-time frame from market data and causal regime labels.

    Parameters
    ----------
    md : MarketData
        Prices and macro series (with release dates).
    regime : pd.Series
        Regime label per trading day (already causal).
    extra : dict, optional
        Extra frames to carry (e.g. regime probabilities).
    """
    days = md.calendar
    sig = liquidity_signals(md, days)
    ylds = {k: asof(md.macro[k], days) for k in CURVE_NODES if k in md.macro}
    return SignalFrame(md.prices, sig, regime.reindex(days), dict(extra or {}),
                       pd.DataFrame(ylds, index=days) if ylds else pd.DataFrame())
