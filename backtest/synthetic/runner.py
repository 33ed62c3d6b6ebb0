"""A scenario run, end to end: data -> contexts -> chunks (generate, weights, simulate) -> tables.

:func:`run_scenarios` prepares one :class:`~backtest.synthetic.model.context.ScenarioContext`
per scenario, cuts every scenario's paths into chunks, runs :func:`run_chunk` on each
chunk through an executor (in-process, or Dask workers), and aggregates the per-path
results into the tables of a :class:`~backtest.synthetic.evaluate.aggregate.ScenarioRun`
(written by :func:`backtest.synthetic.writer.write_scenario_run`).

A chunk does everything for its paths: generation, signals, strategy weights (vectorised
where possible, else ``weights()`` per path), simulation and per-path metrics. Chunks
depend only on the seed and their path indices, and the aggregation reads paths in index
order, so results are identical whatever the number of workers or the chunk size.
The per-chunk code imports neither vectorbt nor dask.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.config import RunConfig, StrategyConfig
from backtest.data.base import MarketData
from backtest.data.sample import load_calibration
from backtest.data.sources import make_source
from backtest.errors import ConfigError, DataError, ScenarioError
from backtest.execution.spec import (
    PathSpec,
    cash_growth,
    cash_rate_source,
    decision_dates,
    risk_free_paths,
)
from backtest.execution.weights import finalise_weights
from backtest.executors import LocalExecutor
from backtest.metrics_batch import path_metrics
from backtest.pipeline import required_series
from backtest.regimes.models import make_regime_model
from backtest.synthetic.duration import GENERATE, Estimate, run_chunks
from backtest.synthetic.evaluate.aggregate import ScenarioRun, aggregate
from backtest.synthetic.evaluate.records import ChunkResult, Prepared
from backtest.synthetic.evaluate.scoring import benchmark_6040, simulate_paths
from backtest.synthetic.evaluate.vector_strategies import (
    DecisionGrid,
    Unsupported,
    VectorEvaluator,
    per_path_weights,
)
from backtest.synthetic.labels.path_signals import PathSignals, asof2
from backtest.synthetic.labels.sim_labels import SimLabeler, all_history_labels, make_labeler
from backtest.synthetic.model.context import ScenarioContext, build_context, t0_before
from backtest.synthetic.model.generator import generate
from backtest.synthetic.model.liquidity_beta import estimate_betas, fixed_betas
from backtest.synthetic.model.pools import hand_written_warnings
from backtest.synthetic.model.release_cut import KnownHistory, known_history
from backtest.synthetic.scenarios import ScenarioSet
from backtest.synthetic.side.side_runs import plan_side_runs
from strategies.base import build_strategy

DEFAULT_CHUNK = 2000


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of paths of one scenario (picklable, small)."""

    ctx: ScenarioContext
    spec: PathSpec  # the execution rules (lag, costs, cash rate, cap, band), as run and tune apply them
    strategies: tuple[dict[str, Any], ...]
    origin: str
    seed: int
    p0: int
    p1: int
    grid: DecisionGrid
    history_labels: pd.DataFrame
    labeler: SimLabeler | None = None  # None: hidden state kinds
    ids: tuple[int, ...] | None = None  # only these paths (p0 <= id < p1), e.g. those that visit a state
    parallel: bool = True


def _cash_rate(ps: PathSignals, rows: np.ndarray, series: str) -> np.ndarray | None:
    """Cash rate (percent) known on each run row, (T1, P); None when cash earns nothing.

    The series is chosen by :func:`backtest.execution.spec.cash_rate_source`.
    """
    try:
        src = cash_rate_source(series, list(ps.macro))
    except ConfigError:
        raise DataError(f"cash.rate: series {series!r} is not loaded") from None
    if src is None:
        return None
    if src == "cash_rate":
        return ps.at("cash_rate", rows)
    return asof2(ps.obs(src), ps.calendar[rows])


