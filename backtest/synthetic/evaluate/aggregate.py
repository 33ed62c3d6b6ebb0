"""Aggregation of a scenario run: per-path chunk results -> distributions, regret, fans, tables.

:func:`aggregate` reads the chunks in path order (results do not depend on chunking) and
builds the :class:`ScenarioRun` that :mod:`backtest.synthetic.writer` writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtest.metrics import METRIC_COLUMNS
from backtest.synthetic.evaluate.choice import resample_values, shares_from_values
from backtest.synthetic.evaluate.distributions import mix_beat, paired_beat, weighted_quantiles
from backtest.synthetic.evaluate.records import ChunkResult, Prepared
from backtest.synthetic.evaluate.scoring import (
    PATH_STATS,
    SCALAR_STATS,
    SCENARIO_STATS,
    benchmark_6040,
    mixture_quantiles,
    regret_table,
    summarise,
)
from backtest.synthetic.evaluate.separation import margin_se
from backtest.synthetic.scenarios import MIX

FAN_Q = (0.05, 0.25, 0.50, 0.75, 0.95)


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
    extras: dict[str, Any] = field(default_factory=dict)
    """Optional extra tables of later features (e.g. ``pace_effect``), by name."""


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
    spec = sset.spec.scoring
    lam = float(getattr(spec, "cvar_lambda", 1.0))
    bench = bench_name(prep)
    bench_hr = ({n: _concat(by_sc[n], lambda r: r.stats[bench]["horizon_return"]) for n in names}
                if bench is not None else {})
    rows = []
    for s in strategies:
        beats = {}
        for n in names:
            for st, d in summarise(stats[n][s], cvar_lambda=lam).items():
                rows.append({"strategy": s, "scenario": n, "statistic": st, **d})
            if bench is not None:
                beats[n] = paired_beat(stats[n][s]["horizon_return"], bench_hr[n]) if s != bench else (np.nan, np.nan, 0)
                rows += _beat_rows(s, n, *beats[n][:2])
        if mix_names:
            w = np.concatenate([np.full(len(stats[n][s]["horizon_return"]), mix[n] / paths) for n in mix_names])
            pooled = {k: np.concatenate([stats[n][s][k] for n in mix_names]) for k in PATH_STATS}
            for st, d in summarise(pooled, w, cvar_lambda=lam).items():
                rows.append({"strategy": s, "scenario": MIX, "statistic": st, **d})
            if bench is not None:
                rows += _beat_rows(s, MIX, *mix_beat([beats[n][::2] for n in mix_names], [mix[n] for n in mix_names]))
    sm = pd.DataFrame(rows, columns=["strategy", "scenario", "statistic", "mean", "median", "p5", "p25", "p75", "p95"])
    order = {st: i for i, st in enumerate(SCENARIO_STATS)}
    sm = sm.sort_values(["strategy", "statistic", "scenario"], key=lambda c: c.map(order) if c.name == "statistic"
                        else (c.map({**{n: i for i, n in enumerate(names)}, MIX: len(names)}) if c.name == "scenario"
                              else c.map({s: i for i, s in enumerate(strategies)})), kind="stable")
    sm = sm.reset_index(drop=True)
    # regret on the configured statistic and summary
    piv = sm.loc[sm["statistic"] == spec.regret_statistic].pivot(index="strategy", columns="scenario",
                                                                 values=spec.regret_summary)
    piv = piv.reindex(index=strategies, columns=[c for c in [*names, MIX] if c in piv.columns])
    label = (f"cvar_penalised (median return - {lam:g} x CVaR5 loss)" if spec.regret_statistic == "cvar_penalised"
             else spec.regret_statistic if spec.regret_statistic in SCALAR_STATS
             else f"{spec.regret_summary} {spec.regret_statistic}")
    regret = regret_table(piv, {n: mix[n] for n in mix_names}, label)
    t_choice = time.perf_counter()
    resamples = int(getattr(spec, "choice_resamples", 0))
    basis = mix_names or names
    if resamples > 0 and strategies and basis:  # one set of paired resamples: choice_share and the margins' noise
        values = resample_values(stats, strategies, basis, statistic=spec.regret_statistic,
                                 summary=spec.regret_summary, cvar_lambda=lam, resamples=resamples, seed=seed)
        shares = shares_from_values(values)
        robust = np.flatnonzero(regret["robust"].astype(bool).to_numpy())
        mc_se = margin_se(values, int(robust[0])) if len(robust) else None
    else:
        shares, mc_se = np.full(len(strategies), np.nan), None
    regret.insert(regret.columns.get_loc("robust") + 1, "choice_share", shares)
    timings["choice"] = time.perf_counter() - t_choice
    regret = _with_beat_columns(regret, sm, [*names, MIX] if mix_names else names, MIX if mix_names else names[0])
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
    hist = horizon_histogram({n: {s: stats[n][s]["horizon_return"] for s in strategies} for n in names},
                             {n: mix[n] for n in mix_names})
    # per-path outcomes for ``rmpbt decide`` (backtest.synthetic.decide.outcomes builds the file)
    outcomes = {"stats": stats, "bench": bench, "bench_horizon_return": bench_hr,
                "assets": {n: _concat(by_sc[n], lambda r: r.asset_returns) for n in names}
                if all(r.asset_returns is not None for r in results) else {}}
    return ScenarioRun(prep, paths, seed, chunk_size, executor, sm, regret, fan, metrics, returns, weights,
                       pd.DataFrame(occ), per_path, timings, notes,
                       extras={"horizon_hist": hist, "margin_se": mc_se, "path_outcomes": outcomes})


HIST_BINS = 40


def horizon_histogram(hr: dict[str, dict[str, np.ndarray]], mix: dict[str, float],
                      bins: int = HIST_BINS) -> pd.DataFrame:
    """Share of paths per bin of horizon return, per strategy and scenario (and the weighted mix).

    Bins are equal-width, per strategy, between the 0.5th and 99.5th percentiles of its
    pooled paths; paths outside fall in the end bins.

    Parameters
    ----------
    hr : dict
        ``hr[scenario][strategy]``: per-path horizon returns.
    mix : dict
        Scenario probabilities of the mix (empty: no mix rows).

    Returns
    -------
    pd.DataFrame
        ``strategy, scenario, bin_lo, bin_hi, share`` (shares of one strategy x scenario sum to 1).
    """
    names = list(hr)
    strategies = list(next(iter(hr.values()))) if hr else []
    rows = []
    for s in strategies:
        allv = np.concatenate([hr[n][s] for n in names])
        allv = allv[np.isfinite(allv)]
        if not len(allv):
            continue
        lo, hi = np.quantile(allv, [0.005, 0.995])
        hi = hi if hi > lo else lo + 1e-9
        edges = np.linspace(lo, hi, bins + 1)
        shares = {}
        for n in names:
            x = hr[n][s][np.isfinite(hr[n][s])]
            c = np.histogram(np.clip(x, lo, hi), edges)[0].astype(float)
            shares[n] = c / max(c.sum(), 1.0)
        if mix:
            tot = sum(mix.values())
            shares["mix"] = sum(shares[n] * (p / tot) for n, p in mix.items())
        for n, sh in shares.items():
            rows.append(pd.DataFrame({"strategy": s, "scenario": n, "bin_lo": edges[:-1], "bin_hi": edges[1:],
                                      "share": sh}))
    cols = ["strategy", "scenario", "bin_lo", "bin_hi", "share"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def bench_name(prep: Prepared) -> str | None:
    """Name of the 60/40 the run pairs against (:func:`backtest.synthetic.evaluate.scoring.benchmark_6040`)."""
    tickers = list(next(iter(prep.contexts.values())).tickers) if prep.contexts else []
    return benchmark_6040([s.model_dump() for s in prep.cfg.strategies], prep.cfg.benchmark, tickers)[0]


def _beat_rows(strategy: str, scenario: str, p: float, se: float) -> list[dict[str, Any]]:
    empty = {"p5": np.nan, "p25": np.nan, "p75": np.nan, "p95": np.nan}
    return [{"strategy": strategy, "scenario": scenario, "statistic": st, "mean": v, "median": v, **empty}
            for st, v in (("prob_beat_6040", p), ("prob_beat_6040_se", se))]


def _with_beat_columns(regret: pd.DataFrame, sm: pd.DataFrame, cols: list[str], ref: str) -> pd.DataFrame:
    """``prob_beat_6040_<scenario>`` per scenario (and mix) and ``prob_beat_6040_se_<ref>``."""
    pb = sm.loc[sm["statistic"] == "prob_beat_6040"].pivot(index="strategy", columns="scenario", values="mean")
    if pb.empty:
        return regret
    se = sm.loc[sm["statistic"] == "prob_beat_6040_se"].pivot(index="strategy", columns="scenario", values="mean")
    out = regret.copy()
    for c in cols:
        out[f"prob_beat_6040_{c}"] = pb.reindex(out["strategy"])[c].to_numpy() if c in pb else np.nan
    out[f"prob_beat_6040_se_{ref}"] = se.reindex(out["strategy"])[ref].to_numpy() if ref in se else np.nan
    return out


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


__all__ = ["FAN_Q", "HIST_BINS", "ScenarioRun", "aggregate", "bench_name", "horizon_histogram"]
