"""Benchmark: scenario scoring at scale, and the floor it is measured against.

Workload: 10,000 paths x 252 trading days of one scenario (A: the chain, states and pace
of ``configs/scenarios.yaml``), the default 16-asset universe, 6 strategies (buy-and-hold
SPY, 60/40, equal weight, inverse vol, short vol, the RMP playbook), monthly decisions,
fees + slippage + cash yield. Timed: generation (regime paths, returns, macro series),
signals, vectorised strategy weights, simulation, per-path metrics, distributions, mix,
regret and fans — everything ``rmpbt scenarios`` does but writing the folder and the side
measurements (channel effect, pool sensitivity: timed in the historical workload). A first
small run compiles the numba kernels (excluded).

The floor: a plain numpy drift-and-rebalance loop over 252 days vectorised across 10,000
paths x 16 assets (no costs, no cash yield, monthly target weights already known) — the
least any simulation of this size must do.

    python benchmarks/bench_scenarios.py [--data-dir ../shared/data] [--paths 10000] [--workers N]
    python benchmarks/bench_scenarios.py --weights-only [--data-dir ../shared/data]
    python benchmarks/bench_scenarios.py --data-dir ../shared/data --paths 0   # historical.yaml only

Second workload (with ``--data-dir``; ``--historical-paths 0`` skips it): ``configs/historical.yaml``
on the real data, all its strategies (including the two optimizer ones, solved in batches
by :mod:`backtest.optimizer.batch`), every scenario of ``configs/scenarios.yaml``,
``--historical-paths`` (2,000) paths x 252 days, run ``--historical-repeats`` times (median
quoted) with everything ``rmpbt scenarios`` computes: the main paths, the pace effect (500
paths of A at two paces), the liquidity channel's total effect (200 paths per scenario with
the channel off) and the leave-one-episode-out pool sensitivity (100 paths per scenario
per episode, only the paths that visit the state); the load average before and after each
run is printed (the machine may be shared). Then each strategy's batch form timed alone on
one panel of ``--profile-paths`` paths of the first scenario (where the time goes).
Targets: <= 120 s for the historical run with everything included (issue 21; issue 12
set it for the main paths alone), <= 10 s for the 10,000-path run.

``--weights-only`` times just the strategies' batch forms (``VectorEvaluator.weights``: the
six non-optimizer strategies above) on one panel of ``--paths`` paths, per strategy — the
part the ``weights`` figure of a full run sums over chunks.

Peak memory is the process's maximum resident set (``ru_maxrss``; with ``--workers``
each Dask worker is a separate process and is not included).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from backtest.config import DEFAULT_UNIVERSE, config_from_dict, load_config
from backtest.synthetic import runner
from backtest.synthetic.scenarios import load_scenarios

TARGET_SIX_S = 10.0  # 10,000 paths x 252 days x 16 assets x the six strategies below
TARGET_HISTORICAL_S = 120.0  # historical.yaml, all strategies, every scenario, 2,000 paths x 252 days
HISTORICAL = str(Path(__file__).resolve().parents[1] / "configs" / "historical.yaml")

STRATEGIES = [
    {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}},
    {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
    {"name": "equal_weight", "kind": "equal_weight"},
    {"name": "inverse_vol", "kind": "inverse_vol"},
    {"name": "short_vol", "kind": "short_vol"},
    {"name": "playbook", "kind": "rmp_playbook"},
]


def make_cfg(data_dir: str | None):
    data = {"source": "csv", "dir": data_dir} if data_dir else {"source": "sample"}
    data["universe"] = list(DEFAULT_UNIVERSE)
    return config_from_dict({
        "name": "bench-scenarios", "data": data, "rebalance": {"every": "monthly"},
        "costs": {"fee_bps": 1, "slippage_bps": 2}, "cash": {"rate": "DTB3"}, "strategies": STRATEGIES,
    })


def numpy_floor(paths: int, days: int, assets: int, seed: int = 0) -> float:
    """Seconds of a plain numpy drift-and-rebalance loop (paths as rows, one step per day)."""
    rng = np.random.default_rng(seed)
    rets = rng.normal(0.0003, 0.01, (days, paths, assets))
    target = np.full((paths, assets), 1.0 / assets)
    t0 = time.perf_counter()
    hold = target.copy()  # value held in each asset, portfolio value 1
    value = np.ones(paths)
    for t in range(days):
        hold *= 1.0 + rets[t]
        value = hold.sum(axis=1)
        if t % 21 == 20:  # month end: back to target weights
            hold = target * value[:, None]
    _ = value.mean()
    return time.perf_counter() - t0


def weights_only(cfg, sset, md, paths: int, repeats: int) -> None:
    """Time each strategy's batch form on one panel of ``paths`` paths (signals computed fresh each repeat)."""
    from backtest.config import StrategyConfig
    from backtest.synthetic.evaluate.vector_strategies import VectorEvaluator
    from backtest.synthetic.labels.path_signals import PathSignals
    from backtest.synthetic.model.generator import generate
    from strategies.base import build_strategy

    prep = runner.prepare(cfg, sset, md=md)
    name = sset.scenarios[0].name
    ctx, grid, labels = prep.contexts[name], prep.grids[name], prep.labels[name]
    strats = [build_strategy(StrategyConfig.model_validate(s.model_dump())) for s in cfg.strategies]
    panel = generate(ctx, 1, 0, paths)
    per: dict[str, list[float]] = {s.name: [] for s in strats}
    totals = []
    for _ in range(repeats):
        ev = VectorEvaluator(panel, PathSignals(panel), str(labels["regime"].iloc[-1]), grid)
        t_all = time.perf_counter()
        for s in strats:
            t0 = time.perf_counter()
            ev.weights(s)
            per[s.name].append(time.perf_counter() - t0)
        totals.append(time.perf_counter() - t_all)
    parts = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in per.items())
    print(f"batch weights, {paths:,} paths x {len(grid.rows)} decisions x {len(strats)} strategies "
          f"(median of {repeats}): {statistics.median(totals):.2f} s  [{parts}]")


