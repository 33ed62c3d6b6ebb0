"""The liquidity channel's total effect in each scenario: channel on vs off, same paths.

In a paced state every asset's daily return is shifted by its (per-path) liquidity beta
times ``pace - neutral pace`` (:meth:`ScenarioContext.shift`). The pace effect
(:mod:`backtest.synthetic.side.pace_effect`) measures what moving the pace from the lowest to
the highest scenario pace does; this module measures what the channel does *in total*
at each scenario's own pace: the paths ``0 .. n - 1`` of every scenario (``n =
min(paths, 200)`` by default) are simulated once more with the betas set to 0
(:meth:`ScenarioContext.without_channel`), everything else fixed — the same chain, the
same bootstrap or parametric draws, the same balance-sheet series (the pace still sets
the purchases strategies read), the same normal draws behind the per-path betas. The
"on" outcomes are the main run's own paths ``0 .. n - 1``.

* effect of a strategy in a scenario: ``median(horizon return, channel on) - median(off)``;
* 90% interval: the paired bootstrap of :func:`backtest.synthetic.side.pace_effect.paired_median_ci`;
* ``distinguishable``: the interval excludes 0.

With the channel off (``liquidity.beta_scale: 0``) or a scenario's pace equal to the
neutral pace, on and off are the same numbers and the effect is exactly 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from backtest.synthetic.model.context import ScenarioContext
from backtest.synthetic.side.pace_effect import horizons, paired_median_ci

__all__ = ["COLUMNS", "DEFAULT_PATHS", "ChannelPlan", "channel_lines", "channel_plan", "channel_table", "horizons"]

COLUMNS = ["strategy", "scenario", "pace", "neutral_pace", "paths", "effect", "ci_lo", "ci_hi", "distinguishable"]
DEFAULT_PATHS = 200


@dataclass(frozen=True)
class ChannelPlan:
    """What the channel-effect measurement simulates.

    Attributes
    ----------
    paths : int
        Paths ``0 .. paths - 1`` of each scenario.
    off : dict
        Scenario -> its context with the channel off.
    """

    paths: int
    off: dict[str, ScenarioContext]

    def tasks(self, main_tasks: Sequence[Any]) -> list[Any]:
        """Chunk tasks with the channel off: the main tasks below :attr:`paths`, cut there, context swapped."""
        return [replace(t, ctx=self.off[t.ctx.scenario.name], p1=min(t.p1, self.paths))
                for t in main_tasks if t.ctx.scenario.name in self.off and t.p0 < self.paths]


def channel_plan(contexts: Mapping[str, ScenarioContext], paths: int, max_paths: int | None = None) -> ChannelPlan | None:
    """The plan of a run (None: skipped with 0 paths, or no scenario has a paced state)."""
    cap = DEFAULT_PATHS if max_paths is None else int(max_paths)
    off = {n: c.without_channel() for n, c in contexts.items() if c.paced.any()}
    if cap <= 0 or not off:
        return None
    return ChannelPlan(int(min(paths, cap)), off)


def channel_table(plan: ChannelPlan | None, on: Mapping[str, Mapping[str, np.ndarray]],
                  off: Mapping[str, Mapping[str, np.ndarray]], strategies: Sequence[str], seed: int) -> pd.DataFrame:
    """One row per scenario and strategy (columns :data:`COLUMNS`); empty without a plan.

    Parameters
    ----------
    plan : ChannelPlan or None
    on, off : mapping
        Scenario -> strategy -> horizon returns of the same paths, channel on and off.
    strategies : sequence of str
        Strategies to report (the config's, in order).
    seed : int
        Run seed (the bootstrap's resamples).
    """
    if plan is None:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for sc, ctx in plan.off.items():
        neutral = float(np.mean(ctx.neutral[ctx.paced]))
        for s in strategies:
            if s not in on.get(sc, {}) or s not in off.get(sc, {}):
                continue
            eff, lo, hi = paired_median_ci(off[sc][s], on[sc][s], seed)
            rows.append({"strategy": s, "scenario": sc, "pace": float(np.mean(ctx.pace)), "neutral_pace": neutral,
                         "paths": int(len(on[sc][s])), "effect": eff, "ci_lo": lo, "ci_hi": hi,
                         "distinguishable": bool(lo > 0 or hi < 0)})
    return pd.DataFrame(rows, columns=COLUMNS)


def channel_lines(df: pd.DataFrame | None) -> list[str]:
    """Terminal lines: the neutral pace against each scenario's pace, and the channel's total effect."""
    if df is None or not len(df):
        return ["liquidity channel: total effect not measured (skipped, or no paced state)"]
    out = []
    for sc, g in df.groupby("scenario", sort=False):
        r0 = g.iloc[0]
        big = g.loc[g["effect"].abs().idxmax()]
        dist = g.loc[g["distinguishable"].astype(bool), "strategy"].tolist()
        tail = (f"distinguishable from zero for {', '.join(dist)}" if dist
                else "indistinguishable from zero for every strategy")
        out.append(f"liquidity channel in {sc}: pace {r0['pace']:g} vs neutral {r0['neutral_pace']:.1f} bn/month; "
                   f"total effect (on - off, same {int(r0['paths'])} paths, 90% CI) largest for {big['strategy']} "
                   f"{big['effect']:+.2%} [{big['ci_lo']:+.2%}, {big['ci_hi']:+.2%}]; {tail}")
    return out
