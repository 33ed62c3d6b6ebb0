"""Validation shared by every data source: each problem is a DataError naming what and when.

Checks: unsorted or duplicate dates, non-positive prices, runs of missing values longer
than ``max_nan_run`` trading days inside a series' life, a missing ticker or series, a
series ending long before the run's end. Short gaps (holidays in one file but not in
another) are forward-filled and reported as a repair.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from backtest.data.sanity import Allowed, check_price_sanity
from backtest.errors import DataError
from backtest.units import ROLE_SERIES, SERIES, series_info

_LABELS = {"percent": "rate in percent", "index points": "volatility index",
           "usd millions": "amount in USD millions", "usd billions": "amount in USD billions",
           "index": "price index", "level": "level"}

MAX_NAN_RUN = 5  # trading days of consecutive missing prices tolerated (ffilled, reported)
STALE_DAYS = 10  # calendar days a price series may end before the run's end


def check_dates(index: pd.Index, origin: str) -> None:
    """Raise ``DataError`` if ``index`` has duplicate or unsorted dates.

    Parameters
    ----------
    index : pd.Index
        Dates as parsed from the source.
    origin : str
        What to name in the message (a file path, ``"yahoo:SPY"``...).
    """
    idx = pd.DatetimeIndex(index)
    dup = idx[idx.duplicated()]
    if len(dup):
        raise DataError(f"{origin}: duplicate date {dup[0].date()}")
    if not idx.is_monotonic_increasing:
        diffs = np.flatnonzero(np.diff(idx.asi8) < 0)
        raise DataError(f"{origin}: dates not sorted (at {idx[diffs[0] + 1].date()})")


def check_prices(s: pd.Series, origin: str) -> None:
    """Raise ``DataError`` for a non-positive or non-finite price."""
    v = s.dropna()
    bad = v[(v <= 0) | ~np.isfinite(v)]
    if len(bad):
        what = "non-positive" if float(bad.iloc[0]) <= 0 else "non-finite"
        raise DataError(f"{origin}: {what} price {float(bad.iloc[0]):g} on {bad.index[0].date()}")


def longest_nan_run(s: pd.Series) -> tuple[int, pd.Timestamp | None]:
    """Length and start date of the longest run of NaN between the first and last value."""
    fv, lv = s.first_valid_index(), s.last_valid_index()
    if fv is None:
        return 0, None
    inner = s.loc[fv:lv].isna().to_numpy()
    best, best_start, run, start = 0, None, 0, 0
    for i, na in enumerate(inner):
        if na:
            if run == 0:
                start = i
            run += 1
            if run > best:
                best, best_start = run, start
        else:
            run = 0
    return best, (s.loc[fv:lv].index[best_start] if best_start is not None else None)


def align_prices(
    frames: dict[str, pd.Series],
    origin: dict[str, str],
    end: pd.Timestamp | None = None,
    max_nan_run: int = MAX_NAN_RUN,
    allow: Iterable[Allowed] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """Align price series on the union trading calendar, validating each.

    Parameters
    ----------
    frames : dict[str, pd.Series]
        Adjusted closes by ticker, each indexed by date.
    origin : dict[str, str]
        Where each ticker came from (for messages).
    end : pd.Timestamp, optional
        Requested end of the run: a series ending more than ``STALE_DAYS`` before the
        last date of the panel (or ``end``) is an error.
    max_nan_run : int
        Longest tolerated run of missing prices inside a series' life.
    allow : iterable of (series, date, kind)
        Price events accepted on purpose (``data.allow``; see :mod:`backtest.data.sanity`).

    Returns
    -------
    prices : pd.DataFrame
        Trading days x tickers; NaN only before a ticker's first price.
    notes : list[str]
        Repairs made (forward-filled gaps).
    """
    notes: list[str] = []
    for t, s in frames.items():
        check_dates(s.index, origin[t])
        check_prices(s, origin[t])
    notes.extend(check_price_sanity(frames, origin, allow))
    panel = pd.DataFrame(frames).sort_index()
    panel.index = pd.DatetimeIndex(panel.index).normalize()
    panel.index.name = "date"
    panel = panel.loc[panel.notna().any(axis=1)]
    last_day = panel.index[-1] if len(panel) else None
    for t in panel.columns:
        s = panel[t]
        if s.notna().sum() == 0:
            raise DataError(f"{origin[t]}: no prices for {t}")
        run, at = longest_nan_run(s)
        if run > max_nan_run:
            raise DataError(
                f"{origin[t]}: {run} consecutive missing prices for {t} from {at.date()}"
            )
        if run > 0:
            n = int(s.loc[s.first_valid_index() : s.last_valid_index()].isna().sum())
            notes.append(f"{t}: {n} missing price(s) inside its history forward-filled")
        lv = s.last_valid_index()
        ref = last_day if end is None else min(pd.Timestamp(end), last_day)
        if (ref - lv).days > STALE_DAYS:
            by = "the run's end" if end is not None and ref == pd.Timestamp(end) else (
                "the last price of " + ", ".join(c for c in panel.columns if panel[c].last_valid_index() == ref))
            raise DataError(f"{origin[t]}: {t} ends on {lv.date()}, more than {STALE_DAYS} days before "
                            f"{ref.date()} ({by})")
    first = panel.apply(lambda c: c.first_valid_index())
    filled = panel.ffill()
    for t in panel.columns:
        filled.loc[filled.index < first[t], t] = np.nan
    return filled, notes


# Plausible ranges of macro series by kind: one table, backtest.units (units, kinds, roles).
MACRO_KINDS: dict[str, tuple[str, tuple[float, float]]] = {
    k: (_LABELS[v.unit], v.range) for k, v in SERIES.items() if v.range is not None
}


def series_name(origin: str) -> str:
    """The series id in an origin such as ``/data/fred/DTB3.csv`` or ``fred:DTB3 (cached)``."""
    head = origin.split()[0] if origin.split() else origin
    if ":" in head and "/" not in head:
        return head.split(":", 1)[1]
    stem = head.replace("\\", "/").rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def check_macro_values(s: pd.Series, origin: str, name: str | None = None) -> None:
    """Raise ``DataError`` for a non-finite value or one outside the series' plausible range.

    Parameters
    ----------
    s : pd.Series
        The series (NaN = missing, allowed).
    origin : str
        File or provider to name in the message.
    name : str, optional
        Series id (default: taken from ``origin``); selects the range in :data:`MACRO_KINDS`.
    """
    v = pd.to_numeric(s, errors="coerce").dropna() if s.dtype == object else s.dropna()
    if s.dtype == object and len(v) < s.notna().sum():
        bad = s[s.notna() & pd.to_numeric(s, errors="coerce").isna()]
        raise DataError(f"{origin}: non-numeric value {bad.iloc[0]!r} on {_day(bad.index[0])}")
    arr = v.to_numpy(dtype=float)
    inf = ~np.isfinite(arr)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise DataError(f"{origin}: non-finite value {float(arr[i]):g} on {_day(v.index[i])}")
    key = name or series_name(origin)
    kind = MACRO_KINDS.get(key) or MACRO_KINDS.get(key.upper())
    if kind is None:
        return
    label, (lo, hi) = kind
    out = (arr < lo) | (arr > hi)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise DataError(
            f"{origin}: {key} value {arr[i]:g} on {_day(v.index[i])} is outside the plausible "
            f"range {lo:g}..{hi:g} for a {label}"
        )


def _day(x: object) -> str:
    try:
        return str(pd.Timestamp(x).date())
    except (TypeError, ValueError):
        return str(x)


def check_macro(s: pd.Series, origin: str, name: str | None = None) -> pd.Series:
    """Validate one macro series: dates unique, sorted, not after today; a value, finite, in range by kind."""
    check_dates(s.index, origin)
    idx = pd.DatetimeIndex(s.dropna().index)
    today = pd.Timestamp.today().normalize()
    if len(idx) and idx[-1] > today + pd.Timedelta(days=1):
        first = idx[idx > today + pd.Timedelta(days=1)][0]
        raise DataError(f"{origin}: {name or series_name(origin)} has a row dated {first.date()}, "
                        f"after today ({today.date()})")
    if s.notna().sum() == 0:
        raise DataError(f"{origin}: series has no values")
    check_macro_values(s, origin, name)
    return s


def role_series(cash_rate: str, macro: dict) -> dict[str, list[str]]:
    """The loaded series that fill a role (``cash.rate``, ``curve``, ``stress``), by role.

    ``cash.rate: DTB3`` (or ``cash_rate``) is filled by DTB3 and, after it stops, DGS3MO.
    """
    out: dict[str, list[str]] = {}
    if cash_rate.lower() != "none":
        names = ["DTB3", "DGS3MO"] if cash_rate in ("DTB3", "cash_rate") else [cash_rate]
        out["cash.rate"] = [n for n in names if n in macro]
    for role, names in ROLE_SERIES.items():
        have = [n for n in names if n in macro]
        if have:
            out[role] = have
    return out


def check_stale_roles(
    macro: dict,
    cash_rate: str,
    end: pd.Timestamp,
    *,
    declared: dict[str, str] | None = None,
    warn: bool = False,
    origin: str = "data",
) -> list[str]:
    """Refuse (or, with ``warn``, note) a series in a role whose last value is too old at ``end``.

    A role filled by several series (the cash rate: DTB3, then DGS3MO) is stale when the
    latest of them is. How old is too old is the series' publication rhythm plus slack
    (``backtest.units.SeriesInfo.max_age_days``: 14 calendar days for daily series, 21 for
    weekly, 75 for monthly).

    Parameters
    ----------
    macro : dict[str, MacroSeries]
        Loaded macro series.
    cash_rate : str
        ``cash.rate`` of the config.
    end : pd.Timestamp
        The run's last day.
    declared : dict, optional
        ``data.units``.
    warn : bool
        ``data.stale: warn``: return notes instead of raising.
    origin : str
        Config file, for messages.

    Returns
    -------
    list of str
        Warnings (only with ``warn``).

    Raises
    ------
    DataError
        Naming the role, the series, its last date and the run's end.
    """
    notes: list[str] = []
    for role, names in role_series(cash_rate, macro).items():
        if not names:
            continue
        groups = [names] if role == "cash.rate" else [[n] for n in names]
        for group in groups:
            lasts = {n: macro[n].values.index[-1] for n in group if len(macro[n].values)}
            if not lasts:
                continue
            name = max(lasts, key=lambda n: lasts[n])
            info = series_info(name, declared)
            max_age = info.max_age_days if info is not None else 14
            age = (pd.Timestamp(end) - lasts[name]).days
            if age > max_age:
                what = " / ".join(group)
                msg = (f"{role} series {what} ends on {lasts[name].date()}, {age} days before the run's end "
                       f"{pd.Timestamp(end).date()} (at most {max_age} for its publication rhythm)")
                if warn:
                    notes.append(f"warning: {msg}; carried forward (data.stale: warn)")
                else:
                    raise DataError(f"{origin}: {msg}; update the data, end the run earlier, "
                                    "or set data.stale: warn")
    return notes
