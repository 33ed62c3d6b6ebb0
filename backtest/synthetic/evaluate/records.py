"""What a scenario run carries between its steps: the preparation and a chunk's per-path outcomes.

:class:`Prepared` is everything computed before the chunks run (contexts, grids, labels,
pools); :class:`ChunkResult` is what one chunk returns. The runner
(:mod:`backtest.synthetic.runner`) builds both; the aggregation
(:mod:`backtest.synthetic.evaluate.aggregate`) and the side runs read them, without
importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.config import RunConfig
from backtest.data.base import MarketData
from backtest.synthetic.evaluate.vector_strategies import DecisionGrid
from backtest.synthetic.labels.sim_labels import SimLabeler
from backtest.synthetic.model.context import ScenarioContext
from backtest.synthetic.model.history import History
from backtest.synthetic.model.liquidity_beta import LiquidityBetas
from backtest.synthetic.model.release_cut import KnownHistory
from backtest.synthetic.scenarios import ScenarioSet


@dataclass
class Prepared:
    """Everything computed before the chunks run.

    ``md`` is the data as loaded (for provenance); every estimate of a scenario reads its
    :class:`~backtest.synthetic.model.release_cut.KnownHistory` (``known[scenario]``: the data
    cut at its ``t0`` by release date), whose arrays and pools ``history`` and ``periods``
    repeat for the first scenario.
    """

    cfg: RunConfig
    origin: str
    sset: ScenarioSet
    md: MarketData
    source: str
    history: History
    betas: LiquidityBetas
    contexts: dict[str, ScenarioContext]
    grids: dict[str, DecisionGrid]
    labels: dict[str, pd.DataFrame]
    periods: dict[str, list]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    labelers: dict[str, SimLabeler] = field(default_factory=dict)
    known: dict[str, KnownHistory] = field(default_factory=dict)
    calib: dict | None = None


@dataclass
class ChunkResult:
    """Per-path outcomes of a chunk (paths in index order)."""

    scenario: str
    p0: int
    p1: int
    wealth: dict[str, np.ndarray]
    stats: dict[str, dict[str, np.ndarray]]
    targets: dict[str, np.ndarray]
    cols: dict[str, list[str]]
    state_days: np.ndarray
    per_path: list[str]
    seconds: dict[str, float]
    asset_returns: np.ndarray | None = None
    """Horizon return of every asset (``ctx.tickers``) on each path, shape (P, N) (``rmpbt decide`` views)."""
    ids: tuple[int, ...] | None = None


__all__ = ["ChunkResult", "Prepared"]
