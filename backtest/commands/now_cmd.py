"""``rmpbt now CONFIG [--strategies A,B] [--holdings FILE] [--capital X] [--verbose] [--today D] [--out DIR]``.

Which regime are we in (as of the data's last day), what do the strategies hold and why,
what does each book cost a year, what to trade, and how did they do since the regime began
and since RMP began. Writes ``now.json``, ``now.html``, ``memo.txt`` (the verbose memo) and,
when the optimizer fell back, ``fallbacks.csv`` into one new folder
``<out>/now-<UTC timestamp>-<name>/`` (atomically) and prints the memo (compact; details
with ``--verbose``); the folder's path is the last line printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest.commands.common import out_path
from backtest.errors import RmpbtError


def register(app: typer.Typer) -> None:
    """Add the ``now`` command to ``app``."""

    @app.command("now")
    def now(
        config: Annotated[Path, typer.Argument(help="YAML run config (see configs/).", show_default=False)],
        data_dir: Annotated[str | None, typer.Option(
            "--data-dir", help="Folder in the csv layout (prices/, vol/, fred/); implies source csv.")] = None,
        strategies: Annotated[str | None, typer.Option(
            "--strategies", help="Comma-separated strategies to report (default: all).")] = None,
        capital: Annotated[float | None, typer.Option(
            "--capital", help="Portfolio value; with --holdings in shares it must match their value within 0.5%.")]
        = None,
        holdings: Annotated[Path | None, typer.Option(
            "--holdings", help="CSV of asset,shares or asset,weight, optional CASH row (default: all cash); "
                               "in shares it gives the NAV.")] = None,
        verbose: Annotated[bool, typer.Option(
            "--verbose", help="Details: condition trees, optimizer inputs, fills, what each regime model reads.")]
        = False,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", help="Override a config key: dotted.path=value. Repeatable.")] = None,
        today: Annotated[str | None, typer.Option(
            "--today", help="Pretend today is this date (YYYY-MM-DD): in the data's span (data known by then "
                            "only) or after its end.")] = None,
        out: Annotated[Path, typer.Option("--out", parser=out_path, help="Results root; one new now-<timestamp> folder inside.")]
        = Path("results"),
    ) -> None:
        """Today's regime, targets, drifted weights, why, costs a year, returns since the regime began and trades."""
        from rich.markup import escape

        from backtest.commands.common import console, fail
        from backtest.commands.loading import load_run_config as load_config
        from backtest.now import compute_now, write_now
        from backtest.now_memo import memo_lines

        try:
            cfg = load_config(config, set_ or [], data_dir=data_dir)
            names = None if strategies is None else strategies.split(",")
            report = compute_now(cfg, str(config), today=today, capital=capital, holdings=holdings,
                                 strategies=names)
            folder = write_now(report, out)
        except RmpbtError as exc:
            fail(exc)
            return
        for line in memo_lines(report.to_json(), verbose=verbose):
            style = "bold yellow" if line.lstrip().startswith("WARNING") else None
            console.print(escape(line), style=style, highlight=False, soft_wrap=True)
        console.print(str(folder), highlight=False, soft_wrap=True)
