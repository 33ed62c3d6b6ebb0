"""Episodes of a state's pool: the units a leave-one-episode-out rerun removes.

An *episode* is a contiguous stretch of the pool: a run of consecutive pool days (a
segment of :class:`~backtest.synthetic.model.bootstrap.StatePool`). Disjoint pools punch holes
in long periods (the stress days of a QE period belong to the stress state), so segments
separated by at most :data:`EPISODE_GAP` trading days are one episode (QE3 stays one
episode however many stress days interrupt it). A state with more than
:data:`MAX_EPISODES` episodes (the stress state: dozens of short flare-ups) has them
grouped by calendar year instead: one episode per year of pool days. Finally an episode
of fewer than :data:`MIN_EPISODE_DAYS` pool days (a lone QE day between two stress runs, a
year with a week of stress) joins the episode nearest in time, so every rerun removes at
least about a month of history. A state whose pool is one episode cannot be left out at
all: its scenario draws rest on that episode alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.synthetic.model.bootstrap import StatePool

__all__ = ["EPISODE_GAP", "MAX_EPISODES", "MIN_EPISODE_DAYS", "Episode", "pool_episodes"]

EPISODE_GAP = 21
"""Segments of a pool separated by at most this many trading days are one episode (~a month)."""
MAX_EPISODES = 8
"""A state with more episodes has them grouped by calendar year."""
MIN_EPISODE_DAYS = 21
"""An episode with fewer pool days joins the episode nearest in time."""


@dataclass(frozen=True)
class Episode:
    """One episode of a state's pool.

    Attributes
    ----------
    state : str
    label : str
        ``first..last`` dates, or ``year YYYY`` when grouped by year.
    first, last : pd.Timestamp
        First and last pool day.
    rows : np.ndarray of int
        History rows of its pool days.
    grouped : str
        ``"segment"`` (contiguous, gaps up to :data:`EPISODE_GAP` bridged) or ``"year"``
        (``label`` ``year YYYY``, or ``years YYYY-YYYY`` after short years joined).
    """

    state: str
    label: str
    first: pd.Timestamp
    last: pd.Timestamp
    rows: np.ndarray
    grouped: str

    @property
    def days(self) -> int:
        """Pool days in the episode."""
        return int(len(self.rows))


def pool_episodes(state: str, pool: StatePool, dates: pd.DatetimeIndex, gap: int = EPISODE_GAP,
                  most: int = MAX_EPISODES, least: int = MIN_EPISODE_DAYS) -> list[Episode]:
    """The episodes of one state's pool (module docstring), in time order.

    Parameters
    ----------
    state : str
    pool : StatePool
    dates : pd.DatetimeIndex
        Trading days of the history rows.
    gap : int
        Largest gap (trading days between the end of one segment and the start of the
        next) bridged within an episode.
    most : int
        More episodes than this: grouped by calendar year.
    least : int
        Episodes with fewer pool days join the nearest one (by the gap in trading days).
    """
    rows = np.asarray(pool.days, dtype=np.int64)
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) > gap + 1) + 1
    parts = np.split(rows, breaks)
    grouped = "segment"
    if len(parts) > most:
        years = pd.DatetimeIndex(dates[rows]).year.to_numpy()
        parts = [rows[years == y] for y in np.unique(years)]
        grouped = "year"
    while len(parts) > 1 and min(len(x) for x in parts) < least:
        k = min(range(len(parts)), key=lambda i: (len(parts[i]), i))
        before = parts[k][0] - parts[k - 1][-1] if k > 0 else np.inf
        after = parts[k + 1][0] - parts[k][-1] if k + 1 < len(parts) else np.inf
        j = k - 1 if before <= after else k + 1
        lo, hi = min(j, k), max(j, k)
        parts[lo:hi + 1] = [np.concatenate([parts[lo], parts[hi]])]
    out = []
    for r in parts:
        a, b = pd.Timestamp(dates[r[0]]), pd.Timestamp(dates[r[-1]])
        if grouped == "year":
            label = f"year {a.year}" if a.year == b.year else f"years {a.year}-{b.year}"
        else:
            label = f"{a.date()}..{b.date()}"
        out.append(Episode(state, label, a, b, r, grouped))
    return out
