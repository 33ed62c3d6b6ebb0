"""What a target book costs a year at today's rates, with ``rmpbt run``'s cost model.

One model, the engine's (:class:`~backtest.execution.spec.Costs` and the run's financing
rule, :mod:`backtest.execution.spec`), stated per year and as fractions of NAV:

- **financing**: borrowed cash ``max(0, net - 1)`` pays the cash rate plus
  ``cash.borrow_spread_bps`` (the ``CASH:borrow`` leg; with ``cash.rate: none`` the spread
  alone). The engine accrues ``rate / 252`` a trading day, so a year is ``rate``;
- **borrow**: each short leg pays its borrow fee plus ``cash.short_rebate_haircut_bps``
  (:meth:`~backtest.execution.spec.Costs.short_accrual_for`) on its weight;
- **fees**: fees + slippage of rebalancing, as the run charged them over the last year
  (Σ daily cost / the previous close's NAV over the last 252 trading days after the first
  fill, scaled to 252 days; None with fewer than :data:`MIN_FEE_DAYS` such days). Today's
  trades from the holdings to the target are a one-off cost, :func:`trade_cost`.

Financing and borrow are :meth:`~backtest.execution.spec.Costs.carry_per_year`; a trade's
fee + slippage is :meth:`~backtest.execution.spec.Costs.trade_cost`: nothing here re-derives them.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.execution.spec import Costs
from backtest.now_book import exposure

#: Fewer trading days after the first fill than this: no yearly fee figure.
MIN_FEE_DAYS = 21


def cost_per_year(
    target: dict[str, float], costs: Costs, cash_rate_pct: float | None, fee_drag: float | None
) -> dict[str, float | None]:
    """Financing, borrow and fee cost a year of a target book (fractions of NAV).

    Parameters
    ----------
    target : dict
        Target weights (``CASH`` entries ignored).
    costs : Costs
        The run's costs (spread, borrow fees, haircut).
    cash_rate_pct : float or None
        Today's cash rate, percent a year (None or NaN: cash earns nothing, as in the engine).
    fee_drag : float or None
        :func:`trailing_fee_drag` of the strategy.

    Returns
    -------
    dict
        ``financing``, ``borrow``, ``fees`` (None when unknown).
    """
    rate = 0.0 if cash_rate_pct is None or not math.isfinite(cash_rate_pct) else cash_rate_pct / 100.0
    financing, borrow = costs.carry_per_year(target, exposure(target)["borrowed"], rate)
    return {"financing": financing, "borrow": borrow, "fees": fee_drag}


def trailing_fee_drag(fees: pd.Series, value: pd.Series, first_fill: pd.Timestamp | None,
                      days: int = TRADING_DAYS) -> float | None:
    """Fees + slippage a year as a fraction of NAV, over the last ``days`` trading days.

    Parameters
    ----------
    fees : pd.Series
        Daily fees + slippage in value units (a run's ``SimResult.fees``).
    value : pd.Series
        Daily portfolio value on the same days.
    first_fill : Timestamp or None
        The first fill (buying the book from cash is not a recurring cost): only later days count.
    days : int
        Window length.

    Returns
    -------
    float or None
        ``Σ fees_t / value_{t-1} * 252 / n`` over the ``n`` days of the window; None when
        ``n < MIN_FEE_DAYS``.
    """
    drag = (fees / value.shift(1)).dropna()
    if first_fill is not None:
        drag = drag[drag.index > first_fill]
    drag = drag.iloc[-days:]
    if len(drag) < MIN_FEE_DAYS:
        return None
    return float(drag.sum() * TRADING_DAYS / len(drag))


def trade_cost(trades: list[dict[str, Any]], nav: float, costs: Costs) -> dict[str, float]:
    """One-off cost of ``trades``: fee + slippage on the traded notional, also as a fraction of ``nav``."""
    traded = sum(abs(t["notional"]) for t in trades)
    fees = costs.trade_cost(traded)
    return {"traded_notional": float(traded), "fees_and_slippage": float(fees), "fraction_of_nav": float(fees / nav)}
