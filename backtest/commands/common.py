"""What every ``rmpbt`` command shares: the consoles, the one-line error exit, tables.

Imports only ``typer`` and ``rich`` so that ``rmpbt --help`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from backtest.constants import TRADING_DAYS
from backtest.errors import RmpbtError
from backtest.metrics_registry import METRICS, PCT, metric_names

console = Console(width=140)
err_console = Console(stderr=True, width=200)

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
def out_path(text: object) -> Path:
    """Parser of every ``--out``: an empty path is a usage error (it would mean the current folder)."""
    if not str(text).strip():
        raise typer.BadParameter("empty path: give a folder (default: results)", param_hint="'--out'")
    return Path(str(text))


OutOpt = Annotated[
    Path, typer.Option("--out", parser=out_path, help="Results root; the run writes one new folder inside.")
]


def fail(exc: RmpbtError) -> None:
    """Print a user error on one line and exit with its code.

    Parameters
    ----------
    exc : RmpbtError
        The error; its ``kind`` prefixes the line and ``exit_code`` is the exit status.

    Raises
    ------
    typer.Exit
        Always.
    """
    err_console.print(f"[bold red]{exc.kind}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def fmt(x: float | None, pct: bool = False) -> str:
    """Format a metric for the terminal.

    Parameters
    ----------
    x : float or None
        The value; None and NaN print as a dash.
    pct : bool
        Format as a percentage with one decimal.

    Returns
    -------
    str
    """
    if x is None or x != x:
        return "–"
    return f"{x:.1%}" if pct else f"{x:.2f}"


def summary_table(metrics: Any, regime_metrics: Any = None, title: str = "", n_days: int | None = None) -> Table:
    """Rich table: one row per strategy, with per-regime Sharpe when available.

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per strategy with the metrics of the registry's ``terminal`` view
        (:mod:`backtest.metrics_registry`: CAGR, vol, Sharpe, Sortino, max DD, Calmar, turnover).
    regime_metrics : pandas.DataFrame, optional
        Long table with ``strategy``, ``regime`` and ``sharpe`` columns.
    title : str
        Table title.
    n_days : int, optional
        Trading days in the window; under a year (252) the table shows the total return
        instead of the CAGR.

    Returns
    -------
    rich.table.Table
    """
    short = n_days is not None and n_days < TRADING_DAYS
    # the registry's terminal view; under a year the total return replaces the CAGR
    shown = [("total_return" if short and c == "cagr" else c) for c in metric_names("terminal")]
    t = Table(title=title, title_justify="left", header_style="bold", caption_justify="left",
              caption="turnover: one-way, per year, including the initial purchase")
    t.add_column("strategy", style="cyan", no_wrap=True)
    for col in shown:
        t.add_column(METRICS[col].short, justify="right")
    regimes: list[str] = []
    if regime_metrics is not None and len(regime_metrics):
        regimes = sorted(regime_metrics["regime"].unique())
        for r in regimes:
            t.add_column(f"Sharpe@{r}", justify="right")
    for name, row in metrics.iterrows():
        cells = [fmt(row.get(c), METRICS[c].unit == PCT) for c in shown]
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
