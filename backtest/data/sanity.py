"""Price sanity, applied by the data layer to every source before a price is used.

A price series is refused (one :class:`~backtest.errors.DataError` line naming the file or
provider, the series, the date and what is wrong) when it shows

* ``price`` — a price outside :data:`PRICE_RANGE` (1e-4 … 1e8 per share: ``1e308``,
  ``1e-300``), or a row dated after today;
* ``spike`` — a one-day move beyond ×2 or ÷2 (:data:`SPIKE_RATIO`) that the next
  observation undoes by at least 75 % in log terms (:data:`REVERT_SHARE`): a bad print;
* ``split`` — a one-day move within 2.5 % of a split ratio (:data:`SPLIT_RATIOS`: 2, 3,
  4, 5, 8, 10, 20, 25, 50, 100 or its inverse) that persists: an unadjusted split or
  reverse split;
* ``jump`` — any other one-day move beyond ×10 or ÷10 (:data:`JUMP_RATIO`) that persists;
* ``closed_day`` — a row on a day the exchange was closed (a weekend or an NYSE holiday
  by rule, :mod:`backtest.data.exchange_calendar`).

Moves are measured between consecutive observations (missing days are skipped). A known
real event is accepted on purpose by listing it in the config's ``data.allow``
(``{series: SVXY, date: 2018-02-06, kind: jump}``); each accepted event is reported as a
note. The real data of ``../shared/data`` (adjusted for splits, SVXY's 2018 fall included)
and the sample market pass without any entry (``tests/test_strict_data.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from backtest.data.exchange_calendar import exchange_days
from backtest.errors import DataError

PRICE_RANGE = (1.0e-4, 1.0e8)  # USD per share (adjusted; VIXY's back-adjusted history reaches ~1e6)
SPIKE_RATIO = 2.0  # a one-day move beyond x2 or /2 ...
REVERT_SHARE = 0.75  # ... that the next observation undoes by >= 75 % (log terms) is a spike
SPLIT_RATIOS = (2, 3, 4, 5, 8, 10, 20, 25, 50, 100)
SPLIT_TOL = 0.025  # |log move -+ log k| within this: a split ratio
JUMP_RATIO = 10.0  # any other persistent one-day move beyond x10 or /10
KINDS = ("price", "spike", "split", "jump", "closed_day")

#: An accepted event: (series, date, kind).
Allowed = tuple[str, date, str]


def _fmt_ratio(x: float) -> str:
    return f"x{x:.4g}" if x >= 1 else f"/{1 / x:.4g}"


def _hint(name: str, day: pd.Timestamp, kind: str) -> str:
    return (f"; if it is real, accept it with data.allow: [{{series: {name}, date: {day.date()}, "
            f"kind: {kind}}}]")


def price_events(s: pd.Series, open_days: pd.DatetimeIndex | None = None) -> list[tuple[pd.Timestamp, str, str]]:
    """The suspicious events of one price series: ``(date, kind, description)`` in date order.

    Parameters
    ----------
    s : pd.Series
        Prices indexed by date (NaN = no observation).
    open_days : pd.DatetimeIndex, optional
        NYSE trading days covering the series (computed when omitted).

    Returns
    -------
    list of tuple
        Every ``price``, ``spike``, ``split``, ``jump`` and ``closed_day`` event (see the
        module docstring); empty for a clean series.
    """
    v = s.dropna()
    out: list[tuple[pd.Timestamp, str, str]] = []
    if v.empty:
        return out
    idx = pd.DatetimeIndex(v.index)
    arr = v.to_numpy(dtype=float)
    lo, hi = PRICE_RANGE
    for i in np.flatnonzero((arr < lo) | (arr > hi)):
        out.append((idx[i], "price", f"price {arr[i]:.6g} is outside the plausible {lo:g}..{hi:g} per share"))
    if open_days is None:
        open_days = exchange_days(idx[0], idx[-1])
    closed = idx.difference(open_days)
    for d in closed:
        why = "a weekend" if d.weekday() >= 5 else "an NYSE holiday"
        out.append((d, "closed_day", f"a row on {d.date()}, {why} (the exchange was closed)"))
    ok = (arr >= lo) & (arr <= hi)
    if ok.sum() >= 2:
        a, ia = arr[ok], idx[ok]
        r = np.diff(np.log(a))
        big = np.flatnonzero(np.abs(r) >= np.log(SPIKE_RATIO) - SPLIT_TOL)
        reverted: set[int] = set()
        for j in big:
            if j in reverted:
                continue
            day, move = ia[j + 1], float(np.exp(r[j]))
            nxt = r[j + 1] if j + 1 < len(r) else 0.0
            if abs(r[j]) >= np.log(SPIKE_RATIO) and np.sign(nxt) == -np.sign(r[j]) \
                    and abs(nxt) >= REVERT_SHARE * abs(r[j]):
                reverted.add(j + 1)
                out.append((day, "spike", f"one-day spike {_fmt_ratio(move)} on {day.date()}, reverted on "
                                          f"{ia[j + 2].date()} (a bad print?)"))
                continue
            k = next((k for k in SPLIT_RATIOS if abs(abs(r[j]) - np.log(k)) <= SPLIT_TOL), None)
            if k is not None:
                what = "split" if r[j] < 0 else "reverse split"
                out.append((day, "split", f"level shift {_fmt_ratio(move)} on {day.date()} that persists "
                                          f"(an unadjusted {k}:1 {what}?)"))
            elif abs(r[j]) > np.log(JUMP_RATIO):
                out.append((day, "jump", f"one-day move {_fmt_ratio(move)} on {day.date()} that persists"))
    return sorted(out, key=lambda e: e[0])


def check_price_sanity(
    frames: dict[str, pd.Series],
    origin: dict[str, str],
    allow: Iterable[Allowed] = (),
    today: date | None = None,
) -> list[str]:
    """Refuse suspicious prices (see the module docstring); notes for the accepted ones.

    Parameters
    ----------
    frames : dict[str, pd.Series]
        Prices by ticker, each indexed by date.
    origin : dict[str, str]
        Where each ticker came from (file path or ``yahoo:T``), for messages.
    allow : iterable of (series, date, kind)
        Events accepted on purpose (``data.allow``).
    today : date, optional
        Rows after this day are refused (default: today's date).

    Returns
    -------
    list of str
        One note per accepted event.

    Raises
    ------
    DataError
        The first refused event, naming the origin, the series, the date and the kind.
    """
    accepted = {(str(s), pd.Timestamp(d).normalize(), str(k)) for s, d, k in allow}
    used: set[tuple[str, pd.Timestamp, str]] = set()
    notes: list[str] = []
    now = pd.Timestamp(today or date.today()).normalize()
    limit = now + pd.Timedelta(days=1)  # a UTC date may run a day ahead of the local one
    spans = [pd.DatetimeIndex(s.dropna().index) for s in frames.values()]
    spans = [i for i in spans if len(i)]
    open_days = exchange_days(min(i[0] for i in spans), max(i[-1] for i in spans)) if spans else None
    for t, s in frames.items():
        where = origin.get(t, t)
        idx = pd.DatetimeIndex(s.dropna().index)
        if len(idx) and idx[-1] > limit:
            first = idx[idx > limit][0]
            raise DataError(f"{where}: {t} has a row dated {first.date()}, after today ({now.date()})")
        for day, kind, text in price_events(s, open_days):
            key = (t, day.normalize(), kind)
            if key in accepted:
                used.add(key)
                notes.append(f"{t}: {text} accepted (data.allow)")
                continue
            raise DataError(f"{where}: {t} {text}{_hint(t, day, kind)}")
    unused = sorted(accepted - used - {a for a in accepted if a[0] not in frames})
    for s, d, k in unused:
        notes.append(f"data.allow {{series: {s}, date: {d.date()}, kind: {k}}} matches no event in the data")
    return notes


__all__ = ["KINDS", "PRICE_RANGE", "SPIKE_RATIO", "SPLIT_RATIOS", "check_price_sanity", "price_events"]
