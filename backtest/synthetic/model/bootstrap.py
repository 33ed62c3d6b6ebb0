"""Stationary block bootstrap of whole historical days, per regime state.

Each state owns a *pool*: the trading days of its analogue periods on which every
required input (asset returns, macro changes) exists, cut into *segments* of consecutive
usable days. A simulated path in state ``s`` copies whole days (every asset's return and
every macro change of that day, so cross-asset correlations, fat tails and the co-movement
of returns and signals are kept) in blocks:

* a block starts at a uniformly drawn day of the state's pool and continues day by day;
* each day the block ends with probability ``1 / mean_block`` (Politis & Romano's
  stationary bootstrap: geometric block lengths, mean ``mean_block``) or when the chain
  changes state;
* blocks never cross out of the state's analogue periods (nor over a gap of unusable
  days): past the last day of a segment a block wraps to the segment's first day, as the
  *circular* stationary bootstrap does within its sample. Wrapping (rather than cutting
  the block) keeps every pool day equally likely to be drawn, so a state's simulated days
  have its analogue days' distribution; cutting would over-weight the late days of each
  segment by up to ``mean_block`` times.

The indices are drawn from per-path uniforms (two per day), so a path's days depend only
on its own random numbers, whatever the number of paths generated together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.synthetic.scenarios import Period


@dataclass(frozen=True)
class StatePool:
    """Usable history days of one state.

    Attributes
    ----------
    days : np.ndarray of int, shape (n,)
        Row numbers (into the history arrays) of the pool days, increasing.
    seg_first, seg_last : np.ndarray of int, shape (n,)
        For each pool position, the first and last pool positions of its segment.
    periods : tuple[Period, ...]
        The analogue periods (for provenance).
    """

    days: np.ndarray
    seg_first: np.ndarray
    seg_last: np.ndarray
    periods: tuple[Period, ...]

    @property
    def n_segments(self) -> int:
        """Number of segments (runs of consecutive usable days)."""
        return int(len(np.unique(self.seg_last)))


def build_pool(dates: pd.DatetimeIndex, usable: np.ndarray, periods: list[Period]) -> StatePool:
    """The pool of a state from its analogue periods.

    Parameters
    ----------
    dates : pd.DatetimeIndex, shape (D,)
        Trading days of the history arrays.
    usable : np.ndarray of bool, shape (D,)
        Days on which every required input exists.
    periods : list of Period
        Analogue periods (inclusive); overlapping periods are merged.
    """
    inside = np.zeros(len(dates), dtype=bool)
    for p in periods:
        inside |= np.asarray((dates >= p.start) & (dates <= p.end))
    ok = inside & usable
    days = np.flatnonzero(ok)
    # a segment breaks where the next usable pool day is not the next history row
    brk = np.concatenate([np.diff(days) != 1, [True]]) if len(days) else np.zeros(0, dtype=bool)
    ends = np.flatnonzero(brk)
    seg_first = np.empty(len(days), dtype=np.int64)
    seg_last = np.empty(len(days), dtype=np.int64)
    lo = 0
    for e in ends:
        seg_first[lo : e + 1] = lo
        seg_last[lo : e + 1] = e
        lo = e + 1
    return StatePool(days.astype(np.int64), seg_first, seg_last, tuple(periods))


def pool_ranges(pool: StatePool, dates: pd.DatetimeIndex) -> list[tuple[str, str]]:
    """The exact day ranges of a pool: ``(first, last)`` ISO dates of each segment."""
    if len(pool.days) == 0:
        return []
    firsts = np.unique(pool.seg_first)
    return [(str(dates[pool.days[a]].date()), str(dates[pool.days[pool.seg_last[a]]].date())) for a in firsts]


def block_indices(states: np.ndarray, pools: list[StatePool], u_end: np.ndarray, u_start: np.ndarray,
                  mean_block: float) -> np.ndarray:
    """History row copied to each simulated path-day (stationary block bootstrap).

    Parameters
    ----------
    states : np.ndarray of int, shape (P, T)
        State of each path and day.
    pools : list of StatePool
        One per state (index = state).
    u_end, u_start : np.ndarray, shape (P, T)
        Uniforms: ``u_end < 1 / mean_block`` ends a block; ``u_start`` picks the new
        block's first day ``floor(u_start * n_s)`` in the state's pool.
    mean_block : float
        Mean block length in days (>= 1).

    Returns
    -------
    np.ndarray of int64, shape (P, T)
        History rows.
    """
    p_n, t_n = states.shape
    q = 1.0 / float(mean_block)
    out = np.empty((p_n, t_n), dtype=np.int64)
    pos = np.zeros(p_n, dtype=np.int64)  # position inside the current state's pool
    sizes = np.array([len(p.days) for p in pools], dtype=np.int64)
    for t in range(t_n):
        s = states[:, t].astype(np.int64)
        if t == 0:
            new = np.ones(p_n, dtype=bool)
        else:
            new = (u_end[:, t] < q) | (s != states[:, t - 1])
        cont = ~new
        for k, pool in enumerate(pools):  # continue; past the segment end wrap to its start
            m = cont & (s == k)
            if m.any():
                pm = pos[m]
                pos[m] = np.where(pm >= pool.seg_last[pm], pool.seg_first[pm], pm + 1)
        if new.any():
            pos[new] = np.minimum((u_start[new, t] * sizes[s[new]]).astype(np.int64), sizes[s[new]] - 1)
        for k, pool in enumerate(pools):
            m = s == k
            if m.any():
                out[m, t] = pool.days[pos[m]]
    return out


def next_row(pool: StatePool, rows: np.ndarray) -> np.ndarray:
    """History row that continues a block after each of ``rows`` (all in ``pool``)."""
    pos = np.searchsorted(pool.days, rows)
    nxt = np.where(pos >= pool.seg_last[pos], pool.seg_first[pos], pos + 1)
    return pool.days[nxt]


__all__ = ["StatePool", "block_indices", "build_pool", "next_row", "pool_ranges"]
