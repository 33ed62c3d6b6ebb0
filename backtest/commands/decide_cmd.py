"""``rmpbt decide RUN_DIR``: re-score a saved scenario run under other probabilities, λ and views.

Reads the run folder's per-path outcomes (``scenario_paths.parquet``), re-scores every
strategy by least expected regret, finds the flips of the choice in λ and in each
scenario's probability, maps the choice over λ and the probability simplex, and writes
``decision.json``, ``decision_flips.csv``, ``decision_map.csv`` and ``decision.html`` into
a new folder (default ``RUN_DIR/decisions/``). Prints the reading and, last, the folder's
path. Nothing is simulated again. See ``docs/decide.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from backtest.commands.common import out_path
from backtest.errors import RmpbtError


def register(app: typer.Typer) -> None:
    """Add the ``decide`` command to ``app``."""

    @app.command("decide")
    def decide(
        run_dir: Annotated[Path, typer.Argument(help="A `rmpbt scenarios` run folder.", show_default=False)],
        probs: Annotated[str | None, typer.Option(
            "--probs", help="Scenario probabilities, e.g. A=0.4,B=0.35,C=0.25 (default: the run's).")] = None,
        cvar_lambda: Annotated[float | None, typer.Option(
            "--cvar-lambda", help="λ of cvar_penalised, 0..100 (default: the run's).")] = None,
        statistic: Annotated[str | None, typer.Option(
            "--statistic", help="Regret statistic: cvar_penalised | sharpe | horizon_return | max_drawdown | "
                                "cvar_5 (default: the run's).")] = None,
        view: Annotated[list[str] | None, typer.Option(
            "--view", help="A view by entropy pooling, e.g. \"P(B)>=0.5\" or \"E[spy]=0.08\". Repeatable.")] = None,
        resamples: Annotated[int, typer.Option(
            "--resamples", help="Paired path resamples of the margin's noise (0..2000; 0 skips it).")] = 200,
        out: Annotated[Path | None, typer.Option(
            "--out", parser=out_path, help="Folder to write the new decision folder into (default RUN_DIR/decisions).",
            show_default=False)] = None,
        no_report: Annotated[bool, typer.Option("--no-report", help="Skip decision.html.")] = False,
    ) -> None:
        """Re-score a saved scenario run: the choice, its flips in λ and probabilities, views (entropy pooling)."""
        from rich.markup import escape

        from backtest.commands.common import console, fail
        from backtest.synthetic.decide.core import decide as run_decide
        from backtest.synthetic.decide.write import write_decision

        try:
            dec = run_decide(run_dir, probs=probs, cvar_lambda=cvar_lambda, statistic=statistic,
                             views=list(view or []), resamples=resamples)
            folder = write_decision(dec, out, report=not no_report)
        except RmpbtError as exc:
            fail(exc)
            return
        console.print(escape(dec.run_line()), style="dim", highlight=False, soft_wrap=True)
        colour = {"good": "green", "neutral": "yellow", "bad": "red"}.get(dec.tone, "yellow")
        for i, line in enumerate(dec.lines):
            style = f"bold {colour}" if i == 0 else None
            console.print(escape(line), style=style, highlight=False, soft_wrap=True)
        console.print(flips_table(dec))
        console.print(str(folder), highlight=False, soft_wrap=True)


def flips_table(dec: Any) -> Any:
    """The flips of a :class:`~backtest.synthetic.decide.core.Decision` as a terminal table (rich ``Table``)."""
    import numpy as np
    from rich.table import Table

    t = Table(title="Flips: the nearest change that changes the choice", title_justify="left", header_style="bold")
    for c in ("parameter", "direction", "from", "flips at", "change", "new choice"):
        t.add_column(c, justify="left" if c in ("parameter", "direction", "new choice") else "right")
    for r in dec.flips.itertuples():
        hit = bool(np.isfinite(r.threshold))
        t.add_row(str(r.parameter), str(r.direction), f"{r.value:.3g}", f"{r.threshold:.4g}" if hit else "–",
                  f"{r.change:+.3g}" if hit else "–", str(r.new_choice) if hit else f"[dim]{r.note}[/]")
    return t
