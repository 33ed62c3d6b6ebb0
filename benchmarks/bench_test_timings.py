"""Timings that used to be asserted inside tests (tests must not assert wall-clock time).

Each figure is printed next to the bound the test used to assert:

* sample market generation, cold cache (``tests/test_sample.py``): <= 1.5 s;
* ``regime_rules.weights()`` for 180 monthly decisions, best of 15
  (``tests/test_rules_engine.py``): <= 5 ms;
* Markov regime labels on the scripted market (``tests/test_regimes_models.py``): <= 20 s;
* ``rmpbt tune`` on 2 Dask workers, tiny grid (``tests/test_tune_cli.py``): <= 60 s;
* ``rmpbt tune --scheduler`` to a port nobody listens on fails within 10 s
  (``tests/test_tune_cli.py``).

Reuses the tests' builders, so run it from the repository root:

    python benchmarks/bench_test_timings.py [--skip-tune]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path


def line(label: str, seconds: float, target: float, unit: str = "s") -> None:
    """Print one figure next to its target."""
    scale = 1e3 if unit == "ms" else 1.0
    ok = "ok" if seconds <= target else "OVER"
    print(f"{label:<52} {seconds * scale:8.2f} {unit}  (target <= {target * scale:g} {unit}) {ok}")


def bench_sample() -> None:
    """Sample market generation from a cold cache (a seed not generated before)."""
    from backtest.data.sample import SampleSource
    from tests.test_sample import MACRO_SERIES, UNIVERSE

    best = float("inf")
    for seed in (1123, 1124, 1125):
        t0 = time.perf_counter()
        SampleSource(seed).load(UNIVERSE, list(MACRO_SERIES), None, None)
        best = min(best, time.perf_counter() - t0)
    line("sample market generation (cold, best of 3)", best, 1.5)


def bench_rules_weights() -> None:
    """regime_rules weights for 180 monthly decisions (the test's strategy)."""
    from tests.test_rules_engine import BASE, gold, random_frame, strat

    sf = random_frame(180 * 21, seed=5)
    dates = sf.days[20::21]
    p = {"base": BASE, "tilts": [
        gold(when=["regime in [rmp, qe]", "vix < 22 exit 28"], min_hold_days=21),
        {"name": "sv", "when": "vix_term < 0.95 exit 1.0", "add": {"SVXY": 0.1}, "fund_from": ["SPY"],
         "exit_when": "vix > 30", "vol_target": {"target": 0.04, "window": 63}},
        {"name": "st", "when": {"not": "cpi_yoy_chg_3m > 0.25 exit 0"}, "add": {"IWM": 0.1, "QQQ": 0.1},
         "fund_from": ["SPY"]},
    ], "caps": {"max_weight": 0.6, "max_gross": 1.5}}
    s = strat(p)
    s.weights(sf, dates)
    best = float("inf")
    for _ in range(15):
        t0 = time.perf_counter()
        s.weights(sf, dates)
        best = min(best, time.perf_counter() - t0)
    line("regime_rules weights, 180 decisions (best of 15)", best, 0.005, "ms")


def bench_markov() -> None:
    """Markov regime labels on the tests' scripted market."""
    from backtest.regimes.markov import MarkovModel
    from tests.test_regimes_models import MARKOV_FAST, scripted_market

    md, _truth = scripted_market()
    t0 = time.perf_counter()
    MarkovModel(MARKOV_FAST).label(md, md.calendar)
    line("Markov labels, scripted market", time.perf_counter() - t0, 20.0)


def bench_tune() -> None:
    """The tune CLI on 2 Dask workers, and a dead --scheduler failing fast."""
    from tests.helpers import run_cli, write_tune_config
    from tests.test_tune_cli import GRID, W

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = write_tune_config(root)
        args = [*GRID, "--strategy", "mix", "--random", "17", "--seed", "5", "--split", "2017-06-01",
                "--no-report", "--no-benchmarks", "--chunk-size", "4"]
        t0 = time.perf_counter()
        r = run_cli("tune", str(cfg), *args, "--workers", "2", "--out", str(root / "c"))
        assert r.exit_code == 0, r.stderr
        line("rmpbt tune --workers 2 (17 variants)", time.perf_counter() - t0, 60.0)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        t0 = time.perf_counter()
        r = run_cli("tune", str(cfg), "--strategy", "mix", "--grid", W + "SPY=0.1,0.2",
                    "--scheduler", f"127.0.0.1:{port}", "--out", str(root / "res"))
        assert r.exit_code == 2, r.stderr
        line("rmpbt tune --scheduler <dead port> fails after", time.perf_counter() - t0, 10.0)


def main() -> None:
    """Run the benchmarks and print each figure next to its target."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-tune", action="store_true", help="skip the two tune CLI timings")
    args = ap.parse_args()
    bench_sample()
    bench_rules_weights()
    bench_markov()
    if not args.skip_tune:
        bench_tune()


if __name__ == "__main__":
    main()
