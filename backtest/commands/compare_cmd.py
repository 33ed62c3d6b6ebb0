"""``rmpbt compare RUN_DIR...``: one HTML page comparing the strategies of several runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest.errors import RmpbtError


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to ``app``."""

    @app.command("compare")
    def compare(
        run_dirs: Annotated[
            list[Path] | None,
            typer.Argument(help="Run folders to compare (strategies are labelled run/strategy).", show_default=False),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Output HTML file [default: compare.html in the results root of the first run]."),
        ] = None,
        baseline: Annotated[
            str | None,
            typer.Option("--baseline", help="run/strategy the metric deltas are taken against [default: the first]."),
        ] = None,
        align: Annotated[
            bool, typer.Option("--align", help="Restrict runs covering different periods to their common period.")
        ] = False,
    ) -> None:
        """Compare strategies from several runs on one page (the page's path is the last line printed)."""
        from backtest.commands.common import console, fail, summary_table

        try:
            from backtest.report.compare import render_compare

            path, comp = render_compare(list(run_dirs or []), out=out, baseline=baseline, align=align)
        except RmpbtError as exc:
            fail(exc)
            return
        period = f"common period {comp.aligned[0].date()} → {comp.aligned[1].date()}" if comp.aligned else "same period"
        console.print(summary_table(comp.data.metrics, None, title=f"{len(comp.labels)} run(s), {period}; "
                                                                  f"baseline {comp.baseline}"))
        for note in comp.data.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False)
        console.print(str(path), highlight=False, soft_wrap=True)
