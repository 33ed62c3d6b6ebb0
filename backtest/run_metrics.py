"""The columns of a run's ``metrics.csv``: every metric of :data:`backtest.metrics_registry.METRICS`, in its order.

The contract metrics, the benchmark-relative metrics and the cost drags are computed by
their modules' tables (:func:`backtest.metrics.metrics_table`, :func:`relative_table`,
:func:`cost_drag_table`); every metric registered after them is computed here from its
registered series form. New columns are appended at the end, so the first columns keep
their order and values; ``docs/metrics.md`` defines every column.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from backtest.cost_drag import COST_DRAG_COLUMNS, cost_drag_table
from backtest.metrics import METRIC_COLUMNS, metrics_table
from backtest.metrics_registry import METRICS, series_form
from backtest.metrics_relative import RELATIVE_COLUMNS, benchmark_map, relative_table

#: every column of a run's ``metrics.csv``, in order
RUN_METRIC_COLUMNS = list(METRICS)
#: the registered metrics no module table computes (computed from their series form)
ADDED_COLUMNS = [c for c in RUN_METRIC_COLUMNS if c not in {*METRIC_COLUMNS, *RELATIVE_COLUMNS, *COST_DRAG_COLUMNS}]


def added_metrics_table(
    returns: pd.DataFrame,
    rf: pd.Series | None = None,
    turnover: pd.DataFrame | None = None,
    benchmark: str | Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """One row per strategy with :data:`ADDED_COLUMNS`, each from its registered series form.

    ``"returns"`` metrics read the strategy's returns (and ``rf`` when ``excess``),
    ``"turnover"`` ones its daily turnover on its days, ``"relative"`` ones the returns of
    its benchmark (NaN for the benchmark itself and without one). Registered ``"cost"``
    metrics beyond the three drags are not supported (NaN).
    """
    names = [str(c) for c in returns.columns]
    bmap = benchmark_map(names, benchmark)
    rows: dict[object, dict[str, float]] = {}
    for c in returns.columns:
        r = returns[c]
        row: dict[str, float] = {}
        for name in ADDED_COLUMNS:
            info, form = METRICS[name], series_form(name)
            if info.inputs == "returns":
                row[name] = form(r, rf) if info.excess else form(r)
            elif info.inputs == "turnover" and turnover is not None and c in turnover.columns:
                fv = r.first_valid_index()
                live = r.loc[fv:] if fv is not None else r.iloc[0:0]
                row[name] = form(turnover[c].reindex(live.index).fillna(0.0))
            elif info.inputs == "relative" and bmap[str(c)] in returns.columns:
                row[name] = form(r, returns[bmap[str(c)]])
            else:
                row[name] = np.nan
        rows[c] = row
    out = pd.DataFrame.from_dict(rows, orient="index").reindex(index=returns.columns, columns=ADDED_COLUMNS)
    out.index.name = "strategy"
    return out


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
    parts = [base, rel.reindex(base.index), drag.reindex(base.index)]
    if ADDED_COLUMNS:
        parts.append(added_metrics_table(returns, rf, turnover, benchmark).reindex(base.index))
    out = pd.concat(parts, axis=1)[RUN_METRIC_COLUMNS]
    out.index.name = "strategy"
    return out
