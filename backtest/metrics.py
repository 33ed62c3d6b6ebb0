"""Performance metrics as pure functions of daily simple return series.

Conventions (the results contract): 252 trading days a year; Sharpe and Sortino are of
excess returns over the cash (T-bill) rate; ``max_drawdown`` is a negative fraction.
NaN policy: leading NaN (before a strategy is invested) are dropped; inner NaN count as 0.
Each function is checked against empyrical-reloaded in ``tests/test_metrics.py``.

This is the series form; :mod:`backtest.metrics_batch` is the batch form (many series at
once, for the tuner and the scenario paths), tested equal to this one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.stats import SHARPE_INTERVAL, sharpe_interval

METRIC_COLUMNS = [
    "total_return",
    "cagr",
    "ann_vol",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "hit_rate",
    "worst_day",
    "best_day",
    "cvar_5",
]


#: columns of ``regime_metrics.csv`` (:func:`regime_metrics`; empty in scenario runs)
REGIME_METRIC_COLUMNS = ["strategy", "regime", "days", *METRIC_COLUMNS, *SHARPE_INTERVAL]

def _clean(r: pd.Series) -> pd.Series:
    r = pd.Series(r, dtype=float)
    fv = r.first_valid_index()
    return r.loc[fv:].fillna(0.0) if fv is not None else r.iloc[0:0]


def total_return(r: pd.Series) -> float:
    """Compounded return over the whole series: ``prod(1 + r) - 1``."""
    r = _clean(r)
    return float(np.prod(1.0 + r.to_numpy()) - 1.0) if len(r) else np.nan


def cagr(r: pd.Series) -> float:
    """Compound annual growth rate with ``len(r) / 252`` years."""
    r = _clean(r)
    if not len(r):
        return np.nan
    growth = np.prod(1.0 + r.to_numpy())
    if growth <= 0:
        return -1.0
    return float(growth ** (TRADING_DAYS / len(r)) - 1.0)


def ann_vol(r: pd.Series) -> float:
    """Annualised volatility: sample std (ddof=1) times sqrt(252)."""
    r = _clean(r)
    return float(r.std(ddof=1) * np.sqrt(TRADING_DAYS)) if len(r) > 1 else np.nan


def _excess(r: pd.Series, rf: pd.Series | float | None) -> pd.Series:
    r = _clean(r)
    if rf is None:
        return r
    if isinstance(rf, pd.Series):
        return r - rf.reindex(r.index).fillna(0.0)
    return r - float(rf)


def sharpe(r: pd.Series, rf: pd.Series | float | None = None) -> float:
    """Annualised Sharpe ratio of daily excess returns: ``mean / std(ddof=1) * sqrt(252)``."""
    ex = _excess(r, rf)
    sd = ex.std(ddof=1)
    if len(ex) < 2 or not np.isfinite(sd) or sd == 0:
        return np.nan
    return float(ex.mean() / sd * np.sqrt(TRADING_DAYS))


def sortino(r: pd.Series, rf: pd.Series | float | None = None) -> float:
    """Annualised Sortino ratio: ``mean(ex) * 252 / (sqrt(mean(min(ex, 0)^2)) * sqrt(252))``."""
    ex = _excess(r, rf)
    if len(ex) < 2:
        return np.nan
    dd = np.sqrt(np.mean(np.minimum(ex.to_numpy(), 0.0) ** 2))
    if dd == 0:
        return np.nan
    return float(ex.mean() * TRADING_DAYS / (dd * np.sqrt(TRADING_DAYS)))


def drawdown(r: pd.Series) -> pd.Series:
    """Drawdown path: wealth over its running maximum, minus one (<= 0), starting from 1."""
    r = _clean(r)
    wealth = np.cumprod(1.0 + r.to_numpy())
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    return pd.Series(wealth / peak - 1.0, index=r.index)


def max_drawdown(r: pd.Series) -> float:
    """Largest peak-to-trough loss, a negative fraction (0 if never below a peak)."""
    dd = drawdown(r)
    return float(dd.min()) if len(dd) else np.nan


def calmar(r: pd.Series) -> float:
    """CAGR divided by the absolute max drawdown."""
    mdd = max_drawdown(r)
    if not np.isfinite(mdd) or mdd == 0:
        return np.nan
    return float(cagr(r) / abs(mdd))


def hit_rate(r: pd.Series) -> float:
    """Share of days with a positive return."""
    r = _clean(r)
    return float((r > 0).mean()) if len(r) else np.nan


def worst_day(r: pd.Series) -> float:
    """Smallest daily return."""
    r = _clean(r)
    return float(r.min()) if len(r) else np.nan


def best_day(r: pd.Series) -> float:
    """Largest daily return."""
    r = _clean(r)
    return float(r.max()) if len(r) else np.nan


def cvar(r: pd.Series, level: float = 0.05) -> float:
    """Mean of the worst ``level`` share of daily returns (historical CVaR, negative)."""
    r = _clean(r).to_numpy()
    if not len(r):
        return np.nan
    q = np.quantile(r, level)
    return float(r[r <= q].mean())


def annual_turnover(turnover: pd.Series | None, n_days: int | None = None) -> float:
    """Average yearly one-way turnover: ``sum(daily traded / value) / 2 / years``.

    A full switch from one asset to another trades 2x the portfolio (sell + buy) and
    counts as turnover 1. ``n_days`` (the days of the returns) defaults to ``len(turnover)``.
    """
    if turnover is not None and n_days is None:
        n_days = len(turnover)
    if turnover is None or n_days == 0:
        return np.nan
    return float(turnover.sum() / 2.0 / (n_days / TRADING_DAYS))


def summary(
    r: pd.Series,
    rf: pd.Series | float | None = None,
    turnover: pd.Series | None = None,
) -> dict[str, float]:
    """All contract metrics of one return series.

    Parameters
    ----------
    r : pd.Series
        Daily simple returns.
    rf : pd.Series or float, optional
        Daily cash return to subtract for Sharpe and Sortino.
    turnover : pd.Series, optional
        Daily traded value / portfolio value (same index as ``r``).

    Returns
    -------
    dict
        Keys of :data:`METRIC_COLUMNS`.
    """
    rc = _clean(r)
    to = turnover.reindex(rc.index).fillna(0.0) if turnover is not None else None
    return _summary_clean(rc, _excess(rc, rf), to)


def _summary_clean(rc: pd.Series, ex: pd.Series, to: pd.Series | None) -> dict[str, float]:
    """:func:`summary` of an already cleaned series ``rc``, its excess ``ex`` and turnover ``to``.

    The same operations as the single-metric functions (so the same floats, to the bit),
    without cleaning, re-aligning and recomputing the drawdown path once per metric.
    """
    x = rc.to_numpy()
    n = len(x)
    if n:
        growth = np.prod(1.0 + x)
        tr = float(growth - 1.0)
        cg = -1.0 if growth <= 0 else float(growth ** (TRADING_DAYS / n) - 1.0)
        wealth = np.cumprod(1.0 + x)
        peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
        mdd = float((wealth / peak - 1.0).min())
        q = np.quantile(x, 0.05)
        cv = float(x[x <= q].mean())
    else:
        tr = cg = mdd = cv = np.nan
    sd = ex.std(ddof=1)
    if n < 2 or not np.isfinite(sd) or sd == 0:
        sh = np.nan
    else:
        sh = float(ex.mean() / sd * np.sqrt(TRADING_DAYS))
    if n < 2:
        so = np.nan
    else:
        dd = np.sqrt(np.mean(np.minimum(ex.to_numpy(), 0.0) ** 2))
        so = np.nan if dd == 0 else float(ex.mean() * TRADING_DAYS / (dd * np.sqrt(TRADING_DAYS)))
    return {
        "total_return": tr,
        "cagr": cg,
        "ann_vol": float(rc.std(ddof=1) * np.sqrt(TRADING_DAYS)) if n > 1 else np.nan,
        "sharpe": sh,
        "sortino": so,
        "max_drawdown": mdd,
        "calmar": np.nan if not np.isfinite(mdd) or mdd == 0 else float(cg / abs(mdd)),
        "turnover": annual_turnover(to, n),
        "hit_rate": float((rc > 0).mean()) if n else np.nan,
        "worst_day": float(rc.min()) if n else np.nan,
        "best_day": float(rc.max()) if n else np.nan,
        "cvar_5": cv,
    }


def metrics_table(
    returns: pd.DataFrame,
    rf: pd.Series | None = None,
    turnover: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per strategy (column of ``returns``) with :data:`METRIC_COLUMNS`."""
    rows = {
        c: summary(returns[c], rf, None if turnover is None else turnover.get(c))
        for c in returns.columns
    }
    out = pd.DataFrame.from_dict(rows, orient="index")[METRIC_COLUMNS]
    out.index.name = "strategy"
    return out


