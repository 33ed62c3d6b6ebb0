"""The pace effect a scenario run produced, measured with common random numbers.

After the main run, the paths ``0 .. n - 1`` (``n = min(paths, 500)``) of one
*reference scenario* are simulated twice more, once under the lowest and once under the
highest pace among the run's scenarios, with everything else fixed: the same chain, the
same bootstrap (or parametric) draws and the same per-path beta draws (the paths'
generators do not depend on the pace; :meth:`ScenarioContext.with_pace`). Only the pace
moves: the drift shift of the paced states and the balance-sheet series strategies see.

* reference scenario: the highest-probability scenario of the mix (the first scenario if
  there is no mix), so the chain is the one most of the mix's weight rests on;
* a scenario's pace: its mean pace over its simulated days (constant paces: the pace);
  ``pace_low`` / ``pace_high`` are the lowest and highest of these;
* effect of a strategy: ``median(horizon return at pace_high) - median(at pace_low)``;
* 90% confidence interval: paired bootstrap over paths (resample path indices, the same
  for both paces; 2,000 resamples from ``SeedSequence(seed, spawn_key=(PACE_KEY,))``),
  5th and 95th percentiles of the resampled effect;
* ``distinguishable``: the interval excludes 0.

The interval covers the Monte Carlo error of the paths *and*, because each path draws its
own liquidity betas, the estimation error of the betas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from backtest.synthetic.model.context import ScenarioContext

__all__ = ["COLUMNS", "MAX_PATHS", "NOISE_DIGITS", "PacePlan", "effect_table", "horizons", "pace_effect_lines",
           "pace_plan", "paired_median_ci", "round_noise"]

COLUMNS = ["strategy", "scenario", "pace_low", "pace_high", "paths", "effect", "ci_lo", "ci_hi", "distinguishable"]
MAX_PATHS = 500
N_BOOT = 2000
LEVEL = 0.90
PACE_KEY = 0x5ACE  # spawn key of the bootstrap resampling (distinct from every scenario's crc32 key space use)


@dataclass(frozen=True)
class PacePlan:
    """What the pace-effect measurement simulates.

    Attributes
    ----------
    scenario : str
        Reference scenario (its chain, draws and beta draws).
    pace_low, pace_high : float
        Constant paces (bn USD/month).
    paths : int
        Paths ``0 .. paths - 1`` of the reference scenario.
    low, high : ScenarioContext
        The reference context under each pace.
    """

    scenario: str
    pace_low: float
    pace_high: float
    paths: int
    low: ScenarioContext
    high: ScenarioContext

    def tasks(self, main_tasks: Sequence[Any]) -> list[Any]:
        """Chunk tasks under both paces: copies of the reference scenario's main tasks (low first).

        ``main_tasks`` are :class:`~backtest.synthetic.runner.ChunkTask`; their chunks of
        paths below :attr:`paths` are reused (cut at :attr:`paths`), their context swapped.
        """
        ref = [t for t in main_tasks if t.ctx.scenario.name == self.scenario and t.p0 < self.paths]
        out = []
        for ctx in (self.low, self.high):
            out.extend(replace(t, ctx=ctx, p1=min(t.p1, self.paths)) for t in ref)
        return out

    def split(self, results: Sequence[Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Horizon returns per strategy at the low and the high pace from :meth:`tasks`' results."""
        half = len(results) // 2
        return (horizons(results[:half]).get(self.scenario, {}), horizons(results[half:]).get(self.scenario, {}))


