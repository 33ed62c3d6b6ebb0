"""Benchmark-relative metrics of a daily return series: active return, tracking error, IR, beta, capture.

Definitions (``docs/metrics.md``; 252 trading days a year, simple daily returns). With
``r`` the strategy's and ``b`` the benchmark's daily returns on their common days and the
active return ``a = r - b``:

* ``active_return`` = ``252 * mean(a)`` (annualised arithmetic mean of the daily differences);
* ``tracking_error`` = ``sqrt(252) * std(a, ddof=1)``;
* ``information_ratio`` = ``active_return / tracking_error`` (= empyrical's ``excess_sharpe``
  times ``sqrt(252)``; quantstats' ``information_ratio`` is the same ratio, not annualised);
* ``beta`` = ``cov(r, b) / var(b)`` of raw daily returns (empyrical's ``beta`` with no
  risk-free rate; quantstats' ``greeks``);
* ``up_capture`` / ``down_capture`` = CAGR of ``r`` over CAGR of ``b``, both on the days
  the benchmark rose (fell) only, each with ``days / 252`` years (empyrical's ``up_capture``
  and ``down_capture``);
* ``active_max_drawdown`` = the largest peak-to-trough fall of the *relative wealth*
  ``W_r / W_b`` (growth of 1 in the strategy divided by growth of 1 in the benchmark),
  a negative fraction; the tearsheet's "active cumulative return" is ``W_r / W_b - 1``.

Common days: from the later of the two first valid days (leading NaN dropped, as in
:mod:`backtest.metrics`); inner NaN count as 0. Every function is checked against a plain
pandas computation and empyrical-reloaded in ``tests/test_metrics_relative.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.metrics import cagr

#: columns appended to ``metrics.csv`` (empty for the benchmark itself and without a benchmark)
RELATIVE_COLUMNS = [
    "active_return",
    "tracking_error",
    "information_ratio",
    "beta",
    "up_capture",
    "down_capture",
    "active_max_drawdown",
]


def common_days(r: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The two series on their common days: from the later first valid day, inner NaN as 0.

    Parameters
    ----------
    r, b : pd.Series
        Daily simple returns of the strategy and of the benchmark.

    Returns
    -------
    tuple of pd.Series
        ``(r, b)`` on the same index (empty when either is all NaN).
    """
    r = pd.Series(r, dtype=float)
    b = pd.Series(b, dtype=float).reindex(r.index)
    fr, fb = r.first_valid_index(), b.first_valid_index()
    if fr is None or fb is None:
        return r.iloc[0:0], b.iloc[0:0]
    start = max(fr, fb)
    return r.loc[start:].fillna(0.0), b.loc[start:].fillna(0.0)


def active_returns(r: pd.Series, b: pd.Series) -> pd.Series:
    """Daily active return ``r - b`` on the common days."""
    rc, bc = common_days(r, b)
    return rc - bc


def active_return(r: pd.Series, b: pd.Series) -> float:
    """Annualised mean daily active return: ``252 * mean(r - b)``."""
    a = active_returns(r, b)
    return float(a.mean() * TRADING_DAYS) if len(a) else np.nan


def tracking_error(r: pd.Series, b: pd.Series) -> float:
    """Annualised tracking error: ``sqrt(252) * std(r - b, ddof=1)``."""
    a = active_returns(r, b)
    return float(a.std(ddof=1) * np.sqrt(TRADING_DAYS)) if len(a) > 1 else np.nan


def information_ratio(r: pd.Series, b: pd.Series) -> float:
    """Annualised information ratio: ``active_return / tracking_error`` (NaN when the TE is 0)."""
    a = active_returns(r, b)
    sd = a.std(ddof=1)
    if len(a) < 2 or not np.isfinite(sd) or sd == 0:
        return np.nan
    return float(a.mean() / sd * np.sqrt(TRADING_DAYS))


def beta(r: pd.Series, b: pd.Series) -> float:
    """Beta of the daily returns on the benchmark's: ``cov(r, b) / var(b)`` (NaN when ``var(b)`` is 0)."""
    rc, bc = common_days(r, b)
    if len(rc) < 2:
        return np.nan
    x, y = bc.to_numpy(), rc.to_numpy()
    xd = x - x.mean()
    var = float(np.dot(xd, xd))
    return float(np.dot(xd, y - y.mean()) / var) if var > 0 else np.nan


def capture(r: pd.Series, b: pd.Series, up: bool = True) -> float:
    """Up (``up=True``) or down capture: CAGR of ``r`` over CAGR of ``b`` on the benchmark's up (down) days."""
    rc, bc = common_days(r, b)
    mask = (bc > 0) if up else (bc < 0)
    if not mask.any():
        return np.nan
    den = cagr(bc[mask])
    return float(cagr(rc[mask]) / den) if den != 0 else np.nan


