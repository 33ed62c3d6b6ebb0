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

Verdict (per strategy and pooled): one-year windows that start every quarter overlap, so
``n`` start dates carry about ``n / 4`` independent outcomes (in general ``n`` divided by
the horizon over the spacing of the starts). A two-sided binomial test of the 90% band's
coverage against 0.90 on that effective sample size at the 5% level gives
"overconfident" (coverage far below 0.90: the simulated spread is too narrow),
"underconfident" (far above) or "calibrated within sampling error". The pooled row uses
the same effective sample size: strategies' outcomes at one start are strongly correlated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from backtest.config import RunConfig
from backtest.data.base import MarketData
from backtest.errors import RmpbtError, ScenarioError
from backtest.pipeline import run_backtest
from backtest.synthetic.bootstrap import build_pool
from backtest.synthetic.release_cut import cut_market  # one home (re-exported)
from backtest.synthetic.runner import Prepared, load_history, make_tasks, prepare, run_chunk
from backtest.synthetic.scenarios import Period, ScenarioSet
from backtest.synthetic.scoring import weighted_quantiles

__all__ = [
    "ALL",
    "BANDS",
    "band_p_value",
    "EVERY",
    "CalibrationRun",
    "StartOutcome",
    "calibration_table",
    "coverage_summary",
    "cut_market",
    "effective_overlap",
    "pit",
    "pit_histogram",
    "realised_outcomes",
    "run_calibration",
    "simulate_start",
    "start_dates",
    "verdict",
]

EVERY = {"quarter": "QS", "month": "MS", "year": "YS"}
BANDS = (0.5, 0.9)
PIT_BINS = 10
ALPHA = 0.05
ALL = "all strategies"
OVERCONFIDENT = "overconfident"
UNDERCONFIDENT = "underconfident"
CALIBRATED = "calibrated within sampling error"


# ------------------------------------------------------------------------ statistics


def pit(sim: np.ndarray, realised: float, weights: np.ndarray | None = None) -> float:
    """Weighted share of simulated outcomes below ``realised`` (ties count half).

    Parameters
    ----------
    sim : np.ndarray, shape (n,)
        Simulated outcomes.
    realised : float
        The realised outcome.
    weights : np.ndarray, shape (n,), optional
        Weights of the outcomes (mixture probabilities / paths); equal by default.

    Returns
    -------
    float
        PIT in [0, 1] (NaN when ``realised`` is not finite or nothing was simulated).
    """
    x = np.asarray(sim, dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(x)
    x, w = x[ok], w[ok]
    if not np.isfinite(realised) or len(x) == 0 or w.sum() <= 0:
        return float("nan")
    below = w[x < realised].sum() + 0.5 * w[x == realised].sum()
    return float(below / w.sum())


def in_band(p: np.ndarray, level: float) -> np.ndarray:
    """Whether each PIT lies in the central ``level`` band, ``[(1-level)/2, (1+level)/2]``."""
    p = np.asarray(p, dtype=float)
    lo, hi = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    return (p >= lo - 1e-12) & (p <= hi + 1e-12)


def pit_histogram(p: np.ndarray, bins: int = PIT_BINS) -> np.ndarray:
    """Counts of PITs in ``bins`` equal bins of [0, 1] (1.0 falls in the last bin)."""
    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p)]
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    return np.bincount(idx, minlength=bins)


def effective_overlap(starts: pd.DatetimeIndex, calendar: pd.DatetimeIndex, horizon: int) -> float:
    """Windows per independent outcome: horizon over the median spacing of the starts (>= 1).

    One-year windows (252 days) starting every quarter (about 63 days) give 4.
    """
    if len(starts) < 2:
        return 1.0
    pos = calendar.get_indexer(pd.DatetimeIndex(starts))
    step = float(np.median(np.diff(pos)))
    return max(1.0, float(round(horizon / step))) if step > 0 else 1.0


def band_p_value(cover: float, n_eff: float, level: float) -> float:
    """Two-sided exact binomial p-value of a band's coverage against ``level`` on ``n_eff`` outcomes."""
    if not np.isfinite(cover) or n_eff <= 0:
        return float("nan")
    m = max(1, int(round(n_eff)))
    return float(binomtest(int(round(cover * m)), m, level).pvalue)


def verdict(cover90: float, n: int, overlap: float = 4.0, alpha: float = ALPHA) -> tuple[str, float, float]:
    """Verdict on the 90% band's coverage: a binomial test on the effective sample size.

    Parameters
    ----------
    cover90 : float
        Share of realised outcomes inside the central 90% band.
    n : int
        Start dates (outcomes).
    overlap : float
        Overlapping windows per independent outcome (``n_eff = n / overlap``).
    alpha : float
        Two-sided level of the test.

    Returns
    -------
    tuple
        ``(verdict, p_value, n_eff)``; verdict is ``"overconfident"``, ``"underconfident"``
        or ``"calibrated within sampling error"``.
    """
    n_eff = n / max(overlap, 1.0)
    if n < 1 or not np.isfinite(cover90):
        return CALIBRATED, float("nan"), float(n_eff)
    pv = band_p_value(cover90, n_eff, 0.9)
    if pv < alpha:
        return (OVERCONFIDENT if cover90 < 0.9 else UNDERCONFIDENT), pv, float(n_eff)
    return CALIBRATED, pv, float(n_eff)


