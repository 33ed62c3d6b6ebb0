"""A scenario run, end to end: data -> contexts -> chunks (generate, weights, simulate) -> tables.

:func:`run_scenarios` prepares one :class:`~backtest.synthetic.generator.ScenarioContext`
per scenario, cuts every scenario's paths into chunks, runs :func:`run_chunk` on each
chunk through an executor (in-process, or Dask workers), and aggregates the per-path
results into the tables of the run folder (:func:`write_scenario_run`).

A chunk does everything for its paths: generation, signals, strategy weights (vectorised
where possible, else ``weights()`` per path), simulation and per-path metrics. Chunks
depend only on the seed and their path indices, and the aggregation reads paths in index
order, so results are identical whatever the number of workers or the chunk size.
The per-chunk code imports neither vectorbt nor dask.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from backtest.config import RunConfig, StrategyConfig, dump_yaml
from backtest.data.base import MarketData
from backtest.data.sample import load_calibration
from backtest.data.sources import make_source
from backtest.errors import ConfigError, DataError, ScenarioError
from backtest.execution.spec import Costs, cash_growth, cash_rate_source, risk_free_paths
from backtest.execution.weights import finalise_weights
from backtest.executors import LocalExecutor
from backtest.metrics import METRIC_COLUMNS
from backtest.pipeline import decision_dates, required_series
from backtest.regimes.models import make_regime_model
from backtest.report.scenario_page import render_scenario_page
from backtest.results import (
    FORMAT_VERSION,
    atomic_run_dir,
    final_path,
    git_commit,
    make_run_id,
    package_versions,
    write_json,
)
from backtest.synthetic.bootstrap import pool_ranges
from backtest.synthetic.generator import History, ScenarioContext, build_context, generate
from backtest.synthetic.liquidity_beta import LiquidityBetas, estimate_betas, fixed_betas
from backtest.synthetic.path_signals import PathSignals, asof2
from backtest.synthetic.pools import hand_written_warnings, pool_signals, resolve_analogues
from backtest.synthetic.scenarios import MIX, ScenarioSet
from backtest.synthetic.scoring import (
    PATH_STATS,
    SCENARIO_STATS,
    mixture_quantiles,
    path_metrics,
    regret_table,
    simulate_paths,
    summarise,
    weighted_quantiles,
)
from backtest.synthetic.vector_strategies import (
    DecisionGrid,
    Unsupported,
    VectorEvaluator,
    per_path_weights,
)
from strategies.base import build_strategy

DEFAULT_CHUNK = 2000
FAN_Q = (0.05, 0.25, 0.50, 0.75, 0.95)


@dataclass(frozen=True)
class RunSettings:
    """What a chunk needs from the run config (picklable, small)."""

    strategies: tuple[dict[str, Any], ...]
    origin: str
    lag_days: int
    costs: Costs
    cash_rate: str
    max_gross: float
    drift_band: float | None
    parallel: bool = True


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of paths of one scenario."""

    ctx: ScenarioContext
    settings: RunSettings
    seed: int
    p0: int
    p1: int
    grid: DecisionGrid
    history_labels: pd.DataFrame


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


