"""Costs as fractions of NAV: each day's cost over that day's NAV, annualised.

The simulators report costs in money (units of the initial capital, ``costs.parquet``):
fees and slippage at the fills, the borrow fee of shorts, the interest on borrowed cash.
A cost of ``c_t`` on day ``t`` took ``c_t / V_{t-1}`` from that day's return, where
``V_{t-1}`` is the NAV at the previous close (the NAV the day starts from, the base of its
return; 1 before the first day). The drag of a cost over a window of ``n`` days is

    drag = sum_t (c_t / V_{t-1}) * 252 / n

i.e. the average yearly share of NAV the cost took (``docs/metrics.md``). Returns already
carry every cost; this only expresses them in the unit people read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS

#: columns appended to ``metrics.csv`` (after the relative ones), and the cost each reads
COST_DRAG_COLUMNS = ["fee_drag", "borrow_drag", "financing_drag"]
DRAG_OF = {"fee_drag": "fees", "borrow_drag": "borrow", "financing_drag": "financing"}


def nav_before(returns: pd.Series) -> pd.Series:
    """NAV at the previous close of each day, from daily returns (1 before the first day; NaN return = 0)."""
    r = pd.Series(returns, dtype=float).fillna(0.0).to_numpy()
    v = np.concatenate([[1.0], np.cumprod(1.0 + r)[:-1]]) if len(r) else np.zeros(0)
    return pd.Series(v, index=pd.Series(returns).index)


def cost_drag(cost: pd.Series, returns: pd.Series) -> float:
    """Annualised drag of one daily cost: ``sum(cost_t / V_{t-1}) * 252 / n``.

    Parameters
    ----------
    cost : pd.Series
        Daily cost in money (units of the initial capital), indexed by date.
    returns : pd.Series
        The strategy's daily returns (the NAV is rebuilt from them, 1 before the first day).

    Returns
    -------
    float
        NaN when there are no days.
    """
    nav = nav_before(returns)
    share = pd.Series(cost, dtype=float).reindex(nav.index).fillna(0.0) / nav
    n = len(share)
    return float(share.sum() * TRADING_DAYS / n) if n else np.nan


def cost_drag_table(costs: pd.DataFrame | None, returns: pd.DataFrame) -> pd.DataFrame:
    """One row per strategy with :data:`COST_DRAG_COLUMNS`.

    Parameters
    ----------
    costs : pd.DataFrame or None
        Long frame ``date, strategy, fees, borrow, financing`` (``costs.parquet``); a
        missing cost column counts as 0. None gives an all-NaN table.
    returns : pd.DataFrame
        Daily returns, one column per strategy; the costs are in units of the NAV before
        their first day.

    Returns
    -------
    pd.DataFrame
        Index ``strategy``, columns :data:`COST_DRAG_COLUMNS`.
    """
    rows: dict[str, dict[str, float]] = {}
    per = ({str(s): g for s, g in costs.groupby(costs["strategy"].astype(str), sort=False)}
           if costs is not None and len(costs) else {})
    for c in returns.columns:
        g = per.get(str(c))
        if g is None:
            rows[c] = dict.fromkeys(COST_DRAG_COLUMNS, np.nan)
            continue
        idx = pd.DatetimeIndex(g["date"])
        rows[c] = {col: cost_drag(pd.Series(g[src].to_numpy(dtype=float) if src in g else 0.0, index=idx)
                                  .groupby(level=0).sum(), returns[c])
                   for col, src in DRAG_OF.items()}
    out = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=COST_DRAG_COLUMNS)
    out.index.name = "strategy"
    return out


def daily_cost_share(costs: pd.DataFrame, returns: pd.DataFrame) -> pd.DataFrame:
    """Each day's total cost (fees, borrow, financing) over the NAV at the previous close (date x strategy).

    The cumulative sum is the tearsheet's cumulative cost drag, in points of return.
    """
    c = costs.assign(date=pd.DatetimeIndex(costs["date"]), strategy=costs["strategy"].astype(str))
    c["cost"] = sum(c[k].astype(float).fillna(0.0) for k in DRAG_OF.values() if k in c)
    money = c.pivot_table(index="date", columns="strategy", values="cost", aggfunc="sum", sort=False)
    cols = [str(s) for s in returns.columns if str(s) in money.columns]
    nav = pd.DataFrame({s: nav_before(returns[s]) for s in cols}, index=returns.index)
    return money.reindex(index=returns.index, columns=cols).fillna(0.0) / nav


def rebase_costs(costs: pd.DataFrame, returns: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """The costs from ``start`` on, in units of the NAV at the close before ``start`` (a part of a run).

    Parameters
    ----------
    costs : pd.DataFrame
        Long ``date, strategy, fees, borrow, financing, ...`` of the whole run, in units of
        its initial capital.
    returns : pd.DataFrame
        The whole run's daily returns (one column per strategy).
    start : pd.Timestamp
        First day kept.

    Returns
    -------
    pd.DataFrame
        The rows on or after ``start``, money columns divided by each strategy's NAV at the
        previous close (so they match returns compounded from 1 on ``start``).
    """
    d = pd.DatetimeIndex(costs["date"])
    out = costs.loc[d >= start].copy()
    base = {str(s): float(nav_before(returns[s]).loc[returns.index >= start].iloc[0])
            for s in returns.columns if (returns.index >= start).any()}
    scale = out["strategy"].astype(str).map(base).fillna(1.0).to_numpy()
    for k in DRAG_OF.values():
        if k in out:
            out[k] = out[k].astype(float) / scale
    return out
