"""Benchmark: the calibration backtest of the scenario model (``rmpbt scenarios --calibrate``).

Workload: ``configs/historical.yaml`` restricted to five strategies (spy, sixty_forty,
playbook, steepener, short_vol), the scenarios of ``configs/scenarios.yaml``, quarterly
starts from 2014 (47 on ``../shared/data``), ``--paths`` paths per scenario and start,
252-day horizon. Timed: the realised backtest, and per start the cut of the history, the
model fit (pools, betas, contexts) and the simulation of every scenario. Wall and CPU
seconds are printed (the machine is shared: CPU time is the steadier figure).

    python benchmarks/bench_calibrate.py --data-dir ../shared/data [--paths 200] [--starts N]
"""

from __future__ import annotations

import argparse
import time

from backtest.commands.loading import load_run_config
from backtest.commands.scenarios_cmd import select_strategies
from backtest.synthetic.calibrate import run_calibration
from backtest.synthetic.scenarios import load_scenarios

STRATEGIES = ["spy", "sixty_forty", "playbook", "steepener", "short_vol"]


def main() -> None:
    """Run the benchmark and print its timings and the pooled coverage."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--paths", type=int, default=200)
    ap.add_argument("--starts", type=int, default=None, help="only the last N start dates")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = load_run_config("configs/historical.yaml" if a.data_dir else "configs/quickstart.yaml", [],
                          data_dir=a.data_dir)
    cfg = select_strategies(cfg, STRATEGIES, "bench")
    w0, c0 = time.perf_counter(), time.process_time()
    run = run_calibration(cfg, load_scenarios(), paths=a.paths, seed=a.seed, max_starts=a.starts)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    n = run.table["start"].nunique()
    pooled = run.summary.iloc[-1]
    print(f"calibration: {n} starts x {a.paths} paths x {len(run.sset.scenarios)} scenarios x "
          f"{len(STRATEGIES)} strategies: wall {wall:.1f} s, cpu {cpu:.1f} s "
          f"(realised backtest {run.timings['realised']:.1f} s, then {run.timings['simulate'] / max(n, 1):.2f} s/start)")
    print(f"pooled: cover50 {pooled.cover50:.0%}, cover90 {pooled.cover90:.0%}, verdict {pooled.verdict}")


if __name__ == "__main__":
    main()
