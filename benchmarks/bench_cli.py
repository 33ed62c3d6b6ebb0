"""Benchmark: start-up of the interactive ``rmpbt`` commands (plain script, writes nothing).

For ``rmpbt --help``, ``rmpbt strategies`` and ``rmpbt --version``, in fresh processes:

* wall time, best of ``--repeats`` after one warm-up (target <= 0.5 s each);
* the heavy libraries they import (``sys.modules`` at exit; target: none of vectorbt,
  cvxpy, numba, plotly, matplotlib, yfinance, dask);
* with ``--importtime``, the 10 slowest imports of each (``python -X importtime``).

    python benchmarks/bench_cli.py [--repeats 5] [--importtime]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from warm import compile_project

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.5
HEAVY = ("vectorbt", "cvxpy", "numba", "plotly", "matplotlib", "yfinance", "dask", "distributed")
ALSO = ("pandas", "numpy", "scipy", "statsmodels", "pydantic")
COMMANDS = (["--help"], ["strategies"], ["--version"])

PROBE = """
import json, sys
sys.argv = ['rmpbt', *{args!r}]
from backtest.cli import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write('MODULES=' + json.dumps(sorted(m for m in sys.modules if '.' not in m)))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wall(args: list[str], repeats: int) -> tuple[float, float]:
    """Best wall and CPU time of ``python -c 'from backtest.cli import main; main()' ARGS``.

    CPU time (user + system of the child) hardly depends on the shared machine's load.
    """
    cmd = [sys.executable, "-c", "from backtest.cli import main; main()", *args]
    subprocess.run(cmd, capture_output=True, env=_env(), cwd=ROOT, check=False)  # warm
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), _child_cpu()
        subprocess.run(cmd, capture_output=True, env=_env(), cwd=ROOT, check=False)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, _child_cpu() - c0)
    return best, best_cpu


def wall_of(cmd: list[str], repeats: int) -> tuple[float, float]:
    """Best wall and CPU time of an arbitrary command."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), _child_cpu()
        subprocess.run(cmd, capture_output=True, check=False)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, _child_cpu() - c0)
    return best, best_cpu


def top_modules(args: list[str]) -> list[str]:
    """Top-level modules imported by the command (``sys.modules`` at exit)."""
    r = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True,
                       text=True, env=_env(), cwd=ROOT, check=False)
    line = [x for x in r.stderr.splitlines() if x.startswith("MODULES=")]
    return json.loads(line[-1].removeprefix("MODULES=")) if line else []


def slowest_imports(args: list[str], n: int = 10) -> list[tuple[int, str]]:
    """The ``n`` largest cumulative import times (microseconds) of top-level imports."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-c",
                        "from backtest.cli import main; main()", *args],
                       capture_output=True, text=True, env=_env(), cwd=ROOT, check=False)
    rows = []
    for ln in r.stderr.splitlines():
        if not ln.startswith("import time:") or "cumulative" in ln:
            continue
        _self, cum, name = ln.removeprefix("import time:").split("|")
        if not name.startswith("   "):  # depth 0 or 1
            rows.append((int(cum), name.strip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    """Print each command's wall time and heavy imports next to the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--importtime", action="store_true", help="also list the slowest imports")
    args = ap.parse_args()
    compile_project()  # warm: the project's bytecode, as a second run would find it
    interp, interp_cpu = wall_of([sys.executable, "-c", "pass"], args.repeats)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"bare interpreter start-up: {interp:.3f} s wall, {interp_cpu:.3f} s CPU")
    for cmd in COMMANDS:
        label = "rmpbt " + " ".join(cmd)
        secs, cpu = wall(cmd, args.repeats)
        mods = set(top_modules(cmd))
        heavy = [m for m in HEAVY if m in mods]
        also = [m for m in ALSO if m in mods]
        ok = "ok" if secs <= TARGET_S else "OVER"
        print(f"{label:<18} wall {secs:.3f} s, CPU {cpu:.3f} s  (target <= {TARGET_S} s) {ok}")
        print(f"{'':<18} heavy imports: {', '.join(heavy) or 'none'}  (target: none)"
              f"; also loaded: {', '.join(also) or 'none'}")
        if args.importtime:
            for cum, name in slowest_imports(cmd):
                print(f"{'':<20} {cum / 1e3:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
