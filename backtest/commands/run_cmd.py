"""``rmpbt run CONFIG``: a config-driven backtest written to one run folder."""

from __future__ import annotations

import json
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
from backtest.commands.relative_view import financing_line, relative_table
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
        benchmark: Annotated[
            str | None,
            typer.Option("--benchmark", help="Strategy the relative metrics are measured against "
                                             "[default: the config's benchmark].", show_default=False),
        ] = None,
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
            sets = [*(set_ or []), *([f"benchmark={json.dumps(benchmark)}"] if benchmark is not None else [])]
            cfg = load_run_config(
                config, sets, start=start, end=end, data_dir=data_dir, validate_strategies=False
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
        rel = relative_table(output.metrics, cfg.benchmark)
        if rel is not None:
            console.print(rel)
        fin = financing_line(output.metrics, cfg.cash.borrow_spread_bps)
        if fin:
            console.print(fin, highlight=False)
        for note in output.notes:
            console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
        console.print(str(folder), highlight=False, soft_wrap=True)

