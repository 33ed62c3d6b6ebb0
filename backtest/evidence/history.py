"""The instruments' daily history behind the claims and the event studies.

The strategies of a run start at the config's ``data.start`` (2011-11 in
``configs/historical.yaml``, when SVXY lists); the article's instruments have longer
histories that cover more regime episodes (QE1 and QE2 for gold, small caps and bonds).
:func:`load_history` loads the trades' instruments from :data:`HISTORY_START` to the run's
end from the config's own data source, labels every day with the config's regime model
and with the **point-in-time calendar** (the Fed calendar by announcement date: an event
is known from the day it was announced), and computes the daily cash return the way the
run does (the ``cash_rate`` signal, compounded at the previous day's rate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.config import RunConfig
from backtest.data.base import MarketData
from backtest.data.regime_calendar import RegimeCalendar, load_calendar
from backtest.data.sources import make_source
from backtest.execution.spec import risk_free
from backtest.regimes.models import make_regime_model
from backtest.signals import build_signal_frame

#: first day loaded for the instruments (a year before QE1's announcement)
HISTORY_START = pd.Timestamp("2008-01-01")
#: the trades' instruments, by trade (the broad market is SPY)
TRADE_INSTRUMENTS: dict[str, tuple[str, ...]] = {
    "short_vol": ("SVXY", "VIXY"),
    "real_assets": ("GLD", "DBC", "TIP", "VNQ"),
    "size_tech": ("IWM", "QQQ"),
    "steepener": ("SHY", "TLT"),
    "market": ("SPY",),
}
CURVE_SERIES = ("DGS2", "DGS10", "DGS30", "DGS3MO")


@dataclass
class History:
    """Daily history of the instruments with regime labels and the cash return.

    Attributes
    ----------
    days : pd.DatetimeIndex
        Trading days from :data:`HISTORY_START` (or the data's first day) to the run's end.
    returns : pd.DataFrame
        Simple daily returns per instrument (NaN before an instrument's first price).
    rf : pd.Series
        Daily cash return (the run's risk-free convention).
    labels : pd.DataFrame
        The config's regime model: ``regime`` and ``regime_id`` per day.
    pit : pd.Series
        Point-in-time calendar label (Fed calendar by announcement date) per day.
    yields : pd.DataFrame
        Treasury yields known at each close (percent), for bond durations.
    calendar : RegimeCalendar
        The Fed calendar of the config (``regimes.calendar``).
    source : str
        Data source description.
    synthetic : bool
        Whether the data are the synthetic sample market.
    """

    days: pd.DatetimeIndex
    returns: pd.DataFrame
    rf: pd.Series
    labels: pd.DataFrame
    pit: pd.Series
    yields: pd.DataFrame
    calendar: RegimeCalendar
    source: str
    synthetic: bool


def evidence_tickers(cfg: RunConfig, available: list[str]) -> list[str]:
    """The trades' instruments the run's data provide (in :data:`TRADE_INSTRUMENTS` order)."""
    have = set(available)
    return [t for group in TRADE_INSTRUMENTS.values() for t in group if t in have]


def pit_labels(calendar: RegimeCalendar, days: pd.DatetimeIndex) -> pd.Series:
    """Regime kind per day from the calendar by announcement date (known on that day)."""
    return calendar.label(pd.DatetimeIndex(days), by="announced")["regime"].rename("pit")


def load_history(cfg: RunConfig, tickers: list[str], end: pd.Timestamp) -> History:
    """Load the instruments' history and label it (see the module docstring).

    Parameters
    ----------
    cfg : RunConfig
        The run config (data source, macro series, regime model).
    tickers : list of str
        Instruments to load (all loadable by the run's source: see :func:`evidence_tickers`).
    end : pd.Timestamp
        Last day of the run.

    Returns
    -------
    History
    """
    macro = list(dict.fromkeys(cfg.data.macro))
    if cfg.cash.rate.lower() != "none" and cfg.cash.rate not in macro:
        macro.append(cfg.cash.rate)
    md: MarketData = make_source(cfg.data).load(list(tickers), macro, HISTORY_START, end)
    days = md.calendar[md.calendar <= end]
    labels = make_regime_model(cfg.regimes).label(md, md.calendar)
    sf = build_signal_frame(md, labels["regime"])
    rf = risk_free(days, sf.signal("cash_rate").reindex(days))
    px = md.prices.reindex(days)[list(tickers)]
    rets = px / px.shift(1) - 1.0
    cal = load_calendar(cfg.regimes.calendar)
    ylds = sf.yields.reindex(days) if not sf.yields.empty else pd.DataFrame(index=days)
    return History(days=days, returns=rets.astype(float), rf=rf.astype(float),
                   labels=labels.reindex(days)[["regime", "regime_id"]] if "regime_id" in labels
                   else labels.reindex(days)[["regime"]],
                   pit=pit_labels(cal, days), yields=ylds, calendar=cal, source=md.source,
                   synthetic=bool(md.synthetic))


def episode_runs(labels: pd.DataFrame) -> np.ndarray:
    """Contiguous-run number of each day (a new run where the label or regime id changes).

    Two runs of the same kind separated by another regime are different episodes, even
    when their id is shared (the calendar's ``GAP`` plateaus).
    """
    lab = labels["regime"].astype(object).to_numpy()
    key = labels["regime_id"].astype(object).to_numpy() if "regime_id" in labels else lab
    change = np.ones(len(lab), dtype=bool)
    if len(lab) > 1:
        change[1:] = (lab[1:] != lab[:-1]) | (key[1:] != key[:-1])
    return np.cumsum(change)
