"""What was known at a close: the history a forward scenario run (or a calibration start) may read.

A scenario that starts after ``t0`` (the last history day) must not read anything
published after ``t0``: not a price dated later, and not a macro observation *released*
later, even one whose observation date is on or before ``t0`` (the November CPI, dated
November 1, is published in mid-December). :func:`cut_market` keeps exactly what was
known at the close of ``t0``; the forward run (:func:`backtest.synthetic.runner.prepare`)
and the calibration backtest build everything from that cut — the day-by-day history
arrays (whose monthly and weekly changes are spread over the days between observations),
the pools and their signals, the betas, the drifts, the anchors and the trailing history
strategies read — so no value released after ``t0`` can reach a simulation through any
interpolation.

Observations of ``t0``'s recent past that were not released by then (the last one or
two CPI months, the H.4.1 Wednesday before a Thursday ``t0``, a daily series' ``t0``
value) are therefore unknown to the simulation, and a path must still carry them (a
13-week change needs the Wednesday 13 weeks back): :func:`unreleased_fill` nowcasts them
— CPI at the trailing growth known at ``t0`` (:func:`cpi_nowcast`), the others flat at
their last released value — and :mod:`backtest.synthetic.model.generator` releases them on the
paths no earlier than the first simulated day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.data.base import MacroSeries, MarketData
from backtest.data.market_model import DAILY_SERIES, MONTHLY_SERIES, WEEKLY_SERIES
from backtest.data.release import release_dates
from backtest.synthetic.model.history import History
from backtest.synthetic.model.pools import pool_signals, resolve_analogues
from backtest.synthetic.scenarios import Period, ScenarioSet

__all__ = ["NOWCAST_MONTHS", "KnownHistory", "cpi_nowcast", "cut_market", "known_history", "unreleased_fill"]

NOWCAST_MONTHS = 12
"""Trailing window (months) of the growth at which unreleased CPI months are nowcast."""


def cut_market(md: MarketData, t0: pd.Timestamp) -> MarketData:
    """The data known at the close of ``t0``: prices dated ``<= t0``, macro released ``<= t0``.

    Parameters
    ----------
    md : MarketData
        Everything loaded.
    t0 : pd.Timestamp
        The close the data are cut at.

    Returns
    -------
    MarketData
        Prices on or before ``t0``; every macro observation dated and released on or
        before ``t0`` (with its release date). Its calendar is a prefix of ``md``'s, so
        history rows keep their numbers.
    """
    t0 = pd.Timestamp(t0)
    prices = md.prices.loc[md.prices.index <= t0]
    macro = {}
    for k, ms in md.macro.items():
        keep = np.asarray((ms.released <= t0) & (ms.values.index <= t0))
        macro[k] = MacroSeries(ms.name, ms.values[keep], ms.released[keep])
    return MarketData(prices, macro, md.source, md.synthetic, md.notes)


def cpi_nowcast(ms: MacroSeries | None, t0: pd.Timestamp,
                window: int = NOWCAST_MONTHS) -> tuple[float, pd.DatetimeIndex, np.ndarray]:
    """The CPI level of ``t0``'s month and the months not yet released at ``t0``, nowcast.

    Monthly observations are dated on the first of their month. With the last released
    month ``L`` (value ``v_L``) before ``t0``'s month ``M``, months ``L+1 .. M`` are unknown
    at ``t0``; each is nowcast as ``v_L exp(k g)`` (``k`` months after ``L``), ``g`` being
    the mean monthly log growth over the last ``window`` released months (0 when fewer
    are known).

    Parameters
    ----------
    ms : MacroSeries or None
        CPI as known at ``t0`` (:func:`cut_market`).
    t0 : pd.Timestamp
    window : int

    Returns
    -------
    tuple
        ``(level, dates, values)``: the nowcast level of ``t0``'s month (``v_L`` when it is
        released; NaN without any observation), and the first-of-month dates and nowcast
        values of the unreleased months ``L+1 .. M`` (empty when none).
    """
    empty = pd.DatetimeIndex([], name="date")
    if ms is None:
        return float("nan"), empty, np.zeros(0)
    v = ms.values[ms.values.index <= t0].dropna()
    if not len(v):
        return float("nan"), empty, np.zeros(0)
    last = pd.Timestamp(v.index[-1]).to_period("M")
    month = pd.Timestamp(t0).to_period("M")
    gap = (month - last).n
    if gap <= 0:
        return float(v.iloc[-1]), empty, np.zeros(0)
    x = np.log(v.to_numpy(dtype=float))
    per = pd.DatetimeIndex(v.index).to_period("M")
    back = per.searchsorted(last - window)  # the observation `window` months before the last, if released
    g = (x[-1] - x[back]) / window if back < len(per) and per[back] == last - window else 0.0
    k = np.arange(1, gap + 1)
    dates = pd.DatetimeIndex([(last + int(i)).to_timestamp() for i in k], name="date")
    vals = float(v.iloc[-1]) * np.exp(k * g)
    return float(vals[-1]), dates, vals


def unreleased_fill(md: MarketData, t0: pd.Timestamp, series: list[str]) -> dict[str, tuple[pd.DatetimeIndex,
                                                                                             np.ndarray]]:
    """Nowcasts of the observations of ``series`` dated by ``t0`` but released after it.

    Parameters
    ----------
    md : MarketData
        The data known at ``t0`` (:func:`cut_market`).
    t0 : pd.Timestamp
    series : list of str
        Simulated macro series.

    Returns
    -------
    dict
        Series -> (observation dates, values) after its last released observation and
        on or before ``t0`` whose release (:func:`backtest.data.release.release_dates`)
        falls after ``t0``: the trading days of a daily series, the Wednesdays of a weekly
        one (flat at the last released value), the months of CPI (:func:`cpi_nowcast`).
        Series with nothing to fill are left out.
    """
    t0 = pd.Timestamp(t0)
    out: dict[str, tuple[pd.DatetimeIndex, np.ndarray]] = {}
    for name in series:
        ms = md.macro.get(name)
        if ms is None:
            continue
        v = ms.values[ms.values.index <= t0].dropna()
        if not len(v):
            continue
        last = pd.Timestamp(v.index[-1])
        if name in MONTHLY_SERIES:
            _, dates, vals = cpi_nowcast(ms, t0)
        else:
            if name in WEEKLY_SERIES:
                cand = pd.date_range(last + pd.Timedelta(days=1), t0, freq="W-WED")
            elif name in DAILY_SERIES:
                cand = md.calendar[(md.calendar > last) & (md.calendar <= t0)]
            else:
                continue
            cand = pd.DatetimeIndex(cand)
            dates = cand[np.asarray(release_dates(name, cand) > t0)] if len(cand) else cand
            vals = np.full(len(dates), float(v.iloc[-1]))
        if len(dates):
            out[name] = (pd.DatetimeIndex(dates, name="date"), np.asarray(vals, dtype=float))
    return out


@dataclass(frozen=True)
class KnownHistory:
    """The history as known at one ``t0``, and the pools resolved on it.

    Attributes
    ----------
    t0 : pd.Timestamp
        The close the data are cut at.
    md : MarketData
        :func:`cut_market` of the loaded data (the loaded data themselves when pools may
        use the forecast period).
    history : History
        Its day-by-day arrays.
    signals : pd.DataFrame
        :func:`~backtest.synthetic.model.pools.pool_signals` on its days.
    periods : dict
        State -> resolved, disjoint analogue periods.
    claims : dict
        State -> what the precedence and the stress watch took from its rule days
        (:func:`~backtest.synthetic.model.pools.resolve_analogues`).
    """

    t0: pd.Timestamp
    md: MarketData
    history: History
    signals: pd.DataFrame
    periods: dict[str, list[Period]]
    claims: dict[str, dict] = field(default_factory=dict)


def known_history(md: MarketData, t0: pd.Timestamp, sset: ScenarioSet, tickers: list[str], *, strict: bool,
                  cut: bool = True, drop_future: bool = True) -> KnownHistory:
    """Cut the data at ``t0`` (unless ``cut`` is False), build the arrays, resolve the pools.

    Parameters
    ----------
    md : MarketData
        Everything loaded.
    t0 : pd.Timestamp
    sset : ScenarioSet
    tickers : list of str
        Simulated assets.
    strict : bool
        Check every analogue against the data (bootstrap source); False lets a rule no
        day meets give no period (parametric source, calibration starts).
    cut : bool
        False when the pools may use the forecast period (``include_forecast_period``).
    drop_future : bool
        A calendar period or date range that starts after ``t0`` is dropped (no peeking)
        rather than an error (the calibration backtest names it as an error instead).
    """
    known = cut_market(md, t0) if cut else md
    hist = History.from_market(known, tickers)
    signals = pool_signals(known, hist.dates)
    claims: dict[str, dict] = {}
    after = pd.Timestamp(t0) + pd.Timedelta(days=1) if cut and drop_future else None
    if strict:
        need, names = hist.need_matrix()
        periods = resolve_analogues(sset, hist.dates, need=need, need_names=names, signals=signals, claims=claims,
                                    forecast_from=after)
    else:
        periods = resolve_analogues(sset, hist.dates, signals=signals, allow_empty=True, claims=claims,
                                    forecast_from=after)
    return KnownHistory(pd.Timestamp(t0), known, hist, signals, periods, claims)
