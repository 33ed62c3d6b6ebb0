"""The rich progress bar shared by long-running commands (``tune``, ``scenarios``)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    """A progress bar on ``console`` (stderr): done/total, elapsed and time left.

    Also a :class:`backtest.sweep.ProgressSink` (``start`` / ``advance``). Hidden when the
    console is not a terminal and removed when stopped.

    Parameters
    ----------
    console : rich.console.Console
        Where to draw (the CLI's stderr console).
    label : str
        Bold label in front of the bar (``tune``).
    unit : str
        What is counted (``variants``).
    """

    def __init__(self, console: Console, label: str, unit: str) -> None:
        self.label = label
        self.progress = Progress(
            TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=console, transient=True,
            disable=not console.is_terminal,
        )
        self.task = None

    def start(self, total: int) -> None:
        """Show the bar for ``total`` items."""
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total)

    def advance(self, n: int) -> None:
        """``n`` more items done."""
        if self.task is not None:
            self.progress.advance(self.task, n)

    def update(self, done: int) -> None:
        """``done`` items done in all."""
        if self.task is not None:
            self.progress.update(self.task, completed=done)

    def stop(self) -> None:
        """Remove the bar."""
        self.progress.stop()
