"""Calibration backtest of the scenario model (``rmpbt scenarios CONFIG --calibrate``).

For each start date ``s`` (the first trading day of every quarter from ``--calibrate-from``
until the last start whose horizon ends inside the data):

1. **Fit on data up to s only.** The loaded history is cut at ``t0``, the last trading day
   before ``s``: prices dated ``<= t0`` and macro observations *released* ``<= t0``
   (:func:`cut_market`). Everything the scenario model estimates is then computed from
   that cut: the analogue pools (ex-ante rules evaluated on the cut history), the
   liquidity betas, the per-state drifts and channel means, and the trailing history the
   strategies' signals use. Nothing dated after ``t0`` can reach the simulation.
2. **Start state.** Each scenario starts in the state whose ex-ante pool rule the day
   ``t0`` meets (when several do, the one with the smallest pool: the most specific
   rule); when none does, in the scenario's configured ``start_state``. Chains, paces and
   probabilities are the scenario file's.
3. **Fallback pools.** A state whose rule no usable day before ``s`` meets (calm repair
   before RMP2019, emergency easing before March 2020, ...) draws from every usable day
   before ``s`` instead; each start records these states (``fallback_states``).
4. **Simulate** ``paths`` paths of every scenario over the horizon (252 trading days)
   with the run's execution settings; the strategies start from cash at ``t0``. The
   simulated outcome of a strategy is its horizon return; the *mix* weighs each scenario's
   paths by its probability (equal weights when no scenario has one).
5. **Realised outcome**: one :func:`backtest.pipeline.run_backtest` of every strategy over
   the whole data, sliced: the compounded return over the ``horizon`` trading days from
   ``s`` (close of ``t0`` to the close of the ``horizon``-th day). A backtest's weights at
   ``t`` use only data to ``t``, so slicing is free of look-ahead; the slice starts from
   the holdings the strategy had at ``t0`` (the simulation starts from cash: a small
   difference of the first ``lag`` days).
6. **PIT** (probability integral transform) = mixture-weighted share of simulated outcomes
   below the realised one (ties count half). A calibrated model gives uniform PITs: the
   central 50% band (PIT in [0.25, 0.75]) covers half of the outcomes and the 90% band
   (PIT in [0.05, 0.95]) 90%.

Verdict (per strategy and pooled; :mod:`backtest.calibration_stats`): one-year
windows that start every quarter overlap, so ``n`` start dates carry about ``n / 4``
independent outcomes (in general ``n`` divided by the horizon over the spacing of the
starts). On that effective count, each tail is tested on its own (the share of realised
outcomes below the simulated p5, and above the p95, against 5%: exact binomial tests) and
the PITs' shape by a Cramér–von Mises test of uniformity; the verdict follows the three
(each at 5%/3): "overconfident", "underconfident", "too optimistic", "too pessimistic",
"PIT not uniform", "inconclusive" (no test rejects but a tail is empty on the effective
count, or too few effective outcomes) or "calibrated within sampling error". The pooled row uses the same
effective count: strategies' outcomes at one start are strongly correlated. Every verdict
is given on all starts and, when some used fallback pools, on the starts without them.

Parallel: every start date is an independent task run on an executor (``--workers`` /
``--scheduler``) while this process runs the realised backtest; a worker receives only the
data known at its start's ``t0``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtest.calibration_stats import (  # the statistics' home; re-exported here
    PIT_BINS,
    band_p_value,
    in_band,
    pit,
    pit_histogram,
    pit_tests,
)
from backtest.config import RunConfig
from backtest.data.base import MarketData
from backtest.errors import RmpbtError, ScenarioError
from backtest.executors import LocalExecutor
from backtest.pipeline import run_backtest
from backtest.synthetic.evaluate.distributions import weighted_quantiles
from backtest.synthetic.evaluate.records import Prepared
from backtest.synthetic.model.bootstrap import build_pool
from backtest.synthetic.model.release_cut import cut_market
from backtest.synthetic.runner import load_history, make_tasks, prepare, run_chunk
from backtest.synthetic.scenarios import Period, ScenarioSet

__all__ = [
    "ALL",
    "ALL_STARTS",
    "BANDS",
    "EVERY",
    "NO_FALLBACK",
    "SUMMARY_COLUMNS",
    "CalibrationRun",
    "StartOutcome",
    "StartTask",
    "beside",
    "calibration_table",
    "coverage_summary",
    "effective_overlap",
    "realised_outcomes",
    "run_calibration",
    "run_start_task",
    "simulate_start",
    "start_dates",
]

EVERY = {"quarter": "QS", "month": "MS", "year": "YS"}
BANDS = (0.5, 0.9)
ALL = "all strategies"
ALL_STARTS = "all starts"
NO_FALLBACK = "no fallback pools"
SUMMARY_COLUMNS = ["strategy", "subset", "n", "n_eff", "n_fallback_starts", "cover50", "cover90", "mean_pit",
                   "below_p5", "above_p95", "p_lower_tail", "p_upper_tail", "p_pit_uniform", "p_value90",
                   "p_value50", "verdict"]


# ------------------------------------------------------------------------ statistics


def effective_overlap(starts: pd.DatetimeIndex, calendar: pd.DatetimeIndex, horizon: int) -> float:
    """Windows per independent outcome: horizon over the median spacing of the starts (>= 1).

    One-year windows (252 days) starting every quarter (about 63 days) give 4.
    """
    if len(starts) < 2:
        return 1.0
    pos = calendar.get_indexer(pd.DatetimeIndex(starts))
    step = float(np.median(np.diff(pos)))
    return max(1.0, float(round(horizon / step))) if step > 0 else 1.0


def _summary_row(name: str, subset: str, p: np.ndarray, n_test: int, n_fallback: int, overlap: float) -> dict:
    """One row of :func:`coverage_summary`."""
    p = p[np.isfinite(p)]
    n = len(p)
    res = pit_tests(p, n_test, overlap)
    c50 = float(in_band(p, 0.5).mean()) if n else float("nan")
    c90 = float(in_band(p, 0.9).mean()) if n else float("nan")
    return {"strategy": name, "subset": subset, "n": n, "n_eff": res.n_eff, "n_fallback_starts": n_fallback,
            "cover50": c50, "cover90": c90, "mean_pit": float(p.mean()) if n else float("nan"),
            "below_p5": res.below_p5, "above_p95": res.above_p95, "p_lower_tail": res.p_lower_tail,
            "p_upper_tail": res.p_upper_tail, "p_pit_uniform": res.p_pit_uniform,
            "p_value90": band_p_value(c90, res.n_eff, 0.9), "p_value50": band_p_value(c50, res.n_eff, 0.5),
            "verdict": res.verdict}


def coverage_summary(table: pd.DataFrame, overlap: float = 4.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coverage, tail shares, the three tests and the verdict per strategy and pooled; the PIT histogram.

    Parameters
    ----------
    table : pd.DataFrame
        :func:`calibration_table` (columns ``start``, ``strategy``, ``pit``, optionally
        ``fallback_states``: a start with a non-empty entry used fallback pools).
    overlap : float
        Overlapping windows per independent outcome (``n_eff = n / overlap``).

    Returns
    -------
    summary : pd.DataFrame
        ``strategy, subset, n, n_eff, n_fallback_starts, cover50, cover90, mean_pit,
        below_p5, above_p95, p_lower_tail, p_upper_tail, p_pit_uniform, p_value90,
        p_value50, verdict``: one row per strategy and one pooled (:data:`ALL`) on
        :data:`ALL_STARTS`, then, when some start used fallback pools, the same rows on the
        starts without (:data:`NO_FALLBACK`). The verdict follows the three tests of
        :func:`~backtest.calibration_stats.pit_tests`; ``p_value90`` and
        ``p_value50`` (the bands' coverage against 0.90 / 0.50) are for information.
    histogram : pd.DataFrame
        ``strategy, bin, lo, hi, count`` (10 bins, also pooled; all starts).
    """
    fb = (table["fallback_states"].fillna("").astype(str) != "") if "fallback_states" in table else \
        pd.Series(False, index=table.index)
    n_fb = int(table.loc[fb, "start"].nunique()) if len(table) else 0
    subsets = [(ALL_STARTS, table, n_fb)]
    if n_fb:
        subsets.append((NO_FALLBACK, table.loc[~fb], 0))
    rows, hist = [], []
    for label, sub, k in subsets:
        groups = [(s, g["pit"].to_numpy(dtype=float)) for s, g in sub.groupby("strategy", sort=False)]
        if label == NO_FALLBACK:  # every strategy keeps its row, with n = 0 when no start is left
            have = {s for s, _ in groups}
            groups += [(s, np.array([])) for s in dict.fromkeys(table["strategy"]) if s not in have]
        n_starts = int(sub["start"].nunique()) if len(sub) else 0
        groups.append((ALL, sub["pit"].to_numpy(dtype=float)))
        for name, p in groups:
            n_test = int(np.isfinite(p).sum()) if name != ALL else n_starts  # pooled: correlated across strategies
            rows.append(_summary_row(name, label, p, n_test, k, overlap))
            if label == ALL_STARTS:
                for b, c in enumerate(pit_histogram(p)):
                    hist.append({"strategy": name, "bin": b, "lo": b / PIT_BINS, "hi": (b + 1) / PIT_BINS,
                                 "count": int(c)})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS), pd.DataFrame(hist, columns=["strategy", "bin", "lo", "hi",
                                                                                    "count"])


