"""The ``rmpbt`` command line: parse, load config, call the library, print, exit.

Every user error (``RmpbtError``) is printed as one line on stderr with exit code 2;
nothing is half-written (run folders are written atomically). ``--debug`` shows the
traceback of unexpected errors.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from backtest.errors import RmpbtError

app = typer.Typer(
    name="rmpbt",
    help="Regime-aware portfolio backtester: test allocations across Fed liquidity regimes (QE, QT, RMP).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(width=140)
err_console = Console(stderr=True, width=200)

COMMAND_MODULES = (
    "backtest.commands.data_cmd",
    "backtest.commands.regimes_cmd",
    "backtest.commands.compare_cmd",
    "backtest.commands.scenarios_cmd",
    "backtest.commands.tune_cmd",
)

ConfigArg = Annotated[
    Path, typer.Argument(help="YAML run config (see configs/).", show_default=False)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Override a config key: dotted.path=value (strategies by name). Repeatable."
    ),
]
StartOpt = Annotated[str | None, typer.Option(help="Override data.start (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option(help="Override data.end (YYYY-MM-DD).")]
DataDirOpt = Annotated[
    str | None,
    typer.Option(
        "--data-dir", help="Folder in the csv layout (prices/, vol/, fred/); implies source csv."
    ),
]
OutOpt = Annotated[
    Path, typer.Option("--out", help="Results root; the run writes one new folder inside.")
]


def fail(exc: RmpbtError) -> None:
    """Print a user error on one line and exit with its code."""
    err_console.print(f"[bold red]{exc.kind}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def fmt(x: float, pct: bool = False) -> str:
    """Format a metric for the terminal."""
    if x is None or x != x:
        return "–"
    return f"{x:.1%}" if pct else f"{x:.2f}"


def summary_table(metrics, regime_metrics=None, title: str = "") -> Table:
    """Rich table: one row per strategy, with per-regime Sharpe when available."""
    t = Table(title=title, title_justify="left", header_style="bold")
    t.add_column("strategy", style="cyan", no_wrap=True)
    for col in ("CAGR", "vol", "Sharpe", "Sortino", "max DD", "Calmar", "turnover"):
        t.add_column(col, justify="right")
    regimes: list[str] = []
    if regime_metrics is not None and len(regime_metrics):
        regimes = sorted(regime_metrics["regime"].unique())
        for r in regimes:
            t.add_column(f"Sharpe@{r}", justify="right")
    for name, row in metrics.iterrows():
        cells = [
            fmt(row["cagr"], True),
            fmt(row["ann_vol"], True),
            fmt(row["sharpe"]),
            fmt(row["sortino"]),
            fmt(row["max_drawdown"], True),
            fmt(row["calmar"]),
            fmt(row["turnover"]),
        ]
        for r in regimes:
            sub = regime_metrics[
                (regime_metrics["strategy"] == name) & (regime_metrics["regime"] == r)
            ]
            cell = fmt(sub["sharpe"].iloc[0]) if len(sub) else "–"
            if len(sub) and "sharpe_lo" in sub and sub["sharpe_lo"].iloc[0] <= 0 <= sub["sharpe_hi"].iloc[0]:
                cell = f"[dim]{cell}[/]"  # issue 13: the 90% interval spans zero
            cells.append(cell)
        t.add_row(str(name), *cells)
    return t


@app.command()
def run(
    config: ConfigArg,
    set_: SetOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    data_dir: DataDirOpt = None,
    out: OutOpt = Path("results"),
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Skip tearsheet.html and PNGs.")
    ] = False,
) -> None:
    """Run a config-driven backtest and write a run folder (its path is the last line printed)."""
    from backtest.config import load_config
    from backtest.pipeline import run_backtest, write_run

    try:
        cfg = load_config(config, set_ or [], start=start, end=end, data_dir=data_dir)
        output = run_backtest(cfg, str(config))
        folder = write_run(output, out, report=not no_report)
    except RmpbtError as exc:
        fail(exc)
        return
    md = output.md
    label = "SYNTHETIC sample market" if md.synthetic else md.source
    console.print(
        f"[bold]{cfg.name}[/]  {output.days[0].date()} → {output.days[-1].date()}  "
        f"data: {label}  rebalance: {cfg.rebalance.every}  lag: {cfg.execution.lag_days}d  "
        f"costs: {cfg.costs.fee_bps:g}+{cfg.costs.slippage_bps:g} bps",
        highlight=False,
    )
    console.print(summary_table(output.metrics, output.regime_metrics))
    for note in output.notes:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
    console.print(str(folder), highlight=False, soft_wrap=True)


@app.command("strategies")
def list_strategies() -> None:
    """List the registered strategy kinds."""
    from strategies.base import load_all

    t = Table(header_style="bold")
    t.add_column("kind", style="cyan")
    t.add_column("what it does")
    for kind, spec in sorted(load_all().items()):
        t.add_row(kind, spec.doc)
    console.print(t)


def _register_commands() -> None:
    for mod in COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except RmpbtError as exc:  # raised outside a command's own handler
        err_console.print(f"[bold red]{exc.kind}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing written", highlight=False)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        if debug:
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} (rerun with --debug for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
