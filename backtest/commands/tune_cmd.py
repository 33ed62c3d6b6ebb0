"""``rmpbt tune CONFIG``: parameter sweep of one strategy with out-of-sample reporting.

See ``docs/tuning.md``. Prints a summary and, last, the path of the new run folder
(``tune.csv``, ``best.yaml``, ``oos.csv``, ``tune.html``, ``provenance.json``; ``cpcv.csv``
with ``--cv``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from backtest.commands.common import out_path
from backtest.commands.progress import RichProgress
from backtest.errors import RmpbtError
from backtest.metrics_registry import METRICS, PCT, metric_names
from backtest.tune.gcpause import collector_paused

ConfigArg = Annotated[Path, typer.Argument(help="YAML run config (see configs/).", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key: dotted.path=value (strategies by name). Repeatable."),
]
StartOpt = Annotated[str | None, typer.Option(help="Override data.start (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option(help="Override data.end (YYYY-MM-DD).")]
DataDirOpt = Annotated[str | None, typer.Option(
    "--data-dir", help="Folder in the csv layout (prices/, vol/, fred/); implies source csv.")]
OutOpt = Annotated[Path, typer.Option("--out", parser=out_path, help="Results root; the tune writes one new folder inside.")]


def _fmt(x: float, pct: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:.1%}" if pct else f"{x:.2f}"


def short_key(key: str, strategy: str) -> str:
    """Display name of a grid key (as on the tune page; here without loading plotly)."""
    return key.removeprefix(f"strategies.{strategy}.params.")


def summary(result, top: int = 10) -> list:
    """Rich renderables summarising a :class:`backtest.tune.orchestrate.TuneResult`."""
    req = result.request
    metric = result.metric
    keys = [a.key for a in result.axes]
    t = result.table
    folds = result.folds
    out: list = []
    windows = (f"walk-forward {req.walk_forward} ({len(folds)} folds)" if req.walk_forward
               else f"in-sample < {folds['test_start'].iloc[0]} ≤ out-of-sample")
    modes = ", ".join(f"{k} {v}" for k, v in result.weight_modes.items() if v)
    out.append(
        f"[bold]tune {result.origin}[/]  strategy [cyan]{result.strategy}[/]  {len(t)} variants "
        f"({len(keys)} key(s), {result.n_paths} path(s); weights: {modes})  metric {metric}  {windows}  "
        f"data {result.md.source}{' (SYNTHETIC)' if result.md.synthetic and 'synthetic' not in result.md.source else ''} "
        f"{result.days[0].date()} → {result.days[-1].date()}  [dim]{result.executor}, "
        f"{result.timings.get('total', 0):.1f} s[/]")
    tb = Table(title=f"Top {min(top, len(t))} variants by in-sample {metric}", title_justify="left",
               header_style="bold")
    tb.add_column("variant", justify="right")
    for k in keys:
        tb.add_column(short_key(k, result.strategy), justify="right")
    has_to = "turnover" in t.columns
    for c in (f"IS {metric}", f"OOS {metric}", "IS rank", "OOS rank", *(("turnover",) if has_to else ())):
        tb.add_column(c, justify="right")
    for _, r in t.sort_values(f"is_{metric}", ascending=False, na_position="last").head(top).iterrows():
        tb.add_row(str(int(r["variant"])), *[str(r[k]) for k in keys], _fmt(r[f"is_{metric}"]),
                   _fmt(r[f"oos_{metric}"]), str(int(r["is_rank"])), str(int(r["oos_rank"])),
                   *((_fmt(r["turnover"]),) if has_to else ()))
    out.append(tb)
    om = result.oos_metrics
    oo = Table(title=f"Out-of-sample ({len(result.oos_returns)} days: {result.oos_returns.index[0].date()} → "
                     f"{result.oos_returns.index[-1].date()}), untuned benchmarks", title_justify="left",
               header_style="bold")
    oo.add_column("strategy", style="cyan")
    shown = [c for c in metric_names("terminal") if c in om.columns]  # the registry's terminal view
    for c in shown:
        oo.add_column(METRICS[c].short, justify="right")
    for name, r in om.iterrows():
        oo.add_row(str(name), *[_fmt(r[c], METRICS[c].unit == PCT) for c in shown])
    out.append(oo)
    out.append(
        f"best in-sample: variant {result.best}  "
        + "  ".join(f"{short_key(k, result.strategy)}={t.loc[result.best, k]}" for k in keys))
    v = result.verdict
    if v is not None:
        out.extend(verdict_renderables(v))
    for n in result.notes:
        out.append(f"[dim]note: {n}[/]")
    return out


def _signed(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:+.2f}"


def _p(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return "< 0.001" if x < 0.001 else (f"{x:.3f}" if x < 0.01 else f"{x:.2f}")


def verdict_renderables(v) -> list:
    """Rich renderables of a :class:`backtest.tune.verdict.TuneVerdict`: details, then the verdict line."""
    out: list = []
    null = v.null
    tb = Table(title="Did tuning add anything? (active return of the tuned strategy over each reference)",
               title_justify="left", header_style="bold")
    for c in ("reference", f"IR of best ({v.deflated[0].days})", "SR0 (luck)", "deflated Sharpe", "null p",
              "eff. trials", "OOS bp/yr", "OOS IR", f"IR {v.conf:.0%} CI"):
        tb.add_column(c, justify="left" if c == "reference" else "right")
    for i, (d, c) in enumerate(zip(v.deflated, v.oos, strict=True)):
        p = null.p_dsr if (null is not None and i == 0) else float("nan")
        dcol = "dim" if not np.isfinite(p) else ("green" if p <= 0.05 else "dark_orange")
        ccol = {1: "green", -1: "red", 0: "dim"}[c.sign]
        tb.add_row(d.reference, _signed(d.ir), _fmt(d.sr0), f"[{dcol}]{_fmt(d.dsr)}[/]", f"[{dcol}]{_p(p)}[/]",
                   f"{d.n_eff:.1f}/{d.n_trials}",
                   "–" if not np.isfinite(c.bp_per_year) else f"{c.bp_per_year:+.0f}",
                   f"[{ccol}]{_signed(c.ir)}[/]", f"[{ccol}]{_signed(c.ir_lo)} … {_signed(c.ir_hi)}[/]")
    out.append(tb)
    folds = "  ".join(_signed(x) for x in v.fold_rank_corr)
    pa = v.pbo_active
    pcol = "dim" if not np.isfinite(pa) else ("dark_orange" if pa >= 0.5 else "green")
    out.append(
        f"PBO (CSCV, {v.pbo_splits} blocks, {len(v.logits)} splits): [{pcol}]{_fmt(pa)} on active returns[/], "
        f"{_fmt(v.pbo)} on total returns   Spearman IS/OOS rank correlation per fold (disjoint windows): median "
        f"{_signed(v.median_rank_corr)}  [dim]({folds})[/]")
    if null is not None:
        dq, oq = null.quantiles(null.dsr), null.quantiles(null.oos_bp)
        out.append(
            f"noise null ({null.runs} runs, active returns sign-flipped in {null.blocks} blocks of ~{null.block_days} "
            f"days): deflated Sharpe {_fmt(null.observed_dsr)} vs noise median {_fmt(dq['q50'])} (90% "
            f"{_fmt(dq['q05'])}–{_fmt(dq['q95'])}), null p {_p(null.p_dsr)}; OOS gain before switch costs "
            f"{null.observed_oos_bp:+.0f} bp/yr vs noise median {oq['q50']:+.0f} (90% {oq['q05']:+.0f} to "
            f"{oq['q95']:+.0f}), null p {_p(null.p_oos)}")
    else:
        out.append("[dim]noise null off (--null-runs 0): the deflated Sharpe is not calibrated[/]")
    if v.cv is not None:
        out.append(cv_line(v.cv))
    out.append(f"[bold {v.colour}]verdict: {v.text}[/]")
    for n in v.notes:
        out.append(f"[dim]note: {n}[/]")
    return out


def cv_line(cv) -> str:
    """One line on a :class:`backtest.tune.cpcv.CpcvResult`."""
    q = np.quantile(cv.sharpe, [0.0, 0.5, 1.0]) if cv.n_paths else [np.nan] * 3
    up = int(np.sum(cv.active_bp > 0))
    return (f"CPCV {cv.spec.groups} groups, {cv.spec.test_groups} test ({cv.n_splits} splits, {cv.n_paths} paths; "
            f"purge {cv.purge}, embargo {cv.embargo} trading days): OOS Sharpe of the paths min {_fmt(q[0])}, "
            f"median {_fmt(q[1])}, max {_fmt(q[2])} ({cv.reference} {_fmt(cv.reference_sharpe)} over the whole "
            f"run); gain over {cv.reference} above zero on {up} of {cv.n_paths} paths")


def register(app: typer.Typer) -> None:
    """Add the ``tune`` command to ``app``."""

    @app.command("tune")
    @collector_paused()  # no full GC passes over numba/pandas objects while importing and tuning
    def tune(
        config: ConfigArg,
        grid: Annotated[list[str] | None, typer.Option(
            "--grid", help="KEY=START:STOP:STEP (inclusive stop on the grid) or KEY=a,b,c. Repeatable.")] = None,
        random: Annotated[int | None, typer.Option("--random", help="Sample N variants of the grid instead of all.")] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Seed of --random (default: the config's seed).")] = None,
        where: Annotated[list[str] | None, typer.Option(
            "--where", help="Constraint between keys, e.g. 'GLD + DBC <= 0.15'. Repeatable (all must hold).")] = None,
        metric: Annotated[str, typer.Option(
            "--metric", help=f"{', '.join(metric_names('tune'))} (information_ratio: against the untuned "
                        "strategy), or METRIC@REGIME (e.g. sharpe@rmp).")] = "sharpe",
        walk_forward: Annotated[str | None, typer.Option(
            "--walk-forward", help="train=36M,test=12M[,step=12M][,anchored]: rank on train, report on test.")] = None,
        split: Annotated[str | None, typer.Option("--split", help="In-sample before DATE, out-of-sample from it.")] = None,
        strategy: Annotated[str | None, typer.Option(
            "--strategy", help="Strategy to tune (default: the first non-benchmark).")] = None,
        workers: Annotated[int | None, typer.Option("--workers", help="Run on a local Dask cluster of N processes.")] = None,
        scheduler: Annotated[str | None, typer.Option("--scheduler", help="Run on an existing Dask scheduler (host:port).")] = None,
        heatmap: Annotated[str | None, typer.Option("--heatmap", help="KEY1,KEY2 for the heatmap (default: first two grid keys).")] = None,
        chunk_size: Annotated[int, typer.Option("--chunk-size", help="Variants per simulation batch.")] = 250,
        exact_weights: Annotated[bool, typer.Option(
            "--exact-weights", help="No effect, kept for old scripts: every variant's weights are exact.")] = False,
        benchmark: Annotated[str | None, typer.Option(
            "--benchmark", help="Strategy of the config the verdict also compares with (default: the "
                                "config's benchmark, e.g. sixty_forty).")] = None,
        no_benchmarks: Annotated[bool, typer.Option("--no-benchmarks", help="Skip the untuned benchmarks.")] = False,
        null_runs: Annotated[int | None, typer.Option(
            "--null-runs", help="Runs of the verdict's noise null, 0 to 10000 (default 200; 0 turns it off).",
            show_default=False)] = None,
        cv: Annotated[str | None, typer.Option(
            "--cv", help="cpcv:N,K[,purge=DAYS][,embargo=DAYS]: also report combinatorial purged "
                         "cross-validation paths.")] = None,
        no_report: Annotated[bool, typer.Option("--no-report", help="Skip tune.html.")] = False,
        top: Annotated[int, typer.Option("--top", help="Rows of the summary table.")] = 10,
        force: Annotated[bool, typer.Option("--force", help="Run even above the memory guard.")] = False,
        set_: SetOpt = None,
        start: StartOpt = None,
        end: EndOpt = None,
        data_dir: DataDirOpt = None,
        out: OutOpt = Path("results"),
    ) -> None:
        """Sweep config keys of one strategy; rank in-sample, report out-of-sample (folder path printed last)."""
        from backtest.commands.common import console, err_console, fail
        from backtest.commands.loading import load_run_config as load_config
        from backtest.errors import SweepError
        from backtest.executors import make_executor
        from backtest.tune.orchestrate import checked_request, run_tune
        from backtest.tune.write import write_tune

        bar = RichProgress(err_console, "tune", "variants")
        try:
            if top < 1:
                raise SweepError(f"--top {top}: must be at least 1")
            cfg = load_config(config, set_ or [], start=start, end=end, data_dir=data_dir)
            from backtest.guards import check_workers

            check_workers(workers, force)
            req = checked_request(cfg, list(grid or []), heatmap=heatmap, force=force, where=list(where or []),
                                  random=random, seed=seed, metric=metric, walk_forward=walk_forward, split=split,
                                  strategy=strategy, chunk_size=chunk_size, vectorise=not exact_weights,
                                  benchmark=benchmark, cv=cv,
                                  **({} if null_runs is None else {"null_runs": null_runs}))
            with make_executor(workers, scheduler) as ex:
                try:
                    result = run_tune(cfg, req, origin=str(config), executor=ex, progress=bar,
                                      benchmarks=not no_benchmarks)
                finally:
                    bar.stop()
            folder = write_tune(result, out, html=not no_report)
        except RmpbtError as exc:
            fail(exc)
            return
        except KeyboardInterrupt:
            bar.stop()
            err_console.print("interrupted: nothing written", highlight=False)
            raise typer.Exit(130) from None
        for item in summary(result, top):
            console.print(item, highlight=False) if isinstance(item, str) else console.print(item)
        console.print(str(folder), highlight=False, soft_wrap=True)
