"""Distribution summaries of scenario paths: weighted Hazen quantiles, CVaR, P(beat), the minimax rule.

Plain numpy (no numba), so that ``rmpbt decide`` re-scores a saved run without loading the
simulation kernels (:mod:`backtest.synthetic.evaluate.scoring` holds those).

* :func:`weighted_quantiles` — Hazen plotting positions ``(i - 1/2) / n``, weighted for the
  probability-weighted mix (path weight ``p_s / n_s``) or per value (bootstrap resamples).
* :func:`tail_mean` / :func:`tail_means` — CVaR: the mean of the worst ``level`` share of the
  probability mass (exact; one distribution, or each row of a matrix).
* :func:`cvar_penalised` — median horizon return − λ · max(0, −CVaR5), the default regret statistic.
* :func:`paired_beat` / :func:`mix_beat` — P(beat 60/40) on the same paths and its standard error.
* :func:`minimax_mask` — the minimax-regret rule.
"""

from __future__ import annotations

import numpy as np

from backtest.constants import CVAR_LEVEL

REGRET_STATISTICS = ("cvar_penalised", "sharpe", "horizon_return", "max_drawdown", "cvar_5")
DEFAULT_CVAR_LAMBDA = 1.0


def weighted_quantiles(x: np.ndarray, q: np.ndarray | tuple[float, ...], w: np.ndarray | None = None,
                       axis: int = 0) -> np.ndarray:
    """Quantiles with Hazen plotting positions, optionally weighted.

    Sorted values ``x_(i)`` with normalised weights ``w_(i)`` sit at ``c_i = W_i - w_i / 2``
    (``W`` the cumulative weight); a quantile interpolates linearly between them (ends
    clamp). Equal weights give ``c_i = (i - 1/2) / n``. NaN values, and values of zero
    weight, are dropped.

    Parameters
    ----------
    x : np.ndarray
        Values; quantiles are taken along ``axis``.
    q : sequence of float
        Probabilities in [0, 1].
    w : np.ndarray, optional
        Weights along ``axis`` (same length as that axis), or one weight per value (same
        shape as ``x``: a different weighting of each column, e.g. bootstrap counts).

    Returns
    -------
    np.ndarray
        ``len(q)`` first, then the remaining axes of ``x``.
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, 0)
    qq = np.asarray(q, dtype=float)
    n = x.shape[0]
    rest = x.shape[1:]
    xt = np.ascontiguousarray(x.reshape(n, -1).T)  # (m, n): sort along the contiguous axis
    m = xt.shape[0]
    rows = np.arange(m)
    out = np.full((len(qq), m), np.nan)
    if w is None:
        xs = np.sort(xt, axis=1)  # NaN last
        nv = np.isfinite(xs).sum(axis=1)
        top = np.maximum(nv - 1, 0)
        for k, qk in enumerate(qq):
            h = qk * nv - 0.5  # Hazen: x_(i) sits at (i + 1/2) / n, i from 0
            lo = np.clip(np.floor(h), 0, top).astype(np.int64)
            hi = np.clip(lo + 1, 0, top)
            t = np.clip(h - lo, 0.0, 1.0)
            xlo, xhi = xs[rows, lo], xs[rows, hi]
            out[k] = np.where(nv > 0, xlo + t * (xhi - xlo), np.nan)
        return out.reshape((len(qq), *rest))
    ww = np.asarray(w, dtype=float)
    # one weight per value (the same moves as x) or one per position along the axis
    wt = np.moveaxis(ww, axis, 0).reshape(n, -1).T if ww.ndim > 1 else np.broadcast_to(ww, xt.shape)
    key = np.where(wt > 0, xt, np.nan)  # a value without weight has no mass: dropped like NaN
    order = np.argsort(key, axis=1, kind="stable")  # NaN last
    xs = np.take_along_axis(key, order, axis=1)
    valid = np.isfinite(xs)
    wj = np.where(valid, np.take_along_axis(wt, order, axis=1), 0.0)
    cw = np.cumsum(wj, axis=1)
    tot = cw[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(valid, (cw - wj / 2.0) / tot, np.inf)
    nv = valid.sum(axis=1)
    top = np.maximum(nv - 1, 0)
    for k, qk in enumerate(qq):
        j = (c < qk).sum(axis=1)
        lo = np.clip(j - 1, 0, top)
        hi = np.clip(j, 0, top)
        clo, chi = c[rows, lo], c[rows, hi]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(chi > clo, (qk - clo) / (chi - clo), 0.0)
        t = np.clip(np.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
        xlo, xhi = xs[rows, lo], xs[rows, hi]
        out[k] = np.where(nv > 0, xlo + t * (xhi - xlo), np.nan)
    return out.reshape((len(qq), *rest))


def tail_mean(x: np.ndarray, level: float = CVAR_LEVEL, w: np.ndarray | None = None) -> float:
    """Mean of the lowest ``level`` share of the probability mass of ``x`` (CVaR, exact).

    Sorted values are taken in order, each with its weight, the last one partially, until
    the mass ``level`` is reached.
    """
    x = np.asarray(x, dtype=float)
    ww = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
    ok = np.isfinite(x)
    x, ww = x[ok], ww[ok]
    if not len(x):
        return float("nan")
    o = np.argsort(x, kind="stable")
    xs, ws = x[o], ww[o] / ww.sum()
    before = np.concatenate([[0.0], np.cumsum(ws)[:-1]])
    take = np.clip(level - before, 0.0, ws)
    return float((xs * take).sum() / take.sum())


def tail_means(x: np.ndarray, level: float = CVAR_LEVEL, w: np.ndarray | None = None) -> np.ndarray:
    """:func:`tail_mean` of each row of ``x`` at once (the batch form; the same arithmetic).

    Parameters
    ----------
    x : np.ndarray, shape (m, n)
        Values; each row is one distribution.
    level : float
        Probability mass of the tail.
    w : np.ndarray, optional
        Weights, shape (n,) (the same for every row) or (m, n) (one weighting per row,
        e.g. bootstrap counts); None: equal.

    Returns
    -------
    np.ndarray, shape (m,)
        NaN for a row without a finite value (or without weight).
    """
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    ww = np.ones(x.shape) if w is None else np.broadcast_to(np.asarray(w, dtype=float), x.shape)
    o = np.argsort(np.where(ok, x, np.inf), axis=1, kind="stable")  # non-finite last, with no weight
    xs = np.take_along_axis(np.where(ok, x, 0.0), o, axis=1)
    wo = np.take_along_axis(np.where(ok, ww, 0.0), o, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ws = wo / wo.sum(axis=1, keepdims=True)
        before = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(ws, axis=1)[:, :-1]], axis=1)
        take = np.clip(level - before, 0.0, ws)
        out = (xs * take).sum(axis=1) / take.sum(axis=1)
    return np.where(ok.any(axis=1), out, np.nan)


def weighted_mean(x: np.ndarray, w: np.ndarray | None = None) -> float:
    """Mean of the finite values (weighted)."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    if not ok.any():
        return float("nan")
    if w is None:
        return float(x[ok].mean())
    ww = np.asarray(w, dtype=float)[ok]
    return float((x[ok] * ww).sum() / ww.sum())