def settings_from_config(cfg: RunConfig, origin: str, parallel: bool) -> RunSettings:
    """The chunk settings of a run config."""
    return RunSettings(
        strategies=tuple(s.model_dump() for s in cfg.strategies), origin=origin,
        lag_days=int(cfg.execution.lag_days),
        costs=Costs.from_config(cfg),
        cash_rate=cfg.cash.rate, max_gross=float(cfg.execution.max_gross_leverage),
        drift_band=cfg.rebalance.drift_band, parallel=parallel,
    )


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


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Generate, evaluate, simulate and score one chunk of paths (see the module docstring)."""

    t0 = time.perf_counter()
    ctx, st = task.ctx, task.settings
    panel = generate(ctx, task.seed, task.p0, task.p1)
    t1 = time.perf_counter()
    ps = PathSignals(panel)
    grid = task.grid
    h_reg = task.history_labels["regime"]  # as of each date; a missing label is an unknown regime
    ev = VectorEvaluator(panel, ps, h_reg, grid)
    run_rows = np.arange(ps.H - 1, len(ps.calendar))  # t0, then the simulated days
    dec_run = grid.rows - (ps.H - 1)
    rate = _cash_rate(ps, run_rows, st.cash_rate)
    cg = None if rate is None else cash_growth(rate)
    rf = risk_free_paths(ps.at("cash_rate", run_rows) if ps.supports("cash_rate") else None)
    wealth, stats, targets, cols_out, per_path = {}, {}, {}, {}, []
    t_w = t_s = 0.0
    for scfg in st.strategies:
        sc = StrategyConfig.model_validate(scfg)
        strat = build_strategy(sc, st.origin)
        tw = time.perf_counter()
        try:
            w, cols = ev.weights(strat)
        except Unsupported:
            w, cols = per_path_weights(strat, panel, grid, task.history_labels)
            per_path.append(sc.name)
        avail = ev._available(cols).astype(bool)
        w, _, _ = finalise_weights(w, avail, st.max_gross)
        t_w += time.perf_counter() - tw
        ts = time.perf_counter()
        idx = [ctx.tickers.index(c) for c in cols]
        rets = np.zeros((panel.paths, len(run_rows), len(cols)))
        rets[:, 1:] = panel.returns[:, :, idx]
        val = simulate_paths(ctx.start_prices[idx], rets, w, dec_run, st.lag_days, fee=st.costs.fee,
                             slippage=st.costs.slippage, borrow_bps=st.costs.borrow_vector(cols), cash_growth=cg, drift_band=st.drift_band,
                             parallel=st.parallel, borrow_spread_bps=st.costs.borrow_spread_bps)
        wealth[sc.name] = val
        stats[sc.name] = path_metrics(val, rf)
        targets[sc.name] = w.astype(np.float32)
        cols_out[sc.name] = cols
        t_s += time.perf_counter() - ts
    counts = np.bincount(panel.states.ravel().astype(np.int64), minlength=len(ctx.states))
    return ChunkResult(ctx.scenario.name, task.p0, task.p1, wealth, stats, targets, cols_out, counts, per_path,
                       {"generate": t1 - t0, "weights": t_w, "simulate": t_s, "total": time.perf_counter() - t0})


# ------------------------------------------------------------------------ preparation


@dataclass
class Prepared:
    """Everything computed before the chunks run."""

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


def load_history(cfg: RunConfig) -> MarketData:
    """All the history a scenario run needs (no start/end cut: analogues span the data)."""

    tickers, macro = required_series(cfg)
    return make_source(cfg.data).load(tickers, macro, None, None)


def prepare(cfg: RunConfig, sset: ScenarioSet, origin: str = "<config>", md: MarketData | None = None) -> Prepared:
    """Load data, estimate betas, resolve analogues and build every scenario's context.

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
    hist = History.from_market(md, tickers)
    notes: list[str] = []

    signals = pool_signals(md, hist.dates)
    if source == "bootstrap":
        need, names = hist.need_matrix()
        periods = resolve_analogues(sset, hist.dates, need=need, need_names=names, signals=signals)
    else:
        periods = resolve_analogues(sset, hist.dates, signals=signals, allow_empty=True)
    warnings = hand_written_warnings(sset)
    liq = sset.spec.liquidity
    if source == "bootstrap":
        betas = estimate_betas(md, list(tickers), pd.Timestamp(liq.beta_start),
                               None if liq.beta_end is None else pd.Timestamp(liq.beta_end), liq.newey_west_lags)
    else:
        betas = fixed_betas({t: v for t, v in liq.sample_betas.items()}, list(tickers),
                            "fixed: liquidity.sample_betas of the scenario file (estimated on the real data)")
        if not liq.sample_betas:
            notes.append("no liquidity.sample_betas in the scenario file: the RMP pace does not move asset drifts")
    betas = betas.scaled(liq.beta_scale)
    calib = None
    if source == "parametric":

        calib = load_calibration()
    model = make_regime_model(cfg.regimes)
    contexts, grids, labels = {}, {}, {}
    for sc in sset.scenarios:
        ctx = build_context(hist, sset, sc, source=source, beta=betas.vector(list(tickers)), periods=periods,
                            calib=calib)
        contexts[sc.name] = ctx
        hl = model.label(ctx.history, ctx.history.calendar)
        labels[sc.name] = hl
        run_days = pd.DatetimeIndex([ctx.t0]).append(ctx.days)
        dates = decision_dates(run_days, cfg.rebalance.every)
        cal = ctx.history.calendar.append(ctx.days)
        grids[sc.name] = DecisionGrid(pd.DatetimeIndex(dates), cal.get_indexer(dates).astype(np.int64))
    if cfg.regimes.model != "calendar":
        notes.append(f"regimes.model {cfg.regimes.model}: history days use it; simulated days are labelled with "
                     "their state's regime kind (the scenario's own calendar)")
    return Prepared(cfg, origin, sset, md, source, hist, betas, contexts, grids, labels, periods, notes, warnings)


