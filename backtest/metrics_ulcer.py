"""Ulcer index: the root-mean-square drawdown of a daily return series (Martin and McCann, 1989).

``ulcer_index = sqrt(mean(dd_t ** 2))`` over the ``n`` days, ``dd_t`` the drawdown path of
:func:`backtest.metrics.drawdown` (wealth over its running peak, minus one, the peak starting
from 1): a fraction >= 0 that grows with both the depth and the length of drawdowns, where
``max_drawdown`` sees only the single worst point. Lower is better. Same NaN policy as
:mod:`backtest.metrics` (leading NaN dropped, inner NaN count as 0).

The example of the metrics registry's door (``docs/metrics.md``): this module and one row of
:data:`backtest.metrics_registry.METRICS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.metrics import drawdown


def ulcer_index(r: pd.Series) -> float:
    """Root-mean-square drawdown of one daily return series (NaN when empty).

    Parameters
    ----------
    r : pd.Series
        Daily simple returns.

    Returns
    -------
    float
        ``sqrt(mean(drawdown ** 2))``, a fraction >= 0.
    """
    dd = drawdown(r).to_numpy()
    return float(np.sqrt(np.mean(dd * dd))) if len(dd) else np.nan


def ulcer_index_paths(r: np.ndarray) -> np.ndarray:
    """:func:`ulcer_index` of each row of a ``P x T`` array of daily returns (NaN rows give NaN).

    Parameters
    ----------
    r : np.ndarray
        ``P x T`` daily simple returns.

    Returns
    -------
    np.ndarray
        ``(P,)``.
    """
    x = np.atleast_2d(np.asarray(r, dtype=np.float64))
    wealth = np.cumprod(1.0 + x, axis=1)
    peak = np.maximum.accumulate(np.concatenate([np.ones((x.shape[0], 1)), wealth], axis=1), axis=1)[:, 1:]
    dd = wealth / peak - 1.0
    return np.sqrt(np.mean(dd * dd, axis=1))
