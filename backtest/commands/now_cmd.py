"""``rmpbt now CONFIG [--data-dir DIR] [--capital X] [--holdings FILE] [--out DIR]``.

Which regime are we in, what do the strategies hold today, what to trade, and how did
they do since the regime began and since RMP began. Writes ``now.json``, ``now.html`` and
``memo.txt`` into one new folder ``<out>/now-<UTC timestamp>-<name>/`` (atomically) and
prints the memo; the folder's path is the last line printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest.errors import RmpbtError


def register(app: typer.Typer) -> None:
    """Add the ``now`` command to ``app``."""

    @app.command("now")
    def now(
        config: Annotated[Path, typer.Argument(help="YAML run config (see configs/).", show_default=False)],
        data_dir: Annotated[str | None, typer.Option(
            "--data-dir", help="Folder in the csv layout (prices/, vol/, fred/); implies source csv.")] = None,
        capital: Annotated[float | None, typer.Option(
            "--capital", help="Portfolio value: list the trades to reach each strategy's target.")] = None,
        holdings: Annotated[Path | None, typer.Option(
            "--holdings", help="CSV of asset,shares or asset,weight (default: all cash).")] = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", help="Override a config key: dotted.path=value. Repeatable.")] = None,
        today: Annotated[str | None, typer.Option(
            "--today", help="Pretend today is this date (YYYY-MM-DD) for the staleness check.")] = None,
        out: Annotated[Path, typer.Option("--out", help="Results root; one new now-<timestamp> folder inside.")]
        = Path("results"),
    ) -> None:
        """Today's regime, targets, drift, returns since the regime began and trades (memo + now.html)."""
        from rich.markup import escape

        from backtest.commands.common import console, fail
        from backtest.commands.loading import load_run_config as load_config
        from backtest.errors import DataError
        from backtest.now import compute_now, memo_lines, write_now

        try:
            if holdings is not None and capital is None:
                raise DataError(f"--holdings {holdings}: needs --capital (the portfolio value)")
            cfg = load_config(config, set_ or [], data_dir=data_dir)
            report = compute_now(cfg, str(config), today=today, capital=capital, holdings=holdings,
                                 parallel=True)
            folder = write_now(report, out)
        except RmpbtError as exc:
            fail(exc)
            return
        for line in memo_lines(report):
            style = "bold yellow" if line.startswith("WARNING") else None
            console.print(escape(line), style=style, highlight=False, soft_wrap=True)
        console.print(str(folder), highlight=False, soft_wrap=True)
