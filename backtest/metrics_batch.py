"""Performance metrics of many return series at once: the batch form of :mod:`backtest.metrics`.

The same definitions as the series form (252-day annualisation, Sharpe and Sortino of
excess returns over the cash rate, drawdown from the initial value, CAGR with
``n / 252`` years); ``tests/test_metrics.py`` checks both forms agree on random inputs.

* :func:`window_metrics` — Sharpe, Sortino, CAGR, max drawdown and Calmar of each of
  ``V`` return series on each of several windows of days (the tuner's scores);
* :func:`path_metrics` — every per-path statistic of a scenario run from the value paths.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.constants import CVAR_LEVEL, TRADING_DAYS
from backtest.threads import run_blocks

#: Metrics computed by :func:`window_metrics`, in this order along the last axis.
WINDOW_METRICS = ("sharpe", "sortino", "cagr", "max_drawdown", "calmar")


@njit(cache=True)
def _window_one(r: np.ndarray, rf: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    n = rows.shape[0]
    for m in range(5):
        out[m] = np.nan
    if n == 0:
        return
    s = 0.0
    growth = 1.0
    wealth = 1.0
    peak = 1.0
    mdd = 0.0
    for i in range(n):
        x = r[rows[i]]
        if np.isnan(x):
            return
        s += x - rf[rows[i]]
        growth *= 1.0 + x
        wealth *= 1.0 + x
        if wealth > peak:
            peak = wealth
        dd = wealth / peak - 1.0
        if dd < mdd:
            mdd = dd
    mean = s / n
    ss = 0.0
    down = 0.0
    for i in range(n):
        e = r[rows[i]] - rf[rows[i]]
        ss += (e - mean) * (e - mean)
        if e < 0.0:
            down += e * e
    if n >= 2:
        sd = np.sqrt(ss / (n - 1))
        if np.isfinite(sd) and sd != 0:
            out[0] = mean / sd * np.sqrt(TRADING_DAYS)
        dd_dev = np.sqrt(down / n)
        if dd_dev != 0:
            out[1] = mean * TRADING_DAYS / (dd_dev * np.sqrt(TRADING_DAYS))
    cagr = -1.0 if growth <= 0 else growth ** (TRADING_DAYS / n) - 1.0
    out[2] = cagr
    out[3] = mdd
    if np.isfinite(mdd) and mdd != 0:
        out[4] = cagr / abs(mdd)


@njit(cache=True, nogil=True)
def _window_metrics_nb(r: np.ndarray, rf: np.ndarray, rows: np.ndarray, offsets: np.ndarray,
                       out: np.ndarray) -> None:
    n_w = offsets.shape[0] - 1
    shared = rf.shape[0] == 1
    for v in range(r.shape[0]):
        for w in range(n_w):
            _window_one(r[v], rf[0] if shared else rf[v], rows[offsets[w]:offsets[w + 1]], out[w, v])


def window_metrics(returns_vt: np.ndarray, rf: np.ndarray, windows: list[np.ndarray]) -> np.ndarray:
    """Metrics of each variant on each window of days, as ``backtest.metrics`` defines them.

    Parameters
    ----------
    returns_vt : np.ndarray
        ``V x T`` daily simple returns (a NaN anywhere in a window makes it NaN).
    rf : np.ndarray
        ``T`` daily cash returns shared by the series, or ``V x T`` (Sharpe and Sortino are
        of excess returns).
    windows : list of np.ndarray
        Row indices of each window (need not be contiguous).

    Returns
    -------
    np.ndarray
        ``len(windows) x V x 5``, metrics in :data:`WINDOW_METRICS` order.
    """
    r = np.ascontiguousarray(returns_vt, dtype=np.float64)
    lens = np.array([len(w) for w in windows], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    rows = (np.concatenate([np.asarray(w, dtype=np.int64) for w in windows]) if windows
            else np.zeros(0, dtype=np.int64))
    out = np.empty((len(windows), r.shape[0], 5))
    rf2 = np.asarray(rf, dtype=np.float64)
    rf2 = np.ascontiguousarray(rf2[None] if rf2.ndim == 1 else rf2)

    def block(lo: int, hi: int) -> None:
        _window_metrics_nb(r[lo:hi], rf2 if rf2.shape[0] == 1 else rf2[lo:hi], rows, offsets, out[:, lo:hi])

    run_blocks(block, r.shape[0])
    return out


def path_metrics(values: np.ndarray, rf: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Contract metrics of every path (see :mod:`backtest.metrics`), each of shape (P,).

    Sharpe, Sortino, CAGR, max drawdown and Calmar are :func:`window_metrics` on the whole
    horizon; a failed path (NaN values) scores NaN.

    Parameters
    ----------
    values : np.ndarray, shape (P, T1)
        Portfolio values at each close (initial value 1 before the first day).
    rf : np.ndarray, shape (P, T1), optional
        Daily cash return (Sharpe and Sortino are of returns in excess of it).
    """
    v = np.asarray(values, dtype=float)
    prev = np.concatenate([np.ones((v.shape[0], 1)), v[:, :-1]], axis=1)
    r = v / prev - 1.0
    growth = v[:, -1]
    rf_ = np.zeros(r.shape[1]) if rf is None else rf
    wm = window_metrics(r, rf_, [np.arange(r.shape[1])])[0]
    sharpe, sortino, cagr, mdd, calmar = (wm[:, WINDOW_METRICS.index(k)] for k in
                                          ("sharpe", "sortino", "cagr", "max_drawdown", "calmar"))
    sd = np.std(r, axis=1, ddof=1)
    q = np.quantile(r, CVAR_LEVEL, axis=1)
    tail = r <= q[:, None]
    dcvar = np.where(tail, r, 0.0).sum(axis=1) / tail.sum(axis=1)
    return {
        "horizon_return": growth - 1.0,
        "cagr": cagr,
        "ann_vol": sd * np.sqrt(TRADING_DAYS),
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "calmar": calmar,
        "hit_rate": (r > 0).mean(axis=1),
        "worst_day": r.min(axis=1),
        "best_day": r.max(axis=1),
        "daily_cvar_5": dcvar,
    }
