"""The progress display shared by long-running commands (``tune``, ``scenarios``).

On a terminal: a rich bar (done/total, elapsed, time left) refreshed several times a
second. When stdout or the console is not a terminal (piped, logged): plain lines, one
every ``interval`` seconds (default 2) and one at the end; a run shorter than
``interval`` prints none (so a quick failure's error stays the only line). Time left is
``elapsed * (total - done) / done`` over the completed work units (shown once one is done).
"""

from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


def _clock(seconds: float) -> str:
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def time_left(elapsed: float, done: float, total: float) -> float | None:
    """Seconds left at the average pace of the completed units (None before the first one).

    Parameters
    ----------
    elapsed : float
        Seconds since the start.
    done, total : float
        Completed and total work units.
    """
    if done <= 0 or total <= 0:
        return None
    return max(elapsed, 0.0) * max(total - done, 0.0) / done


class _LeftColumn(ProgressColumn):
    """Time left from the completed units (not rich's windowed speed)."""

    def render(self, task: Task) -> Text:
        left = time_left(task.elapsed or 0.0, task.completed, task.total or 0)
        return Text("left " + ("-:--:--" if left is None else _clock(left)), style="progress.remaining")


class RichProgress:
    """Progress of ``total`` work units on ``console`` (stderr): a bar, or plain lines.

    Also a :class:`backtest.sweep.ProgressSink` (``start`` / ``advance``). The bar is
    removed when stopped.

    Parameters
    ----------
    console : rich.console.Console
        Where to draw (the CLI's stderr console).
    label : str
        Label in front of the bar or line (``tune``).
    unit : str
        What is counted (``variants``).
    interval : float
        Longest gap between two plain lines, seconds.
    plain : bool, optional
        Force plain lines (True) or the bar (False); default: plain unless both the
        console and stdout are terminals.
    """

    def __init__(self, console: Console, label: str, unit: str, interval: float = 2.0,
                 plain: bool | None = None) -> None:
        self.label = label
        self.unit = unit
        self.console = console
        self.interval = float(interval)
        if plain is None:
            plain = not (console.is_terminal and sys.stdout.isatty())
        self.plain = plain
        self.progress = Progress(
            TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
            TimeElapsedColumn(), _LeftColumn(), console=console, transient=True,
            disable=plain, refresh_per_second=2,
        )
        self.task = None
        self.total = 0
        self.done = 0
        self._t0 = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._printed = False

    def line(self) -> str:
        """The plain progress line (``scenarios 3/8 chunks 37%  elapsed 0:00:12  left 0:00:20``)."""
        el = time.perf_counter() - self._t0
        left = time_left(el, self.done, self.total)
        pct = f"{self.done / self.total:.0%}" if self.total else "–"
        return (f"{self.label} {self.done}/{self.total} {self.unit} {pct}  elapsed {_clock(el)}  "
                f"left {'-:--:--' if left is None else _clock(left)}")

    def _emit(self) -> None:
        with self._lock:
            self._printed = True
            self.console.print(self.line(), highlight=False, markup=False, soft_wrap=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self._emit()

    def start(self, total: int) -> None:
        """Show progress for ``total`` items."""
        self.total, self.done = int(total), 0
        self._t0 = time.perf_counter()
        if self.plain:  # first line after `interval`: quick runs (and quick failures) print nothing
            self._printed = False
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name="progress", daemon=True)
            self._thread.start()
            return
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total)

    def advance(self, n: int) -> None:
        """``n`` more items done."""
        self.update(self.done + n)

    def update(self, done: int) -> None:
        """``done`` items done in all."""
        self.done = int(done)
        if self.task is not None:
            self.progress.update(self.task, completed=done)

    def stop(self) -> None:
        """Remove the bar (plain mode: stop the heartbeat and print the last line)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            if self._printed:
                self._emit()
        self.progress.stop()
