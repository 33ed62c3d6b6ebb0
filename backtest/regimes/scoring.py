"""Regime-attributed scoring beyond per-regime metrics: time shares and event studies."""

from __future__ import annotations

import pandas as pd


def regime_outputs(
    returns: pd.DataFrame, labels: pd.DataFrame, rf: pd.Series
) -> dict[str, pd.DataFrame]:
    """Extra regime tables written to the run folder as ``<key>.csv``.

    Parameters
    ----------
    returns : pd.DataFrame
        Daily net returns, one column per strategy.
    labels : pd.DataFrame
        Regime labels per trading day (``regime``, ``regime_id``, ...).
    rf : pd.Series
        Daily cash return.
    """
    return {}
