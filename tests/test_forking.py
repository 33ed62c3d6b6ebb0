"""The one rule for forking a helper process (backtest.forking.fork_context): the report's PNG child."""

from __future__ import annotations

import sys
import threading

from backtest.forking import fork_context


def test_fork_rules(monkeypatch):
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 2)
    monkeypatch.setenv("RMPBT_REPORT_FORK", "0")
    assert fork_context("RMPBT_REPORT_FORK") is None  # switched off
    monkeypatch.delenv("RMPBT_REPORT_FORK")
    monkeypatch.setattr("backtest.forking.runnable_tasks", lambda: 2.0)
    assert fork_context("RMPBT_REPORT_FORK") is None  # no idle core: another task runs beside this one
    monkeypatch.setattr("backtest.forking.runnable_tasks", lambda: 1.0)
    box: list[object] = []
    th = threading.Thread(target=lambda: box.append(fork_context("RMPBT_REPORT_FORK")))
    th.start()
    th.join()
    assert box == [None]  # not from a thread
    if sys.platform == "linux" and threading.active_count() == 1:
        assert fork_context("RMPBT_REPORT_FORK") is not None
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 1)
    assert fork_context("RMPBT_REPORT_FORK") is None  # one core


def test_usable_cores_follow_the_affinity(monkeypatch):
    import backtest.forking as forking

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    assert forking.usable_cores() == 1  # pinned to one core: never fork, whatever cpu_count says

    def no_affinity(pid):
        raise OSError("not supported")

    monkeypatch.setattr("os.sched_getaffinity", no_affinity, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert forking.usable_cores() == 8


def test_runnable_tasks_reads_proc_loadavg(tmp_path, monkeypatch):
    import backtest.forking as forking

    real_open = open

    def fake_open(path, *a, **k):
        return real_open(tmp_path / "loadavg", *a, **k) if path == "/proc/loadavg" else real_open(path, *a, **k)

    (tmp_path / "loadavg").write_text("0.50 0.40 0.30 3/120 4242\n")
    monkeypatch.setattr("builtins.open", fake_open)
    assert forking.runnable_tasks() == 3.0
    (tmp_path / "loadavg").write_text("garbage\n")
    monkeypatch.setattr("os.getloadavg", lambda: (0.25, 0.0, 0.0))
    assert forking.runnable_tasks() == 1.25  # the 1-minute average, plus this task
