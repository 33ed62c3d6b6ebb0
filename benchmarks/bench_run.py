"""Benchmark: one 16-asset daily run 2008-2026 with monthly rebalancing, end to end.

Times config -> data -> regimes -> signals -> weights -> engine -> metrics inside one
process, after a first (compiling) run; report rendering is timed separately. Prints the
median of 5 runs per phase and the peak resident memory.

    python benchmarks/bench_run.py [--data-dir ../shared/data] [--repeats 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from backtest.config import DEFAULT_UNIVERSE, config_from_dict
from backtest.pipeline import load_market, render_report, run_backtest, write_outputs


def make_cfg(data_dir: str | None):
    data = {"source": "csv", "dir": data_dir} if data_dir else {"source": "sample"}
    data.update({"start": "2008-01-02", "universe": list(DEFAULT_UNIVERSE)})
    return config_from_dict({
        "name": "bench16",
        "data": data,
        "rebalance": {"every": "monthly"},
        "costs": {"fee_bps": 1, "slippage_bps": 2},
        "cash": {"rate": "DTB3"},
        "strategies": [{"name": "ew16", "kind": "equal_weight", "params": {"assets": list(DEFAULT_UNIVERSE)}}],
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="csv data folder (default: the sample market)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cfg = make_cfg(args.data_dir)
    run_backtest(cfg)  # compile numba kernels, warm caches
    totals, loads, sims, reports = [], [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        md = load_market(cfg)
        t1 = time.perf_counter()
        out = run_backtest(cfg, md=md)
        t2 = time.perf_counter()
        totals.append(t2 - t0)
        loads.append(t1 - t0)
        sims.append(t2 - t1)
        with tempfile.TemporaryDirectory() as tmp:
            write_outputs(out, Path(tmp))
            t3 = time.perf_counter()
            render_report(Path(tmp))
            reports.append(time.perf_counter() - t3)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    src = args.data_dir or "sample market"
    print(f"data: {src}; {len(out.days)} days x {len(cfg.data.universe)} assets, monthly rebalancing")
    print(f"config -> metrics, median of {args.repeats}: {statistics.median(totals):.3f} s  (target <= 0.5 s)")
    print(f"  of which data load:          {statistics.median(loads):.3f} s")
    print(f"  of which regimes..metrics:   {statistics.median(sims):.3f} s")
    print(f"report rendering, median:      {statistics.median(reports):.3f} s  (target <= 2 s)")
    print(f"peak resident memory:          {peak_mb:.0f} MB  (target <= 1024 MB)")


if __name__ == "__main__":
    main()