def make_tasks(prep: Prepared, paths: int, seed: int, chunk_size: int, parallel: bool) -> list[ChunkTask]:
    """Chunks of every scenario, scenario by scenario, in path order."""
    st = settings_from_config(prep.cfg, prep.origin, parallel)
    tasks = []
    for name, ctx in prep.contexts.items():
        for p0 in range(0, paths, chunk_size):
            tasks.append(ChunkTask(ctx, st, int(seed), p0, min(paths, p0 + chunk_size), prep.grids[name],
                                   prep.labels[name]))
    return tasks


# ------------------------------------------------------------------------ aggregation


@dataclass
class ScenarioRun:
    """The outcome of a scenario run (in memory)."""

    prep: Prepared
    paths: int
    seed: int
    chunk_size: int
    executor: str
    scenario_metrics: pd.DataFrame
    regret: pd.DataFrame
    fan: pd.DataFrame
    metrics: pd.DataFrame
    returns: pd.DataFrame
    weights: pd.DataFrame
    occupancy: pd.DataFrame
    per_path: dict[str, list[str]]
    timings: dict[str, float]
    notes: list[str]


def _concat(results: list[ChunkResult], pick: Callable[[ChunkResult], np.ndarray]) -> np.ndarray:
    return np.concatenate([pick(r) for r in sorted(results, key=lambda r: r.p0)], axis=0)