# ------------------------------------------------------------------------ dates and data


def start_dates(calendar: pd.DatetimeIndex, first: pd.Timestamp, every: str, horizon: int,
                warmup: int = 60) -> pd.DatetimeIndex:
    """First trading day of every period (``quarter``/``month``/``year``) from ``first`` on.

    Only starts with at least ``warmup`` trading days before them and ``horizon`` trading
    days from them inside ``calendar`` are kept.
    """
    if every not in EVERY:
        raise ScenarioError(f"--calibrate-every {every!r}: use one of {', '.join(EVERY)}")
    cal = pd.DatetimeIndex(calendar)
    if len(cal) == 0:
        return pd.DatetimeIndex([], name="start")
    marks = pd.date_range(pd.Timestamp(first).to_period(EVERY[every][0]).start_time, cal[-1], freq=EVERY[every])
    pos = np.unique(cal.searchsorted(marks, side="left"))
    pos = pos[(pos >= warmup) & (pos + horizon <= len(cal)) & (pos < len(cal))]
    out = cal[pos]
    out = out[out >= pd.Timestamp(first)]
    return pd.DatetimeIndex(out, name="start")


# ------------------------------------------------------------------------ one start


@dataclass
class StartOutcome:
    """The simulated outcome distribution of every strategy at one start date."""

    start: pd.Timestamp
    t0: pd.Timestamp
    start_state: str
    state_rule: bool
    fallback_states: tuple[str, ...]
    outcomes: dict[str, np.ndarray]  # strategy -> horizon returns of all paths (scenarios stacked)
    weights: np.ndarray  # mixture weight of each path
    seconds: float = 0.0


