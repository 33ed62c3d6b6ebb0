"""Regime-attributed scoring beyond per-regime metrics: time shares and event studies.

``regime_outputs`` returns the extra tables the pipeline writes to a run folder as
``<key>.csv`` (``regime_metrics.csv`` itself is written by the pipeline):

* ``regime_share``: per strategy, the days and share of its live period (from its first
  return) spent in each regime.
* ``event_study``: per strategy and regime start, the cumulative excess return over the
  cash return from 20 trading days before to 60 after the start. ``day`` 0 is the first
  day of the new regime; ``cum_excess`` at ``day`` d compounds the daily excess returns
  ``r - rf`` from day -20 through day d (so day -20 already includes that day's excess
  return). Windows are cut at the ends of the sample; the first run of the sample is
  not an event (it did not start inside the sample).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRE_DAYS = 20
POST_DAYS = 60
SHARE_COLUMNS = ["strategy", "regime", "days", "share"]
EVENT_COLUMNS = ["strategy", "regime_id", "regime", "start", "day", "cum_excess"]


def regime_starts(labels: pd.DataFrame) -> pd.DataFrame:
    """First day of each contiguous regime run (except the run the sample starts in).

    Parameters
    ----------
    labels : pd.DataFrame
        Index = trading days; ``regime`` and optionally ``regime_id``.

    Returns
    -------
    pd.DataFrame
        Columns ``regime_id, regime, start, pos`` (``pos`` = position in ``labels``).
    """
    lab = labels["regime"].astype(object).to_numpy()
    key = labels["regime_id"].astype(object).to_numpy() if "regime_id" in labels else lab
    new = np.zeros(len(lab), dtype=bool)
    new[1:] = (key[1:] != key[:-1]) & pd.notna(lab[1:])
    pos = np.flatnonzero(new)
    return pd.DataFrame({
        "regime_id": [str(key[i]) for i in pos],
        "regime": [str(lab[i]) for i in pos],
        "start": pd.DatetimeIndex(labels.index[pos]),
        "pos": pos,
    })


def regime_share(returns: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Days and share of each strategy's live period spent in each regime."""
    lab = labels["regime"].reindex(returns.index)
    rows = []
    for strat in returns.columns:
        fv = returns[strat].first_valid_index()
        if fv is None:
            continue
        live = lab.loc[fv:].dropna()
        counts = live.value_counts()
        for reg in sorted(counts.index):
            rows.append({"strategy": strat, "regime": reg, "days": int(counts[reg]),
                         "share": float(counts[reg] / len(live))})
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)


def event_study(returns: pd.DataFrame, labels: pd.DataFrame, rf: pd.Series,
                pre: int = PRE_DAYS, post: int = POST_DAYS) -> pd.DataFrame:
    """Cumulative excess return around each regime start (long format).

    Parameters
    ----------
    returns : pd.DataFrame
        Daily net returns, one column per strategy.
    labels : pd.DataFrame
        Regime labels on the same days (``regime``, ``regime_id``).
    rf : pd.Series
        Daily cash return (missing days count as 0).
    pre, post : int
        Trading days before and after the start.

    Returns
    -------
    pd.DataFrame
        Columns ``strategy, regime_id, regime, start, day, cum_excess``.
    """
    lab = labels.reindex(returns.index)
    starts = regime_starts(lab)
    cash = rf.reindex(returns.index).fillna(0.0).to_numpy(dtype=float)
    n = len(returns.index)
    cols: dict[str, list] = {c: [] for c in EVENT_COLUMNS}
    sizes: list[int] = []
    for strat in returns.columns:
        r = returns[strat].to_numpy(dtype=float)
        excess = np.where(np.isnan(r), np.nan, r - cash)
        for row in starts.itertuples(index=False):
            lo, hi = max(row.pos - pre, 0), min(row.pos + post, n - 1)
            ex = excess[lo:hi + 1]
            if np.isnan(ex).all():
                continue
            cum = np.cumprod(1.0 + np.nan_to_num(ex)) - 1.0
            cum[np.isnan(ex) & (np.cumsum(~np.isnan(ex)) == 0)] = np.nan  # not yet invested
            # one frame per (strategy, start) costs ~0.5 ms each: collect the columns instead
            for c, v in (("strategy", strat), ("regime_id", row.regime_id), ("regime", row.regime),
                         ("start", row.start)):
                cols[c].append(v)
            cols["day"].append(np.arange(lo - row.pos, hi - row.pos + 1))
            cols["cum_excess"].append(cum)
            sizes.append(hi - lo + 1)
    if not sizes:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    reps = np.asarray(sizes)
    scalars = {c: pd.Series(cols[c]).repeat(reps).reset_index(drop=True)
               for c in ("strategy", "regime_id", "regime", "start")}
    out = pd.DataFrame({**scalars, "day": np.concatenate(cols["day"]), "cum_excess": np.concatenate(cols["cum_excess"])})
    return out[EVENT_COLUMNS]


def regime_outputs(returns: pd.DataFrame, labels: pd.DataFrame, rf: pd.Series) -> dict[str, pd.DataFrame]:
    """Extra regime tables written to the run folder as ``<key>.csv``.

    Parameters
    ----------
    returns : pd.DataFrame
        Daily net returns, one column per strategy.
    labels : pd.DataFrame
        Regime labels per trading day (``regime``, ``regime_id``, ...).
    rf : pd.Series
        Daily cash return.

    Returns
    -------
    dict[str, pd.DataFrame]
        ``regime_share`` and ``event_study`` (see the module docstring).
    """
    return {
        "regime_share": regime_share(returns, labels),
        "event_study": event_study(returns, labels, rf),
    }
