"""When a run may use a second core: the one rule for forking a helper process.

The report's PNGs are drawn in a child while the parent writes the HTML page
(:class:`backtest.report.tearsheet.PngJob`). A child is forked only where it pays:

* on Linux, where the ``fork`` start method exists (the child inherits the loaded data);
* with at least two cores this process may run on (its CPU affinity), one of them idle
  right now: at most ``cores - 1`` runnable tasks, this process included
  (``/proc/loadavg``'s fourth field, read at the moment of the fork; the 1-minute load
  average where that is unreadable). On a busy machine a second process only adds the
  fork and its own imports. A snapshot, not the 1-minute average: commands typed one
  after another raise that average above ``cores - 1`` by themselves;
* from the main thread of a process with no other thread (forking a threaded process can
  leave a lock held in the child).

An environment variable per use turns it off (``0``) or on whatever the load and threads
(``1``, for tests; still never on one core); anything else (or unset) means "decide by
the rules above".
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from typing import Any

__all__ = ["flush_std_streams", "fork_context", "runnable_tasks", "usable_cores"]


def fork_context(env_var: str) -> Any | None:
    """The ``fork`` multiprocessing context when a helper child may be forked now, else None.

    Parameters
    ----------
    env_var : str
        Name of the environment variable that overrides the rules: ``"0"`` never forks,
        ``"1"`` forks whatever the machine's load and threads (still only where ``fork``
        exists and with two cores or more).

    Returns
    -------
    multiprocessing context or None
    """
    mode = os.environ.get(env_var, "auto")
    if mode == "0" or sys.platform != "linux" or "fork" not in mp.get_all_start_methods():
        return None
    cores = usable_cores()
    if cores < 2:
        return None
    if mode != "1":
        if threading.current_thread() is not threading.main_thread() or threading.active_count() > 1:
            return None
        if runnable_tasks() > cores - 1:
            return None
    flush_std_streams()
    return mp.get_context("fork")


def flush_std_streams() -> None:
    """Flush stdout and stderr (a forked child must not flush a copy of pending output)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def runnable_tasks() -> float:
    """Tasks runnable on the machine right now, this one included (``/proc/loadavg``).

    Falls back to the 1-minute load average + 1 where ``/proc/loadavg`` cannot be read.
    """
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            return float(int(fh.read().split()[3].split("/")[0]))
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] + 1.0


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the OS has one, else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
