"""The per-state pool table: what each state draws from, beside what history did in its regime kind.

One row per state of the first scenario's context (pools are cut at its ``t0``; a run
whose scenarios start on different days records every scenario's day ranges in
provenance): the precedence rank, the days its analogues select and what the precedence
and the stress watch took from them, the pool's days, episodes and effective sample size,
and the reference asset's (SPY's) annualised mean and volatility over the pool, the drift
the simulation gives the state, and the same statistics over *realised history in the
state's regime kind*: every usable day up to ``t0`` that the regime calendar labels with
that kind (by effective date). A pool far from its kind's history (the calm RMP state
holding the Covid crash) shows here.

Annualised mean: 252 times the mean daily simple return in excess of the day's bill rate
(what the bootstrap draws; ``sim_drift`` is the simulation's target for the state, after
the drift mode); volatility: the daily standard deviation times sqrt(252). Effective sample size: :func:`backtest.synthetic.model.drift.effective_days`
over the bootstrap's mean block.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.data.regime_calendar import load_calendar
from backtest.synthetic.evaluate.records import Prepared
from backtest.synthetic.model.drift import effective_days
from backtest.synthetic.model.pool_episodes import pool_episodes

__all__ = ["COLUMNS", "pool_table", "reference_asset"]

COLUMNS = ["state", "kind", "paced", "precedence", "rule_days", "lost_to_precedence", "stress_watch_removed",
           "pool_days", "episodes", "n_eff", "asset", "pool_mean", "pool_vol", "sim_drift", "kind_days", "kind_n_eff",
           "kind_mean", "kind_vol", "pool_pace", "neutral_pace"]


def reference_asset(tickers: tuple[str, ...] | list[str]) -> str:
    """SPY when simulated, else the first ticker."""
    return "SPY" if "SPY" in tickers else str(tickers[0])


def _ann(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    return float(x.mean() * TRADING_DAYS), float(x.std(ddof=1) * np.sqrt(TRADING_DAYS))


def pool_table(prep: Prepared) -> pd.DataFrame:
    """The table (columns :data:`COLUMNS`) of a prepared run (module docstring)."""
    sset = prep.sset
    first = sset.scenarios[0].name
    ctx = prep.contexts[first]
    kh = prep.known.get(first)
    hist = kh.history if kh is not None else prep.history
    claims: dict[str, Any] = kh.claims if kh is not None else {}
    dates = hist.dates
    j = list(hist.tickers).index(reference_asset(hist.tickers))
    excess = np.where(np.isfinite(hist.returns), hist.returns - hist.rf[:, None], 0.0)
    ret = np.where(np.isfinite(hist.returns[:, j]), excess[:, j], np.nan)
    usable = hist.usable() & np.asarray(dates <= ctx.t0)
    lab = load_calendar(sset.spec.calendar).label(dates, "effective")["regime"].to_numpy()
    lags = int(round(sset.spec.mean_block_days))
    rank = {s: i + 1 for i, s in enumerate(sset.precedence)}
    rows = []
    for i, s in enumerate(sset.states):
        pool = ctx.pools[i]
        kind_rows = np.flatnonzero(usable & (lab == sset.kinds[i]))
        pm, pv = _ann(ret[pool.days])
        km, kv = _ann(ret[kind_rows])
        cl = claims.get(s, {})
        lost = "; ".join(f"{k} {v}" for k, v in (cl.get("lost_to") or {}).items())
        drift = ctx.drifts.target[i, j] * TRADING_DAYS if ctx.drifts is not None and ctx.source == "bootstrap" \
            else float("nan")
        rows.append({
            "state": s, "kind": sset.kinds[i], "paced": bool(sset.paced[i]), "precedence": rank[s],
            "rule_days": cl.get("selected", np.nan), "lost_to_precedence": lost,
            "stress_watch_removed": cl.get("stress_watch", np.nan),
            "pool_days": int(len(pool.days)), "episodes": len(pool_episodes(s, pool, dates)),
            "n_eff": effective_days(excess[pool.days], lags) if len(pool.days) else float("nan"),
            "asset": reference_asset(hist.tickers), "pool_mean": pm, "pool_vol": pv, "sim_drift": drift,
            "kind_days": int(len(kind_rows)),
            "kind_n_eff": effective_days(excess[kind_rows], lags) if len(kind_rows) else float("nan"),
            "kind_mean": km, "kind_vol": kv, "pool_pace": float(ctx.pace_ref[i]), "neutral_pace": float(ctx.neutral[i]),
        })
    return pd.DataFrame(rows, columns=COLUMNS)
