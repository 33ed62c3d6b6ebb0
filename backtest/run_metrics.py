"""The columns of a run's ``metrics.csv``: contract metrics, then benchmark-relative metrics, then cost drags.

New columns are appended at the end, so the first columns keep their order and values
(:data:`backtest.metrics.METRIC_COLUMNS`); ``docs/metrics.md`` defines every column.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from backtest.cost_drag import COST_DRAG_COLUMNS, cost_drag_table
from backtest.metrics import METRIC_COLUMNS, metrics_table
from backtest.metrics_relative import RELATIVE_COLUMNS, relative_table

#: every column of a run's ``metrics.csv``, in order
RUN_METRIC_COLUMNS = [*METRIC_COLUMNS, *RELATIVE_COLUMNS, *COST_DRAG_COLUMNS]


def run_metrics_table(
    returns: pd.DataFrame,
    rf: pd.Series | None = None,
    turnover: pd.DataFrame | None = None,
    *,
    benchmark: str | Mapping[str, str | None] | None = None,
    costs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per strategy with :data:`RUN_METRIC_COLUMNS`.

    Parameters
    ----------
    returns : pd.DataFrame
        Daily returns of the window the metrics cover, one column per strategy.
    rf : pd.Series, optional
        Daily cash return (Sharpe and Sortino are of excess returns).
    turnover : pd.DataFrame, optional
        Daily traded value / portfolio value.
    benchmark : str or mapping, optional
        The benchmark strategy (one for all, or per strategy) of the relative columns.
    costs : pd.DataFrame, optional
        Long ``date, strategy, fees, borrow, financing`` in money, in units of the NAV
        before the first day of ``returns`` (``costs.parquet``; see :func:`backtest.cost_drag.rebase_costs`
        for a part of a run).
    """
    base = metrics_table(returns, rf, turnover)
    rel = relative_table(returns, benchmark)
    drag = cost_drag_table(costs, returns)
    out = pd.concat([base, rel.reindex(base.index), drag.reindex(base.index)], axis=1)[RUN_METRIC_COLUMNS]
    out.index.name = "strategy"
    return out