def horizons(results: Sequence[Any], n: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Scenario -> strategy -> horizon returns of paths ``0 .. n - 1`` (all: None) from chunk results, in path order."""
    by: dict[str, list[Any]] = {}
    for r in results:
        by.setdefault(r.scenario, []).append(r)
    out: dict[str, dict[str, np.ndarray]] = {}
    for sc, rs in by.items():
        rs = sorted(rs, key=lambda r: r.p0)
        out[sc] = {s: np.concatenate([r.stats[s]["horizon_return"] for r in rs])[:n] for s in rs[0].stats}
    return out


def reference_scenario(probabilities: Mapping[str, float], names: Sequence[str]) -> str:
    """The highest-probability scenario of the mix (ties: the first), else the first scenario."""
    if probabilities:
        best = max(probabilities.values())
        return next(n for n in names if probabilities.get(n) == best)
    return names[0]


def pace_plan(contexts: Mapping[str, ScenarioContext], probabilities: Mapping[str, float],
              paths: int, max_paths: int | None = None) -> PacePlan | None:
    """The plan of a run, or None when there is nothing to measure.

    Parameters
    ----------
    contexts : mapping
        The run's scenario contexts.
    probabilities : mapping
        The mix (scenario -> probability).
    paths : int
        Paths per scenario of the run.
    max_paths : int, optional
        Paths of the measurement (default :data:`MAX_PATHS`); 0 skips it.

    Returns
    -------
    PacePlan or None
        None: skipped, one pace only, or a reference scenario without a paced state.
    """
    names = list(contexts)
    cap = MAX_PATHS if max_paths is None else int(max_paths)
    if not names or cap <= 0:
        return None
    paces = {n: float(np.mean(c.pace)) for n, c in contexts.items()}
    lo, hi = min(paces.values()), max(paces.values())
    ref = reference_scenario(probabilities, names)
    ctx = contexts[ref]
    if hi <= lo or not ctx.paced.any():
        return None
    n = int(min(paths, cap))
    return PacePlan(ref, lo, hi, n, ctx.with_pace(lo), ctx.with_pace(hi))


NOISE_DIGITS = 12
"""Differences are rounded to 1e-12 (about 1e-10 of a percentage point): the same path's
outcome computed in a Dask worker and in the main process can differ in its last bits
(BLAS thread settings), and a difference of two equal medians must read 0 whatever the
executor."""


def round_noise(x: float) -> float:
    """``x`` rounded to :data:`NOISE_DIGITS` decimals, without a negative zero."""
    return float(np.round(float(x), NOISE_DIGITS)) + 0.0


def paired_median_ci(low: np.ndarray, high: np.ndarray, seed: int, n_boot: int = N_BOOT,
                     level: float = LEVEL) -> tuple[float, float, float]:
    """``median(high) - median(low)`` and its paired-bootstrap percentile interval.

    Parameters
    ----------
    low, high : np.ndarray, shape (n,)
        Outcomes of the same paths under the two paces.
    seed : int
    n_boot : int
    level : float
        Two-sided coverage (0.90: the 5th and 95th percentiles).
    """
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    eff = float(np.median(high) - np.median(low))
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(PACE_KEY,)))
    idx = rng.integers(0, len(low), size=(n_boot, len(low)))
    boot = np.median(high[idx], axis=1) - np.median(low[idx], axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [a, 1.0 - a])
    return round_noise(eff), round_noise(lo), round_noise(hi)


def effect_table(plan: PacePlan | None, low: Mapping[str, np.ndarray], high: Mapping[str, np.ndarray],
                 seed: int) -> pd.DataFrame:
    """One row per strategy (columns :data:`COLUMNS`); empty when there is no plan."""
    if plan is None:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for s in low:
        eff, lo, hi = paired_median_ci(low[s], high[s], seed)
        rows.append({"strategy": s, "scenario": plan.scenario, "pace_low": plan.pace_low, "pace_high": plan.pace_high,
                     "paths": int(len(low[s])), "effect": eff, "ci_lo": lo, "ci_hi": hi,
                     "distinguishable": bool(lo > 0 or hi < 0)})
    return pd.DataFrame(rows, columns=COLUMNS)


def pace_effect_lines(df: pd.DataFrame | None) -> list[str]:
    """Terminal lines: one per strategy, then which effects are indistinguishable from zero."""
    if df is None or not len(df):
        return ["pace effect: not measured (skipped, the scenarios share one pace, or the reference scenario "
                "has no paced state)"]
    r0 = df.iloc[0]
    out = [f"pace effect (median horizon return at {r0['pace_high']:g} minus at {r0['pace_low']:g} bn/month, "
           f"scenario {r0['scenario']}'s chain, same {int(r0['paths'])} paths, 90% CI):"]
    for r in df.itertuples():
        out.append(f"  {r.strategy}: {r.effect:+.2%} [{r.ci_lo:+.2%}, {r.ci_hi:+.2%}]")
    null = df.loc[~df["distinguishable"].astype(bool), "strategy"].tolist()
    if null:
        out.append(f"the pace effect is indistinguishable from zero for {', '.join(null)}")
    return out