def time_strategies(cfg, sset, md, paths: int) -> dict[str, float]:
    """Seconds of each strategy's batch form (per-path route if it has none) on one panel."""
    from backtest.synthetic.evaluate.vector_strategies import (
        Unsupported,
        VectorEvaluator,
        per_path_weights,
    )
    from backtest.synthetic.labels.path_signals import PathSignals
    from backtest.synthetic.model.generator import generate
    from strategies.base import build_strategy

    prep = runner.prepare(cfg, sset, md=md)
    name = sset.scenarios[0].name
    ctx, grid, labels = prep.contexts[name], prep.grids[name], prep.labels[name]
    panel = generate(ctx, 1, 0, paths)
    ev = VectorEvaluator(panel, PathSignals(panel), str(labels["regime"].iloc[-1]), grid)
    out: dict[str, float] = {}
    for scfg in cfg.strategies:
        strat = build_strategy(scfg)
        t0 = time.perf_counter()
        try:
            ev.weights(strat)
        except Unsupported:
            per_path_weights(strat, panel, grid, labels)
            scfg = None
        out[strat.name + ("" if scfg is not None else " (per path)")] = time.perf_counter() - t0
    return out


def _load() -> str:
    """The 1-minute load average (``/proc/loadavg``), or ``?``."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def historical(data_dir: str, paths: int, horizon: int, profile_paths: int, workers: int | None,
               chunk_size: int | None, repeats: int = 1) -> None:
    """The historical.yaml workload: one full run, then the batch forms timed per strategy."""
    cfg = load_config(HISTORICAL, data_dir=data_dir)
    sset = load_scenarios().with_horizon(horizon)
    md = runner.load_history(cfg)
    ex = None
    if workers:
        from backtest.executors import make_executor

        ex = make_executor(workers)
    totals = []
    try:
        runner.run_scenarios(cfg, sset, paths=16, seed=0, md=md, executor=ex, pace_effect_paths=4,
                             channel_effect_paths=4, sensitivity_paths=4)  # compile
        for _ in range(max(1, repeats)):
            load0 = _load()
            t0, c0 = time.perf_counter(), time.process_time()
            run = runner.run_scenarios(cfg, sset, paths=paths, seed=1, md=md, executor=ex, chunk_size=chunk_size)
            totals.append(time.perf_counter() - t0)
            cpu = time.process_time() - c0  # this process's threads (not Dask workers)
            tm = run.timings
            print(f"  run {len(totals)}: {totals[-1]:.2f} s wall, {cpu:.1f} s CPU in this process "
                  f"(load average before {load0}, after {_load()})  "
                  f"[prepare {tm['prepare']:.2f}, chunks {tm['chunks']:.2f}: main paths (generate "
                  f"{tm['chunk_generate_sum']:.2f}, weights {tm['chunk_weights_sum']:.2f}, simulate+metrics "
                  f"{tm['chunk_simulate_sum']:.2f}), pace effect {tm['pace_effect_chunks_sum']:.2f}, channel effect "
                  f"{tm['channel_effect_chunks_sum']:.2f}, pool sensitivity {tm['sensitivity_chunks_sum']:.2f} "
                  f"(plan {tm['side_plan']:.2f}); aggregate {tm['aggregate']:.2f}]", flush=True)
    finally:
        if ex is not None:
            ex.close()
    total = statistics.median(totals)
    print(f"historical: {HISTORICAL} on {data_dir}; {len(cfg.strategies)} strategies x {len(sset.scenarios)} "
          f"scenarios x {paths:,} paths x {horizon} days; executor: {run.executor}")
    print(f"historical scenario run, everything included: median {total:.2f} s of {len(totals)} "
          f"({', '.join(f'{x:.1f}' for x in totals)}) (target <= {TARGET_HISTORICAL_S:.0f} s on 2 cores: "
          f"{'met' if total <= TARGET_HISTORICAL_S else 'NOT met'}; measured on a shared machine: see the load)")
    if profile_paths:
        per = time_strategies(cfg, sset.only([sset.scenarios[0].name]), md, profile_paths)
        top = sorted(per.items(), key=lambda kv: -kv[1])
        print(f"batch weights per strategy, {profile_paths} paths of scenario {sset.scenarios[0].name} "
              f"(sum {sum(per.values()):.2f} s): " + ", ".join(f"{k} {v:.2f}" for k, v in top))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="csv data folder (default: the sample market)")
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--horizon", type=int, default=252)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="Dask LocalCluster workers (default: in-process)")
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--weights-only", action="store_true", help="time only the strategies' batch forms")
    ap.add_argument("--historical-paths", type=int, default=2_000,
                    help="paths of the historical.yaml workload (needs --data-dir; 0 skips it)")
    ap.add_argument("--profile-paths", type=int, default=500, help="paths of the per-strategy timing (0 skips)")
    ap.add_argument("--historical-repeats", type=int, default=1, help="runs of the historical workload (median)")
    args = ap.parse_args()
    if args.paths:
        six(args)
    if args.data_dir and args.historical_paths and not args.weights_only:
        historical(args.data_dir, args.historical_paths, args.horizon, args.profile_paths, args.workers,
                   args.chunk_size, args.historical_repeats)


def six(args: argparse.Namespace) -> None:
    """The 10,000-path workload of the six non-optimizer strategies (or ``--weights-only``)."""
    cfg = make_cfg(args.data_dir)
    sset = load_scenarios().only(["A"]).with_horizon(args.horizon)
    md = runner.load_history(cfg)
    if args.weights_only:
        weights_only(cfg, sset, md, args.paths, args.repeats)
        return
    ex = None
    if args.workers:
        from backtest.executors import make_executor

        ex = make_executor(args.workers)
    try:
        runner.run_scenarios(cfg, sset, paths=64, seed=0, md=md, executor=ex)  # compile
        totals, parts = [], []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            run = runner.run_scenarios(cfg, sset, paths=args.paths, seed=r + 1, md=md, executor=ex,
                                       chunk_size=args.chunk_size, channel_effect_paths=0,
                                       sensitivity_paths=0)  # the paths at scale; side runs: historical()
            totals.append(time.perf_counter() - t0)
            parts.append(run.timings)
    finally:
        if ex is not None:
            ex.close()
    floors = [numpy_floor(args.paths, args.horizon, len(DEFAULT_UNIVERSE)) for _ in range(args.repeats)]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    src = args.data_dir or "sample market"
    print(f"data: {src} ({run.prep.source}); {args.paths:,} paths x {args.horizon} days x "
          f"{len(DEFAULT_UNIVERSE)} assets x {len(STRATEGIES)} strategies; executor: {run.executor}")
    med = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
    med_total = statistics.median(totals)
    verdict = ("met" if med_total <= TARGET_SIX_S else "NOT met") if args.paths == 10_000 else "n/a here"
    print(f"scenario run (median of {args.repeats}): {med_total:.2f} s (target <= {TARGET_SIX_S:.0f} s "
          f"for 10,000 paths: {verdict})  "
          f"[prepare {med['prepare']:.2f}, chunks {med['chunks']:.2f} (generate {med['chunk_generate_sum']:.2f}, "
          f"weights {med['chunk_weights_sum']:.2f}, simulate+metrics {med['chunk_simulate_sum']:.2f}), "
          f"aggregate {med['aggregate']:.2f}]")
    print(f"numpy floor (drift-and-rebalance loop, no costs): {statistics.median(floors):.2f} s")
    print(f"peak memory (this process): {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
