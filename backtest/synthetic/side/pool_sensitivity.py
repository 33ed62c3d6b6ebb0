"""Pool sensitivity: how much the scorecard and the robust choice rest on one episode of history.

For every state of a bootstrap run and every episode of its pool
(:mod:`backtest.synthetic.model.pool_episodes`: a contiguous stretch of pool days, or a calendar
year for states with many short episodes), the scenarios are simulated again with that
episode removed from the state's pool, on the same seed: paths ``0 .. n - 1`` of every
scenario, ``n = min(paths, 100)`` by default (``--sensitivity-paths``). Everything the pool
shapes is re-estimated (the state's drift and its shrinkage, the liquidity channel's
reference flow, the channel means and demeaning). A path that never visits the state
draws exactly what it drew before (its draws come from its own stream, and the other
states' pools and parameters are unchanged — checked, else every path is rerun), so
only the paths that visit the state are simulated again; the others keep their outcomes.

Per rerun and strategy: the median and CVaR-5 of the horizon return in the
probability-weighted mix, before (the main run's paths ``0 .. n - 1``) and without the
episode, and the robust (minimax-regret) choice on those ``n`` paths before and after. A
state whose pool is a single episode cannot be left out (its draws rest on it alone);
the plan lists it as skipped.

The choice *gap* of a rerun is how far the baseline choice falls behind the new choice
in maximum regret (0 when the choice holds). The episode that moves the choice most is
the rerun with the largest gap; when no rerun changes the choice, the one after which the
choice's lead over the runner-up is smallest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from backtest.synthetic.evaluate.choice import resampled_statistic
from backtest.synthetic.evaluate.distributions import minimax_mask, tail_mean, weighted_quantiles
from backtest.synthetic.evaluate.records import Prepared
from backtest.synthetic.evaluate.scoring import PATH_STATS
from backtest.synthetic.model.context import ScenarioContext, with_periods
from backtest.synthetic.model.generator import chain_states
from backtest.synthetic.model.pool_episodes import Episode, pool_episodes
from backtest.synthetic.model.pools import mask_periods
from backtest.synthetic.side.pace_effect import round_noise

__all__ = ["COLUMNS", "DEFAULT_PATHS", "Rerun", "SensitivityPlan", "SensitivityResult", "max_regret",
           "sensitivity_lines", "sensitivity_plan"]

DEFAULT_PATHS = 100
COLUMNS = ["state", "episode", "grouped", "first_day", "last_day", "days", "paths", "rerun_paths", "strategy",
           "median_base", "median_without", "d_median", "cvar5_base", "cvar5_without", "d_cvar5",
           "choice_base", "choice_without", "choice_gap"]


@dataclass(frozen=True)
class Rerun:
    """One leave-one-episode-out rerun.

    Attributes
    ----------
    episode : Episode
    contexts : dict
        Scenario -> its context without the episode.
    ids : dict
        Scenario -> the paths simulated again (those among ``0 .. n - 1`` that visit the
        state; all of them when the other states changed too). Empty: none visits.
    """

    episode: Episode
    contexts: dict[str, ScenarioContext]
    ids: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class SensitivityPlan:
    """The reruns of a run and the states that cannot be left out."""

    paths: int
    reruns: tuple[Rerun, ...]
    skipped: tuple[tuple[str, str, int], ...] = ()
    """``(state, episode label, days)`` of the states whose pool is one episode (or empty)."""

    def tasks(self, main_tasks: Sequence[Any]) -> list[Any]:
        """One chunk task per rerun and scenario with paths to simulate (copies of the main tasks)."""
        first = {}
        for t in main_tasks:
            first.setdefault(t.ctx.scenario.name, t)
        out = []
        for r in self.reruns:
            for sc, ids in r.ids.items():
                if ids and sc in first:
                    out.append(replace(first[sc], ctx=r.contexts[sc], p0=0, p1=self.paths, ids=ids))
        return out


@dataclass
class SensitivityResult:
    """The table and what the terminal and the page say about it."""

    table: pd.DataFrame
    choice_base: str
    paths: int
    skipped: tuple[tuple[str, str, int], ...]
    moves: dict[str, float] = field(default_factory=dict)
    """Strategy -> largest move (over reruns) of its max-regret margin over the baseline choice."""
    most: dict[str, Any] = field(default_factory=dict)
    """The rerun that moves the choice most: ``state, episode, days, choice_without, gap, lead``."""


def _without(periods: list, dates: pd.DatetimeIndex, state: str, drop: pd.DatetimeIndex) -> list:
    mask = np.zeros(len(dates), dtype=bool)
    for p in periods:
        mask |= np.asarray((dates >= p.start) & (dates <= p.end))
    mask &= ~np.asarray(dates.isin(drop))
    return mask_periods(state, dates, mask, f"pool without {drop[0].date()}..{drop[-1].date()}")


def _same_outside(a: ScenarioContext, b: ScenarioContext, s: int) -> bool:
    """Whether every state but ``s`` has the same pool and parameters in both contexts."""
    keep = [i for i in range(len(a.states)) if i != s]
    pairs = [(a.ch_demean, b.ch_demean), (a.levels.mean, b.levels.mean), (a.bs_demean, b.bs_demean),
             (a.neutral, b.neutral)]
    if a.drifts is not None and b.drifts is not None:
        pairs.append((a.drifts.shift, b.drifts.shift))
    if not all(np.array_equal(np.asarray(x)[keep], np.asarray(y)[keep]) for x, y in pairs):
        return False
    return all(np.array_equal(a.pools[i].days, b.pools[i].days) for i in keep)


def sensitivity_plan(prep: Prepared, paths: int, seed: int, max_paths: int | None = None) -> SensitivityPlan | None:
    """The reruns of a prepared run (None: skipped with 0 paths, or a parametric source)."""
    cap = DEFAULT_PATHS if max_paths is None else int(max_paths)
    if cap <= 0 or prep.source != "bootstrap" or not prep.contexts:
        return None
    n = int(min(paths, cap))
    sset = prep.sset
    first = sset.scenarios[0].name
    ctx0 = prep.contexts[first]
    dates0 = prep.known[first].history.dates if first in prep.known else prep.history.dates
    visits = {sc: chain_states(c, seed, 0, n) for sc, c in prep.contexts.items()}
    reruns, skipped = [], []
    for i, s in enumerate(sset.states):
        eps = pool_episodes(s, ctx0.pools[i], dates0)
        if len(eps) < 2:
            skipped.append((s, eps[0].label, eps[0].days) if eps else (s, "", 0))
            continue
        for ep in eps:
            drop = pd.DatetimeIndex(dates0[ep.rows])
            contexts, ids = {}, {}
            for sc in sset.scenarios:
                kh = prep.known.get(sc.name)
                hist = kh.history if kh is not None else prep.history
                base = kh.periods if kh is not None else prep.periods
                periods = {**base, s: _without(list(base[s]), hist.dates, s, drop)}
                old = prep.contexts[sc.name]
                new = with_periods(old, hist, sset, periods, prep.calib)
                contexts[sc.name] = new
                if _same_outside(old, new, i):
                    ids[sc.name] = tuple(int(k) for k in np.flatnonzero((visits[sc.name] == i).any(axis=1)))
                else:
                    ids[sc.name] = tuple(range(n))
            reruns.append(Rerun(ep, contexts, ids))
    return SensitivityPlan(n, tuple(reruns), tuple(skipped))


def _stats(results: Sequence[Any], n: int) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    by: dict[str, list[Any]] = {}
    for r in results:
        by.setdefault(r.scenario, []).append(r)
    out = {}
    for sc, rs in by.items():
        rs = sorted(rs, key=lambda r: r.p0)
        out[sc] = {s: {k: np.concatenate([r.stats[s][k] for r in rs])[:n] for k in PATH_STATS} for s in rs[0].stats}
    return out


def max_regret(stats: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]], strategies: Sequence[str],
               basis: Sequence[str], statistic: str, summary: str, lam: float) -> np.ndarray:
    """Maximum regret of each strategy over the ``basis`` scenarios on the given paths (the scorecard's rule)."""
    vals = np.empty((len(strategies), len(basis)))
    for k, sc in enumerate(basis):
        idx = np.arange(len(stats[sc][strategies[0]]["horizon_return"]))[None, :]
        for i, s in enumerate(strategies):
            vals[i, k] = resampled_statistic(stats[sc][s], idx, statistic, summary, lam)[0]
    reg = np.nanmax(vals, axis=0, keepdims=True) - vals
    return np.nanmax(reg, axis=1)


def _mix(stats: Mapping, strategy: str, names: Sequence[str], probs: Mapping[str, float]) -> tuple[float, float]:
    x = np.concatenate([stats[sc][strategy]["horizon_return"] for sc in names])
    w = np.concatenate([np.full(len(stats[sc][strategy]["horizon_return"]),
                                probs[sc] / len(stats[sc][strategy]["horizon_return"])) for sc in names])
    return float(weighted_quantiles(x, (0.5,), w)[0]), tail_mean(x, 0.05, w)


def _choose(mx: np.ndarray, strategies: Sequence[str]) -> str:
    return strategies[int(np.flatnonzero(minimax_mask(mx))[0])]


def sensitivity_table(plan: SensitivityPlan, results: Sequence[Any], main_results: Sequence[Any],
                      strategies: Sequence[str], mix: Mapping[str, float], names: Sequence[str],
                      statistic: str, summary: str, lam: float) -> SensitivityResult:
    """Score every rerun against the main run's first ``n`` paths (module docstring).

    Parameters
    ----------
    plan : SensitivityPlan
    results : sequence
        Chunk results of :meth:`SensitivityPlan.tasks`, in that order.
    main_results : sequence
        The main run's chunk results.
    strategies : sequence of str
        The config's strategies (table order).
    mix : mapping
        Scenario probabilities (empty: the scenarios weigh equally).
    names : sequence of str
        The run's scenarios.
    statistic, summary : str
        The scoring's regret statistic and summary.
    lam : float
        ``cvar_lambda``.
    """
    n = plan.paths
    basis = [sc for sc in names if sc in mix] or list(names)
    probs = dict(mix) if mix else {sc: 1.0 / len(basis) for sc in basis}
    base = _stats(main_results, n)
    strategies = [s for s in strategies if s in base[basis[0]]]
    mx0 = max_regret(base, strategies, basis, statistic, summary, lam)
    choice0 = _choose(mx0, strategies)
    c0 = strategies.index(choice0)
    before = {s: _mix(base, s, basis, probs) for s in strategies}
    it = iter(results)
    rows: list[dict[str, Any]] = []
    moves = dict.fromkeys(strategies, 0.0)
    best: tuple[float, float] | None = None
    most: dict[str, Any] = {}
    for r in plan.reruns:
        new = {sc: {s: {k: v.copy() for k, v in d.items()} for s, d in base[sc].items()} for sc in base}
        for sc, ids in r.ids.items():
            if not ids:
                continue
            res = next(it)
            pos = np.asarray(ids, dtype=np.int64)
            for s in new[sc]:
                for k in PATH_STATS:
                    new[sc][s][k][pos] = res.stats[s][k]
        mx = max_regret(new, strategies, basis, statistic, summary, lam)
        choice = _choose(mx, strategies)
        gap = round_noise(mx[c0] - mx.min())
        others = np.delete(mx, c0)
        lead = round_noise(others.min() - mx[c0]) if len(others) else float("nan")
        key = (gap, -lead)
        if best is None or key > best:
            best = key
            most = {"state": r.episode.state, "episode": r.episode.label, "days": r.episode.days,
                    "choice_without": choice, "gap": gap, "lead": lead}
        for i, s in enumerate(strategies):
            moves[s] = max(moves[s], round_noise(abs((mx[i] - mx[c0]) - (mx0[i] - mx0[c0]))))
        ep = r.episode
        n_rerun = sum(len(v) for v in r.ids.values())
        for s in strategies:
            med, cv = _mix(new, s, basis, probs)
            rows.append({"state": ep.state, "episode": ep.label, "grouped": ep.grouped,
                         "first_day": str(ep.first.date()), "last_day": str(ep.last.date()), "days": ep.days,
                         "paths": n, "rerun_paths": n_rerun, "strategy": s,
                         "median_base": before[s][0], "median_without": med,
                         "d_median": round_noise(med - before[s][0]),
                         "cvar5_base": before[s][1], "cvar5_without": cv, "d_cvar5": round_noise(cv - before[s][1]),
                         "choice_base": choice0, "choice_without": choice, "choice_gap": gap})
    return SensitivityResult(pd.DataFrame(rows, columns=COLUMNS), choice0, n, plan.skipped, moves, most)


def sensitivity_lines(res: SensitivityResult | None,
                      occupancy: Mapping[str, Mapping[str, float]] | None = None) -> list[str]:
    """Terminal lines: reruns, how often the choice holds, the episode that moves it most, skipped states.

    ``occupancy`` (state -> scenario -> share of simulated days) says how much of each
    scenario rests on a state that cannot be left out.
    """
    if res is None:
        return ["pool sensitivity: not measured (skipped, or a parametric source without pools)"]
    t = res.table
    out = []
    if not len(t):
        out.append("pool sensitivity: no state has two episodes to leave out")
    else:
        per = t.drop_duplicates(["state", "episode"])
        held = int((per["choice_without"] == res.choice_base).sum())
        m = res.most
        head = (f"pool sensitivity (leave one episode out, {res.paths} paths per scenario, same seed): the robust "
                f"choice on these paths, {res.choice_base}, holds in {held} of {len(per)} reruns")
        if m.get("gap", 0.0) > 0:
            out.append(head + f"; leaving out {m['state']} {m['episode']} ({m['days']} days) moves it most: "
                              f"{m['choice_without']} is chosen, {res.choice_base} trails by {m['gap']:.2%} of max regret")
        elif m:
            out.append(head + f"; the closest call is without {m['state']} {m['episode']} ({m['days']} days): "
                              f"its lead over the runner-up shrinks to {m['lead']:.2%} of max regret")
        else:
            out.append(head)
    for s, label, days in res.skipped:
        occ = (occupancy or {}).get(s, {})
        share = ", ".join(f"{v:.0%} of {k}'s" for k, v in occ.items() if v >= 0.005)
        where = f"; it fills {share} simulated days" if share else ""
        what = f"one episode ({label}, {days} days)" if days else "an empty pool"
        out.append(f"pool sensitivity: {s} rests on {what}{where}: it cannot be left out, so nothing here tests "
                   f"how much the scorecard depends on it")
    return out
