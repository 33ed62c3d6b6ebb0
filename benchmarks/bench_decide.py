"""How long ``rmpbt decide`` takes on a saved run of 2,000 paths x 3 scenarios x 17 strategies.

Builds a synthetic saved scenario run of that size (``scenario_paths.parquet`` + the
provenance record, :func:`backtest.synthetic.decide.outcomes.write_outcomes_folder`;
16 assets, fat-tailed horizon returns) in a temporary folder, then times, each in a fresh
process, ``--repeat`` times (median and all runs; wall and CPU seconds, the CPU time being less sensitive to a busy machine):

* ``api``: ``import rmpbt; rmpbt.decide(run)`` — imports included, interpreter start excluded;
* ``api warm``: a second ``rmpbt.decide(run)`` in the same process (the computation alone);
* ``api + views``: ``rmpbt.decide(run, views=["P(B)>=0.5", "E[SPY]=0.1"])``, warm;
* ``cli``: the wall time of ``rmpbt decide RUN --out DIR`` (reading, computing, writing the
  folder and ``decision.html``) minus the wall time of a bare ``python -c pass``.

Usage::

    python benchmarks/bench_decide.py [--paths 2000] [--strategies 17] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.synthetic.decide.outcomes import ASSET_PREFIX, write_outcomes_folder

SCENARIOS = {"A": 0.40, "B": 0.35, "C": 0.25}
ASSETS = ("SPY", "IWM", "QQQ", "GLD", "DBC", "TIP", "VNQ", "BIL", "SHY", "IEF", "TLT", "AGG", "HYG", "UUP", "SVXY",
          "VIXY")


def synthetic_run(folder: Path, paths: int, n_strategies: int, seed: int = 0) -> Path:
    """Write a saved run of ``paths`` x 3 scenarios x ``n_strategies`` (the first is the 60/40)."""
    rng = np.random.default_rng(seed)
    names = ["sixty_forty", *[f"strategy_{i:02d}" for i in range(1, n_strategies)]]
    parts = []
    for j, sc in enumerate(SCENARIOS):
        assets = rng.normal(0.06 - 0.02 * j, 0.18, (paths, len(ASSETS)))
        mu = rng.normal(0.06, 0.03, n_strategies)
        vol = rng.uniform(0.02, 0.3, n_strategies)
        hr = mu + vol * rng.standard_t(4, (paths, n_strategies)) / np.sqrt(2.0)
        frame = pd.DataFrame({
            "scenario": sc, "path": np.repeat(np.arange(paths), n_strategies),
            "strategy": np.tile(names, paths), "weight": SCENARIOS[sc] / paths,
            "horizon_return": hr.ravel(), "max_drawdown": -np.abs(hr).ravel() / 2,
            "ann_vol": np.repeat(vol[None, :], paths, axis=0).ravel(),
            "sharpe": (hr / vol).ravel(),
        })
        for i, t in enumerate(ASSETS):
            frame[f"{ASSET_PREFIX}{t}"] = np.repeat(assets[:, i], n_strategies)
        parts.append(frame)
    record = {"scenarios": list(SCENARIOS), "probabilities": SCENARIOS, "strategies": names,
              "benchmark": "sixty_forty", "benchmark_internal": False, "assets": list(ASSETS),
              "statistic": "cvar_penalised", "summary": "mean", "cvar_lambda": 1.0, "seed": seed, "paths": paths}
    return write_outcomes_folder(folder, pd.concat(parts, ignore_index=True), record)


API = """
import json, sys, time
c, t0 = time.process_time(), time.perf_counter()
import rmpbt
d = rmpbt.decide(sys.argv[1])
c1, t1 = time.process_time(), time.perf_counter()
d = rmpbt.decide(sys.argv[1])
c2, t2 = time.process_time(), time.perf_counter()
d = rmpbt.decide(sys.argv[1], views=["P(B)>=0.5", "E[SPY]=0.1"])
c3, t3 = time.process_time(), time.perf_counter()
print(json.dumps({"api": [t1 - t0, c1 - c], "api warm": [t2 - t1, c2 - c1], "api + views": [t3 - t2, c3 - c2],
                  "choice": d.choice}))
"""


def wall(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of a command (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    w = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return w, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Build the run, time the API and the CLI, print the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--strategies", type=int, default=17)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = synthetic_run(Path(tmp) / "run", args.paths, args.strategies)
        rmpbt = str(Path(sys.executable).with_name("rmpbt"))
        times: dict[str, list[list[float]]] = {}
        for i in range(args.repeat):
            res = json.loads(subprocess.run([sys.executable, "-c", API, str(run)], check=True, capture_output=True,
                                            text=True).stdout)
            for k in ("api", "api warm", "api + views"):
                times.setdefault(k, []).append(res[k])
            bare = wall([sys.executable, "-c", "pass"])
            cli = wall([rmpbt, "decide", str(run), "--out", str(Path(tmp) / f"d{i}")])
            times.setdefault("cli", []).append([cli[0] - bare[0], cli[1] - bare[1]])
        print(f"decide on {args.paths:,} paths x 3 scenarios x {args.strategies} strategies "
              f"(median of {args.repeat}; load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; "
              "target <= 1 s excluding interpreter start)")
        print(f"  {'':12s} {'wall':>7s} {'cpu':>7s}   runs (wall)")
        for k, v in times.items():
            w, c = statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)
            print(f"  {k:12s} {w:6.3f}s {c:6.3f}s   {', '.join(f'{x[0]:.3f}' for x in v)}")


if __name__ == "__main__":
    main()