def run_chunk(task: ChunkTask, step: Callable[[str, int], None] | None = None) -> ChunkResult:
    """Generate, evaluate, simulate and score one chunk of paths (see the module docstring).

    ``step(name, paths)``, if given, is called after the generation (``name`` =
    :data:`~backtest.synthetic.duration.GENERATE`) and after each strategy (progress).
    """

    t0 = time.perf_counter()
    ctx, st = task.ctx, task.spec
    panel = generate(ctx, task.seed, task.p0, task.p1, task.ids)
    t1 = time.perf_counter()
    ps = PathSignals(panel)
    grid = task.grid
    h_reg = task.history_labels["regime"]  # as of each date; a missing label is an unknown regime
    sim_labels = None if task.labeler is None else task.labeler.labels(panel, ps)
    ev = VectorEvaluator(panel, ps, h_reg, grid, sim_labels)
    run_rows = np.arange(ps.H - 1, len(ps.calendar))  # t0, then the simulated days
    dec_run = grid.rows - (ps.H - 1)
    rate = _cash_rate(ps, run_rows, st.cash_rate)
    cg = None if rate is None else cash_growth(rate)
    rf = risk_free_paths(ps.at("cash_rate", run_rows) if ps.supports("cash_rate") else None)
    wealth, stats, targets, cols_out, per_path = {}, {}, {}, {}, []
    t_w = t_s = 0.0
    per_strategy: dict[str, float] = {}
    if step is not None:
        step(GENERATE, panel.paths)
    for scfg in task.strategies:
        sc = StrategyConfig.model_validate(scfg)
        strat = build_strategy(sc, task.origin)
        tw = time.perf_counter()
        try:
            w, cols = ev.weights(strat)
        except Unsupported:
            w, cols = per_path_weights(strat, panel, grid, task.history_labels, sim_labels=sim_labels)
            per_path.append(sc.name)
        avail = ev._available(cols).astype(bool)
        w, _, _ = finalise_weights(w, avail, st.max_gross)
        t_w += time.perf_counter() - tw
        ts = time.perf_counter()
        idx = [ctx.tickers.index(c) for c in cols]
        rets = np.zeros((panel.paths, len(run_rows), len(cols)))
        rets[:, 1:] = panel.returns[:, :, idx]
        val = simulate_paths(ctx.start_prices[idx], rets, w, dec_run, st, cols, cash_growth=cg,
                             parallel=task.parallel)
        wealth[sc.name] = val
        stats[sc.name] = path_metrics(val, rf)
        targets[sc.name] = w.astype(np.float32)
        cols_out[sc.name] = cols
        t_s += time.perf_counter() - ts
        per_strategy[f"strategy:{sc.name}"] = time.perf_counter() - tw
        if step is not None:
            step(sc.name, panel.paths)
    counts = np.bincount(panel.states.ravel().astype(np.int64), minlength=len(ctx.states))
    return ChunkResult(ctx.scenario.name, task.p0, task.p1, wealth, stats, targets, cols_out, counts, per_path,
                       {"generate": t1 - t0, "weights": t_w, "simulate": t_s, "total": time.perf_counter() - t0,
                        **per_strategy}, asset_returns=np.prod(1.0 + panel.returns, axis=1) - 1.0,
                       ids=task.ids)


# ------------------------------------------------------------------------ preparation


def load_history(cfg: RunConfig) -> MarketData:
    """All the history a scenario run needs (no start/end cut: analogues span the data)."""

    tickers, macro = required_series(cfg)
    return make_source(cfg.data).load(tickers, macro, None, None)