def aggregate(prep: Prepared, results: list[ChunkResult], paths: int, seed: int, chunk_size: int, executor: str,
              timings: dict[str, float]) -> ScenarioRun:
    """Distributions per strategy x scenario, the mix, regret, fans and the contract tables."""

    sset = prep.sset
    mix = sset.mix
    names = [s.name for s in sset.scenarios]
    strategies = [s.name for s in prep.cfg.strategies]
    by_sc = {n: [r for r in results if r.scenario == n] for n in names}
    stats = {n: {s: {k: _concat(by_sc[n], lambda r, s=s, k=k: r.stats[s][k]) for k in PATH_STATS} for s in strategies}
             for n in names}
    wealth = {n: {s: _concat(by_sc[n], lambda r, s=s: r.wealth[s]) for s in strategies} for n in names}
    mix_names = [n for n in names if n in mix]
    rows = []
    for s in strategies:
        for n in names:
            for st, d in summarise(stats[n][s]).items():
                rows.append({"strategy": s, "scenario": n, "statistic": st, **d})
        if mix_names:
            w = np.concatenate([np.full(len(stats[n][s]["horizon_return"]), mix[n] / paths) for n in mix_names])
            pooled = {k: np.concatenate([stats[n][s][k] for n in mix_names]) for k in PATH_STATS}
            for st, d in summarise(pooled, w).items():
                rows.append({"strategy": s, "scenario": MIX, "statistic": st, **d})
    sm = pd.DataFrame(rows, columns=["strategy", "scenario", "statistic", "mean", "median", "p5", "p25", "p75", "p95"])
    order = {st: i for i, st in enumerate(SCENARIO_STATS)}
    sm = sm.sort_values(["strategy", "statistic", "scenario"], key=lambda c: c.map(order) if c.name == "statistic"
                        else (c.map({**{n: i for i, n in enumerate(names)}, MIX: len(names)}) if c.name == "scenario"
                              else c.map({s: i for i, s in enumerate(strategies)})), kind="stable")
    sm = sm.reset_index(drop=True)
    # regret on the configured statistic and summary
    spec = sset.spec.scoring
    piv = sm.loc[sm["statistic"] == spec.regret_statistic].pivot(index="strategy", columns="scenario",
                                                                 values=spec.regret_summary)
    piv = piv.reindex(index=strategies, columns=[c for c in [*names, MIX] if c in piv.columns])
    regret = regret_table(piv, {n: mix[n] for n in mix_names}, f"{spec.regret_summary} {spec.regret_statistic}")
    # fans of cumulative wealth
    fan_rows = []
    for s in strategies:
        for n in names:
            fan_rows.append(_fan_frame(s, n, mixture_quantiles([wealth[n][s]], [1.0], FAN_Q)))
        if mix_names and _same_calendar(prep, mix_names):
            q = mixture_quantiles([wealth[n][s] for n in mix_names], [mix[n] / paths for n in mix_names], FAN_Q)
            fan_rows.append(_fan_frame(s, MIX, q))
    fan = pd.concat(fan_rows, ignore_index=True)
    # contract tables: medians of the mix (or of the first scenario without a mix)
    ref = mix_names or names[:1]
    ref_ctx = prep.contexts[ref[0]]
    run_days = pd.DatetimeIndex([ref_ctx.t0]).append(ref_ctx.days)
    met_rows, ret_cols = {}, {}
    same = _same_calendar(prep, ref)
    for s in strategies:
        use = ref if same else ref[:1]
        w = np.concatenate([np.full(paths, (mix.get(n, 1.0) if mix_names else 1.0) / paths) for n in use])
        pooled = {k: np.concatenate([stats[n][s][k] for n in use]) for k in PATH_STATS}
        med = {k: float(weighted_quantiles(v, (0.5,), w)[0]) for k, v in pooled.items()}
        met_rows[s] = {"total_return": med["horizon_return"], "cagr": med["cagr"], "ann_vol": med["ann_vol"],
                       "sharpe": med["sharpe"], "sortino": med["sortino"], "max_drawdown": med["max_drawdown"],
                       "calmar": med["calmar"], "turnover": np.nan, "hit_rate": med["hit_rate"],
                       "worst_day": med["worst_day"], "best_day": med["best_day"], "cvar_5": med["daily_cvar_5"]}
        p50 = mixture_quantiles([wealth[n][s] for n in use],
                                [(mix.get(n, 1.0) if mix_names else 1.0) / paths for n in use], (0.5,))[0]
        ret_cols[s] = p50 / np.concatenate([[1.0], p50[:-1]]) - 1.0
    metrics = pd.DataFrame.from_dict(met_rows, orient="index")[METRIC_COLUMNS]
    metrics.index.name = "strategy"
    returns = pd.DataFrame(ret_cols, index=pd.DatetimeIndex(run_days, name="date"))
    weights = _mean_weights(prep, by_sc, ref if same else ref[:1], mix if mix_names else {}, strategies)
    occ = []
    for n in names:
        counts = np.sum([r.state_days for r in by_sc[n]], axis=0)
        tot = counts.sum()
        for i, stn in enumerate(sset.states):
            occ.append({"scenario": n, "state": stn, "share_of_days": float(counts[i] / tot) if tot else np.nan})
    per_path = {n: sorted({s for r in by_sc[n] for s in r.per_path}) for n in names}
    notes = list(prep.notes)
    slow = sorted({s for v in per_path.values() for s in v})
    if slow:
        notes.append(f"no vectorised form, evaluated path by path (slow): {', '.join(slow)}")
    return ScenarioRun(prep, paths, seed, chunk_size, executor, sm, regret, fan, metrics, returns, weights,
                       pd.DataFrame(occ), per_path, timings, notes)


def _same_calendar(prep: Prepared, names: list[str]) -> bool:
    cals = {(prep.contexts[n].t0, len(prep.contexts[n].days)) for n in names}
    return len(cals) == 1


def _fan_frame(strategy: str, scenario: str, q: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"strategy": strategy, "scenario": scenario, "day": np.arange(q.shape[1]),
                         "p5": q[0], "p25": q[1], "p50": q[2], "p75": q[3], "p95": q[4]})


