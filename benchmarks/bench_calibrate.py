"""Benchmark: the calibration backtest of the scenario model (``rmpbt scenarios --calibrate``).

Workload: ``configs/historical.yaml`` restricted to five strategies (spy, sixty_forty,
playbook, steepener, short_vol; ``--strategies`` to change), the scenarios of
``configs/scenarios.yaml``, quarterly starts from 2014 (47 on ``../shared/data``),
``--paths`` paths per scenario and start, 252-day horizon, on ``--workers N`` local Dask
process workers (1: in-process) or ``--scheduler ADDR``. Timed: the executor's start-up,
the data load, the realised backtest and every start (cut of the history, model fit,
simulation), as ``rmpbt scenarios --calibrate`` runs them; not the writing or the page.
Wall seconds (start-up included) and CPU seconds (this process plus its worker processes,
counted when the cluster has closed) are printed per run, with the machine's load before
and after (the machine may be shared: quote the median of ``--repeat 3`` and the load).

    python benchmarks/bench_calibrate.py --data-dir ../shared/data [--paths 200] [--workers 2]
        [--repeat 3] [--starts N] [--strategies a,b,c]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from backtest.commands.loading import load_run_config
from backtest.commands.scenarios_cmd import select_strategies
from backtest.executors import make_executor
from backtest.synthetic.calibrate.run import ALL, run_calibration
from backtest.synthetic.scenarios import load_scenarios

STRATEGIES = ["spy", "sixty_forty", "playbook", "steepener", "short_vol"]


def _load() -> str:
    with open("/proc/loadavg", encoding="ascii") as fh:
        return " ".join(fh.read().split()[:3])


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    """Run the benchmark and print its timings and the pooled verdicts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--paths", type=int, default=200)
    ap.add_argument("--starts", type=int, default=None, help="only the last N start dates")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="local Dask process workers (1: in-process)")
    ap.add_argument("--scheduler", default=None, help="a running Dask scheduler (host:port)")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    cfg = load_run_config("configs/historical.yaml" if a.data_dir else "configs/quickstart.yaml", [],
                          data_dir=a.data_dir)
    names = [s for s in a.strategies.split(",") if s]
    cfg = select_strategies(cfg, names, "bench")
    walls = []
    for i in range(a.repeat):
        load0 = _load()
        w0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
        with make_executor(a.workers, a.scheduler) as ex:
            up = time.perf_counter() - w0
            run = run_calibration(cfg, load_scenarios(), paths=a.paths, seed=a.seed, max_starts=a.starts,
                                  executor=ex)
            wall = time.perf_counter() - w0
        cpu = time.process_time() - c0 + _children_cpu() - k0
        walls.append(wall)
        n = run.table["start"].nunique()
        print(f"run {i + 1}: {n} starts x {a.paths} paths x {len(run.sset.scenarios)} scenarios x {len(names)} "
              f"strategies on {ex.describe()}: wall {wall:.1f} s (executor start-up {up:.1f} s), cpu {cpu:.1f} s; "
              f"realised backtest {run.timings['realised']:.1f} s, starts {run.timings['simulate']:.1f} s "
              f"summed ({run.timings['simulate'] / max(n, 1):.2f} s/start); load {load0} -> {_load()}",
              flush=True)
    pooled = run.summary.loc[run.summary["strategy"] == ALL]
    for r in pooled.itertuples():
        print(f"pooled ({r.subset}): cover90 {r.cover90:.0%}, below p5 {r.below_p5:.0%}, above p95 "
              f"{r.above_p95:.0%}, verdict {r.verdict}")
    if len(walls) > 1:
        print(f"median wall over {len(walls)} runs: {statistics.median(walls):.1f} s")


if __name__ == "__main__":
    main()
