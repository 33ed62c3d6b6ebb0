"""Weight finalisation: the framework's clean-up of a strategy's raw target weights.

The single home of two rules applied after every strategy, by ``rmpbt run``
(:mod:`backtest.pipeline`), ``rmpbt tune`` (:mod:`backtest.tune`) and ``rmpbt scenarios``
(:mod:`backtest.synthetic.runner` / ``vector_strategies.finalise``):

1. renormalise over listed assets: on a decision row that puts weight on an asset without
   a price yet, that weight is zeroed and the rest rescaled to keep the row's net sum
   (when the kept sum has the sign of the total; otherwise the kept weights stay as they are);
2. leverage cap: a row whose gross weight exceeds ``max_gross`` (+1e-12) is scaled down
   to exactly ``max_gross`` (the pipeline records a note in the run's provenance); where
   the gross is known from the config alone (``fixed_weights``),
   :func:`check_static_leverage` makes it a config error instead.

All-NaN rows mean "hold" (no rebalance) and are left alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import ConfigError

LEVERAGE_TOL = 1e-12


def finalise_weights(w: np.ndarray, avail: np.ndarray, max_gross: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Renormalise over listed assets, then cap gross leverage, for a batch of weights.

    Parameters
    ----------
    w : np.ndarray, shape (B, K, N)
        Target weights of ``B`` variants or paths at ``K`` decision dates (NaN rows: hold).
    avail : np.ndarray of bool, shape (K, N)
        Listed flags at the decision dates.
    max_gross : float
        ``execution.max_gross_leverage``.

    Returns
    -------
    (np.ndarray, np.ndarray, np.ndarray)
        Finalised weights ``(B, K, N)`` (a new array), and the ``(B, K)`` masks of rows
        that were renormalised and that were capped.
    """
    out = np.asarray(w, dtype=float)
    n_b, n_k, _ = out.shape
    rows = np.zeros((n_b, n_k), dtype=bool)
    dates = np.flatnonzero(~avail.all(axis=1))  # only dates with an unlisted asset can need it
    if len(dates):
        sub = out[:, dates]
        held = ~np.isnan(sub).all(axis=2)
        rows[:, dates] = ((np.abs(sub) > 0) & ~avail[dates][None]).any(axis=2) & held  # NaN > 0 is False
    out = out.copy()
    if rows.any():
        bi, ki = np.nonzero(rows)
        row = np.nan_to_num(out[bi, ki], nan=0.0)
        keep = np.where(avail[ki], row, 0.0)
        total, kept = row.sum(axis=1), keep.sum(axis=1)
        scale = (kept != 0) & (np.sign(kept) == np.sign(total))
        keep[scale] = keep[scale] * (total[scale] / kept[scale])[:, None]
        out[bi, ki] = keep
    gross = np.nansum(np.abs(out), axis=2)
    over = gross > max_gross + LEVERAGE_TOL
    if over.any():
        out[over] = out[over] * (max_gross / gross[over])[:, None]
    return out, rows, over


def finalise_frame(w: pd.DataFrame, available: pd.DataFrame, max_gross: float) -> tuple[pd.DataFrame, int, int]:
    """:func:`finalise_weights` of one strategy's weight frame (the pipeline's form).

    Parameters
    ----------
    w : pd.DataFrame
        Target weights at decision dates (NaN rows: hold).
    available : pd.DataFrame
        Boolean listing mask on (at least) the same dates and columns.
    max_gross : float
        ``execution.max_gross_leverage``.

    Returns
    -------
    (pd.DataFrame, int, int)
        Finalised weights, the number of rows renormalised and the number capped.
    """
    avail = available.reindex(index=w.index, columns=w.columns).fillna(False).astype(bool).to_numpy()
    out, rows, over = finalise_weights(w.to_numpy(dtype=float)[None], avail, max_gross)
    if not rows.any() and not over.any():
        return w, 0, 0
    return pd.DataFrame(out[0], index=w.index, columns=w.columns), int(rows.sum()), int(over.sum())


def check_static_leverage(cfg: Any, origin: str = "<config>") -> None:
    """Static weights whose gross exceeds ``execution.max_gross_leverage`` are a config error.

    Only ``fixed_weights`` strategies have a gross known before any data; the others are
    capped row by row by :func:`finalise_weights` (with a note).

    Parameters
    ----------
    cfg : RunConfig
        Run configuration.
    origin : str
        Config file name for messages.

    Raises
    ------
    ConfigError
        Naming the strategy, its gross and the limit.
    """
    limit = float(cfg.execution.max_gross_leverage)
    for s in cfg.strategies:
        weights = s.params.get("weights") if s.kind == "fixed_weights" else None
        if not isinstance(weights, dict):
            continue
        try:
            gross = float(sum(abs(float(x)) for x in weights.values()))
        except (TypeError, ValueError):
            continue  # bad values are the strategy's own params error
        if gross > limit + LEVERAGE_TOL:
            raise ConfigError(f"{origin}: strategies.{s.name}.params.weights: gross leverage {gross:g} exceeds "
                              f"execution.max_gross_leverage {limit:g}")
