"""Simulation on vectorbt: target weights at fill dates -> a portfolio with costs.

The only module that imports vectorbt. Every ``Portfolio.from_orders`` argument is passed
explicitly; nothing reads or writes ``vbt.settings``.

Modelling choices (each hand-checked in ``tests/test_engine.py``):

* Decisions are taken at the close of a decision day and filled at the close ``lag_days``
  trading days later, at that close price adjusted by slippage (buys pay
  ``close * (1 + slippage)``, sells get ``close * (1 - slippage)``); fees are a fraction of
  the traded value. Orders within a fill are sequenced sells before buys
  (``call_seq="auto"``), sharing one cash balance.
* Uninvested cash earns the configured rate: cash is an explicit asset ``CASH`` whose
  price compounds at the rate known the previous day (as cvxportfolio does). It holds
  ``max(0, 1 - sum(w))``.
* Leverage is financed at the cash rate plus ``cash.borrow_spread_bps``: negative cash
  ``min(0, 1 - sum(w))`` is a short position in a second cash column ``CASH:borrow`` whose
  price compounds at that rate plus the spread (:func:`backtest.execution.spec.financing_growth`);
  the interest it pays is the ``financing`` cost.
* Shorts pay a borrow fee: a short position in asset X is held in a separate column
  ``X:short`` whose price is X's price times an accrual factor growing by
  ``(borrow_bps + short_rebate_haircut_bps) / 1e4 / 252`` per trading day, so a short loses
  exactly the fee on its value; its proceeds sit in ``CASH`` at the cash rate, so the
  haircut on the leg makes them earn the cash rate minus the haircut.
* Between fills holdings drift with prices. An optional drift band skips a rebalance when
  no weight has drifted more than the band from the new target (drift measured on
  frictionless holdings).
* Assets without a price yet (late starters) must have zero target weight; their price is
  back-filled for valuation only.

vectorbt is used through its public ``Portfolio`` API (``from_orders``, ``orders``), pinned to
the tested minor range in ``pyproject.toml``; values are rebuilt from the order records with
the kernels of the public ``value``/``cash``/``asset_value`` (:func:`portfolio_values` says why).

The rules' parameters come from :mod:`backtest.execution.spec` (fills, fee and slippage
fractions, borrow accrual, cash price); the drift band is :func:`backtest.execution.drift.drift_keep`,
shared with the tuner and the scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import CASH
from backtest.errors import StrategyError
from backtest.execution.drift import drift_keep
from backtest.execution.spec import (
    FINANCING,
    Costs,
    ExecutionSpec,
    borrow_daily,
    cash_growth,
    cash_price,
    fill_dates,
    financing_growth,
)
from backtest.execution.spec import borrow_factor as spec_borrow_factor

SHORT_SUFFIX = ":short"
INIT_CASH = 1.0
__all__ = ["SimResult", "borrow_factor", "drift_execute", "fill_orders", "load_engine", "portfolio_values", "simulate", "simulate_spec"]


@dataclass(frozen=True)
class SimResult:
    """Outcome of one simulated strategy.

    Attributes
    ----------
    value : pd.Series
        Portfolio value at each close (starts from 1.0 before the first day).
    returns : pd.Series
        Daily simple net returns.
    weights : pd.DataFrame
        End-of-day actual weights per asset (net of long and short legs), plus ``CASH``.
    orders : pd.DataFrame
        One row per filled order: ``date, asset, side, size, price, value, fees, slippage``.
    fees : pd.Series
        Daily fees plus slippage cost, in portfolio-value units.
    borrow : pd.Series
        Daily borrow cost of shorts (fee and short-rebate haircut), in portfolio-value units.
    turnover : pd.Series
        Daily traded value (excluding cash) divided by the previous close's value.
    fills : pd.DatetimeIndex
        Days on which a rebalance was executed.
    skipped : int
        Rebalances skipped by the drift band.
    financing : pd.Series or None
        Daily interest paid on negative cash (cash rate + spread), in portfolio-value units.
    """

    value: pd.Series
    returns: pd.Series
    weights: pd.DataFrame
    orders: pd.DataFrame
    fees: pd.Series
    borrow: pd.Series
    turnover: pd.Series
    fills: pd.DatetimeIndex
    skipped: int = 0
    financing: pd.Series | None = None



def load_engine() -> Any:
    """Import vectorbt, the engine of ``rmpbt run`` (about 2 s cold), and return it.

    Imported on first use: ``tune`` and ``scenarios`` never need it.
    """
    import vectorbt

    return vectorbt

def borrow_factor(days: pd.DatetimeIndex, bps: float) -> np.ndarray:
    """Accrual factor ``B_t = (1 + bps/1e4/252) ** t`` on ``days`` (see ``spec.borrow_factor``)."""
    return spec_borrow_factor(len(days), bps)


def drift_execute(prices: pd.DataFrame, targets: pd.DataFrame, fills: pd.Series, band: float) -> pd.Series:
    """Which fills to execute under a drift band (True = trade): :func:`~backtest.execution.drift.drift_keep`.

    Parameters
    ----------
    prices : pd.DataFrame
        Back-filled closes on the run days.
    targets : pd.DataFrame
        Target weights of the fills, indexed by decision day (no NaN).
    fills : pd.Series
        Fill day indexed by decision day.
    band : float
        Drift band.
    """
    days = pd.DatetimeIndex(prices.index)
    dec_idx = days.get_indexer(pd.DatetimeIndex(fills.index))
    fill_idx = days.get_indexer(pd.DatetimeIndex(fills.to_numpy()))
    tg = targets.loc[fills.index].to_numpy(dtype=float)[None]
    keep = drift_keep(prices.to_numpy(dtype=float), tg, np.ones(tg.shape[:2], dtype=bool), dec_idx, fill_idx, band)
    return pd.Series(keep[0], index=fills.index)


def simulate(
    prices: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    costs: Costs,
    cash_rate: pd.Series | None = None,
    lag_days: int = 1,
    drift_band: float | None = None,
) -> SimResult:
    """Simulate target weights decided on ``targets.index`` and filled ``lag_days`` later.

    Parameters
    ----------
    prices : pd.DataFrame
        Adjusted closes, days x assets; NaN before an asset's first price.
    targets : pd.DataFrame
        Target weights at decision days (index ⊂ ``prices.index``), columns ⊂ assets;
        rows that are all NaN mean "no rebalance". Cash weight is ``1 - row sum``.
    costs : Costs
        Fees, slippage and borrow.
    cash_rate : pd.Series, optional
        Annual cash rate in percent known at each day's close; None = cash earns nothing.
    lag_days : int
        Trading days from decision to fill (0 = fill at the decision close).
    drift_band : float, optional
        Skip a rebalance when no weight drifted more than this from target.

    Returns
    -------
    SimResult
    """
    days = pd.DatetimeIndex(prices.index)
    assets = list(prices.columns)
    targets = targets.reindex(columns=assets).astype(float)
    live = targets.dropna(how="all")
    live = live.fillna(0.0)
    fills = fill_dates(days, pd.DatetimeIndex(live.index), lag_days)
    live = live.loc[fills.index]
    # A fill that two decisions map to (cannot happen with lag >= 0 and unique decisions).
    first_px = prices.apply(lambda s: s.first_valid_index())
    for a in assets:
        start = first_px[a]
        bad = fills[(fills < start) if start is not None else fills.notna()]
        if len(bad) and (live.loc[bad.index, a].abs() > 0).any():
            d = bad.index[(live.loc[bad.index, a].abs() > 0).to_numpy()][0]
            raise StrategyError(
                f"weight on {a} filled on {fills[d].date()}, before its first price"
            )
    skipped = 0
    if drift_band is not None and len(live):
        keep = drift_execute(prices.bfill(), live, fills, drift_band)
        skipped = int((~keep).sum())
        live, fills = live.loc[keep.to_numpy()], fills.loc[keep.to_numpy()]

    px = prices.bfill().ffill()
    cols: dict[str, np.ndarray] = {}
    size_cols: dict[str, np.ndarray] = {}
    nan_col = np.full(len(days), np.nan)
    fill_pos = days.get_indexer(pd.DatetimeIndex(fills.to_numpy()))
    for a in assets:
        w = live[a].to_numpy()
        cols[a] = px[a].to_numpy()
        s = nan_col.copy()
        s[fill_pos] = np.clip(w, 0.0, None)
        size_cols[a] = s
        if (w < 0).any():
            sc = f"{a}{SHORT_SUFFIX}"
            cols[sc] = px[a].to_numpy() * borrow_factor(days, costs.short_accrual_for(a))
            s2 = nan_col.copy()
            s2[fill_pos] = np.clip(w, None, 0.0)
            size_cols[sc] = s2
    # Leveraged longs need a financing leg: CASH holds positive cash (at 0% when no rate is
    # set), CASH:borrow negative cash at the rate plus the spread.
    levered = bool((live.sum(axis=1) > 1.0 + 1e-9).any())
    cash_w = 1.0 - live.sum(axis=1).to_numpy()
    if cash_rate is not None or levered:
        cols[CASH] = cash_price(days, cash_rate).to_numpy()
        s3 = nan_col.copy()
        s3[fill_pos] = np.clip(cash_w, 0.0, None)
        size_cols[CASH] = s3
    if levered:
        g = None if cash_rate is None else cash_growth(cash_rate.reindex(days).astype(float).to_numpy(), len(days))
        cols[FINANCING] = np.cumprod(financing_growth(g, costs.borrow_spread_bps, len(days)))
        s4 = nan_col.copy()
        s4[fill_pos] = np.clip(cash_w, None, 0.0)
        size_cols[FINANCING] = s4
    close = pd.DataFrame(cols, index=days)
    size = pd.DataFrame(size_cols, index=days)
    pf = fill_orders(close, size, costs)
    av, cash, value = portfolio_values(pf)
    prev = value.shift(1)
    prev.iloc[0] = 1.0
    returns = value / prev - 1.0
    # Actual end-of-day weights, short legs netted into their asset.
    net = pd.DataFrame(0.0, index=days, columns=assets + [CASH])
    for c in av.columns:
        base = CASH if c == FINANCING else (c[: -len(SHORT_SUFFIX)] if c.endswith(SHORT_SUFFIX) else c)
        net[base] = net[base] + av[c]
    net[CASH] = net[CASH] + cash
    weights = net.div(value, axis=0)
    rec = pf.orders.records
    col_names = list(close.columns)
    if len(rec):
        o_dates = days[rec["idx"]]
        o_cols = [col_names[i] for i in rec["col"]]
        mark = close.to_numpy()[rec["idx"], rec["col"]]
        sign = np.where(rec["side"] == 0, 1.0, -1.0)
        slip_cost = rec["size"] * np.abs(rec["price"] - mark)
        orders = pd.DataFrame(
            {
                "date": o_dates,
                "asset": o_cols,
                "side": np.where(rec["side"] == 0, "buy", "sell"),
                "size": rec["size"] * sign,
                "price": rec["price"],
                "value": rec["size"] * mark * sign,
                "fees": rec["fees"],
                "slippage": slip_cost,
            }
        )
    else:
        orders = pd.DataFrame(
            columns=["date", "asset", "side", "size", "price", "value", "fees", "slippage"]
        )
    fees = (
        orders.groupby("date")[["fees", "slippage"]].sum().sum(axis=1).reindex(days, fill_value=0.0)
        if len(orders)
        else pd.Series(0.0, index=days)
    )
    traded = orders.loc[~orders["asset"].isin([CASH, FINANCING])] if len(orders) else orders
    turnover = (
        traded.assign(v=traded["value"].abs())
        .groupby("date")["v"]
        .sum()
        .reindex(days, fill_value=0.0)
        if len(traded)
        else pd.Series(0.0, index=days)
    ) / prev
    borrow = pd.Series(0.0, index=days)
    for c in av.columns:
        if c.endswith(SHORT_SUFFIX):
            bps = costs.short_accrual_for(c[: -len(SHORT_SUFFIX)])
            # cost on day t: short value at t-1 close times the day's accrual
            short_prev = (-av[c]).shift(1).fillna(0.0)
            borrow = borrow + short_prev * (close[c] / close[c].shift(1)).fillna(1.0) * (
                1.0 - 1.0 / (1.0 + borrow_daily(bps))
            )
    financing = pd.Series(0.0, index=days)
    if FINANCING in av.columns:
        growth = (close[FINANCING] / close[FINANCING].shift(1)).fillna(1.0)
        financing = (-av[FINANCING]).shift(1).fillna(0.0) * (growth - 1.0)
    return SimResult(
        value=value,
        returns=returns.rename("return"),
        weights=weights,
        orders=orders,
        fees=fees.rename("fees"),
        borrow=borrow.rename("borrow"),
        turnover=turnover.rename("turnover"),
        fills=pd.DatetimeIndex(fills.to_numpy()),
        skipped=skipped,
        financing=financing.rename("financing"),
    )


def fill_orders(close: pd.DataFrame, size: pd.DataFrame, costs: Costs) -> Any:
    """vectorbt's portfolio of target-percent orders, one cash-sharing group, sells before buys.

    Parameters
    ----------
    close : pd.DataFrame
        Prices of every column (assets, short legs, cash legs), days x columns, no NaN.
    size : pd.DataFrame
        Target fraction of value per column at each fill (NaN: no order).
    costs : Costs
        Fee and slippage fractions.

    Returns
    -------
    vectorbt.Portfolio
    """
    return load_engine().Portfolio.from_orders(
        close=close,
        size=size,
        size_type="targetpercent",
        direction="both",
        price=np.inf,
        fees=costs.fee,
        fixed_fees=0.0,
        slippage=costs.slippage,
        min_size=1e-12,
        max_size=np.inf,
        size_granularity=np.nan,
        reject_prob=0.0,
        lock_cash=False,
        allow_partial=True,
        raise_reject=False,
        log=False,
        val_price=np.inf,
        init_cash=INIT_CASH,
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        ffill_val_price=True,
        update_value=False,
        seed=None,
        freq="1D",
        attach_call_seq=False,
        engine="numba",  # not vbt.settings' "auto": a vectorbt-rust install must not change the numbers
    )


def portfolio_values(pf: Any) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Per-column asset values, the cash-sharing group's cash and its value, of a portfolio.

    The same numbers as the public ``pf.asset_value(group_by=False)``, ``pf.cash()`` and
    ``pf.value()`` (``tests/test_engine.py`` checks them bit for bit on a portfolio with
    shorts, leverage and cash), rebuilt from the order records with the kernels those
    methods call (``vectorbt.portfolio.nb``, documented, pinned with vectorbt to 1.2.x).
    Why not the public methods: their Python layer (array wrappers, grouping, caching)
    costs about 40 ms a strategy, twice the simulation itself (+0.7 s on the 16-strategy
    quickstart, ``benchmarks/bench_run.py``).

    Parameters
    ----------
    pf : vectorbt.Portfolio
        One cash-sharing group (``group_by=True``), ``init_cash`` = :data:`INIT_CASH`, no NaN close.

    Returns
    -------
    asset_value : pd.DataFrame
        Days x columns.
    cash : pd.Series
    value : pd.Series
        Named ``value``.
    """
    vbt = load_engine()
    kernels = vbt.portfolio.nb
    close = pf.close
    days = pd.DatetimeIndex(close.index)
    rec_arr, col_map = pf.orders.values, pf.orders.col_mapper.col_map
    shape, glens = close.shape, np.array([close.shape[1]], dtype=np.int64)
    held = kernels.assets_nb(kernels.asset_flow_nb(shape, rec_arr, col_map, vbt.portfolio.enums.Direction.Both))
    close_f = close.ffill().bfill().to_numpy(dtype=float, copy=True)  # get_filled_close
    close_f[held == 0] = 0.0
    av = pd.DataFrame(kernels.asset_value_nb(close_f, held), index=days, columns=close.columns)
    flow = kernels.cash_flow_grouped_nb(kernels.cash_flow_nb(shape, rec_arr, col_map, False), glens)
    cash = pd.Series(kernels.cash_grouped_nb(shape, flow, glens, np.array([INIT_CASH]))[:, 0], index=days)
    av_np = np.ascontiguousarray(av.to_numpy(dtype=float))
    grouped = kernels.asset_value_grouped_nb(av_np, np.array([av_np.shape[1]], dtype=np.int64))
    value = pd.Series(kernels.value_nb(cash.to_numpy(dtype=float)[:, None], grouped)[:, 0], index=days, name="value")
    return av, cash, value


def simulate_spec(prices: pd.DataFrame, targets: pd.DataFrame, spec: ExecutionSpec) -> SimResult:
    """:func:`simulate` with every execution rule taken from ``spec`` (the pipeline's call).

    Parameters
    ----------
    prices : pd.DataFrame
        Adjusted closes on ``spec.days``.
    targets : pd.DataFrame
        Finalised target weights at ``spec.decisions``.
    spec : ExecutionSpec
        The run's execution specification.

    Returns
    -------
    SimResult
    """
    return simulate(prices, targets, costs=spec.costs, cash_rate=spec.cash_rate, lag_days=spec.lag_days,
                    drift_band=spec.drift_band)
