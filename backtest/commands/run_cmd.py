"""``rmpbt run CONFIG``: a config-driven backtest written to one run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from backtest.commands.common import (
    ConfigArg,
    DataDirOpt,
    EndOpt,
    OutOpt,
    SetOpt,
    StartOpt,
    console,
    fail,
    summary_table,
)
from backtest.commands.loading import load_run_config
from backtest.constants import TRADING_DAYS
from backtest.errors import RmpbtError


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""

    @app.command("run")
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
        # The pipeline (vectorbt, numba) loads when the command runs, not for `run --help`.
        from backtest.pipeline import run_backtest, write_run

        try:
            # Strategy params are validated by run_backtest (build_strategy, before any data
            # is loaded or anything written): validating here too would do it twice.
            cfg = load_run_config(
                config, set_ or [], start=start, end=end, data_dir=data_dir, validate_strategies=False
            )
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
        console.print(summary_table(output.metrics, output.regime_metrics, n_days=len(output.days)))
        fin = financing_line(output.sims, len(output.days), cfg.cash.borrow_spread_bps)
        if fin:
            console.print(fin, highlight=False)
        for note in output.notes:
            console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
        console.print(str(folder), highlight=False, soft_wrap=True)


def financing_line(sims: dict, n_days: int, spread_bps: float) -> str:
    """One summary line: each leveraged strategy's financing cost in bp of capital a year.

    Parameters
    ----------
    sims : dict[str, SimResult]
        Simulated strategies (``financing`` = daily interest on negative cash).
    n_days : int
        Trading days of the run.
    spread_bps : float
        ``cash.borrow_spread_bps`` (shown in the line).

    Returns
    -------
    str
        Empty when no strategy borrows cash.
    """
    years = max(n_days, 1) / TRADING_DAYS
    parts = [f"{name} {float(s.financing.sum()) / years * 1e4:,.0f}" for name, s in sims.items()
             if s.financing is not None and float(s.financing.sum()) > 0.0]
    if not parts:
        return ""
    return f"financing (cash rate + {spread_bps:g} bp on borrowed cash), bp/yr: " + ", ".join(parts)
