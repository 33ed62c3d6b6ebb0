"""One history as a batch of one path: the inputs every kind's batch form reads.

A strategy kind is written once, in array form: its batch form reads a
:class:`~strategies.base.BatchSignals` whose arrays carry a trailing batch axis (the paths
of a scenario run). :class:`HistoryBatch` is that input for one point-in-time
:class:`~backtest.signals.SignalFrame` and its decision dates (``P = 1``), so a kind's
``weights()`` is its batch form on a batch of one (:class:`strategies.base.BatchKind`).

It also carries what the batch form of a *tune* needs: the variants of a strategy on one
history are evaluated on one :class:`HistoryBatch`, and the work that does not depend on
their params (signal values at the decision dates, each tilt's on/off state, a trailing
volatility, a curve hedge ratio) is kept in :meth:`HistoryBatch.cached`, keyed by the
config values it depends on. Every variant then reads the very arrays the first one
computed: its weights are bit-for-bit those it has alone.

Trailing statistics (rolling volatilities) start accumulating at :attr:`HistoryBatch.origin`,
the history's first day: rolling sums and pandas' online variance carry rounding from where
they start, and starting at the first day gives the numbers a plain pandas computation on
the whole history gives. A scenario batch has no ``origin`` and starts a window before its
first decision (:func:`window_start`), which bounds its memory; a path's weights then differ
from its own single-history weights in the last bits only.

:class:`Context` is the same history without the batch axis (shape ``(T,)``): what a rule
condition reads when a decision is explained (:func:`strategies.rules_engine.explain_condition`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from backtest.signals import SignalFrame

T = TypeVar("T")


class Context:
    """Values of the signal frame as of each decision date, shape ``(T,)``.

    Parameters
    ----------
    sf : SignalFrame
        Point-in-time inputs.
    dates : pd.DatetimeIndex, shape (T,)
        Decision dates; a date that is not a trading day takes the last earlier value.
    """

    def __init__(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> None:
        self.sf = sf
        self.dates = pd.DatetimeIndex(dates)
        self.n = len(self.dates)
        self.shape: tuple[int, ...] = (self.n,)
        self._pos_cache: dict[int, tuple[pd.Index, np.ndarray]] = {}
        self._val_cache: dict[tuple[str, int], np.ndarray] = {}
        reg = sf.regime
        pos = self.positions(reg.index)
        raw = reg.to_numpy(dtype=object)
        vals = np.where(pos >= 0, raw[np.maximum(pos, 0)], None) if len(raw) else np.full(self.n, None)
        self.regime_known = ~pd.isna(vals).astype(bool)
        self.regime = np.where(self.regime_known, vals, "").astype(str)

    def positions(self, index: pd.Index) -> np.ndarray:
        """Row of ``index`` (sorted dates) holding the value as of each decision date (-1: none yet)."""
        # keyed by identity; the cache keeps the index alive so its id cannot be reused
        hit = self._pos_cache.get(id(index))
        if hit is None or hit[0] is not index:
            hit = (index, pd.DatetimeIndex(index).searchsorted(self.dates, side="right") - 1)
            self._pos_cache[id(index)] = hit
        return hit[1]

    def values(self, name: str, lookback: int = 0) -> np.ndarray:
        """Signal ``name`` as of each decision date, or ``lookback`` trading rows earlier."""
        key = (name, lookback)
        if key not in self._val_cache:
            s = self.sf.signal(name)
            arr = s.to_numpy(dtype=float)
            pos = self.positions(s.index) - lookback
            out = np.full(self.n, np.nan)
            ok = pos >= 0
            out[ok] = arr[pos[ok]]
            self._val_cache[key] = out
        return self._val_cache[key]


class HistoryBatch:
    """:class:`~strategies.base.BatchSignals` of one history: a batch of one path, shape ``(K, 1)``.

    Parameters
    ----------
    sf : SignalFrame
        The history's point-in-time inputs.
    dates : pd.DatetimeIndex, shape (K,)
        Decision dates.

    Attributes
    ----------
    ctx : Context
        The same values without the batch axis.
    calendar : pd.DatetimeIndex
        Trading days of the rows (``sf.days``).
    origin : int
        First calendar row trailing statistics accumulate from: 0, the history's first day.
    """

    origin = 0

    def __init__(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> None:
        self.sf = sf
        self.ctx = Context(sf, dates)
        self.dates = self.ctx.dates
        self.calendar = sf.days
        self.rows = self.ctx.positions(sf.prices.index).astype(np.int64)
        self.shape: tuple[int, ...] = (len(self.dates), 1)
        self.regime = self.ctx.regime[:, None]
        self.regime_known = self.ctx.regime_known[:, None]
        self._cache: dict[Hashable, Any] = {}

    def values(self, name: str, lookback: int = 0) -> np.ndarray:
        """Signal ``name`` as of each decision date (or ``lookback`` trading rows earlier), (K, 1)."""
        return self.ctx.values(name, lookback)[:, None]

    def listed(self, assets: list[str]) -> np.ndarray:
        """Whether each asset has a price as of each decision date, bool (K, n)."""
        def build() -> np.ndarray:
            px = self.sf.prices.reindex(columns=list(assets)).to_numpy(dtype=float)
            out = np.zeros((len(self.rows), len(assets)), dtype=bool)
            ok = self.rows >= 0
            out[ok] = np.isfinite(px[self.rows[ok]])
            return out

        return self.cached(("listed", tuple(assets)), build)

    def prices(self, assets: list[str], lo: int, hi: int) -> np.ndarray:
        """Closes on calendar rows ``lo .. hi - 1`` (NaN outside the history or before listing), (hi - lo, 1, n)."""
        px = self.sf.prices.reindex(columns=list(assets)).to_numpy(dtype=float)
        out = np.full((hi - lo, 1, len(assets)), np.nan)
        r = np.arange(lo, hi)
        ok = (r >= 0) & (r < len(px))
        out[ok, 0, :] = px[r[ok]]
        return out

    def yields(self, name: str) -> np.ndarray | None:
        """Yield ``name`` (e.g. DGS10, percent) known at each decision date, (K, 1); None if not loaded."""
        if name not in self.sf.yields.columns:
            return None
        y = self.sf.yields[name].to_numpy(dtype=float)
        out = np.full(len(self.rows), np.nan)
        ok = self.rows >= 0
        out[ok] = y[self.rows[ok]]
        return out[:, None]

    def member(self, b: int) -> str:
        """How an error message names batch member ``b``: nothing (the history is the only one)."""
        return ""

    def cached(self, key: Hashable, fn: Callable[[], T]) -> T:
        """``fn()``, computed once per ``key`` on this batch (``key`` names what it depends on besides the batch).

        The cached object is returned as is: callers must not modify it.
        """
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


def cached(bs: Any, key: Hashable, fn: Callable[[], T]) -> T:
    """``bs.cached(key, fn)`` when the batch keeps a cache (:class:`HistoryBatch`), else ``fn()``."""
    keep = getattr(bs, "cached", None)
    return fn() if keep is None else keep(key, fn)


def daily_returns(bs: Any, asset: str, lo: int, hi: int) -> np.ndarray:
    """Daily returns of ``asset`` on calendar rows ``lo .. hi - 1`` of every path, (hi - lo, P).

    ``close / previous close - 1`` (pandas' ``pct_change``); NaN on the first row and where
    a close is missing. Kept on a caching batch.
    """
    def compute() -> np.ndarray:
        px = bs.prices([asset], lo, hi)[:, :, 0]
        r = np.full_like(px, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            r[1:] = px[1:] / px[:-1] - 1.0
        return r

    return cached(bs, ("returns", asset, lo, hi), compute)


def window_start(bs: Any, window: int) -> int:
    """First calendar row a trailing statistic over ``window`` rows reads on batch ``bs``.

    The batch's ``origin`` when it has one (a history: its first day), else one window
    (and the return's previous close) before its first decision.
    """
    origin = getattr(bs, "origin", None)
    if origin is not None:
        return int(origin)
    return max(int(np.min(bs.rows)) - window - 1, 0)


def one_history(bs: Any) -> SignalFrame | None:
    """The signal frame of a one-history batch (:class:`HistoryBatch`), None for a batch of paths.

    What a step that has an exact one-history form reads (the cvxpy optimizer solves a
    history date by date; a batch of paths goes to the batch solver).
    """
    return bs.sf if isinstance(bs, HistoryBatch) else None


def where_in(bs: Any, b: int) -> str:
    """`` of path 12`` (how an error message places batch member ``b``), or nothing for a history."""
    m = bs.member(b)
    return f" of {m}" if m else ""


__all__ = ["Context", "HistoryBatch", "cached", "daily_returns", "one_history", "where_in", "window_start"]