def up_capture(r: pd.Series, b: pd.Series) -> float:
    """Up capture: :func:`capture` on the benchmark's up days."""
    return capture(r, b, up=True)


def down_capture(r: pd.Series, b: pd.Series) -> float:
    """Down capture: :func:`capture` on the benchmark's down days."""
    return capture(r, b, up=False)


def relative_wealth(r: pd.Series, b: pd.Series) -> pd.Series:
    """Growth of 1 in the strategy divided by growth of 1 in the benchmark, on the common days."""
    rc, bc = common_days(r, b)
    return pd.Series(np.cumprod(1.0 + rc.to_numpy()) / np.cumprod(1.0 + bc.to_numpy()), index=rc.index)


def active_drawdown(r: pd.Series, b: pd.Series) -> pd.Series:
    """Drawdown of the relative wealth from its running peak (starting from 1), <= 0."""
    w = relative_wealth(r, b)
    peak = np.maximum.accumulate(np.concatenate([[1.0], w.to_numpy()]))[1:]
    return pd.Series(w.to_numpy() / peak - 1.0, index=w.index)


def active_max_drawdown(r: pd.Series, b: pd.Series) -> float:
    """Largest fall of the relative wealth from a peak, a negative fraction (0 if it never falls)."""
    dd = active_drawdown(r, b)
    return float(dd.min()) if len(dd) else np.nan


def relative_summary(r: pd.Series, b: pd.Series) -> dict[str, float]:
    """All :data:`RELATIVE_COLUMNS` of the strategy's daily returns ``r`` against the benchmark's ``b``.

    Returns
    -------
    dict
        Keys of :data:`RELATIVE_COLUMNS` (each function's definition in the module docstring).
    """
    return {
        "active_return": active_return(r, b),
        "tracking_error": tracking_error(r, b),
        "information_ratio": information_ratio(r, b),
        "beta": beta(r, b),
        "up_capture": capture(r, b, up=True),
        "down_capture": capture(r, b, up=False),
        "active_max_drawdown": active_max_drawdown(r, b),
    }


def benchmark_map(strategies: list[str], benchmark: str | Mapping[str, str | None] | None) -> dict[str, str | None]:
    """Each strategy's benchmark: one name for all, a mapping per strategy, or none.

    A strategy never has itself as benchmark (its entry is None).
    """
    if benchmark is None or isinstance(benchmark, str):
        pairs = {s: benchmark for s in strategies}
    else:
        pairs = {s: benchmark.get(s) for s in strategies}
    return {s: (None if b == s else b) for s, b in pairs.items()}


def relative_table(returns: pd.DataFrame, benchmark: str | Mapping[str, str | None] | None) -> pd.DataFrame:
    """One row per strategy (column of ``returns``) with :data:`RELATIVE_COLUMNS`.

    Parameters
    ----------
    returns : pd.DataFrame
        Daily returns, one column per strategy (the benchmarks among them).
    benchmark : str or mapping or None
        The benchmark column for every strategy, or per strategy; None gives an all-NaN
        table. The benchmark's own row is NaN.

    Returns
    -------
    pd.DataFrame
        Index ``strategy``, columns :data:`RELATIVE_COLUMNS`.
    """
    names = [str(c) for c in returns.columns]
    bmap = benchmark_map(names, benchmark)
    rows = {}
    for c in returns.columns:
        b = bmap[str(c)]
        rows[c] = (relative_summary(returns[c], returns[b]) if b is not None and b in returns.columns
                   else dict.fromkeys(RELATIVE_COLUMNS, np.nan))
    out = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=RELATIVE_COLUMNS)
    out.index.name = "strategy"
    return out


def rolling_relative(r: pd.Series, b: pd.Series, window: int = TRADING_DAYS) -> pd.DataFrame:
    """Rolling ``window``-day beta and annualised tracking error (NaN until a full window).

    Returns
    -------
    pd.DataFrame
        Columns ``beta`` (``cov / var`` over the window) and ``tracking_error``.
    """
    rc, bc = common_days(r, b)
    roll_b = bc.rolling(window, min_periods=window)
    var = roll_b.var()
    cov = rc.rolling(window, min_periods=window).cov(bc)
    te = (rc - bc).rolling(window, min_periods=window).std() * np.sqrt(TRADING_DAYS)
    return pd.DataFrame({"beta": cov / var.where(var > 0), "tracking_error": te})
