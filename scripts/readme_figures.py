"""Regenerate the figures the README quotes (timings and results) and print them.

Runs the README's own commands in fresh processes (the ``rmpbt`` of this checkout), times
each (wall and CPU), reads the numbers the README states from the folders they write and
prints one block, which the README's "Figures in this README" section quotes::

    python scripts/readme_figures.py                      # everything (about 10-15 min on 2 cores)
    python scripts/readme_figures.py --quick              # skips the 2,000-path and calibration runs
    python scripts/readme_figures.py --only run,regimes   # some jobs only

Jobs: ``quickstart`` (``rmpbt run configs/quickstart.yaml``), ``run`` (historical on
``--data-dir``), ``regimes`` (the rules classifier's agreement with the calendar),
``scenarios-offline`` (quickstart, 200 paths), ``scenarios`` (historical, 500 paths, the
README's forward-looking figures), ``scenarios-2000`` (the timing of 2,000 paths),
``calibrate`` (``--calibrate --paths 200``: timing and coverage), ``tune`` (the README's
tune example). A job that fails prints ``n/a`` with the reason and the others go on (exit
code 1 at the end); a figure a newer output format no longer has prints ``n/a``.
Timings on a shared machine are noisy: the block states the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from warm import compile_project  # noqa: E402

TUNE_ARGS = ["--grid", "strategies.playbook.params.overrides.short_vol=0:0.10:0.01",
             "--grid", "strategies.playbook.params.overrides.real_assets.GLD=0:0.09:0.01",
             "--random", "50", "--seed", "7", "--walk-forward", "train=36M,test=12M"]
#: the article's trades as the README names them (strategy of configs/historical.yaml)
README_STRATEGIES = (("60/40", "sixty_forty"), ("short vol", "short_vol"), ("real assets", "real_assets"),
                     ("size/tech", "size_tech"), ("playbook", "playbook"), ("optimised playbook", "playbook_opt"),
                     ("optimised vs 60/40", "playbook_opt_6040"))


class JobFailed(Exception):
    """A command exited non-zero (its last stderr line is the reason)."""


def rmpbt(args: list[str], out: Path) -> tuple[Path, float, float, str]:
    """Run ``rmpbt ARGS --out OUT`` from the checkout; return (folder, wall s, CPU s, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    cmd = [sys.executable, "-c", "from backtest.cli import main; main()", *args, "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise JobFailed(f"rmpbt {' '.join(args)} exited {proc.returncode}: {tail[:300]}")
    folder = Path(proc.stdout.strip().splitlines()[-1].strip())
    return (folder if folder.is_absolute() else ROOT / folder), wall, cpu, proc.stdout


def pct(x: object, digits: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage (``n/a`` when missing)."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else f"{v * 100:{'+' if signed else ''}.{digits}f} %"


def num(x: object, digits: int = 2) -> str:
    """A number with ``digits`` decimals (``n/a`` when missing)."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else f"{v:.{digits}f}"


def timing(label: str, wall: float, cpu: float) -> str:
    """One timing line: the command, its wall time and CPU time."""
    def clock(s: float) -> str:
        return f"{s:.1f} s" if s < 90 else f"{int(s // 60)} min {s % 60:02.0f} s"
    return f"  {label:<68} {clock(wall):>10} wall, {clock(cpu):>10} CPU"


def get(frame: pd.DataFrame, row: str, col: str) -> object:
    """``frame.loc[row, col]`` or None when either is missing."""
    try:
        return frame.loc[row, col]
    except KeyError:
        return None


# --------------------------------------------------------------------------- jobs


def job_quickstart(ns: argparse.Namespace, tmp: Path) -> list[str]:
    _, wall, cpu, _ = rmpbt(["run", "configs/quickstart.yaml"], tmp / "quickstart")
    return [timing("rmpbt run configs/quickstart.yaml (report included)", wall, cpu)], []


def job_run(ns: argparse.Namespace, tmp: Path) -> list[str]:
    folder, wall, cpu, _ = rmpbt(["run", "configs/historical.yaml", "--data-dir", str(ns.data_dir), "--no-report"],
                                 tmp / "run")
    m = pd.read_csv(folder / "metrics.csv", index_col="strategy")
    prov = json.loads((folder / "provenance.json").read_text())
    d = prov.get("data") or {}
    bench = (yaml.safe_load((folder / "config.yaml").read_text()) or {}).get("benchmark")
    lines = [f"run configs/historical.yaml ({d.get('first_date', '?')} to {d.get('last_date', '?')}, "
             f"benchmark {bench}):"]
    lines.append("  Sharpe: " + ", ".join(f"{lbl} {num(get(m, s, 'sharpe'))}" for lbl, s in README_STRATEGIES))
    lines.append(f"  CAGR: steepener {pct(get(m, 'steepener', 'cagr'))} vs bills {pct(get(m, 'bills', 'cagr'))}; "
                 f"60/40 {pct(get(m, 'sixty_forty', 'cagr'))}")
    to_pb, to_opt = get(m, "playbook", "turnover"), get(m, "playbook_opt", "turnover")
    ratio = num(float(to_opt) / float(to_pb), 1) if to_pb and to_opt else "n/a"
    lines.append(f"  playbook_opt: max drawdown {pct(get(m, 'playbook_opt', 'max_drawdown'))}, turnover "
                 f"{num(to_opt)} vs playbook {num(to_pb)} ({ratio}x), financing "
                 f"{pct(get(m, 'playbook_opt', 'financing_drag'), 2)} of NAV a year, fees "
                 f"{pct(get(m, 'playbook_opt', 'fee_drag'), 2)}, borrow {pct(get(m, 'playbook_opt', 'borrow_drag'), 2)}")
    if "information_ratio" in m.columns:
        lines.append("  against 60/40: " + "; ".join(
            f"{lbl} IR {num(get(m, s, 'information_ratio'))}, TE {pct(get(m, s, 'tracking_error'))}, "
            f"beta {num(get(m, s, 'beta'))}" for lbl, s in README_STRATEGIES[1:]))
    return [timing("rmpbt run configs/historical.yaml --data-dir DIR --no-report", wall, cpu)], lines


def job_regimes(ns: argparse.Namespace, tmp: Path) -> list[str]:
    folder, wall, cpu, _ = rmpbt(["regimes", "--data-dir", str(ns.data_dir), "--model", "rules"], tmp / "regimes")
    tab = pd.read_csv(folder / "agreement.csv", index_col=0)
    same = sum(float(tab.loc[k, k]) for k in tab.index if k in tab.columns)
    tl = pd.read_csv(folder / "labels.csv", usecols=["date"])
    return ([timing("rmpbt regimes --data-dir DIR --model rules", wall, cpu)],
            [f"regimes: the rules classifier agrees with the calendar on {pct(same / tab.to_numpy().sum(), 0)} of "
             f"days ({tl['date'].iloc[0][:7]} to {tl['date'].iloc[-1][:7]})"])


def job_scenarios_offline(ns: argparse.Namespace, tmp: Path) -> list[str]:
    _, wall, cpu, _ = rmpbt(["scenarios", "configs/quickstart.yaml", "--paths", "200", "--seed", "1"], tmp / "so")
    return [timing("rmpbt scenarios configs/quickstart.yaml --paths 200 --seed 1", wall, cpu)], []


def job_scenarios(ns: argparse.Namespace, tmp: Path) -> list[str]:
    paths = "100" if ns.quick else "500"
    folder, wall, cpu, _ = rmpbt(["scenarios", "configs/historical.yaml", "--data-dir", str(ns.data_dir),
                                  "--paths", paths, "--seed", "1"], tmp / "scen")
    sm = pd.read_csv(folder / "scenario_metrics.csv")
    mix = sm.loc[sm["scenario"].astype(str) == "mix"].set_index(["strategy", "statistic"])

    def stat(strategy: str, name: str) -> object:
        return get(mix, (strategy, name), "median") if (strategy, name) in mix.index else None

    lines = [f"scenarios ({paths} paths, seed 1{', QUICK: not the README figures' if ns.quick else ''}), mix:",
             f"  median one-year return: 60/40 {pct(stat('sixty_forty', 'horizon_return'), signed=True)}, "
             f"playbook {pct(stat('playbook', 'horizon_return'), signed=True)}; playbook beats 60/40 on "
             f"{pct(stat('playbook', 'prob_beat_6040'), 0)} of paths; CVaR 5 % playbook "
             f"{pct(stat('playbook', 'cvar_5'))} vs 60/40 {pct(stat('sixty_forty', 'cvar_5'))}"]
    reg_path = folder / "scenario_regret.csv"
    if reg_path.exists():
        reg = pd.read_csv(reg_path)
        robust = reg.loc[reg["robust"].astype(str) == "True", "strategy"].tolist() if "robust" in reg else []
        for s in robust:
            beat = reg.loc[reg["strategy"] == s, "prob_beat_6040_mix"].iloc[0] if "prob_beat_6040_mix" in reg else None
            lines.append(f"  robust choice: {s} (beats 60/40 on {pct(beat, 0)} of paths)")
    pe_path = folder / "pace_effect.csv"
    if pe_path.exists():
        pe = pd.read_csv(pe_path)
        col = pe["distinguishable"].astype(str) == "True" if "distinguishable" in pe else pd.Series(False, index=pe.index)
        hit = pe.loc[col].drop_duplicates("strategy")
        who = [f"{r.strategy} ({pct(getattr(r, 'effect', None), 2, signed=True)})" for r in hit.itertuples()]
        lines.append("  pace effect (median return, highest minus lowest pace) distinguishable from zero for: "
                     + (", ".join(who) if who else "no strategy"))
    return [timing(f"rmpbt scenarios configs/historical.yaml --paths {paths} --seed 1", wall, cpu)], lines


def job_scenarios_2000(ns: argparse.Namespace, tmp: Path) -> list[str]:
    _, wall, cpu, _ = rmpbt(["scenarios", "configs/historical.yaml", "--data-dir", str(ns.data_dir),
                             "--paths", "2000", "--seed", "1"], tmp / "s2000")
    return [timing("rmpbt scenarios configs/historical.yaml --paths 2000 --seed 1", wall, cpu)], []


def job_calibrate(ns: argparse.Namespace, tmp: Path) -> list[str]:
    folder, wall, cpu, _ = rmpbt(["scenarios", "configs/historical.yaml", "--data-dir", str(ns.data_dir),
                                  "--calibrate", "--paths", "200"], tmp / "cal")
    summ = pd.read_csv(folder / "calibration_summary.csv")
    pooled = summ.iloc[-1]  # the last row pools every strategy
    return [timing("rmpbt scenarios configs/historical.yaml --calibrate --paths 200", wall, cpu)], [
            f"calibration: 90 % bands covered {pct(pooled.get('cover90'), 0)} of realised one-year outcomes "
            f"(50 % bands {pct(pooled.get('cover50'), 0)}; {pooled.get('strategy', '?')}, "
            f"verdict: {pooled.get('verdict', 'n/a')})"]


def job_tune(ns: argparse.Namespace, tmp: Path) -> list[str]:
    folder, wall, cpu, _ = rmpbt(["tune", "configs/tune.yaml", *TUNE_ARGS], tmp / "tune")
    prov = json.loads((folder / "provenance.json").read_text())
    v = prov.get("verdict") or {}
    words = f"{v.get('level', 'n/a')}: {v.get('text', 'n/a')}"
    return [timing("rmpbt tune configs/tune.yaml ... (the README's example, offline)", wall, cpu)], [
            f"tune example (sample market): {prov.get('variants', '?')} variants; verdict {words}"]


JOBS: dict[str, Callable[[argparse.Namespace, Path], tuple[list[str], list[str]]]] = {
    "quickstart": job_quickstart, "run": job_run, "regimes": job_regimes,
    "scenarios-offline": job_scenarios_offline, "scenarios": job_scenarios,
    "scenarios-2000": job_scenarios_2000, "calibrate": job_calibrate, "tune": job_tune,
}
SLOW = ("scenarios-2000", "calibrate")
NEEDS_DATA = ("run", "regimes", "scenarios", "scenarios-2000", "calibrate")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data",
                   help="real data in the csv layout (default: ../shared/data)")
    p.add_argument("--quick", action="store_true",
                   help=f"skip {', '.join(SLOW)}; 100 scenario paths instead of 500 (not the README's figures)")
    p.add_argument("--only", default=None, help=f"comma-separated jobs among: {', '.join(JOBS)}")
    p.add_argument("--out", type=Path, default=None, help="also write the block to this file")
    ns = p.parse_args()
    ns.data_dir = ns.data_dir.resolve()
    wanted = [j.strip() for j in ns.only.split(",")] if ns.only else list(JOBS)
    unknown = [j for j in wanted if j not in JOBS]
    if unknown:
        p.error(f"--only: unknown job {unknown[0]!r} (choose from {', '.join(JOBS)})")
    if ns.quick:
        wanted = [j for j in wanted if j not in SLOW]
    if not ns.data_dir.is_dir():
        print(f"readme_figures: {ns.data_dir} not found: real-data jobs skipped", file=sys.stderr)
        wanted = [j for j in wanted if j not in NEEDS_DATA]
    compile_project()
    load0 = os.getloadavg()[0]
    timings, figures, failed = [], [], 0
    with tempfile.TemporaryDirectory(prefix="readme-figures-") as tmpd:
        tmp = Path(tmpd)
        if "quickstart" in wanted:  # numba's cache: the first run is not the one timed
            try:
                rmpbt(["run", "configs/quickstart.yaml", "--no-report"], tmp / "warm")
            except JobFailed:
                pass  # the timed run reports it
        for name in wanted:
            print(f"readme_figures: {name} ...", file=sys.stderr, flush=True)
            try:
                t, f = JOBS[name](ns, tmp)
            except (JobFailed, OSError, KeyError, ValueError, IndexError, TypeError) as exc:
                failed += 1
                figures.append(f"{name}: n/a ({type(exc).__name__}: {exc})")
                continue
            timings += t
            figures += f
    load1 = os.getloadavg()[0]
    data_end = "?"
    prices = ns.data_dir / "prices" / "SPY.csv"
    if prices.exists():
        data_end = prices.read_text().strip().splitlines()[-1].split(",")[0]
    head = (f"README figures ({dt.date.today()}, scripts/readme_figures.py{' --quick' if ns.quick else ''}; "
            f"data {os.path.relpath(ns.data_dir, ROOT)} to {data_end}; {os.cpu_count()} cores, "
            f"load average {load0:.1f} -> {load1:.1f})")
    block = "\n".join([head, *(["timings (wall and CPU of the whole process tree; warm once numba's cache exists):", *timings] if timings else []),
                       *figures])
    print(block)
    if ns.out is not None:
        ns.out.write_text(block + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
