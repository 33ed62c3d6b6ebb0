"""The drift band and the fill plan: which decided targets are traded, and when.

Single homes:

* the drift band -> :func:`drift_keep`: a fill is executed when it is the first live one,
  or when some weight of the holdings bought at the last executed fill, drifted
  frictionlessly with prices to the decision close, is more than the band from the new
  target. Used by :func:`backtest.engine.simulate` (vectorbt path, one variant), the
  tuner and the scenario paths (batch-kernel path);
* targets at the fills, hold rows and the fills that trade -> :func:`fill_plan` (tuner,
  scenarios, and the real-data test of the kernel against vectorbt).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _drift_one(px: np.ndarray, targets: np.ndarray, live: np.ndarray, dec_idx: np.ndarray, fill_idx: np.ndarray,
               band: float, out: np.ndarray) -> None:
    n_k, n_a = targets.shape
    held = np.zeros(n_a)
    vals = np.empty(n_a)
    held_pos = -1
    for k in range(n_k):
        out[k] = False
        if not live[k]:
            continue
        tgt = targets[k]
        if held_pos < 0:
            out[k] = True
            held[:] = tgt
            held_pos = fill_idx[k]
            continue
        d = dec_idx[k]
        s_held = 0.0
        s_vals = 0.0
        for j in range(n_a):
            rel = px[d, j] / px[held_pos, j]
            if not np.isfinite(rel):
                rel = 1.0
            vals[j] = held[j] * rel
            s_held += held[j]
            s_vals += vals[j]
        total = 1.0 - s_held + s_vals  # the cash leg (1 - sum w) does not drift here
        dev = 0.0
        for j in range(n_a):
            x = vals[j] / total if total != 0 else vals[j]
            dev = max(dev, abs(x - tgt[j]))
        if dev > band:
            out[k] = True
            held[:] = tgt
            held_pos = fill_idx[k]


@njit(cache=True, nogil=True)
def _drift_keep_nb(px: np.ndarray, targets: np.ndarray, live: np.ndarray, dec_idx: np.ndarray,
                   fill_idx: np.ndarray, band: float, out: np.ndarray) -> None:
    shared = px.shape[0] == 1
    for v in range(targets.shape[0]):
        _drift_one(px[0] if shared else px[v], targets[v], live[v], dec_idx, fill_idx, band, out[v])


def drift_keep(prices_bfilled: np.ndarray, targets: np.ndarray, live: np.ndarray,
               dec_idx: np.ndarray, fill_idx: np.ndarray, band: float) -> np.ndarray:
    """Which fills each variant (or path) executes under a drift band: the single home of the rule.

    A fill is executed when it is the first live one, or when some weight of the holdings
    bought at the last executed fill, drifted frictionlessly with prices to the decision
    close (the cash leg ``1 - sum w`` not drifting), is more than ``band`` from the new
    target. Used by :func:`backtest.engine.simulate` (one variant), the tuner and the
    scenario paths.

    Parameters
    ----------
    prices_bfilled : np.ndarray
        ``T x N`` closes shared by every variant, or ``B x T x N`` per path; back-filled
        (trailing NaN allowed).
    targets : np.ndarray
        ``B x K x N`` target weights at the fills (NaN already replaced by 0).
    live : np.ndarray
        ``B x K`` bool, False where a variant holds (no rebalance decided).
    dec_idx, fill_idx : np.ndarray
        Row of each decision and of its fill (``K``).
    band : float
        Drift band.

    Returns
    -------
    np.ndarray
        ``B x K`` bool: True = trade.
    """
    px = np.asarray(prices_bfilled, dtype=np.float64)
    if px.ndim == 2:
        px = px[None]
    out = np.zeros(live.shape, dtype=np.bool_)
    _drift_keep_nb(np.ascontiguousarray(px), np.ascontiguousarray(targets, dtype=np.float64),
                   np.ascontiguousarray(live, dtype=np.bool_), np.asarray(dec_idx, dtype=np.int64),
                   np.asarray(fill_idx, dtype=np.int64), float(band), out)
    return out


def fill_plan(weights: np.ndarray, fill_k: np.ndarray, dec_idx: np.ndarray, fill_idx: np.ndarray,
              prices_bfilled: np.ndarray | None = None,
              band: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets at the fills and which fills trade, from weights at the decision dates.

    Parameters
    ----------
    weights : np.ndarray
        ``B x D x N`` finalised weights at the decision dates (all-NaN row: hold).
    fill_k : np.ndarray
        ``K`` positions among the ``D`` decisions of the decisions that fill.
    dec_idx, fill_idx : np.ndarray
        Row of each of those decisions and of its fill (``K``).
    prices_bfilled : np.ndarray, optional
        Back-filled closes ``T x N`` or ``B x T x N`` (needed with a drift band).
    band : float, optional
        Drift band (:func:`drift_keep`).

    Returns
    -------
    (np.ndarray, np.ndarray, np.ndarray)
        ``B x K x N`` targets (NaN as 0), ``B x K`` live rows (not hold) and ``B x K``
        fills to execute (live, and outside the drift band).
    """
    tg = np.asarray(weights, dtype=np.float64)[:, np.asarray(fill_k, dtype=np.int64)]  # a new array
    nan = np.isnan(tg)
    live = ~nan.all(axis=2)
    tg[nan] = 0.0
    execute = live
    if band is not None and tg.shape[1]:
        if prices_bfilled is None:
            raise ValueError("fill_plan: a drift band needs prices")
        execute = drift_keep(prices_bfilled, tg, live, dec_idx, fill_idx, band)
    return tg, live, execute