def _start_state(sset: ScenarioSet, periods: dict[str, list[Period]], sizes: dict[str, int],
                 t0: pd.Timestamp, real: set[str]) -> int | None:
    """The state whose (non-fallback) pool rule ``t0`` meets; smallest pool when several do."""
    hits = [s for s in sset.states if s in real and any(p.start <= t0 <= p.end for p in periods[s])]
    if not hits:
        return None
    best = min(hits, key=lambda s: (sizes[s], sset.states.index(s)))
    return sset.states.index(best)


def _adjuster(t0: pd.Timestamp, chosen: dict[str, Any]) -> Callable:
    """The ``prepare(adjust=...)`` hook: fallback pools and the start state of ``t0``."""

    def adjust(sset: ScenarioSet, periods: dict[str, list[Period]], hist) -> tuple[ScenarioSet, dict, list[str]]:
        usable = hist.usable()
        sizes = {s: len(build_pool(hist.dates, usable, list(periods[s])).days) for s in sset.states}
        real = {s for s in sset.states if sizes[s] > 0}
        fallback = tuple(s for s in sset.states if s not in real)
        out = dict(periods)
        for s in fallback:
            out[s] = [Period(s, hist.dates[0], hist.dates[-1], f"fallback: every usable day before {t0.date()} "
                                                               "(no usable day meets the rule)")]
        idx = _start_state(sset, periods, sizes, t0, real)
        chosen.update(state=idx, fallback=fallback)
        notes = [f"{t0.date()}: states without a rule day use every usable day: {', '.join(fallback)}"] if fallback else []
        return sset.with_start(sset.scenarios[0].start, idx) if idx is not None else sset, out, notes

    return adjust