def cvar_penalised(median_return: float, cvar: float, lam: float = DEFAULT_CVAR_LAMBDA) -> float:
    """Median horizon return minus ``lam`` times the CVaR-5 shortfall ``max(0, -cvar)``.

    Parameters
    ----------
    median_return : float
        Median horizon return over the paths.
    cvar : float
        Mean horizon return of the worst 5 % of the paths (:func:`tail_mean`).
    lam : float
        Penalty per unit of tail loss (``scoring.cvar_lambda``, default 1).

    Returns
    -------
    float
    """
    return float(median_return - lam * max(0.0, -cvar))


def paired_beat(x: np.ndarray, ref: np.ndarray) -> tuple[float, float, int]:
    """P(x > ref) on the same paths, its binomial standard error and the number of pairs.

    Pairs with a NaN on either side are dropped; ties do not count as beating.

    Returns
    -------
    tuple of (float, float, int)
        ``(p, sqrt(p (1 - p) / n), n)``; NaN with ``n = 0``.
    """
    x, ref = np.asarray(x, dtype=float), np.asarray(ref, dtype=float)
    ok = np.isfinite(x) & np.isfinite(ref)
    n = int(ok.sum())
    if n == 0:
        return float("nan"), float("nan"), 0
    p = float((x[ok] > ref[ok]).mean())
    return p, float(np.sqrt(p * (1.0 - p) / n)), n


def mix_beat(parts: list[tuple[float, int]], probs: list[float]) -> tuple[float, float]:
    """P(beat) of the probability-weighted mix and its stratified standard error.

    ``p = sum_s pi_s p_s`` and ``se = sqrt(sum_s pi_s^2 p_s (1 - p_s) / n_s)`` with the
    scenario probabilities ``pi_s`` normalised to sum to 1.

    Parameters
    ----------
    parts : list of (float, int)
        ``(p_s, n_s)`` per scenario (from :func:`paired_beat`).
    probs : list of float
        Scenario probabilities.
    """
    pi = np.asarray(probs, dtype=float)
    p = np.array([a for a, _ in parts], dtype=float)
    n = np.array([b for _, b in parts], dtype=float)
    if not len(p) or (n <= 0).any() or not np.isfinite(p).all() or pi.sum() <= 0:
        return float("nan"), float("nan")
    pi = pi / pi.sum()
    return float((pi * p).sum()), float(np.sqrt((pi**2 * p * (1.0 - p) / n).sum()))


def minimax_mask(max_regret: np.ndarray) -> np.ndarray:
    """True where the maximum regret is the smallest along the last axis (ties within 1e-12).

    The minimax-regret rule of :func:`regret_table`, also applied per path resample by
    :mod:`backtest.synthetic.evaluate.choice` (shape ``(B, strategies)``). NaN is never chosen.

    Parameters
    ----------
    max_regret : np.ndarray
        Maximum regret per strategy (last axis).

    Returns
    -------
    np.ndarray of bool
        Same shape as ``max_regret``.
    """
    mx = np.asarray(max_regret, dtype=float)
    best = np.min(np.where(np.isnan(mx), np.inf, mx), axis=-1, keepdims=True)
    return np.isclose(mx, best, rtol=0, atol=1e-12)


__all__ = ["CVAR_LEVEL", "DEFAULT_CVAR_LAMBDA", "REGRET_STATISTICS", "cvar_penalised", "minimax_mask", "mix_beat",
           "paired_beat", "tail_mean", "tail_means", "weighted_mean", "weighted_quantiles"]
