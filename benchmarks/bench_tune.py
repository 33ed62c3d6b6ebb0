"""Benchmark of ``rmpbt tune`` (plain script: prints figures, writes nothing).

1,000 tilt-size variants of the RMP playbook (``rmp_playbook``, its core spread over the
16-asset default universe; a 16-asset ``fixed_weights`` strategy if the playbook kind is
not registered), daily 2011-2026 (synthetic sample market, or ``--data-dir``), monthly
rebalancing with costs, borrow and cash yield, walk-forward 36M/12M. Measured in the
same run, after a warm-up call that loads/compiles the numba kernels:

* ``rmpbt tune`` through the CLI (a fresh process, warm numba cache: data load, regimes,
  signals, tuning, tune.csv written; no report), target <= 3 s;
* ``tune``: :func:`backtest.tune.orchestrate.run_tune` for the 1,000 variants, in-process
  (validation, weights, simulation, walk-forward scoring, selection). Each variant is
  built, and a chunk's variants are weighted together
  (:func:`strategies.base.variant_batch_weights`: the variants are one more batch axis, one
  vectorised tilt/cap call per rule structure, the param-independent work kept on the
  history's :class:`strategies.history.HistoryBatch`);
* ``kernel``: one :func:`backtest.kernel.simulate_batch` call on 1,000 x 16 targets
  (the simulation inside the tuner), target <= 5x the numpy floor;
* ``numpy floor``: a plain numpy loop over days vectorised across the same 1,000
  variants, no costs (:func:`backtest.kernel.numpy_floor`);
* ``one at a time``: a sample of variants through ``backtest.pipeline.run_backtest`` (the
  ``rmpbt run`` code path: vectorbt), extrapolated to 1,000; the sampled variants'
  daily returns are also compared with the tuner's;
* a grid over the steepener's size (its cash financing interacts with the bill sweep),
  in-process and on 2 Dask worker processes.

Timings are the best of ``--repeat`` runs (the machine is shared).

Usage: ``python benchmarks/bench_tune.py [--data-dir ../shared/data] [--variants 1000]``
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from warm import compile_project

from backtest.config import config_from_dict
from backtest.execution.spec import KernelView, cash_growth
from backtest.kernel import numpy_floor, simulate_batch
from backtest.pipeline import load_market, run_backtest
from backtest.tune.orchestrate import TuneRequest, run_tune
from strategies.base import load_all

UNIVERSE = ["SPY", "IWM", "QQQ", "GLD", "DBC", "TIP", "VNQ", "BIL", "SHY", "IEF", "TLT", "AGG", "HYG", "UUP",
            "SVXY", "VIXY"]
CORE = {"SPY": 0.35, "IWM": 0.03, "QQQ": 0.03, "GLD": 0.03, "DBC": 0.02, "TIP": 0.03, "VNQ": 0.03, "BIL": 0.05,
        "SHY": 0.03, "IEF": 0.20, "TLT": 0.05, "AGG": 0.05, "HYG": 0.03, "UUP": 0.02, "SVXY": 0.0, "VIXY": 0.0}


def base_config(data_dir: str | None) -> dict:
    """The benchmark config: tuned strategy + a 60/40 benchmark."""
    if "rmp_playbook" in load_all():
        tuned = {"name": "playbook", "kind": "rmp_playbook", "params": {"core": CORE}}
    else:
        tuned = {"name": "playbook", "kind": "fixed_weights", "params": {"weights": CORE, "allow_cash": True}}
    data = {"source": "csv", "dir": data_dir} if data_dir else {"source": "sample"}
    return {
        "name": "bench-tune",
        "data": {**data, "start": "2011-01-03", "universe": UNIVERSE},
        "rebalance": {"every": "monthly"},
        "execution": {"lag_days": 1},
        "costs": {"fee_bps": 1.0, "slippage_bps": 2.0, "borrow_bps": 50, "borrow_bps_by_asset": {"SVXY": 300}},
        "cash": {"rate": "DTB3"},
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
            tuned,
        ],
    }


def grid(kind: str) -> tuple[list[str], list[str]]:
    """Grid keys (and constraints) giving >= 1,000 variants."""
    p = "strategies.playbook.params."
    if kind == "rmp_playbook":
        return [p + "overrides.short_vol=0:0.10:0.01", p + "overrides.real_assets.GLD=0:0.09:0.01",
                p + "overrides.size_tech.QQQ=0:0.09:0.01"], []
    keys = ["SPY", "IEF", "GLD", "TLT", "QQQ", "IWM"]
    return ([p + f"weights.{k}=0:0.3:0.05" for k in keys],
            [" + ".join(keys) + " <= 0.5"])


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def cli_tune(raw: dict, keys: list[str], where: list[str], variants: int, repeat: int,
             null_runs: int | None = None) -> float:
    """Wall time of ``rmpbt tune`` in a fresh process (best of ``repeat``, after one warm-up run)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg_path = Path(tmp) / "bench.yaml"
        cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        cmd = [sys.executable, "-c", "from backtest.cli import main; main()", "tune", str(cfg_path),
               *[a for k in keys for a in ("--grid", k)], *[a for c in where for a in ("--where", c)],
               "--random", str(variants), "--seed", "1", "--walk-forward", "train=36M,test=12M",
               "--strategy", "playbook", "--no-benchmarks", "--no-report", "--out", str(Path(tmp) / "results"),
               *(["--null-runs", str(null_runs)] if null_runs is not None else [])]
        env = dict(os.environ, MPLBACKEND="Agg")
        best = np.inf
        for i in range(repeat + 1):
            t = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"bench_tune: rmpbt tune failed: {proc.stderr.strip()[-400:]}")
            if i:  # the first run warms the numba cache
                best = min(best, time.perf_counter() - t)
        return float(best)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="csv data folder (default: the synthetic sample market)")
    ap.add_argument("--variants", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=10, help="variants timed through run_backtest")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-fallback", action="store_true", help="skip the steepener grid (and its Dask run)")
    ap.add_argument("--null-runs", type=int, default=None, help="the CLI run's --null-runs (default: the tuner's)")
    args = ap.parse_args()
    compile_project()  # warm: the project's bytecode, as a second run would find it

    raw = base_config(args.data_dir)
    kind = raw["strategies"][1]["kind"]
    cfg = config_from_dict(raw, "bench")
    t = time.perf_counter()
    md = load_market(cfg)
    load_s = time.perf_counter() - t
    keys, where = grid(kind)
    req = TuneRequest(grid=keys, where=where, random=args.variants, seed=1, walk_forward="train=36M,test=12M",
                      strategy="playbook")

    t = time.perf_counter()
    run_tune(cfg, TuneRequest(grid=keys[:1], where=[], split="2018-01-02", strategy="playbook"), md=md,
             benchmarks=False)  # warm-up: numba kernels compiled or loaded from cache
    warm_s = time.perf_counter() - t
    tune_s, res = best_of(lambda: run_tune(cfg, req, md=md, benchmarks=False), args.repeat)
    n = len(res.table)
    ctx = next(iter(res.chunks.values())).ctx
    n_days, n_fills = len(ctx.days), len(ctx.fill_idx)

    # kernel alone and the numpy floor on the same shape (V x K x 16, T days)
    rng = np.random.default_rng(0)
    px = md.prices.loc[ctx.days, UNIVERSE].to_numpy()
    first = np.where(np.isfinite(px).any(axis=0), np.isfinite(px).argmax(axis=0), len(px))
    w = rng.dirichlet(np.ones(len(UNIVERSE)), (n, n_fills)) * 0.95
    w[:, ctx.fill_idx[:, None] < first[None, :]] = 0.0
    kernel_s, _ = best_of(lambda: simulate_batch(px, w, KernelView(
        ctx.fill_idx, fee=1e-4, slippage=2e-4, borrow_bps=50.0, cash_growth=cash_growth(np.full(n_days, 2.0)))),
        args.repeat)
    floor_s, _ = best_of(lambda: numpy_floor(px, w, ctx.fill_idx), args.repeat)

    # one at a time through run_backtest (the `rmpbt run` code path, vectorbt)
    pick = np.linspace(0, n - 1, args.sample).astype(int)
    rets = res.variant_returns(list(pick))
    solo = copy.deepcopy(raw)
    solo["strategies"] = [raw["strategies"][1]]
    per_run, max_diff = [], 0.0
    for i in pick:
        r = copy.deepcopy(solo)
        ov = r["strategies"][0]["params"]
        for a in res.axes:
            node = ov
            for part in a.path[3:-1]:
                node = node.setdefault(part, {})
            node[a.path[-1]] = res.table.loc[i, a.key]
        c = config_from_dict(r, "bench")
        t = time.perf_counter()
        out = run_backtest(c, md=md)
        per_run.append(time.perf_counter() - t)
        max_diff = max(max_diff, float((out.returns["playbook"] - rets[i]).abs().max()))
    one_s = float(np.median(per_run))

    # a grid over the steepener's size (its financing interacts with the bill sweep),
    # in-process and on 2 Dask worker processes
    slow_s = dask_s = start_s = float("nan")
    slow_modes: dict = {}
    if kind == "rmp_playbook" and not args.no_fallback:
        from backtest.executors import DaskExecutor

        p = "strategies.playbook.params.overrides."
        nl = TuneRequest(grid=[p + "short_vol=0:0.10:0.01", p + "real_assets.GLD=0:0.09:0.01",
                               p + "steepener=0:0.30:0.025"], random=n, seed=1,
                         walk_forward="train=36M,test=12M", strategy="playbook")
        slow_s, slow = best_of(lambda: run_tune(cfg, nl, md=md, benchmarks=False), 1)
        slow_modes = slow.weight_modes
        t = time.perf_counter()
        with DaskExecutor(workers=2) as ex:
            start_s = time.perf_counter() - t
            run_tune(cfg, nl, md=md, benchmarks=False, executor=ex)  # workers load the kernels
            dask_s, _ = best_of(lambda: run_tune(cfg, nl, md=md, benchmarks=False, executor=ex), 1)

    cli_s = cli_tune(raw, keys, where, args.variants, args.repeat, args.null_runs)

    tm = res.timings
    print(f"bench_tune: {n} variants of {kind} ({len(UNIVERSE)}-asset universe, {len(keys)} keys), "
          f"{n_days} days {ctx.days[0].date()}..{ctx.days[-1].date()}, {n_fills} monthly fills, "
          f"{len(res.folds)} walk-forward folds; data {md.source} (load {load_s:.1f} s, warm-up {warm_s:.1f} s)")
    print(f"  weights: {res.weight_modes}; paths: {res.n_paths}")
    print(f"  rmpbt tune through the CLI, warm (best of {args.repeat}) {cli_s:8.3f} s   target <= 3 s: "
          f"{'met' if cli_s <= 3.0 else 'NOT met'}")
    print(f"  tune (in-process, best of {args.repeat}) ........ {tune_s:8.3f} s   "
          f"[last run: paths+probe {tm['paths']:.3f}, simulate+score (+validation) {tm['simulate']:.3f}, "
          f"select {tm['report']:.3f}]")
    print(f"  kernel only (1 call, {n} x {n_fills} x {len(UNIVERSE)}) ..... {kernel_s:8.3f} s")
    print(f"  numpy floor (no costs) ........................ {floor_s:8.3f} s")
    print(f"  tune / numpy floor ............................ {tune_s / floor_s:8.1f} x")
    print(f"  kernel / numpy floor .......................... {kernel_s / floor_s:8.1f} x   target <= 5 x: "
          f"{'met' if kernel_s <= 5 * floor_s else 'NOT met'}")
    print(f"  run_backtest one at a time: {one_s:.3f} s/variant (median of {len(pick)}) -> "
          f"{one_s * n:.0f} s for {n}")
    print(f"  speed-up vs one at a time ..................... {one_s * n / tune_s:8.0f} x")
    print(f"  max |daily return diff| tuner vs run_backtest . {max_diff:.2e} over {len(pick)} variants")
    if slow_modes:
        print(f"  steepener grid (weights {slow_modes}):")
        print(f"    in-process .................................. {slow_s:8.3f} s")
        print(f"    2 Dask worker processes ..................... {dask_s:8.3f} s   (+{start_s:.1f} s cluster start)")


if __name__ == "__main__":
    main()