def start_seed(seed: int, start: pd.Timestamp) -> int:
    """The seed of one start date (independent draws per start; a start's draws do not
    depend on which other starts run)."""
    return int(np.random.SeedSequence([int(seed), int(pd.Timestamp(start).toordinal())]).generate_state(1)[0])


def simulate_start(cfg: RunConfig, sset: ScenarioSet, md: MarketData, start: pd.Timestamp, *, paths: int,
                   seed: int, origin: str = "<config>", parallel: bool = True) -> StartOutcome:
    """Fit the scenario model on the data before ``start`` and simulate every strategy.

    Parameters
    ----------
    cfg : RunConfig
    sset : ScenarioSet
    md : MarketData
        The whole history (cut here at the last trading day before ``start``).
    start : pd.Timestamp
        First simulated day.
    paths : int
        Paths per scenario.
    seed : int
        Root seed (the start's seed is :func:`start_seed`).
    parallel : bool
        Spread each strategy's paths over threads (False on a worker process; the
        outcomes are the same either way).
    """
    t = time.perf_counter()
    start = pd.Timestamp(start)
    cal = md.calendar
    before = cal[cal < start]
    if len(before) == 0:
        raise ScenarioError(f"--calibrate-from: no data before {start.date()}")
    t0 = before[-1]
    cut = cut_market(md, t0)
    chosen: dict[str, Any] = {}
    s_set = sset.with_start(start.date())
    prep: Prepared = prepare(cfg, s_set, origin, cut, adjust=_adjuster(t0, chosen))
    tasks = make_tasks(prep, paths, start_seed(seed, start), paths, parallel=parallel)
    results = [run_chunk(task) for task in tasks]
    mix = prep.sset.mix
    names = [s.name for s in prep.sset.scenarios]
    use = [n for n in names if n in mix] or names
    probs = {n: (mix[n] if mix else 1.0 / len(use)) for n in use}
    strategies = [s.name for s in cfg.strategies]
    by = {n: sorted([r for r in results if r.scenario == n], key=lambda r: r.p0) for n in use}
    outcomes = {s: np.concatenate([r.stats[s]["horizon_return"] for n in use for r in by[n]]) for s in strategies}
    weights = np.concatenate([np.full(paths, probs[n] / paths) for n in use])
    idx = chosen.get("state")
    state = prep.sset.states[idx] if idx is not None else "/".join(
        dict.fromkeys(prep.sset.states[s.start_state] for s in prep.sset.scenarios))
    return StartOutcome(start, t0, state, idx is not None, tuple(chosen.get("fallback", ())), outcomes, weights,
                        time.perf_counter() - t)


@dataclass(frozen=True)
class StartTask:
    """The simulation of one start date, for an executor (picklable).

    ``md`` holds the data known at the start's ``t0`` (on a worker) or the whole data (in
    process): :func:`simulate_start` cuts it at ``t0`` either way.
    """

    cfg: RunConfig
    sset: ScenarioSet
    md: MarketData
    start: pd.Timestamp
    paths: int
    seed: int
    origin: str
    parallel: bool = True


def run_start_task(task: StartTask) -> StartOutcome:
    """Run one :class:`StartTask` (:func:`simulate_start`).

    Raises
    ------
    RmpbtError
        Of the same type as the model's, its message naming the start date.
    """
    try:
        return simulate_start(task.cfg, task.sset, task.md, task.start, paths=task.paths, seed=task.seed,
                              origin=task.origin, parallel=task.parallel)
    except RmpbtError as exc:  # name the start date in the one-line message
        raise type(exc)(f"calibration start {task.start.date()}: {exc}") from None


