"""Target weights computed by a forked child (backtest.run_targets) equal those computed in-process.

``rmpbt run`` lets a child compute the strategies' targets while the parent imports
vectorbt. Each case runs the same config with the child forced on (``RMPBT_RUN_FORK=1``)
and off, and compares everything the run produced; the failure cases prove that an error
or a dead child leaves the parent to do the work and to raise the error itself.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import backtest.pipeline as pipeline
from backtest.config import load_config
from backtest.errors import StrategyError
from backtest.forking import fork_context
from backtest.run_targets import Targets, iter_targets
from strategies.benchmarks import FixedWeights
from tests.helpers import assert_clean_error, make_data_dir, run_cli, write_config

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the targets child needs fork")

STRATEGIES = [
    {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
    {"name": "ew", "kind": "equal_weight", "params": {"assets": ["SPY", "IEF", "GLD"]}},
    {"name": "ivol", "kind": "inverse_vol", "params": {"assets": ["SPY", "IEF", "GLD"]}},
    {"name": "gold", "kind": "fixed_weights", "params": {"weights": {"GLD": 0.5, "IEF": 0.5}}},
]


@pytest.fixture
def cfg_path(tmp_path):
    data = make_data_dir(tmp_path / "data", tickers=("SPY", "IEF", "GLD"), n=500, seed=3)
    return write_config(tmp_path / "c.yaml", data, strategies=STRATEGIES,
                        costs={"fee_bps": 1, "slippage_bps": 2},  # GLD held: in the universe (issue 25)
                        data={"source": "csv", "dir": str(data), "universe": ["SPY", "IEF", "GLD"], "macro": []})


def record_pids(monkeypatch, log: Path) -> None:
    """Wrap the pipeline's ``strategy_targets`` to log ``pid name`` of every call to ``log``."""
    real = pipeline.strategy_targets

    def logged(strat, *args, **kwargs):
        with log.open("a") as fh:
            fh.write(f"{os.getpid()} {strat.name}\n")
        return real(strat, *args, **kwargs)

    monkeypatch.setattr(pipeline, "strategy_targets", logged)


def calls(log: Path) -> list[tuple[int, str]]:
    return [(int(p), n) for p, n in (line.split() for line in log.read_text().splitlines())]


def break_gold(monkeypatch) -> None:
    """Make the ``gold`` strategy raise a StrategyError (in this process and in any child forked later)."""
    real = FixedWeights.weights

    def broken(self, sf, dates):
        if self.name == "gold":
            raise StrategyError(f"strategy {self.name}: no gold today")
        return real(self, sf, dates)

    monkeypatch.setattr(FixedWeights, "weights", broken)


@linux_only
def test_child_targets_equal_in_process_targets(cfg_path, tmp_path, monkeypatch):
    cfg = load_config(cfg_path)
    monkeypatch.setenv("RMPBT_RUN_FORK", "0")
    alone = pipeline.run_backtest(cfg, parallel=True)
    log = tmp_path / "calls.txt"
    record_pids(monkeypatch, log)
    monkeypatch.setenv("RMPBT_RUN_FORK", "1")
    child = pipeline.run_backtest(cfg, parallel=True)
    got = calls(log)
    assert [n for _, n in got] == [s["name"] for s in STRATEGIES]
    assert all(pid != os.getpid() for pid, _ in got)  # every target came from the child
    assert list(child.targets) == list(alone.targets)
    for name, w in alone.targets.items():
        pd.testing.assert_frame_equal(child.targets[name], w, check_exact=True)
    pd.testing.assert_frame_equal(child.returns, alone.returns, check_exact=True)
    pd.testing.assert_frame_equal(child.metrics, alone.metrics, check_exact=True)
    assert child.notes == alone.notes
    assert set(child.timings) == set(alone.timings) | {"engine_import_beside_targets"}


@linux_only
def test_error_in_the_child_is_raised_by_the_parent(cfg_path, tmp_path, monkeypatch):
    cfg = load_config(cfg_path)
    log = tmp_path / "calls.txt"
    record_pids(monkeypatch, log)
    break_gold(monkeypatch)
    monkeypatch.setenv("RMPBT_RUN_FORK", "1")
    with pytest.raises(StrategyError, match="strategy gold: no gold today"):
        pipeline.run_backtest(cfg, parallel=True)
    got = calls(log)
    # the child tried every strategy up to gold; the parent then computed gold itself
    assert [n for _, n in got] == [s["name"] for s in STRATEGIES] + ["gold"]
    assert got[-1][0] == os.getpid() and all(pid != os.getpid() for pid, _ in got[:-1])