def _mean_weights(prep: Prepared, by_sc: dict[str, list[ChunkResult]], use: list[str], mix: dict[str, float],
                  strategies: list[str]) -> pd.DataFrame:
    """Expected target weights per decision date (probability-weighted over ``use``)."""
    grid = prep.grids[use[0]]
    parts = []
    for s in strategies:
        acc = None
        cols: list[str] = []
        for n in use:
            arr = _concat(by_sc[n], lambda r, s=s: r.targets[s]).astype(np.float64)
            cols = by_sc[n][0].cols[s]
            fin = np.isfinite(arr)
            cnt = fin.sum(axis=0)
            m = np.where(cnt > 0, np.where(fin, arr, 0.0).sum(axis=0) / np.maximum(cnt, 1), np.nan)
            wt = mix.get(n, 1.0) if mix else 1.0 / len(use)
            acc = m * wt if acc is None else acc + m * wt
        assert acc is not None
        frame = pd.DataFrame(acc, index=grid.dates, columns=cols).dropna(how="all")
        long = frame.rename_axis("date").reset_index().melt(id_vars="date", var_name="asset", value_name="weight")
        long.insert(1, "strategy", s)
        parts.append(long)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["date", "strategy", "asset"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------ the whole run


def run_scenarios(cfg: RunConfig, sset: ScenarioSet, *, paths: int, seed: int, origin: str = "<config>",
                  chunk_size: int | None = None, executor: Any = None, md: MarketData | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  on_prepared: Callable[[Prepared, int], None] | None = None) -> ScenarioRun:
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
        ``progress(done, total)`` after each chunk.
    on_prepared : callable, optional
        Called once with the prepared run and the number of chunks (to size a progress bar).
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
    tasks = make_tasks(prep, paths, seed, size, parallel=not getattr(ex, "distributed", False))
    if on_prepared is not None:
        on_prepared(prep, len(tasks))
    done = [0]

    def tick(_i: int) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], len(tasks))

    results = ex.map(run_chunk, tasks, tick)
    t2 = time.perf_counter()
    timings = {"prepare": t1 - t0, "chunks": t2 - t1}
    for k in ("generate", "weights", "simulate"):
        timings[f"chunk_{k}_sum"] = float(sum(r.seconds[k] for r in results))
    out = aggregate(prep, results, paths, seed, size, ex.describe(), timings)
    timings["aggregate"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    return out


def _file_hash(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "unknown"


def provenance(run: ScenarioRun, run_id: str) -> dict[str, Any]:
    """The provenance record of a scenario run folder."""

    prep, cfg, sset = run.prep, run.prep.cfg, run.prep.sset
    md = prep.md
    states = {}
    for i, s in enumerate(sset.states):
        ctx0 = next(iter(prep.contexts.values()))
        pool = ctx0.pools[i]
        states[s] = {
            "kind": sset.kinds[i], "paced": bool(sset.paced[i]),
            "analogues": [{"label": p.label, "start": str(p.start.date()), "end": str(p.end.date())}
                          for p in prep.periods[s]],
            "pool_days": int(len(pool.days)), "pool_segments": pool.n_segments,
            "pool_ranges": {n: [list(r) for r in pool_ranges(c.pools[i], prep.history.dates)]
                            for n, c in prep.contexts.items()},
            "reference_pace_bn_month": round(float(ctx0.pace_ref[i]), 3),
        }
    scen = {}
    for sc in sset.scenarios:
        ctx = prep.contexts[sc.name]
        scen[sc.name] = {
            "title": sc.title, "probability": sc.probability, "start_state": sset.states[sc.start_state],
            "t0": str(ctx.t0.date()), "first_day": str(ctx.days[0].date()), "last_day": str(ctx.days[-1].date()),
            "horizon_days": sc.horizon_days,
            "pace_bn_month": [{"until": None if u is None else str(u.date()), "bn_month": b} for u, b in sc.pace],
            "transition_matrix": np.round(sc.matrix, 10).tolist(),
            "mean_dwell_days": [None if not np.isfinite(x) else round(float(x), 4) for x in sc.mean_dwell()],
            "paths_evaluated_per_path": run.per_path[sc.name],
        }
    occ = {f"{r.scenario}/{r.state}": round(r.share_of_days, 6) for r in run.occupancy.itertuples()}
    return {
        "format_version": FORMAT_VERSION,
        "kind": "scenarios",
        "run_id": run_id,
        "name": cfg.name,
        "config_file": prep.origin,
        "config_hash": cfg.config_hash(),
        "scenarios_file": sset.path,
        "scenarios_hash": _file_hash(sset.path),
        "seed": run.seed,
        "paths": run.paths,
        "chunk_size": run.chunk_size,
        "executor": run.executor,
        "generator": prep.source,
        "mean_block_days": sset.spec.mean_block_days if prep.source == "bootstrap" else None,
        "include_forecast_period": bool(sset.spec.include_forecast_period),
        "pool_warnings": list(prep.warnings),
        "data": md.provenance(),
        "settings": {"rebalance": cfg.rebalance.every, "drift_band": cfg.rebalance.drift_band,
                     "lag_days": cfg.execution.lag_days, "fee_bps": cfg.costs.fee_bps,
                     "slippage_bps": cfg.costs.slippage_bps, "borrow_bps": cfg.costs.borrow_bps,
                     "cash_rate": cfg.cash.rate, "regime_model": "scenario states (history: " + cfg.regimes.model + ")",
                     "regime_by": cfg.regimes.by},
        "betas": prep.betas.to_dict(),
        "states": states,
        "scenarios": scen,
        "mix": sset.mix,
        "state_occupancy": occ,
        "regret": {"statistic": sset.spec.scoring.regret_statistic, "summary": sset.spec.scoring.regret_summary},
        "strategies": {s.name: s.kind for s in cfg.strategies},
        "notes": run.notes,
        "packages": package_versions(),
        "git_commit": git_commit(),
        "timings_s": {k: round(v, 4) for k, v in run.timings.items()},
        "contents": "metrics.csv / returns.parquet / weights.parquet hold medians (weights: means) over the "
                    "probability-weighted mix of scenarios; regime_metrics.csv is empty for scenario runs",
    }


def write_scenario_run(run: ScenarioRun, root: str | Path = "results", report: bool = True) -> Path:
    """Write the run folder atomically (contract files + scenario tables) and return its path."""

    cfg = run.prep.cfg
    name = f"{cfg.name}-scenarios"
    run_id = make_run_id(name, cfg.config_hash())
    with atomic_run_dir(root, run_id) as tmp:
        t = time.perf_counter()
        (tmp / "config.yaml").write_text(dump_yaml(cfg))
        sc_raw = json.loads(run.prep.sset.spec.model_dump_json())
        (tmp / "scenarios.yaml").write_text(_yaml(sc_raw))
        run.scenario_metrics.to_csv(tmp / "scenario_metrics.csv", index=False, float_format="%.10g")
        run.regret.to_csv(tmp / "scenario_regret.csv", index=False, float_format="%.10g")
        run.fan.to_parquet(tmp / "scenario_fan.parquet", index=False)
        run.occupancy.to_csv(tmp / "scenario_states.csv", index=False, float_format="%.10g")
        run.metrics.to_csv(tmp / "metrics.csv", float_format="%.10g")
        pd.DataFrame(columns=["strategy", "regime", "days", *METRIC_COLUMNS]).to_csv(tmp / "regime_metrics.csv",
                                                                                      index=False)
        run.returns.to_parquet(tmp / "returns.parquet")
        run.weights.to_parquet(tmp / "weights.parquet", index=False)
        run.timings["write"] = time.perf_counter() - t
        write_json(tmp / "provenance.json", provenance(run, tmp.final.name))
        if report and cfg.report.html:  # the scenario page; no run-tearsheet PNGs of simulated paths
            t = time.perf_counter()
            render_scenario_page(tmp)
            run.timings["report"] = time.perf_counter() - t
    return final_path(root, run_id)


def _yaml(obj: Any) -> str:

    return yaml.safe_dump(obj, sort_keys=False)


__all__ = [
    "ChunkResult",
    "ChunkTask",
    "Prepared",
    "RunSettings",
    "ScenarioRun",
    "aggregate",
    "prepare",
    "provenance",
    "run_chunk",
    "run_scenarios",
    "write_scenario_run",
]