def beside(work: Callable[[], Any], here: Callable[[], Any]) -> tuple[Any, Any]:
    """``(work(), here())``, ``work`` in a thread while ``here`` runs in this one.

    ``work`` waits on remote workers (an executor's ``map``), so this process is free for
    ``here``. An error of ``here`` is raised at once (the caller's executor then shuts the
    remote work down); one of ``work`` after ``here`` is done.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["out"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            box["err"] = exc

    th = threading.Thread(target=run, name="calibration-starts", daemon=True)
    th.start()
    mine = here()
    th.join()
    if "err" in box:
        raise box["err"]
    return box["out"], mine


def _realised(cfg: RunConfig, origin: str, md: MarketData, starts: pd.DatetimeIndex,
              horizon: int) -> tuple[pd.DataFrame, float]:
    """The realised outcomes of every strategy (one backtest, sliced) and its seconds."""
    t = time.perf_counter()
    bt = run_backtest(cfg, origin, md=md)
    return realised_outcomes(bt.returns, starts, horizon), time.perf_counter() - t


# ------------------------------------------------------------------------ realised


def realised_outcomes(returns: pd.DataFrame, starts: pd.DatetimeIndex, horizon: int) -> pd.DataFrame:
    """Compounded return of each strategy over ``horizon`` trading days from each start.

    Parameters
    ----------
    returns : pd.DataFrame
        Daily returns of a backtest (index: trading days, one column per strategy).
    starts : pd.DatetimeIndex
        First day of each window (a trading day of ``returns``).
    horizon : int
        Trading days per window.

    Returns
    -------
    pd.DataFrame
        Index ``starts``, one column per strategy (NaN when the window leaves the data).
    """
    growth = np.log1p(returns.fillna(0.0).to_numpy(dtype=float))
    cum = np.vstack([np.zeros((1, growth.shape[1])), np.cumsum(growth, axis=0)])
    pos = returns.index.get_indexer(pd.DatetimeIndex(starts))
    out = np.full((len(starts), returns.shape[1]), np.nan)
    for i, p in enumerate(pos):
        if p < 0 or p + horizon > len(returns):
            continue
        out[i] = np.expm1(cum[p + horizon] - cum[p])
    return pd.DataFrame(out, index=pd.DatetimeIndex(starts, name="start"), columns=returns.columns)


def calibration_table(sims: list[StartOutcome], realised: pd.DataFrame) -> pd.DataFrame:
    """One row per start and strategy: realised, PIT and the simulated p5/p50/p95."""
    rows = []
    for so in sims:
        for s, x in so.outcomes.items():
            r = float(realised.loc[so.start, s])
            q = weighted_quantiles(x, (0.05, 0.5, 0.95), so.weights)
            rows.append({"start": so.start.date().isoformat(), "strategy": s, "realised": r,
                         "pit": pit(x, r, so.weights), "p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2]),
                         "start_state": so.start_state, "state_from_rule": so.state_rule,
                         "fallback_states": ",".join(so.fallback_states)})
    return pd.DataFrame(rows, columns=["start", "strategy", "realised", "pit", "p5", "p50", "p95", "start_state",
                                       "state_from_rule", "fallback_states"])


# ------------------------------------------------------------------------ the whole backtest


@dataclass
class CalibrationRun:
    """The outcome of a calibration backtest (in memory)."""

    cfg: RunConfig
    origin: str
    sset: ScenarioSet
    md: MarketData
    paths: int
    seed: int
    every: str
    horizon: int
    overlap: float
    table: pd.DataFrame
    summary: pd.DataFrame
    histogram: pd.DataFrame
    source: str
    timings: dict[str, float]
    notes: list[str] = field(default_factory=list)
    executor: str = "local (in-process)"


def run_calibration(cfg: RunConfig, sset: ScenarioSet, *, paths: int = 200, seed: int = 0,
                    start_from: str | pd.Timestamp = "2014-01-01", every: str = "quarter",
                    origin: str = "<config>", md: MarketData | None = None, max_starts: int | None = None,
                    on_starts: Callable[[int], None] | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    executor: Any = None) -> CalibrationRun:
    """Run the calibration backtest (see the module docstring).

    The start dates are independent tasks (:class:`StartTask`) run on ``executor`` (on a
    distributed one, while this process runs the realised backtest); a start's outcome
    depends only on the data before it, the seed and the start date, so the tables are
    the same bytes whatever the executor.

    Parameters
    ----------
    cfg : RunConfig
        Strategies and execution settings.
    sset : ScenarioSet
        Scenario file (its horizon is the horizon of every window).
    paths : int
        Paths per scenario and start.
    seed : int
        Root seed.
    start_from : str or Timestamp
        First start date considered.
    every : {"quarter", "month", "year"}
        Spacing of the start dates.
    md : MarketData, optional
        Pre-loaded history (tests).
    max_starts : int, optional
        Keep only the last ``max_starts`` start dates (tests).
    on_starts : callable, optional
        Called once with the number of start dates.
    progress : callable, optional
        ``progress(done, total)`` after each start date.
    executor : Executor, optional
        :mod:`backtest.executors` executor (default: in-process). On a distributed one
        each start's task carries only the data known at its ``t0``.

    Raises
    ------
    ScenarioError
        Bad paths/seed/every, or no start date with a whole horizon inside the data.
    """
    if paths < 1:
        raise ScenarioError(f"--paths {paths}: need at least 1 path")
    if seed < 0:
        raise ScenarioError(f"--seed {seed}: must be a non-negative integer")
    t_all = time.perf_counter()
    if md is None:
        md = load_history(cfg)
    horizons = {s.horizon_days for s in sset.scenarios}
    if len(horizons) != 1:
        raise ScenarioError(f"{sset.path}: --calibrate needs one horizon for every scenario (got "
                            f"{sorted(horizons)}; use --horizon)")
    horizon = horizons.pop()
    try:
        first = pd.Timestamp(start_from)
    except (ValueError, TypeError):
        raise ScenarioError(f"--calibrate-from {start_from!r}: not a date (YYYY-MM-DD)") from None
    starts = start_dates(md.calendar, first, every, horizon)
    if max_starts is not None:
        starts = starts[-max_starts:]
    if len(starts) == 0:
        raise ScenarioError(f"--calibrate-from {first.date()}: no start date with {horizon} trading days after it "
                            f"in the data ({md.calendar[0].date()}..{md.calendar[-1].date()})")
    bt_days = md.calendar[md.calendar >= pd.Timestamp(cfg.data.start)] if cfg.data.start else md.calendar
    if len(bt_days) == 0 or bt_days[0] > starts[0]:  # before any simulation: the realised windows need it
        raise ScenarioError(f"{origin}: data.start {cfg.data.start} is after the first calibration start "
                            f"{starts[0].date()} (no realised return there; use --calibrate-from)")
    ex = executor or LocalExecutor()
    remote = bool(getattr(ex, "distributed", False))
    tasks = []
    for s in starts:  # a worker gets only the data known at the start's t0 (in process: cut there)
        data = cut_market(md, md.calendar[md.calendar < s][-1]) if remote else md
        tasks.append(StartTask(cfg, sset, data, s, paths, seed, origin, parallel=not remote))
    if on_starts is not None:
        on_starts(len(starts))
    done = [0]

    def step(_i: int) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], len(starts))

    t_map = time.perf_counter()
    if remote:  # the starts run on the workers while this process runs the realised backtest
        sims, (realised, bt_seconds) = beside(lambda: ex.map(run_start_task, tasks, progress=step),
                                              lambda: _realised(cfg, origin, md, starts, horizon))
    else:
        realised, bt_seconds = _realised(cfg, origin, md, starts, horizon)
        sims = ex.map(run_start_task, tasks, progress=step)
    miss = [s for s in realised.columns if realised[s].isna().all()]
    if miss:
        raise ScenarioError(f"{origin}: strategy {miss[0]} has no realised return in the calibration windows "
                            f"(data.start {cfg.data.start} after the first start?)")
    timings = {"realised": bt_seconds, "simulate": float(sum(x.seconds for x in sims)),
               "tasks": time.perf_counter() - t_map}
    table = calibration_table(sims, realised)
    table = table.loc[table["realised"].notna()].reset_index(drop=True)
    overlap = effective_overlap(starts, md.calendar, horizon)
    summary, hist = coverage_summary(table, overlap)
    source = "parametric" if (md.synthetic and cfg.data.source == "sample") else "bootstrap"
    notes = [f"effective sample size n/{overlap:g}: {horizon}-day windows starting every {every} overlap" if overlap > 1
             else f"effective sample size n: {horizon}-day windows starting every {every} do not overlap"]
    fb = sorted({x for so in sims for x in so.fallback_states})
    if fb:
        n_fb = sum(1 for so in sims if so.fallback_states)
        notes.append(f"{n_fb} of {len(sims)} starts: states without a rule day before the start drew from every "
                     f"usable day ({', '.join(fb)}); the summary's second verdict leaves these starts out")
    if source == "parametric":
        notes.append("parametric source (sample market): the per-regime calibration is fixed, not refitted per start")
    notes.append(f"realised: one backtest from {bt_days[0].date()} sliced per window (holdings at the start carried "
                 "in); simulations start from cash at the start")
    timings["total"] = time.perf_counter() - t_all
    return CalibrationRun(cfg, origin, sset, md, paths, seed, every, horizon, overlap, table, summary, hist,
                          source, timings, notes, ex.describe())
