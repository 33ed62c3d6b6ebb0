"""Strategy weights for all scenario paths at once (decision dates x paths).

Calling ``Strategy.weights()`` on each of 10,000 paths costs minutes, so strategies own a
*batch form* (:class:`strategies.base.BatchStrategy`): ``batch_weights(bs)`` computes the
weights of every path from a :class:`strategies.base.BatchSignals` whose arrays carry a
trailing path axis. This module supplies that input for a scenario panel
(:class:`PathBatch`: regime labels, signals, listings and prices of every path on the
decision grid) and dispatches (:class:`VectorEvaluator`): it asks the strategy for its batch
form and never names a concrete strategy class. The benchmark kinds implement it in
:mod:`strategies.benchmarks`; ``regime_rules`` and every kind backed by it in
:mod:`strategies.regime_rules` (the rule conditions of :mod:`strategies.rules_engine` are
evaluated on ``(K, P)`` arrays — the same code as a single history run).

A strategy without a batch form (an optimizer block, a signal
:class:`~backtest.synthetic.labels.path_signals.PathSignals` cannot compute, a subclass that
overrides ``weights``, a kind that has none) raises :class:`Unsupported`;
:func:`per_path_weights` then calls its ``weights()`` on each path's ``MarketData`` (slow;
the command says so). Both routes apply the pipeline's renormalisation over listed assets
and leverage cap, and ``tests/test_scenarios_vector.py`` checks they agree on individual paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.execution.weights import finalise_weights
from backtest.signals import build_signal_frame
from backtest.synthetic.labels.path_signals import PathSignals, asof2
from backtest.synthetic.labels.sim_labels import path_labels
from backtest.synthetic.model.generator import PathPanel
from strategies.base import Unsupported, batch_weights

HistoryRegime = str | float | None | pd.Series


@dataclass(frozen=True)
class DecisionGrid:
    """Decision dates of a scenario run as rows of the paths' calendar.

    Attributes
    ----------
    dates : pd.DatetimeIndex, shape (K,)
    rows : np.ndarray of int, shape (K,)
        Row of each date in ``history days + simulated days``.
    """

    dates: pd.DatetimeIndex
    rows: np.ndarray


def _history_labels(history_regime: HistoryRegime, days: pd.DatetimeIndex) -> np.ndarray:
    """Regime label as of each history day in ``days`` (object; None/NaN where unknown)."""
    if isinstance(history_regime, pd.DataFrame):
        history_regime = history_regime["regime"]
    if isinstance(history_regime, pd.Series):
        pos = pd.DatetimeIndex(history_regime.index).searchsorted(days, side="right") - 1
        raw = history_regime.to_numpy(dtype=object)
        return np.array([raw[p] if p >= 0 else None for p in pos], dtype=object)
    return np.full(len(days), history_regime, dtype=object)


class PathBatch:
    """:class:`strategies.base.BatchSignals` of every path of a panel on a decision grid.

    Parameters
    ----------
    panel : PathPanel
    signals : PathSignals
    history_regime : str, None or pd.Series
        Regime on history days: the label at ``t0`` (the first decision may be there), or
        the history labels themselves (a Series by date, read as of each decision date).
        A missing label (None, NaN) is an unknown regime, as in :class:`strategies.rules_engine.Context`.
    grid : DecisionGrid
    sim_labels : np.ndarray, optional
        (P, T) regime labels of the simulated days (:mod:`backtest.synthetic.labels.sim_labels`;
        None = unknown). Default: each day's hidden state kind (optimistic).
    """

    def __init__(self, panel: PathPanel, signals: PathSignals, history_regime: HistoryRegime,
                 grid: DecisionGrid, sim_labels: np.ndarray | None = None) -> None:
        self.panel, self.ps, self.grid = panel, signals, grid
        self.dates = pd.DatetimeIndex(grid.dates)
        self.rows = np.asarray(grid.rows, dtype=np.int64)
        self.P = panel.paths
        self.H = signals.H
        self.shape: tuple[int, ...] = (len(self.rows), self.P)
        sim = state_labels(panel) if sim_labels is None else np.asarray(sim_labels, dtype=object)
        hist = self.rows < self.H
        reg = np.empty(self.shape, dtype=object)
        if hist.any():
            reg[hist] = _history_labels(history_regime, signals.calendar[self.rows[hist]])[:, None]
        if (~hist).any():
            reg[~hist] = sim[:, self.rows[~hist] - self.H].T
        self.regime_known = ~pd.isna(reg).astype(bool)
        self.regime = np.where(self.regime_known, reg, "").astype(str)
        self._listed: dict[str, np.ndarray] = {}
        self.calendar = signals.calendar  # trading days of the rows (leverage histories)

    def values(self, name: str, lookback: int = 0) -> np.ndarray:
        """Signal ``name`` as of each decision date (or ``lookback`` rows earlier), (K, P)."""
        if not self.ps.supports(name):
            raise Unsupported(f"signal {name!r} has no vectorised form")
        return self.ps.at(name, self.rows - lookback)

    def yields(self, name: str) -> np.ndarray | None:
        """Yield series ``name`` (e.g. DGS10, percent) known at each decision date, (K, P); None if not loaded."""
        return asof2(self.ps.obs(name), self.dates) if name in self.ps.macro else None

    def listed(self, assets: list[str]) -> np.ndarray:
        """(K, n) listed flags (history rows from history prices; simulated rows: all listed)."""
        hp = self.panel.ctx.history.prices
        out = np.ones((len(self.rows), len(assets)), dtype=bool)
        hist = self.rows < self.H
        for j, c in enumerate(assets):
            if c not in self._listed:
                col = hp[c].to_numpy(dtype=float) if c in hp.columns else np.full(len(hp), np.nan)
                self._listed[c] = np.isfinite(col[self.rows[hist]])
            out[hist, j] = self._listed[c]
        return out

    def prices(self, assets: list[str], lo: int, hi: int) -> np.ndarray:
        """(hi - lo, P, n) closes on calendar rows ``lo .. hi - 1``."""
        return self.ps.price_block(list(assets), lo, hi)

    def member(self, b: int) -> str:
        """Path number of batch member ``b`` (for error messages)."""
        return f"path {self.panel.p0 + b}"


class VectorEvaluator:
    """Evaluates strategies on every path of a panel through their batch forms.

    Parameters
    ----------
    panel : PathPanel
    signals : PathSignals
    history_regime : str, None or pd.Series
        See :class:`PathBatch`.
    grid : DecisionGrid
    sim_labels : np.ndarray, optional
        See :class:`PathBatch`.
    """

    def __init__(self, panel: PathPanel, signals: PathSignals, history_regime: HistoryRegime,
                 grid: DecisionGrid, sim_labels: np.ndarray | None = None) -> None:
        self.batch = PathBatch(panel, signals, history_regime, grid, sim_labels)
        self.panel, self.ps, self.grid = panel, signals, grid
        self.P = panel.paths
        self.H = signals.H
        self.regime = self.batch.regime

    def weights(self, strategy: object) -> tuple[np.ndarray, list[str]]:
        """Target weights ``(P, K, n)`` and their asset columns (NaN rows = hold).

        Raises
        ------
        Unsupported
            No batch form for this strategy.
        """
        w = batch_weights(strategy, self.batch)
        return np.ascontiguousarray(w.transpose(1, 0, 2)), list(strategy.assets())  # type: ignore[attr-defined]

    def available(self, cols: list[str]) -> np.ndarray:
        """(K, n) listed flags as floats (history rows from history prices; simulated rows: all listed)."""
        return self.batch.listed(cols).astype(float)

    _available = available  # the name runner.py calls


# ------------------------------------------------------------------------ post-processing


def finalise(w: np.ndarray, cols: list[str], avail: np.ndarray, max_gross: float) -> np.ndarray:
    """The pipeline's renormalisation over listed assets and leverage cap, for all paths.

    A thin view of :func:`backtest.execution.weights.finalise_weights` (the one home of
    this rule) for ``(P, K, n)`` scenario weights; ``cols`` is kept for call-site symmetry.
    """
    return finalise_weights(w, avail, max_gross)[0]


def state_labels(panel: PathPanel) -> np.ndarray:
    """(P, T) hidden-state regime kinds of the simulated days (``labels: state``: optimistic)."""
    return np.asarray(panel.ctx.kinds, dtype=object)[panel.states.astype(np.int64)]


def path_frame(panel: PathPanel, i: int, history_labels: pd.DataFrame, sim_labels: np.ndarray | None = None):
    """``SignalFrame`` of path ``i`` as the pipeline builds it (regime labels: history, then simulated days).

    ``sim_labels`` are the (P, T) labels of the simulated days (see :class:`PathBatch`);
    default: the hidden state kinds.
    """

    md = panel.market_data(i)
    ctx = panel.ctx
    sim = state_labels(panel)[i] if sim_labels is None else np.asarray(sim_labels, dtype=object)[i]
    labels = path_labels(history_labels, ctx.t0, ctx.days, sim)
    return md, build_signal_frame(md, labels["regime"], extra={"regime_labels": labels})


def per_path_weights(strategy: object, panel: PathPanel, grid: DecisionGrid, history_labels: pd.DataFrame,
                     paths: range | None = None,
                     sim_labels: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Weights by calling ``strategy.weights()`` on each path's own ``SignalFrame`` (slow route).

    ``sim_labels``: (P, T) labels of the simulated days, as given to :class:`PathBatch`.

    Returns
    -------
    (np.ndarray, list[str])
        ``(P, K, n)`` raw weights (before :func:`finalise`) and their columns.
    """
    paths = range(panel.paths) if paths is None else paths
    out: np.ndarray | None = None
    cols: list[str] = []
    for k, i in enumerate(paths):
        _, sf = path_frame(panel, i, history_labels, sim_labels)
        w = strategy.weights(sf, grid.dates)  # type: ignore[attr-defined]
        if out is None:
            cols = list(w.columns)
            out = np.full((len(paths), len(grid.dates), len(cols)), np.nan)
        out[k] = w.reindex(columns=cols).to_numpy(dtype=float)
    assert out is not None
    return out, cols


__all__ = ["DecisionGrid", "PathBatch", "Unsupported", "VectorEvaluator", "finalise", "path_frame", "per_path_weights",
           "state_labels"]