def prepare(cfg: RunConfig, sset: ScenarioSet, origin: str = "<config>", md: MarketData | None = None,
            adjust: Callable[..., tuple[ScenarioSet, dict, list[str]]] | None = None) -> Prepared:
    """Load data, estimate betas, resolve analogues and build every scenario's context.

    Each scenario reads only the data known at the close of its ``t0``
    (:func:`~backtest.synthetic.model.release_cut.known_history`: prices to ``t0``, macro
    observations released by ``t0``), unless its pools may use the forecast period
    (``include_forecast_period``). ``adjust(sset, periods, history) -> (sset, periods,
    notes)``, when given, may change the set and the resolved pools before the contexts
    are built (the calibration backtest: start state of the day, fallback pools); rules
    no day meets then give an empty period list instead of an error.

    Raises
    ------
    ScenarioError
        Analogue periods without data, a start outside the data.
    DataError
        Missing series or tickers.
    """

    tickers, _ = required_series(cfg)
    if md is None:
        md = load_history(cfg)
    source = "parametric" if (md.synthetic and cfg.data.source == "sample") else "bootstrap"
    notes: list[str] = []
    peek = bool(sset.spec.include_forecast_period)
    t0s = {sc.name: t0_before(md.calendar, sc) for sc in sset.scenarios}
    by_t0: dict[pd.Timestamp, KnownHistory] = {}
    for t0 in dict.fromkeys(t0s.values()):
        kh = known_history(md, t0, sset, list(tickers), strict=source == "bootstrap" and adjust is None, cut=not peek,
                           drop_future=adjust is None)
        if adjust is not None:
            sset, periods, more = adjust(sset, kh.periods, kh.history)
            kh = dataclasses.replace(kh, periods=periods)
            notes.extend(more)
        by_t0[t0] = kh
    known = {sc.name: by_t0[t0s[sc.name]] for sc in sset.scenarios}
    first = known[sset.scenarios[0].name]
    warnings = hand_written_warnings(sset)
    liq = sset.spec.liquidity
    if source == "bootstrap":
        b_end = None if liq.beta_end is None else pd.Timestamp(liq.beta_end)
        beta_md = md
        if not peek:  # no peeking: betas from weeks up to the earliest t0, on what was known then
            first_t0 = min(t0s.values())
            b_end = first_t0 if b_end is None else min(b_end, first_t0)
            beta_md = by_t0[first_t0].md
        betas = estimate_betas(beta_md, list(tickers), pd.Timestamp(liq.beta_start), b_end, liq.newey_west_lags)
    else:
        betas = fixed_betas({t: v for t, v in liq.sample_betas.items()}, list(tickers),
                            "fixed: liquidity.sample_betas of the scenario file (estimated on the real data)",
                            liq.sample_ses)
        if not liq.sample_betas:
            notes.append("no liquidity.sample_betas in the scenario file: the RMP pace does not move asset drifts")
        elif not liq.sample_ses:
            notes.append("no liquidity.sample_ses in the scenario file: every path uses the fixed sample_betas")
    betas = betas.scaled(liq.beta_scale)
    calib = None
    if source == "parametric":
        calib = load_calibration()
    model = make_regime_model(cfg.regimes)
    contexts, grids, labels, labelers = {}, {}, {}, {}
    full = {t0: all_history_labels(model, cfg.regimes.model, sset.spec.labels, source, kh.md, kh.history.dates)
            for t0, kh in by_t0.items()}
    for sc in sset.scenarios:
        kh = known[sc.name]
        ctx = build_context(kh.history, sset, sc, source=source, beta=betas.vector(list(tickers)),
                            periods=kh.periods, calib=calib, beta_se=betas.se_vector(list(tickers)),
                            beta_corr=betas.corr_matrix(list(tickers)))
        contexts[sc.name] = ctx
        hl = model.label(ctx.history, ctx.history.calendar)
        labels[sc.name] = hl
        labelers[sc.name] = make_labeler(sset.spec.labels, model, cfg.regimes.model, ctx, hl, full[kh.t0], kh.md)
        run_days = pd.DatetimeIndex([ctx.t0]).append(ctx.days)
        dates = decision_dates(run_days, cfg.rebalance.every)
        cal = ctx.history.calendar.append(ctx.days)
        grids[sc.name] = DecisionGrid(pd.DatetimeIndex(dates), cal.get_indexer(dates).astype(np.int64))
    notes.extend(sorted({lab.note for lab in labelers.values()}))
    return Prepared(cfg, origin, sset, md, source, first.history, betas, contexts, grids, labels, first.periods,
                    notes, warnings, labelers, known, calib)


def make_tasks(prep: Prepared, paths: int, seed: int, chunk_size: int, parallel: bool,
               start: int = 0) -> list[ChunkTask]:
    """Chunks of every scenario, scenario by scenario, in path order (from path ``start``)."""
    spec = PathSpec.from_config(prep.cfg)
    strategies = tuple(s.model_dump() for s in prep.cfg.strategies)
    tickers = list(next(iter(prep.contexts.values())).tickers) if prep.contexts else []
    _, extra = benchmark_6040(list(strategies), prep.cfg.benchmark, tickers)
    if extra is not None:  # P(beat 60/40) pairs against a 60/40 the config lacks (dropped from tables)
        strategies = (*strategies, extra)
    tasks = []
    for name, ctx in prep.contexts.items():
        for p0 in range(start, paths, chunk_size):
            tasks.append(ChunkTask(ctx, spec, strategies, prep.origin, int(seed), p0, min(paths, p0 + chunk_size),
                                   prep.grids[name], prep.labels[name], prep.labelers.get(name), parallel=parallel))
    return tasks


