"""Benchmark: ``rmpbt evidence configs/historical.yaml --data-dir DIR`` end to end (target <= 20 s on 2 cores).

Runs the command in fresh processes as a user types it (warm: after one untimed run that
fills numba's cache; the project's bytecode compiled), with the default 1,000 bootstrap
draws and 1,000 placebo windows per event, and prints each wall time, the median, the
machine load (``/proc/loadavg``) and the step timings the folder's ``provenance.json``
records (the run's and the evidence's).

    python benchmarks/bench_evidence.py [--data-dir ../shared/data] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from warm import ROOT, compile_project

TARGET_S = 20.0


def run_once(data_dir: str, out: Path) -> tuple[float, Path]:
    """Wall time of one ``rmpbt evidence`` and the folder it wrote."""
    cmd = [sys.executable, "-c", "from backtest.cli import main; main()", "evidence",
           str(ROOT / "configs" / "historical.yaml"), "--data-dir", data_dir, "--out", str(out)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=dict(os.environ, MPLBACKEND="Agg"), capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"bench_evidence: rmpbt evidence failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return wall, Path(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--repeats", type=int, default=3)
    ns = ap.parse_args()
    if not (Path(ns.data_dir) / "prices" / "SPY.csv").exists():
        sys.exit(f"bench_evidence: no csv data folder at {ns.data_dir}")
    compile_project()
    with tempfile.TemporaryDirectory() as tmp:
        run_once(ns.data_dir, Path(tmp) / "warm")  # numba cache, page caches
        times, folder = [], None
        for i in range(ns.repeats):
            load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
            wall, folder = run_once(ns.data_dir, Path(tmp) / f"r{i}")
            times.append(wall)
            print(f"run {i + 1}: {wall:6.2f} s   (load before: {' '.join(load)})")
        med = statistics.median(times)
        print(f"median {med:.2f} s over {len(times)} runs (target <= {TARGET_S:g} s): {'OK' if med <= TARGET_S else 'SLOW'}")
        prov = json.loads((folder / "provenance.json").read_text())
        steps = {k: v for k, v in prov["timings_s"].items() if not k.startswith("strategy:")}
        print("steps of the last run (s): " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))


if __name__ == "__main__":
    main()
