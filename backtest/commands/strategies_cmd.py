"""``rmpbt strategies``: list the strategy kinds from the static catalogue (no imports)."""

from __future__ import annotations

import typer
from rich.table import Table

from backtest.commands.common import console
from strategies import catalogue


def register(app: typer.Typer) -> None:
    """Add the ``strategies`` command to ``app``."""

    @app.command("strategies")
    def list_strategies() -> None:
        """List the registered strategy kinds."""
        t = Table(header_style="bold")
        t.add_column("kind", style="cyan")
        t.add_column("what it does")
        for kind, (_module, doc) in sorted(catalogue().items()):
            t.add_row(kind, doc)
        console.print(t)
