"""The ``markov`` regime model on simulated paths: a frozen-parameter Hamilton filter.

:class:`backtest.regimes.markov.MarkovModel` refits its Markov-switching regression on an
expanding window and runs the Hamilton filter forward. On a scenario path the parameters
are fitted once, on the history up to ``t0`` (all of it, the grid observations every
``step_days`` from the signal's first valid day), and frozen: the filter then runs on each
path's simulated signal, on the same grid continued past ``t0``, with the model's one-step
nowcast on the days between grid points. The most probable state (states ordered by
mean, mapped to ``labels``) goes through the model's confirm / min-dwell filter, which
resumes from the label strategies saw at ``t0``. Every step uses data up to the day only.

Differences from the scalar model, stated in the run note: no refits during the
simulation, and one fit from a data-driven start instead of the warm-started refit chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.constants import REGIME_KINDS
from backtest.data.base import MarketData
from backtest.regimes.markov import (
    MarkovModel,
    MarkovParams,
    OrderedFit,
    fit_em,
    hamilton_filter,
    transform_signal,
)
from backtest.regimes.rules_batch import NO_PENDING, MachineState, dwell_batch
from backtest.regimes.signals import liquidity_signals
from backtest.synthetic.path_signals import PathSignals


def transform(x: np.ndarray, p: MarkovParams) -> np.ndarray:
    """The signal as the regression sees it (:func:`backtest.regimes.markov.transform_signal` on arrays)."""
    return transform_signal(np.asarray(x, dtype=float), p)


def fit_params(y: np.ndarray, p: MarkovParams) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Means, variances and transition matrix (``P[i, j] = P(s_t=i | s_{t-1}=j)``), ordered by mean.

    The history model's own EM fit (:func:`backtest.regimes.markov.fit_em`, data-driven
    start, no warm start); None if it fails.
    """
    try:
        model, raw = fit_em(y, len(p.labels), p.switching_variance, None, p.em_iter)
    except ValueError:
        return None
    fit = OrderedFit(raw, model)
    return fit.mu, fit.var, fit.P


@dataclass(frozen=True)
class MarkovFit:
    """Everything the simulated-day filter needs (picklable).

    Attributes
    ----------
    params : MarkovParams
    mu, var : np.ndarray, shape (k,)
    trans : np.ndarray, shape (k, k)
        ``trans[i, j] = P(s_t = i | s_{t-1} = j)``.
    state_codes : np.ndarray of int, shape (k,)
        Regime code of each state (``REGIME_KINDS`` positions).
    filt : np.ndarray, shape (k,)
        Filtered probabilities at the last grid point on or before ``t0``.
    offset : int
        Grid phase: simulated day ``j`` is a grid point when ``(offset + j) % step_days == 0``.
    y_last : float
        Last transformed history value (carried over a missing simulated value).
    start : MachineState
        Dwell filter at ``t0`` (one path).
    """

    params: MarkovParams
    mu: np.ndarray
    var: np.ndarray
    trans: np.ndarray
    state_codes: np.ndarray
    filt: np.ndarray
    offset: int
    y_last: float
    start: MachineState

    def on_grid(self, t_n: int) -> np.ndarray:
        """(T,) grid-point flags of the simulated days."""
        return (self.offset + np.arange(t_n)) % self.params.step_days == 0

    def probabilities(self, y: np.ndarray) -> np.ndarray:
        """(P, T, k) filtered probabilities of transformed simulated values ``y`` (P, T)."""
        p_n, t_n = y.shape
        grid = self.on_grid(t_n)
        last = np.broadcast_to(self.filt, (p_n, len(self.mu))).copy()
        prev = np.full(p_n, self.y_last)
        out = np.empty((p_n, t_n, len(self.mu)))
        for t in range(t_n):
            yt = np.where(np.isnan(y[:, t]), prev, y[:, t])
            prev = yt
            lik = np.exp(-0.5 * (yt[:, None] - self.mu) ** 2 / self.var) / np.sqrt(2.0 * np.pi * self.var)
            pred = last @ self.trans.T
            post = pred * lik
            tot = post.sum(axis=1, keepdims=True)
            post = np.where(tot > 0, post / np.where(tot > 0, tot, 1.0), pred)
            out[:, t] = post
            if grid[t]:
                last = post
        return out

    def codes_of(self, y: np.ndarray) -> np.ndarray:
        """(P, T) labels (codes) of transformed simulated values ``y`` (P, T)."""
        prob = self.probabilities(y)
        cand = self.state_codes[np.argmax(prob, axis=2)]
        out, _ = dwell_batch(cand, self.start, self.params.confirm_days, self.params.min_dwell_days)
        return out

    def codes(self, ps: PathSignals) -> np.ndarray:
        """(P, T) labels (codes) of the simulated days of a panel."""
        rows = np.arange(ps.H, len(ps.calendar))
        return self.codes_of(transform(ps.at(self.params.signal, rows).T, self.params))


def fit_markov(model: MarkovModel, md: MarketData, t0: pd.Timestamp, history_labels: pd.DataFrame) -> MarkovFit | None:
    """Fit on all history up to ``t0`` and set the filter's state at ``t0``; None if impossible.

    Parameters
    ----------
    model : MarkovModel
    md : MarketData
        All the history (cut at ``t0`` here).
    t0 : pd.Timestamp
    history_labels : pd.DataFrame
        The labels strategies saw up to ``t0`` (the dwell filter resumes from the last).
    """
    p = model.params
    days = pd.DatetimeIndex(md.calendar)
    days = days[days <= t0]
    y = transform(liquidity_signals(md, days)[p.signal].to_numpy(dtype=float), p)
    valid = np.flatnonzero(~np.isnan(y))
    if len(valid) < 10 * len(p.labels):
        return None
    first = int(valid[0])
    vals = pd.Series(y).ffill().to_numpy()
    grid = np.arange(first, len(vals), p.step_days)
    fit = fit_params(vals[grid], p)
    if fit is None:
        return None
    mu, var, trans = fit
    filt = hamilton_filter(vals[grid], trans, mu, var)[-1]
    lut = {k: i for i, k in enumerate(REGIME_KINDS)}
    reg = history_labels["regime"].to_numpy(dtype=object)
    s0 = lut.get(reg[-1], lut["plateau"]) if len(reg) else lut["plateau"]
    age = 0
    while age < len(reg) and reg[len(reg) - 1 - age] == reg[-1]:
        age += 1
    start = MachineState(np.array([s0]), np.array([age]), np.array([NO_PENDING]), np.array([0]))
    return MarkovFit(p, mu, var, trans, np.array([lut[x] for x in p.labels]), filt,
                     offset=len(vals) - first, y_last=float(vals[-1]), start=start)


__all__ = ["MarkovFit", "fit_markov", "fit_params", "transform"]
