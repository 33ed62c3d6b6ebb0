"""``rmpbt compare RUN_DIR...``: one HTML page comparing the strategies of several runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest.commands.common import out_path
from backtest.errors import RmpbtError
from backtest.metrics_registry import pct_metrics

PCT = pct_metrics()  # deltas of these are shown in percentage points


def delta_table(frame, title: str):
    """Rich table of metric deltas (percentage points for percent metrics)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold")
    names = list(frame.index.names) if frame.index.nlevels > 1 else ["strategy"]
    for n in names:
        t.add_column(str(n), style="cyan", no_wrap=True)
    for c in frame.columns:
        t.add_column(f"Δ {c}", justify="right")
    for idx, row in frame.iterrows():
        keys = list(idx) if isinstance(idx, tuple) else [idx]
        cells = [f"{v * 100:+.2f}pp" if c in PCT else f"{v:+.3f}" for c, v in row.items()]
        t.add_row(*[str(k) for k in keys], *cells)
    return t


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
            typer.Option("--out", parser=out_path, help="Output HTML file (not an existing folder) [default: a new "
                                        "compare-YYYYMMDD-HHMMSS.html in the results root of the first run]."),
        ] = None,
        baseline: Annotated[
            str | None,
            typer.Option("--baseline", help="run/strategy (or a strategy name unique across runs) the metric deltas "
                                            "are taken against [default: the first]."),
        ] = None,
        strategies: Annotated[
            str | None,
            typer.Option("--strategies", help="Comma-separated strategies to keep (names or run/strategy labels)."),
        ] = None,
        align: Annotated[
            bool, typer.Option("--align", help="Restrict runs covering different periods to their common period.")
        ] = False,
        benchmark: Annotated[
            str | None,
            typer.Option("--benchmark", help="run/strategy (or a strategy name unique across runs) every relative "
                                             "metric is measured against [default: each run's own benchmark]."),
        ] = None,
    ) -> None:
        """Compare strategies from several runs on one page (the page's path is the last line printed)."""
        from backtest.commands.common import console, fail, summary_table

        try:
            from backtest.report.compare import render_compare

            keep = [x.strip() for x in strategies.split(",") if x.strip()] if strategies is not None else None
            if keep is not None and not keep:
                from backtest.errors import ResultsError

                raise ResultsError(f"compare: --strategies {strategies!r} names no strategy")
            path, comp = render_compare(list(run_dirs or []), out=out, baseline=baseline, align=align,
                                        strategies=keep, benchmark=benchmark)
        except RmpbtError as exc:
            fail(exc)
            return
        period = f"common period {comp.aligned[0].date()} → {comp.aligned[1].date()}" if comp.aligned else "same period"
        console.print(summary_table(comp.data.metrics, None, title=f"{len(comp.labels)} run(s), {period}; "
                                                                  f"baseline {comp.baseline}",
                                    n_days=len(comp.data.returns)))
        from backtest.commands.relative_view import relative_table

        names = sorted(set((comp.benchmarks or {}).values()))
        rel = relative_table(comp.data.metrics, ", ".join(names) if names else None)
        if rel is not None:
            console.print(rel)
        if comp.deltas is not None and len(comp.deltas) > 1:
            console.print(delta_table(comp.deltas, f"Δ vs {comp.baseline}"))
        if comp.run_deltas is not None:
            console.print(delta_table(comp.run_deltas, f"run against run (each run minus {comp.labels[0]})"))
        for note in comp.data.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False)
        console.print(str(path), highlight=False, soft_wrap=True)
