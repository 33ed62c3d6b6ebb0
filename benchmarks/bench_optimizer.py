"""Benchmark of backtest.optimizer (plain script: prints a table, writes nothing).

1. 16 assets, mean-variance with a turnover penalty and bounds: 500 re-solves of the
   compiled DPP problem with new μ / F / previous weights, per solver, versus rebuilding
   (and re-canonicalising) the problem for every solve.
2. A simulated 2008–2026 monthly rebalanced loop (~220 rebalances, 252-day trailing
   windows of seeded synthetic returns) timing every ``allocate`` call (estimation +
   solve), per solver chain.

Solver warm-up (the first solve, which canonicalises the problem) is kept out of timings.

Usage: ``python benchmarks/bench_optimizer.py``
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pandas as pd

from backtest.estimators import ledoit_wolf_covariance, psd_factor
from backtest.optimizer import OptimizerConfig, build_problem, make_allocator, solve_problem

N_ASSETS = 16
N_SOLVES = 500
N_REBUILDS = 100
SEED = 20080101


def _config(solvers: list[str]) -> OptimizerConfig:
    return OptimizerConfig(
        objective="mean_variance",
        risk_aversion=5.0,
        bounds={"lower": 0.0, "upper": 0.25},
        turnover_penalty="10bps",
        solvers=solvers,
        estimator={"covariance": "ledoit_wolf", "window": 252},
    )


def _synthetic(rng: np.random.Generator, t_rows: int, n: int) -> np.ndarray:
    """Daily returns with 3 factors and fat-ish tails, shape (t_rows, n)."""
    loadings = rng.normal(0.0, 1.0, size=(3, n)) * np.array([[0.8], [0.4], [0.3]])
    factors = rng.standard_t(5, size=(t_rows, 3)) * 0.006
    idio = rng.normal(0.0, 0.008, size=(t_rows, n)) * rng.uniform(0.5, 2.0, size=n)
    drift = rng.uniform(-1e-4, 6e-4, size=n)
    return drift + factors @ loadings + idio


def _inputs(rng: np.random.Generator, count: int) -> list[dict[str, np.ndarray | float]]:
    """Parameter values (μ, F, w_prev, ...) of ``count`` distinct rebalances."""
    base = _synthetic(rng, 252 + count, N_ASSETS)
    out = []
    prev = np.full(N_ASSETS, 1.0 / N_ASSETS)
    for i in range(count):
        window = base[i : i + 252]
        cov, _ = ledoit_wolf_covariance(window)
        out.append(
            {
                "F": psd_factor(cov * 252),
                "mu": window.mean(axis=0) * 252,
                "lb": np.zeros(N_ASSETS),
                "ub": np.full(N_ASSETS, 0.25),
                "w_prev": prev,
                "kappa": 0.001,
            }
        )
        prev = rng.dirichlet(np.ones(N_ASSETS))
    return out


def _time_compiled(cfg: OptimizerConfig, inputs: list[dict]) -> tuple[list[float], np.ndarray]:
    compiled = build_problem(cfg, N_ASSETS)
    solve_problem(compiled, inputs[0])  # warm-up: canonicalisation + first solve
    times, weights = [], []
    for values in inputs:
        t0 = time.perf_counter()
        res = solve_problem(compiled, values)
        times.append(time.perf_counter() - t0)
        weights.append(res.weights)
    return times, np.array(weights)


def _time_rebuild(cfg: OptimizerConfig, inputs: list[dict]) -> list[float]:
    compiled = build_problem(cfg, N_ASSETS)
    solve_problem(compiled, inputs[0])  # import / solver warm-up
    times = []
    for values in inputs:
        t0 = time.perf_counter()
        solve_problem(build_problem(cfg, N_ASSETS), values)
        times.append(time.perf_counter() - t0)
    return times


def _monthly_loop(solvers: list[str]) -> tuple[float, int, int, float]:
    """Seconds inside ``allocate`` over a 2008–2026 monthly loop; (secs, n, fallbacks, max_ms)."""
    rng = np.random.default_rng(SEED)
    dates = pd.bdate_range("2007-01-01", "2026-06-30")
    assets = [f"ETF{i:02d}" for i in range(N_ASSETS)]
    rets = pd.DataFrame(_synthetic(rng, len(dates), N_ASSETS), index=dates, columns=assets)
    rets.loc[:"2012-06-30", "ETF15"] = np.nan  # listed mid-sample
    rebal = rets.loc["2008-01-01":].groupby(rets.loc["2008-01-01":].index.to_period("M")).tail(1)
    alloc = make_allocator(_config(solvers), assets, name="bench")
    alloc.allocate(rebal.index[0], rets.loc[: rebal.index[0]].iloc[-252:])  # warm-up
    positions = rets.index.get_indexer(rebal.index)
    prev = None
    total, worst = 0.0, 0.0
    for date, pos in zip(rebal.index, positions, strict=True):
        window = rets.iloc[pos - 251 : pos + 1]
        t0 = time.perf_counter()
        prev = alloc.allocate(date, window, prev_weights=prev)
        dt = time.perf_counter() - t0
        total += dt
        worst = max(worst, dt)
    return total, len(rebal), len(alloc.fallbacks), worst * 1e3


def main() -> None:
    rng = np.random.default_rng(SEED)
    inputs = _inputs(rng, N_SOLVES)
    print(
        f"rmpbt optimizer benchmark: {N_ASSETS} assets, mean-variance + bounds + turnover penalty"
    )
    print()
    print(f"{'case':<44}{'median ms':>10}{'p95 ms':>9}{'n':>6}")
    print("-" * 69)
    results = {}
    for solver in ("CLARABEL", "OSQP"):
        times, weights = _time_compiled(_config([solver]), inputs)
        results[solver] = (times, weights)
        _row(f"compiled DPP re-solve, {solver}", times)
    rebuild = _time_rebuild(_config(["CLARABEL"]), inputs[:N_REBUILDS])
    _row("rebuild + canonicalise each time, CLARABEL", rebuild)
    med_c = statistics.median(results["CLARABEL"][0])
    diff = np.abs(results["CLARABEL"][1] - results["OSQP"][1]).max()
    print("-" * 69)
    print(f"rebuild / compiled (CLARABEL) slowdown: {statistics.median(rebuild) / med_c:.1f}x")
    print(f"max |w_CLARABEL - w_OSQP| over {N_SOLVES} solves: {diff:.2e}")
    print()
    print(f"{'monthly loop 2008-2026 (allocate incl. LW)':<44}{'total s':>10}{'max ms':>9}{'n':>6}")
    print("-" * 69)
    for chain in (["CLARABEL", "OSQP", "SCS"], ["OSQP", "CLARABEL", "SCS"]):
        total, count, n_fb, worst = _monthly_loop(chain)
        label = f"chain {'>'.join(chain)} ({n_fb} fallbacks)"
        print(f"{label:<44}{total:>10.3f}{worst:>9.2f}{count:>6}")


def _row(label: str, times: list[float]) -> None:
    ms = np.array(times) * 1e3
    print(f"{label:<44}{np.median(ms):>10.3f}{np.percentile(ms, 95):>9.3f}{len(ms):>6}")


if __name__ == "__main__":
    main()