@linux_only
def test_cli_error_from_the_child_is_one_line(cfg_path, tmp_path, monkeypatch):
    break_gold(monkeypatch)
    monkeypatch.setenv("RMPBT_RUN_FORK", "1")
    out = tmp_path / "res"
    r = run_cli("run", str(cfg_path), "--out", str(out), "--no-report")
    assert_clean_error(r, out, "strategy gold: no gold today")


class Named:
    """A stand-in strategy: only its name matters to iter_targets."""

    def __init__(self, name: str) -> None:
        self.name = name


def fake(name: str, size: int = 1) -> Targets:
    return Targets(name, pd.DataFrame({"X": np.full(size, float(len(name)))}))


@linux_only
def test_dead_child_leaves_the_rest_to_the_parent(monkeypatch):
    monkeypatch.setenv("RMPBT_RUN_FORK", "1")
    parent = os.getpid()

    def compute(s):
        if os.getpid() != parent and s.name == "c":
            os._exit(3)  # the child dies without a word
        return fake(s.name)

    got = list(iter_targets([Named(n) for n in "abcde"], compute, parallel=True))
    assert [t.name for t in got] == list("abcde")
    assert all(t.weights["X"].iloc[0] == 1.0 for t in got)


@linux_only
def test_large_targets_do_not_stall_the_child(monkeypatch):
    """Targets larger than a pipe's buffer flow while the parent is busy (a reader drains the pipe)."""
    monkeypatch.setenv("RMPBT_RUN_FORK", "1")
    parent = os.getpid()
    done_at: dict[str, float] = {}

    def compute(s):
        t = fake(s.name, size=200_000)  # 1.6 MB each, far above the 64 KB pipe buffer
        t.seconds = time.time()  # when the child finished it
        return t

    def busy():
        time.sleep(1.0)
        done_at["busy"] = time.time()

    names = [f"s{i}" for i in range(6)]
    got = list(iter_targets([Named(n) for n in names], compute, parallel=True, while_waiting=busy))
    assert [t.name for t in got] == names
    assert os.getpid() == parent
    # the child finished all six while this process was still busy
    assert max(t.seconds for t in got) < done_at["busy"]
    assert threading.active_count() == 1  # the reader thread is gone


@linux_only
def test_an_error_here_stops_a_busy_child(monkeypatch):
    """The consumer fails while the child still computes: closing the stream ends the child at once."""
    import multiprocessing as mp
    from contextlib import closing

    monkeypatch.setenv("RMPBT_RUN_FORK", "1")
    parent = os.getpid()

    def compute(s):
        if os.getpid() != parent and s.name == "b":
            time.sleep(60)  # a long optimisation
        return fake(s.name)

    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="simulation failed"):
        with closing(iter_targets([Named(n) for n in "abc"], compute, parallel=True)) as stream:
            for t in stream:
                assert t.name == "a"
                raise RuntimeError("simulation failed")
    assert time.perf_counter() - t0 < 10.0
    assert not [c for c in mp.active_children() if c.name == "rmpbt-targets"]
    assert threading.active_count() == 1


def test_fork_rules(monkeypatch):
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 2)
    monkeypatch.setenv("RMPBT_RUN_FORK", "0")
    assert fork_context("RMPBT_RUN_FORK") is None  # switched off
    monkeypatch.delenv("RMPBT_RUN_FORK")
    monkeypatch.setattr("backtest.forking.runnable_tasks", lambda: 2.0)
    assert fork_context("RMPBT_RUN_FORK") is None  # no idle core: another task runs beside this one
    monkeypatch.setattr("backtest.forking.runnable_tasks", lambda: 1.0)
    box: list[object] = []
    th = threading.Thread(target=lambda: box.append(fork_context("RMPBT_RUN_FORK")))
    th.start()
    th.join()
    assert box == [None]  # not from a thread
    if sys.platform == "linux" and threading.active_count() == 1:
        assert fork_context("RMPBT_RUN_FORK") is not None
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 1)
    assert fork_context("RMPBT_RUN_FORK") is None  # one core


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


def test_no_child_without_parallel(cfg_path, tmp_path, monkeypatch):
    monkeypatch.setenv("RMPBT_RUN_FORK", "1")
    log = tmp_path / "calls.txt"
    record_pids(monkeypatch, log)
    pipeline.run_backtest(load_config(cfg_path))
    assert {pid for pid, _ in calls(log)} == {os.getpid()}
