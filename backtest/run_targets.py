"""A run's target weights: each strategy called, checked and finalised.

:func:`strategy_targets` is the one place ``run_backtest`` turns a strategy into the target
weights the engine fills: the strategy's ``weights`` at the decision dates, the checks
(frame shape, known tickers, finite weights) and :func:`~backtest.execution.weights.finalise_frame`
(renormalise over listed assets, leverage cap), with the notes these produce.

The targets are computed in this process, strategy by strategy. (A forked child used to
compute them while the parent imported vectorbt; side by side on the quickstart it saved
nothing on the shared 2-core machine: the targets take under a second, less than the fork
and the second process's competition for the cores cost.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.errors import DataError, StrategyError
from backtest.execution.weights import finalise_frame
from backtest.signals import SignalFrame
from strategies.base import Strategy

__all__ = ["Targets", "strategy_targets"]


@dataclass
class Targets:
    """One strategy's finalised target weights and what computing them produced."""

    name: str
    weights: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    fallbacks: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def strategy_targets(
    strat: Strategy,
    sf: SignalFrame,
    dates: pd.DatetimeIndex,
    tickers: pd.Index,
    max_gross: float | None,
    leverage_label: float,
) -> Targets:
    """Target weights of one strategy at the decision dates, checked and finalised.

    Parameters
    ----------
    strat : Strategy
        The strategy.
    sf : SignalFrame
        Signals known at each close.
    dates : pd.DatetimeIndex
        Decision dates.
    tickers : pd.Index
        Tickers of the loaded prices.
    max_gross : float, optional
        Gross leverage cap of the execution spec.
    leverage_label : float
        ``execution.max_gross_leverage`` as the config gives it (for the note).

    Returns
    -------
    Targets

    Raises
    ------
    StrategyError, DataError
        The weights are not a frame on the decision dates, name an unknown ticker or are infinite.
    """
    t0 = time.perf_counter()
    w = strat.weights(sf, dates)
    if not isinstance(w, pd.DataFrame) or not w.index.equals(dates):
        raise StrategyError(f"strategy {strat.name}: weights must be a DataFrame indexed by the decision dates")
    unknown = [c for c in w.columns if c not in tickers]
    if unknown:
        raise DataError(f"strategy {strat.name}: unknown ticker {unknown[0]}")
    bad = w.replace([np.inf, -np.inf], np.nan)
    if (bad.isna() & w.notna()).any().any():
        raise StrategyError(f"strategy {strat.name}: infinite weight")
    w, n_renorm, n_cap = finalise_frame(w, sf.available(), max_gross)
    notes = []
    if n_renorm:
        notes.append(f"{strat.name}: weights renormalised over listed assets on {n_renorm} decision date(s)")
    if n_cap:
        notes.append(f"{strat.name}: gross leverage capped at {leverage_label:g} on {n_cap} date(s)")
    fallbacks = [{**rec, "strategy": strat.name} for rec in getattr(strat, "fallbacks", None) or []]
    return Targets(strat.name, w, notes, fallbacks, time.perf_counter() - t0)