def coverage_summary(table: pd.DataFrame, overlap: float = 4.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coverage, mean PIT, verdict per strategy and pooled; the PIT histogram.

    Parameters
    ----------
    table : pd.DataFrame
        :func:`calibration_table` (columns ``strategy``, ``pit``, ...).
    overlap : float
        See :func:`verdict`.

    Returns
    -------
    summary : pd.DataFrame
        ``strategy, n, n_eff, cover50, cover90, mean_pit, below_p5, above_p95,
        p_value90, p_value50, verdict`` (last row: :data:`ALL`, pooled over strategies;
        ``p_value50``: the same test of the 50% band against 0.50, for information).
    histogram : pd.DataFrame
        ``strategy, bin, lo, hi, count`` (10 bins, also pooled).
    """
    rows, hist = [], []
    groups = [(s, g["pit"].to_numpy(dtype=float)) for s, g in table.groupby("strategy", sort=False)]
    n_starts = table["start"].nunique() if len(table) else 0
    groups.append((ALL, table["pit"].to_numpy(dtype=float)))
    for name, p in groups:
        p = p[np.isfinite(p)]
        n = len(p)
        c50 = float(in_band(p, 0.5).mean()) if n else float("nan")
        c90 = float(in_band(p, 0.9).mean()) if n else float("nan")
        n_test = n if name != ALL else n_starts  # pooled: correlated across strategies
        v, pv, n_eff = verdict(c90, n_test, overlap)
        pv50 = band_p_value(c50, n_eff, 0.5)
        rows.append({"strategy": name, "n": n, "n_eff": n_eff, "cover50": c50, "cover90": c90,
                     "mean_pit": float(p.mean()) if n else float("nan"),
                     "below_p5": float((p < 0.05).mean()) if n else float("nan"),
                     "above_p95": float((p > 0.95).mean()) if n else float("nan"),
                     "p_value90": pv, "p_value50": pv50, "verdict": v})
        for b, c in enumerate(pit_histogram(p)):
            hist.append({"strategy": name, "bin": b, "lo": b / PIT_BINS, "hi": (b + 1) / PIT_BINS, "count": int(c)})
    return pd.DataFrame(rows), pd.DataFrame(hist, columns=["strategy", "bin", "lo", "hi", "count"])


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
                   seed: int, origin: str = "<config>") -> StartOutcome:
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
    tasks = make_tasks(prep, paths, start_seed(seed, start), paths, parallel=True)
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


def run_calibration(cfg: RunConfig, sset: ScenarioSet, *, paths: int = 200, seed: int = 0,
                    start_from: str | pd.Timestamp = "2014-01-01", every: str = "quarter",
                    origin: str = "<config>", md: MarketData | None = None, max_starts: int | None = None,
                    on_starts: Callable[[int], None] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> CalibrationRun:
    """Run the calibration backtest (see the module docstring).

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
    t = time.perf_counter()
    bt = run_backtest(cfg, origin, md=md)
    realised = realised_outcomes(bt.returns, starts, horizon)
    miss = [s for s in realised.columns if realised[s].isna().all()]
    if miss:
        raise ScenarioError(f"{origin}: strategy {miss[0]} has no realised return in the calibration windows "
                            f"(data.start {cfg.data.start} after the first start?)")
    timings = {"realised": time.perf_counter() - t}
    if on_starts is not None:  # after the realised backtest: time left is per start
        on_starts(len(starts))
    sims = []
    for i, s in enumerate(starts):
        try:
            sims.append(simulate_start(cfg, sset, md, s, paths=paths, seed=seed, origin=origin))
        except RmpbtError as exc:  # name the start date in the one-line message
            raise type(exc)(f"calibration start {s.date()}: {exc}") from None
        if progress is not None:
            progress(i + 1, len(starts))
    timings["simulate"] = float(sum(x.seconds for x in sims))
    table = calibration_table(sims, realised)
    table = table.loc[table["realised"].notna()].reset_index(drop=True)
    overlap = effective_overlap(starts, md.calendar, horizon)
    summary, hist = coverage_summary(table, overlap)
    source = "parametric" if (md.synthetic and cfg.data.source == "sample") else "bootstrap"
    notes = [f"effective sample size n/{overlap:g}: {horizon}-day windows starting every {every} overlap"]
    fb = sorted({x for so in sims for x in so.fallback_states})
    if fb:
        n_fb = sum(1 for so in sims if so.fallback_states)
        notes.append(f"{n_fb} of {len(sims)} starts: states without a rule day before the start drew from every "
                     f"usable day ({', '.join(fb)})")
    if source == "parametric":
        notes.append("parametric source (sample market): the per-regime calibration is fixed, not refitted per start")
    bt_start = bt.returns.index[0].date()
    notes.append(f"realised: one backtest from {bt_start} sliced per window (holdings at the start carried in); "
                 "simulations start from cash at the start")
    timings["total"] = time.perf_counter() - t_all
    return CalibrationRun(cfg, origin, sset, md, paths, seed, every, horizon, overlap, table, summary, hist,
                          source, timings, notes)
