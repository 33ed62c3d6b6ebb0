"""The simulations beside a scenario run's main paths, planned together and scored after it.

Three measurements rerun some of the main run's paths with one thing changed, on the same
seed (common random numbers), so their differences are not Monte-Carlo noise:

* the **pace effect** (:mod:`backtest.synthetic.side.pace_effect`): the reference scenario at the
  lowest and the highest pace;
* the **liquidity channel's total effect** (:mod:`backtest.synthetic.side.channel_effect`):
  every paced scenario with the channel off;
* the **pool sensitivity** (:mod:`backtest.synthetic.side.pool_sensitivity`): every scenario
  with one episode of one state's pool left out.

Their chunk tasks run after the main chunks through the same executor (they count in the
duration estimate and the progress), and :meth:`SideRuns.score` turns their results into
the run's extra tables, plus the per-state pool table and the separation of the robust
choice (:mod:`backtest.synthetic.evaluate.separation`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backtest.synthetic.evaluate.aggregate import ScenarioRun
from backtest.synthetic.evaluate.records import Prepared
from backtest.synthetic.evaluate.separation import separation_table
from backtest.synthetic.side.channel_effect import ChannelPlan, channel_plan, channel_table
from backtest.synthetic.side.pace_effect import PacePlan, effect_table, horizons, pace_plan
from backtest.synthetic.side.pool_sensitivity import (
    SensitivityPlan,
    sensitivity_plan,
    sensitivity_table,
)
from backtest.synthetic.side.pool_table import pool_table

__all__ = ["SideRuns", "plan_side_runs"]


@dataclass
class SideRuns:
    """The plans of the side measurements and their tasks (in run order: pace, channel, sensitivity)."""

    pace: PacePlan | None
    channel: ChannelPlan | None
    sensitivity: SensitivityPlan | None
    tasks: list[Any] = field(default_factory=list)
    counts: tuple[int, int, int] = (0, 0, 0)
    plan_seconds: float = 0.0

    def score(self, run: ScenarioRun, main_results: Sequence[Any], side_results: Sequence[Any], seed: int) -> None:
        """Put the side tables in ``run.extras`` (and their timings in ``run.timings``)."""
        a, b, _ = self.counts
        pe, ch, se = side_results[:a], side_results[a:a + b], side_results[a + b:]
        prep = run.prep
        keep = [s.name for s in prep.cfg.strategies]  # not the internal 60/40 of P(beat 60/40)
        low, high = self.pace.split(pe) if self.pace else ({}, {})
        run.extras["pace_effect"] = effect_table(self.pace, {k: low[k] for k in keep if k in low},
                                                 {k: high[k] for k in keep if k in high}, seed)
        on = horizons(main_results, self.channel.paths) if self.channel else {}
        run.extras["channel_effect"] = channel_table(self.channel, on, horizons(ch), keep, seed)
        sens = None
        if self.sensitivity is not None:
            spec = prep.sset.spec.scoring
            sens = sensitivity_table(self.sensitivity, se, main_results, keep, prep.sset.mix,
                                     [s.name for s in prep.sset.scenarios], spec.regret_statistic,
                                     spec.regret_summary, float(spec.cvar_lambda))
        run.extras["pool_sensitivity"] = sens
        run.extras["pool_table"] = pool_table(prep)
        run.extras["separation"] = separation_table(run.regret, run.extras.get("margin_se"),
                                                    None if sens is None else sens.moves)
        for name, rs in (("pace_effect", pe), ("channel_effect", ch), ("sensitivity", se)):
            run.timings[f"{name}_chunks_sum"] = float(sum(r.seconds["total"] for r in rs))
        run.timings["side_plan"] = self.plan_seconds


def plan_side_runs(prep: Prepared, main_tasks: Sequence[Any], paths: int, seed: int, *,
                   pace_effect_paths: int | None = None, channel_effect_paths: int | None = None,
                   sensitivity_paths: int | None = None) -> SideRuns:
    """Plan the three measurements of a prepared run (each skipped with 0 paths).

    Parameters
    ----------
    prep : Prepared
    main_tasks : sequence
        The main run's chunk tasks (copied with a changed context).
    paths, seed : int
        The run's paths per scenario and seed.
    pace_effect_paths, channel_effect_paths, sensitivity_paths : int, optional
        Paths of each measurement (defaults: ``min(paths, 500)``, ``min(paths, 200)``,
        ``min(paths, 100)``).
    """
    t = time.perf_counter()
    pace = pace_plan(prep.contexts, prep.sset.mix, paths, pace_effect_paths)
    chan = channel_plan(prep.contexts, paths, channel_effect_paths)
    sens = sensitivity_plan(prep, paths, seed, sensitivity_paths)
    parts = [p.tasks(main_tasks) if p is not None else [] for p in (pace, chan, sens)]
    out = SideRuns(pace, chan, sens, [t for part in parts for t in part], (len(parts[0]), len(parts[1]), len(parts[2])))
    out.plan_seconds = time.perf_counter() - t
    return out
