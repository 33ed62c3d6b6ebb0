"""``rmpbt scenarios CONFIG --calibrate``: the calibration backtest of the scenario model.

Called by :mod:`backtest.commands.scenarios_cmd`; the method is in
:mod:`backtest.synthetic.calibrate`. Prints the coverage table and a verdict line, then the
run folder's path.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from backtest.commands.progress import RichProgress

__all__ = ["VERDICT_STYLE", "calibrate_command", "coverage_table"]

VERDICT_STYLE = {"overconfident": "bold red", "underconfident": "bold dark_orange",
                 "calibrated within sampling error": "bold green"}


def coverage_table(run) -> Table:
    """Coverage of the 50%/90% bands, PIT histogram and verdict per strategy (pooled last)."""
    t = Table(title=f"Calibration: realised {run.horizon}-day returns in the simulated distribution "
                    f"({run.table['start'].nunique()} starts, every {run.every})",
              title_justify="left", header_style="bold")
    for c, j in (("strategy", "left"), ("n", "right"), ("n_eff", "right"), ("cover50", "right"),
                 ("cover90", "right"), ("PIT histogram (10 bins)", "left"), ("verdict", "left")):
        t.add_column(c, justify=j)  # type: ignore[arg-type]
    hist = run.histogram
    for r in run.summary.itertuples():
        counts = hist.loc[hist["strategy"] == r.strategy, "count"].astype(int).tolist()
        t.add_row(r.strategy, str(r.n), f"{r.n_eff:.1f}", f"{r.cover50:.0%}", f"{r.cover90:.0%}",
                  " ".join(map(str, counts)), f"[{VERDICT_STYLE.get(r.verdict, 'bold')}]{r.verdict}[/]")
    return t


def calibrate_command(cfg, sset, *, config: Path, paths: int, seed: int, start_from: str, every: str,
                      out: Path, report: bool, distributed: bool = False) -> Path:
    """Run, write and print the calibration backtest; returns the run folder.

    Raises
    ------
    ConfigError
        ``distributed`` (``--workers`` or ``--scheduler`` given).
    RmpbtError
        From the run or the writer (the caller prints it and exits with code 2).
    """
    from backtest.commands.common import console, err_console
    from backtest.errors import ConfigError
    from backtest.synthetic.calibrate import ALL, run_calibration
    from backtest.synthetic.calibrate_write import write_calibration_run

    if distributed:
        raise ConfigError("--workers/--scheduler: not used by --calibrate (its start dates run in-process)")
    bar = RichProgress(err_console, "calibrate", "start dates")
    try:
        run = run_calibration(cfg, sset, paths=paths, seed=seed, start_from=start_from, every=every,
                              origin=str(config), on_starts=bar.start, progress=lambda d, _n: bar.update(d))
    finally:
        bar.stop()
    folder = write_calibration_run(run, out, report=report)
    label = "SYNTHETIC sample market" if run.md.synthetic else run.md.source
    console.print(f"[bold]{cfg.name}[/]  calibration backtest  paths: {paths:,} per scenario and start  "
                  f"seed: {seed}  data: {label}  generator: {run.source}  ({run.timings['total']:.1f} s)",
                  highlight=False)
    console.print(coverage_table(run))
    pooled = run.summary.loc[run.summary["strategy"] == ALL].iloc[0]
    console.print(f"verdict (pooled): [{VERDICT_STYLE.get(pooled.verdict, 'bold')}]{pooled.verdict}[/]: the 90% band "
                  f"covers {pooled.cover90:.0%} of realised outcomes (50% band: {pooled.cover50:.0%}); "
                  f"binomial test on n/{run.overlap:g} = {pooled.n_eff:.1f} effective outcomes", highlight=False)
    for note in run.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)
    console.print(str(folder), highlight=False, soft_wrap=True)
    return folder
