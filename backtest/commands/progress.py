"""The progress display shared by long-running commands (``tune``, ``scenarios``).

On a terminal: a rich bar (done/total, elapsed, time left) refreshed several times a
second. When stdout or the console is not a terminal (piped, logged): plain lines, one
every ``interval`` seconds (default 2) and one at the end; a run shorter than
``interval`` prints none (so a quick failure's error stays the only line). Time left is
``elapsed * (total - done) / done`` over the completed work units (shown once one is done),
counted down between two updates.
Work units may be fractional and unequal in count but should be equal in cost (the
scenario command counts estimated seconds of each strategy evaluation: ``percent`` mode).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


def _clock(seconds: float) -> str:
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def time_left(elapsed: float, done: float, total: float, prior_rate: float | None = None,
              prior_share: float = 0.05) -> float | None:
    """Seconds left at the average pace of the completed units (None before the first one).

    With ``prior_rate`` (expected seconds per unit, e.g. from a duration estimate) the
    pace is shrunk toward it as if ``prior_share`` of the total had been done at that
    rate: ``(total - done) * (elapsed + w * prior_rate) / (done + w)``, ``w = prior_share
    * total`` (the estimate early on, the observed pace later; defined before any unit).

    Parameters
    ----------
    elapsed : float
        Seconds since the start.
    done, total : float
        Completed and total work units.
    prior_rate : float, optional
        Expected seconds per unit.
    prior_share : float
        Weight of the prior, as a share of ``total``.
    """
    if total <= 0:
        return None
    if prior_rate is not None and prior_rate >= 0:
        w = prior_share * total
        return max(total - done, 0.0) * (max(elapsed, 0.0) + w * prior_rate) / (max(done, 0.0) + w)
    if done <= 0:
        return None
    return max(elapsed, 0.0) * max(total - done, 0.0) / done


class _LeftColumn(ProgressColumn):
    """Time left from the completed units (not rich's windowed speed)."""

    def __init__(self, owner: RichProgress) -> None:
        super().__init__()
        self.owner = owner

    def render(self, task: Task) -> Text:
        left = self.owner.left()
        return Text("left " + ("-:--:--" if left is None else _clock(left)), style="progress.remaining")


class RichProgress:
    """Progress of ``total`` work units on ``console`` (stderr): a bar, or plain lines.

    Also a :class:`backtest.tune.orchestrate.ProgressSink` (``start`` / ``advance``). The bar is
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
    percent : bool
        Show the share done (``37%``) instead of ``done/total unit`` (fractional units).
    clock : callable
        Seconds (default ``time.perf_counter``; tests pass a fake clock).
    heartbeat : bool
        Plain mode: print from a background thread every ``interval`` (False: only
        :meth:`poll`, :meth:`update` and :meth:`stop` print, for tests).
    """

    def __init__(self, console: Console, label: str, unit: str, interval: float = 2.0,
                 plain: bool | None = None, percent: bool = False,
                 clock: Callable[[], float] = time.perf_counter, heartbeat: bool = True) -> None:
        self.label = label
        self.unit = unit
        self.console = console
        self.interval = float(interval)
        if plain is None:
            plain = not (console.is_terminal and sys.stdout.isatty())
        self.plain = plain
        self.percent = percent
        self.clock = clock
        self.heartbeat = heartbeat
        count = TaskProgressColumn() if percent else MofNCompleteColumn()
        self.progress = Progress(
            TextColumn(f"[bold]{label}[/]"), BarColumn(), count, TextColumn(unit),
            TimeElapsedColumn(), _LeftColumn(self), console=console, transient=True,
            disable=plain, refresh_per_second=2,
        )
        self.task = None
        self.prior_rate: float | None = None
        self.total: float = 0
        self.done: float = 0
        self._t0 = 0.0
        self._last = 0.0
        self._t_at = 0.0
        self._left_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._printed = False

    def left(self) -> float | None:
        """Seconds left: :func:`time_left` at the last update, counted down since then.

        Between two updates (a long step) the figure falls with the clock instead of
        growing with the elapsed time.
        """
        now = self.clock()
        if self._left_at is None:
            return time_left(now - self._t0, self.done, self.total, self.prior_rate)
        return max(0.0, self._left_at - (now - self._t_at))

    def line(self) -> str:
        """The plain progress line (``scenarios 3/8 chunks 37%  elapsed 0:00:12  left 0:00:20``)."""
        el = self.clock() - self._t0
        left = self.left()
        pct = f"{min(self.done / self.total, 1.0):.0%}" if self.total else "–"
        head = (f"{self.label} {pct} {self.unit}" if self.percent
                else f"{self.label} {self.done:g}/{self.total:g} {self.unit} {pct}")
        return f"{head}  elapsed {_clock(el)}  left {'-:--:--' if left is None else _clock(left)}"

    def _emit(self) -> None:
        with self._lock:
            self._printed = True
            self._last = self.clock()
            self.console.print(self.line(), highlight=False, markup=False, soft_wrap=True)

    def poll(self) -> None:
        """Plain mode: print a line if ``interval`` seconds passed since the last one (or the start)."""
        if self.plain and self.total and self.clock() - self._last >= self.interval:
            self._emit()

    def _beat(self) -> None:
        while not self._stop.wait(max(0.01, self._last + self.interval - self.clock())):
            self.poll()  # wakes when the next line is due: lines every `interval`, not later

    def start(self, total: float, prior_rate: float | None = None) -> None:
        """Show progress for ``total`` items (``prior_rate``: expected seconds per item, :func:`time_left`)."""
        self.prior_rate = prior_rate
        self.total, self.done = (float(total) if self.percent else int(total)), 0
        self._t0 = self._last = self._t_at = self.clock()
        self._left_at = time_left(0.0, 0.0, self.total, prior_rate) if prior_rate is not None else None
        if self.plain:  # first line after `interval`: quick runs (and quick failures) print nothing
            self._printed = False
            self._stop.clear()
            if self.heartbeat:
                self._thread = threading.Thread(target=self._beat, name="progress", daemon=True)
                self._thread.start()
            return
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total)

    def advance(self, n: float) -> None:
        """``n`` more items done."""
        self.update(self.done + n)

    def update(self, done: float) -> None:
        """``done`` items done in all."""
        self.done = float(done) if self.percent else int(done)
        self._t_at = self.clock()
        self._left_at = time_left(self._t_at - self._t0, self.done, self.total, self.prior_rate)
        if self.task is not None:
            self.progress.update(self.task, completed=self.done)
        elif self.plain and not self.heartbeat:
            self.poll()

    def stop(self) -> None:
        """Remove the bar (plain mode: stop the heartbeat and print the last line)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.plain and self._printed:
            self._emit()
            self._printed = False
        self.progress.stop()
