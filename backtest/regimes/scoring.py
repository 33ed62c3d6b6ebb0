"""Regime-attributed scoring beyond per-regime metrics: time shares and regime starts.

``regime_outputs`` returns the extra tables the pipeline writes to a run folder as
``<key>.csv`` (``regime_metrics.csv`` itself is written by the pipeline):

* ``regime_share``: per strategy, the days and share of its live period (from its first
  return) spent in each regime.

``regime_starts`` finds the first day of each regime run inside the sample (the first run
of the sample is not an event: it did not start inside the sample). The run folder's
``event_study.csv`` around those starts is computed by
:func:`backtest.evidence.events.regime_start_paths`, with the event-window code of
``rmpbt evidence``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHARE_COLUMNS = ["strategy", "regime", "days", "share"]


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


def regime_outputs(returns: pd.DataFrame, labels: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Extra regime tables written to the run folder as ``<key>.csv``.

    Parameters
    ----------
    returns : pd.DataFrame
        Daily net returns, one column per strategy.
    labels : pd.DataFrame
        Regime labels per trading day (``regime``, ``regime_id``, ...).

    Returns
    -------
    dict[str, pd.DataFrame]
        ``regime_share`` (see the module docstring).
    """
    return {"regime_share": regime_share(returns, labels)}
