"""Validation shared by every data source: each problem is a DataError naming what and when.

Checks: unsorted or duplicate dates, non-positive prices, runs of missing values longer
than ``max_nan_run`` trading days inside a series' life, a missing ticker or series, a
series ending long before the run's end. Short gaps (holidays in one file but not in
another) are forward-filled and reported as a repair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.errors import DataError

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
        raise DataError(f"{origin}: non-positive price {bad.iloc[0]!r} on {bad.index[0].date()}")


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
            raise DataError(f"{origin[t]}: {t} ends on {lv.date()}, long before {ref.date()}")
    first = panel.apply(lambda c: c.first_valid_index())
    filled = panel.ffill()
    for t in panel.columns:
        filled.loc[filled.index < first[t], t] = np.nan
    return filled, notes


# Plausible ranges of macro series by kind (units as in the csv layout / FRED, see
# docs/config.md): a value outside its range is a unit or data error, not a market move.
RATE_RANGE = (-10.0, 30.0)  # percent: yields, policy rates, T-bills, spreads, OAS
VOL_RANGE = (1.0, 200.0)  # volatility index points (VIX all-time high close: 82.69)
MILLIONS_RANGE = (0.0, 1.0e8)  # USD millions (Fed balance sheet, reserves, TGA): < $100 trn
BILLIONS_RANGE = (0.0, 1.0e5)  # USD billions (RRP, TGA week average)
INDEX_RANGE = (1.0e-3, 1.0e5)  # price-index levels (CPI 1982-84 = 100)
MACRO_KINDS: dict[str, tuple[str, tuple[float, float]]] = {
    **{k: ("rate in percent", RATE_RANGE) for k in (
        "DTB3", "DGS3MO", "DGS1", "DGS2", "DGS5", "DGS10", "DGS30", "SOFR", "IORB", "IOER", "EFFR",
        "DFF", "DFEDTARU", "DFEDTARL", "T10Y2Y", "T10Y3M", "BAMLH0A0HYM2", "cash_rate",
        "policy_rate")},
    **{k: ("volatility index", VOL_RANGE) for k in ("VIX", "VIX3M", "VXV", "VIXCLS", "VIX9D")},
    **{k: ("amount in USD millions", MILLIONS_RANGE) for k in (
        "WALCL", "WRESBAL", "TREAST", "WSHOMCB", "WDTGAL", "TGA")},
    **{k: ("amount in USD billions", BILLIONS_RANGE) for k in ("RRPONTSYD", "WTREGEN")},
    **{k: ("price index", INDEX_RANGE) for k in ("CPIAUCSL", "CPILFESL", "PCEPI")},
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
        raise DataError(f"{origin}: non-finite value {arr[i]!r} on {_day(v.index[i])}")
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
    """Validate one macro series: dates unique and sorted, a value, finite, in range by kind."""
    check_dates(s.index, origin)
    if s.notna().sum() == 0:
        raise DataError(f"{origin}: series has no values")
    check_macro_values(s, origin, name)
    return s
