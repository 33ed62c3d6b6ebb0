"""``rmpbt scenarios CONFIG --calibrate``: the calibration backtest of the scenario model.

Called by :mod:`backtest.commands.scenarios_cmd`; the method is in
:mod:`backtest.synthetic.calibrate.run`, the tests and verdicts in
:mod:`backtest.calibration_stats`. Runs the start dates on the configured
workers (``--workers N`` / ``--scheduler ADDR``), prints the coverage and tail table and
the pooled verdicts in colour (green: calibrated, amber: inconclusive, red: miscalibrated),
then the run folder's path.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from backtest.commands.progress import RichProgress

__all__ = ["TONE_STYLE", "calibrate_command", "coverage_table", "verdict_markup"]

TONE_STYLE = {"good": "bold green", "neutral": "bold yellow", "bad": "bold red"}


def verdict_markup(verdict: str) -> str:
    """A verdict in rich markup, coloured by what it says."""
    from backtest.calibration_stats import VERDICT_TONE

    return f"[{TONE_STYLE[VERDICT_TONE.get(verdict, 'neutral')]}]{escape(verdict)}[/]"


def _p(x: float) -> str:
    return "–" if x != x else ("<0.01" if x < 0.01 else f"{x:.2f}")  # NaN: not testable


def _pct(x: float) -> str:
    return "–" if x != x else f"{x:.0%}"


def coverage_table(run, subset: str | None = None) -> Table:
    """Coverage, tail shares (<p5, >p95), the three tests' p-values and the verdict per strategy (pooled last).

    ``subset``: the rows on all starts (default) or on the starts without fallback pools
    (:data:`~backtest.synthetic.calibrate.run.NO_FALLBACK`; no PIT histogram).
    """
    from backtest.synthetic.calibrate.run import ALL_STARTS, NO_FALLBACK

    subset = subset or ALL_STARTS
    n_starts = run.table["start"].nunique()
    rows = run.summary.loc[run.summary["subset"] == subset]
    n_fb = int(run.summary["n_fallback_starts"].iloc[0]) if len(run.summary) else 0
    n_eff = f"tests on n/{run.overlap:g} = {rows['n_eff'].iloc[-1]:.1f} effective outcomes" if len(rows) else ""
    title = (f"Calibration: realised {run.horizon}-day returns in the simulated distribution "
             f"({n_starts} starts, every {run.every}" + (f"; {n_fb} with fallback pools" if n_fb else "")
             + f"; {n_eff})")
    if subset == NO_FALLBACK:
        title = f"The same on the {n_starts - n_fb} starts without fallback pools ({n_eff})"
    t = Table(title=title, title_justify="left", header_style="bold")
    cols = [("strategy", "left"), ("n", "right"), ("cover90", "right"), ("<p5", "right"), (">p95", "right"),
            ("p <p5", "right"), ("p >p95", "right"), ("p unif.", "right")]
    if subset == ALL_STARTS:
        cols.append(("PIT histogram (10 bins)", "left"))
    for c, j in (*cols, ("verdict", "left")):
        t.add_column(c, justify=j, no_wrap=c in ("strategy", "verdict", "PIT histogram (10 bins)"))  # type: ignore[arg-type]
    hist = run.histogram
    for r in rows.itertuples():
        cells = [r.strategy, str(r.n), _pct(r.cover90), _pct(r.below_p5), _pct(r.above_p95),
                 _p(r.p_lower_tail), _p(r.p_upper_tail), _p(r.p_pit_uniform)]
        if subset == ALL_STARTS:
            cells.append(" ".join(map(str, hist.loc[hist["strategy"] == r.strategy, "count"].astype(int))))
        t.add_row(*cells, verdict_markup(r.verdict))
    return t


def calibrate_command(cfg, sset, *, config: Path, paths: int, seed: int, start_from: str, every: str,
                      out: Path, report: bool, workers: int | None = None, scheduler: str | None = None) -> Path:
    """Run, write and print the calibration backtest; returns the run folder.

    Raises
    ------
    RmpbtError
        From the executor, the run or the writer (the caller prints it and exits with
        code 2).
    """
    from backtest.calibration_stats import verdict_reason
    from backtest.commands.common import console, err_console
    from backtest.executors import make_executor
    from backtest.synthetic.calibrate.run import ALL, NO_FALLBACK, run_calibration
    from backtest.synthetic.calibrate.write import write_calibration_run

    bar = RichProgress(err_console, "calibrate", "start dates")
    with make_executor(workers, scheduler) as ex:
        try:
            run = run_calibration(cfg, sset, paths=paths, seed=seed, start_from=start_from, every=every,
                                  origin=str(config), on_starts=bar.start, progress=lambda d, _n: bar.update(d),
                                  executor=ex)
        finally:
            bar.stop()
    folder = write_calibration_run(run, out, report=report)
    label = "SYNTHETIC sample market" if run.md.synthetic else run.md.source
    console.print(f"[bold]{cfg.name}[/]  calibration backtest  paths: {paths:,} per scenario and start  "
                  f"seed: {seed}  data: {label}  generator: {run.source}  executor: {run.executor}  "
                  f"({run.timings['total']:.1f} s)", highlight=False)
    console.print(coverage_table(run))
    if (run.summary["subset"] == NO_FALLBACK).any():
        console.print(coverage_table(run, NO_FALLBACK))
    n_starts = run.table["start"].nunique()
    n_fb = int(run.summary["n_fallback_starts"].iloc[0])
    for r in run.summary.loc[run.summary["strategy"] == ALL].itertuples():
        if r.subset == NO_FALLBACK:
            which = f"{n_starts - n_fb} starts without fallback pools"
        else:
            which = f"all {n_starts} starts" + (f", {n_fb} with fallback pools" if n_fb else "")
        console.print(f"verdict (pooled, {which}): {verdict_markup(r.verdict)}: "
                      f"{escape(verdict_reason(r))}", highlight=False)
    for note in run.notes:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
    console.print(str(folder), highlight=False, soft_wrap=True)
    return folder