def regime_metrics(
    returns: pd.DataFrame,
    regimes: pd.Series,
    rf: pd.Series | None = None,
    turnover: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Metrics of each strategy on the days of each regime.

    The days of one regime need not be contiguous: metrics are computed on the
    concatenated returns of those days (drawdown over the concatenated path).

    Returns
    -------
    pd.DataFrame
        Columns :data:`REGIME_METRIC_COLUMNS`: ``strategy, regime, days``, then
        :data:`METRIC_COLUMNS` and the Sharpe ratio's standard error and 90% interval.
    """
    rows = []
    idx = returns.index
    lab = regimes.reindex(idx)
    masks = {reg: (lab == reg).to_numpy() for reg in sorted(lab.dropna().unique())}
    rf_v = rf.reindex(idx).fillna(0.0).to_numpy() if isinstance(rf, pd.Series) else None
    for c in returns.columns:
        r = returns[c]
        fv = r.first_valid_index()
        live = (idx >= fv) if fv is not None else np.ones(len(idx), dtype=bool)
        r_v = r.to_numpy(dtype=float)
        to_v = None if turnover is None else turnover[c].reindex(idx).to_numpy(dtype=float)
        for reg, reg_mask in masks.items():
            mask = reg_mask & live
            if not mask.any():
                continue
            sub_idx = idx[mask]
            sub = r_v[mask]
            rc = pd.Series(np.where(np.isnan(sub), 0.0, sub), index=sub_idx, name=c)
            if rf is None:
                ex = rc
            elif rf_v is not None:
                ex = rc - pd.Series(rf_v[mask], index=sub_idx)
            else:
                ex = rc - float(rf)
            to = None if to_v is None else pd.Series(to_v[mask], index=sub_idx).fillna(0.0)
            rows.append(
                {
                    "strategy": c,
                    "regime": reg,
                    "days": int(mask.sum()),
                    **_summary_clean(rc, ex, to),
                    **sharpe_interval(ex.to_numpy()),  # issue 13
                }
            )
    return pd.DataFrame(rows, columns=REGIME_METRIC_COLUMNS)
