"""``rmpbt evidence CONFIG [--data-dir DIR] [--out DIR] [--seed N]``: the article's claims tested on history.

Runs the config's backtest, then measures each claim of the article on the trades'
instruments (estimate, block-bootstrap interval, episodes, verdict), runs event studies
around the Fed calendar's announcements (placebo p-values), attributes each strategy's
return in each regime to its assets and sleeves, and replays named episodes. Writes one
new folder ``<out>/evidence-<UTC timestamp>-<name>/`` (atomically) with the CSV tables,
``evidence.html`` and ``provenance.json``; its path is the last line printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backtest.commands.common import ConfigArg, DataDirOpt, OutOpt, SetOpt
from backtest.errors import RmpbtError

MAX_SEED = 2**32 - 1


def register(app: typer.Typer) -> None:
    """Add the ``evidence`` command to ``app``."""

    @app.command("evidence")
    def evidence(
        config: ConfigArg,
        data_dir: DataDirOpt = None,
        out: OutOpt = Path("results"),
        seed: Annotated[int | None, typer.Option(
            "--seed", help="Seed of the bootstrap and placebo draws (default: the config's seed).")] = None,
        set_: SetOpt = None,
    ) -> None:
        """Test the article's claims on history: claims, event studies, regime attribution, episodes (evidence.html)."""
        from rich.markup import escape
        from rich.table import Table

        from backtest.commands.common import console, fail, fmt
        from backtest.commands.loading import load_run_config
        from backtest.errors import ConfigError
        from backtest.evidence.build import build_evidence
        from backtest.evidence.write import write_evidence
        from backtest.pipeline import run_backtest

        try:
            if seed is not None and not 0 <= seed <= MAX_SEED:
                raise ConfigError(f"--seed {seed}: must be between 0 and {MAX_SEED}")
            cfg = load_run_config(config, set_ or [], data_dir=data_dir, validate_strategies=False)
            run = run_backtest(cfg, str(config))
            ev = build_evidence(run, seed=seed)
            folder = write_evidence(ev, out)
        except RmpbtError as exc:
            fail(exc)
            return
        label = "SYNTHETIC sample market" if run.md.synthetic else run.md.source
        console.print(f"[bold]{cfg.name}[/]  evidence  data: {label}  strategies {run.days[0].date()} → "
                      f"{run.days[-1].date()}  instruments from {ev.history.days[0].date()}", highlight=False)
        console.print(f"[bold yellow]The data end on {ev.data_end.date()}: every figure is as of that date.[/]",
                      highlight=False)
        colour = {"supported": "green", "contradicted": "red"}
        t = Table(title="claims (annualised difference, claimed regimes - rest; 90% block-bootstrap interval)",
                  title_justify="left", header_style="bold")
        for col in ("claim", "measure", "regimes", "estimate", "interval", "days", "episodes", "verdict"):
            t.add_column(col, justify="right" if col in ("estimate", "days", "episodes") else "left")
        for r in ev.claims.itertuples(index=False):
            t.add_row(r.claim, r.measure, r.regimes, fmt(r.estimate, True),
                      f"{fmt(r.ci_lo, True)} … {fmt(r.ci_hi, True)}", f"{r.n_days:,}", str(r.n_episodes),
                      f"[{colour.get(r.verdict, 'yellow')}]{r.verdict}[/]")
        console.print(t)
        for note in ev.notes:
            console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
        console.print(str(folder), highlight=False, soft_wrap=True)