# ------------------------------------------------------------------------ the whole run


def run_scenarios(cfg: RunConfig, sset: ScenarioSet, *, paths: int, seed: int, origin: str = "<config>",
                  chunk_size: int | None = None, executor: Any = None, md: MarketData | None = None,
                  progress: Callable[[float, float], None] | None = None,
                  on_prepared: Callable[[Prepared, int], None] | None = None,
                  on_estimate: Callable[[Estimate], None] | None = None,
                  pace_effect_paths: int | None = None, channel_effect_paths: int | None = None,
                  sensitivity_paths: int | None = None) -> ScenarioRun:
    """Score every strategy of ``cfg`` on ``paths`` paths of every scenario of ``sset``.

    Parameters
    ----------
    cfg : RunConfig
    sset : ScenarioSet
    paths : int
        Paths per scenario.
    seed : int
        Root seed (paths draw from ``SeedSequence(seed, spawn_key=(scenario, path))``).
    chunk_size : int, optional
        Paths per chunk (default 2000); results do not depend on it.
    executor : Executor, optional
        ``backtest.executors`` executor (default: in-process).
    md : MarketData, optional
        Pre-loaded history (tests).
    progress : callable, optional
        ``progress(done, total)`` as work completes: after each strategy of a chunk with
        in-process executors, after each chunk otherwise. Units: estimated seconds with
        ``on_estimate``, else path x strategy evaluations.
    on_prepared : callable, optional
        Called once with the prepared run and the number of chunks.
    on_estimate : callable, optional
        Time two pilot chunks per scenario first (kept as chunks of the run:
        :mod:`backtest.synthetic.duration`) and call this with the :class:`Estimate`
        of the remaining chunks (the side measurements' included) before they start.
    pace_effect_paths : int, optional
        Paths of the pace-effect measurement (default ``min(paths, 500)``; 0 skips it;
        :mod:`backtest.synthetic.side.pace_effect`).
    channel_effect_paths : int, optional
        Paths per scenario of the liquidity channel's total effect (default
        ``min(paths, 200)``; 0 skips it; :mod:`backtest.synthetic.side.channel_effect`).
    sensitivity_paths : int, optional
        Paths per scenario of the leave-one-episode-out reruns (default
        ``min(paths, 100)``; 0 skips them; :mod:`backtest.synthetic.side.pool_sensitivity`).
    """

    if paths < 1:
        raise ScenarioError(f"--paths {paths}: need at least 1 path")
    if seed < 0:
        raise ScenarioError(f"--seed {seed}: must be a non-negative integer")
    t0 = time.perf_counter()
    prep = prepare(cfg, sset, origin, md)
    t1 = time.perf_counter()
    ex = executor or LocalExecutor()
    size = int(chunk_size or DEFAULT_CHUNK)
    if size < 1:
        raise ScenarioError(f"--chunk-size {size}: must be at least 1")
    local = not getattr(ex, "distributed", False)
    main_tasks = make_tasks(prep, paths, seed, size, local)
    side = plan_side_runs(prep, main_tasks, paths, seed, pace_effect_paths=pace_effect_paths,
                          channel_effect_paths=channel_effect_paths, sensitivity_paths=sensitivity_paths)
    if on_prepared is not None:
        on_prepared(prep, len(main_tasks) + len(side.tasks))
    done = run_chunks(lambda n, c, par, p0: make_tasks(prep, n, seed, c, par, p0), run_chunk, ex, paths, size,
                      progress, on_estimate, extra=side.tasks)
    cut = len(done) - len(side.tasks)
    results = done[:cut]
    t2 = time.perf_counter()
    timings = {"prepare": t1 - t0, "chunks": t2 - t1}
    for k in ("generate", "weights", "simulate"):
        timings[f"chunk_{k}_sum"] = float(sum(r.seconds[k] for r in results))
    out = aggregate(prep, results, paths, seed, size, ex.describe(), timings)
    side.score(out, results, done[cut:], seed)
    timings["aggregate"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    return out

__all__ = [
    "ChunkTask",
    "prepare",
    "run_chunk",
    "run_scenarios",
]
