"""A run's target weights: each strategy called, checked and finalised, optionally in a child.

:func:`strategy_targets` is the one place ``run_backtest`` turns a strategy into the target
weights the engine fills: the strategy's ``weights`` at the decision dates, the checks
(frame shape, known tickers, finite weights) and :func:`~backtest.execution.weights.finalise_frame`
(renormalise over listed assets, leverage cap), with the notes these produce.

:func:`iter_targets` yields them in strategy order. With ``parallel=True`` and a second core
idle (:func:`backtest.forking.fork_context`, ``RMPBT_RUN_FORK``), a forked child computes them
while the parent does ``while_waiting`` (``rmpbt run``: import vectorbt, about 2 s) and then
simulates each strategy as soon as its targets arrive. The child runs exactly the code the
parent would, on the data it inherited, so the targets are the same bytes. If the child
fails on a strategy (or dies, or cannot send), the parent computes that strategy and the
rest itself: an error is then raised by the parent, with its own message and traceback.
"""

from __future__ import annotations

import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import DataError, StrategyError
from backtest.execution.weights import finalise_frame
from backtest.forking import fork_context
from backtest.signals import SignalFrame
from strategies.base import Strategy

__all__ = ["Targets", "iter_targets", "strategy_targets"]

#: environment variable: 0 = never compute targets in a child, 1 = always (where fork exists)
FORK_ENV = "RMPBT_RUN_FORK"


@dataclass
class Targets:
    """One strategy's finalised target weights and what computing them produced."""

    name: str
    weights: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    fallbacks: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def strategy_targets(
    strat: Strategy,
    sf: SignalFrame,
    dates: pd.DatetimeIndex,
    tickers: pd.Index,
    max_gross: float | None,
    leverage_label: float,
) -> Targets:
    """Target weights of one strategy at the decision dates, checked and finalised.

    Parameters
    ----------
    strat : Strategy
        The strategy.
    sf : SignalFrame
        Signals known at each close.
    dates : pd.DatetimeIndex
        Decision dates.
    tickers : pd.Index
        Tickers of the loaded prices.
    max_gross : float, optional
        Gross leverage cap of the execution spec.
    leverage_label : float
        ``execution.max_gross_leverage`` as the config gives it (for the note).

    Returns
    -------
    Targets

    Raises
    ------
    StrategyError, DataError
        The weights are not a frame on the decision dates, name an unknown ticker or are infinite.
    """
    t0 = time.perf_counter()
    w = strat.weights(sf, dates)
    if not isinstance(w, pd.DataFrame) or not w.index.equals(dates):
        raise StrategyError(f"strategy {strat.name}: weights must be a DataFrame indexed by the decision dates")
    unknown = [c for c in w.columns if c not in tickers]
    if unknown:
        raise DataError(f"strategy {strat.name}: unknown ticker {unknown[0]}")
    bad = w.replace([np.inf, -np.inf], np.nan)
    if (bad.isna() & w.notna()).any().any():
        raise StrategyError(f"strategy {strat.name}: infinite weight")
    w, n_renorm, n_cap = finalise_frame(w, sf.available(), max_gross)
    notes = []
    if n_renorm:
        notes.append(f"{strat.name}: weights renormalised over listed assets on {n_renorm} decision date(s)")
    if n_cap:
        notes.append(f"{strat.name}: gross leverage capped at {leverage_label:g} on {n_cap} date(s)")
    fallbacks = [{**rec, "strategy": strat.name} for rec in getattr(strat, "fallbacks", None) or []]
    return Targets(strat.name, w, notes, fallbacks, time.perf_counter() - t0)


def iter_targets(
    strategies: Sequence[Strategy],
    compute: Callable[[Strategy], Targets],
    parallel: bool = False,
    while_waiting: Callable[[], Any] | None = None,
) -> Iterator[Targets]:
    """Targets of ``strategies`` in order, computed here or by a forked child.

    Parameters
    ----------
    strategies : sequence of Strategy
        The run's strategies.
    compute : callable
        ``compute(strategy) -> Targets`` (:func:`strategy_targets` with the run's data).
    parallel : bool
        Let a forked child compute them where :func:`~backtest.forking.fork_context` allows.
    while_waiting : callable, optional
        Work for this process while a child computes (called once, before the first yield;
        not called when there is no child).

    Yields
    ------
    Targets
    """
    ctx = fork_context(FORK_ENV) if parallel and len(strategies) else None
    job = _start(ctx, strategies, compute) if ctx is not None else None
    if job is not None and while_waiting is not None:
        while_waiting()
    try:
        done = 0
        if job is not None:
            for strat in strategies:
                got = job.receive(strat.name)
                if got is None:  # the child failed here: this process takes over
                    break
                done += 1
                yield got
        for strat in strategies[done:]:
            yield compute(strat)
    finally:
        if job is not None:
            job.stop()


class _Job:
    """The child computing the targets, and a thread here draining its pipe.

    The thread reads each message as soon as it is sent, so the child never waits on a
    full pipe while this process is busy (``while_waiting``); it only reads bytes (the
    GIL is released while it waits) and ends when the child closes its end.
    """

    def __init__(self, proc: Any, conn: Any) -> None:
        self.proc, self.conn = proc, conn
        self.inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.reader = threading.Thread(target=self._drain, name="rmpbt-targets-reader", daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        try:
            while True:
                self.inbox.put(self.conn.recv_bytes())
        except (EOFError, OSError):
            self.inbox.put(None)

    def receive(self, name: str) -> Targets | None:
        """The next strategy's targets (None if the child failed, died or sent something else)."""
        raw = self.inbox.get()
        if not raw:
            return None
        try:
            got = pickle.loads(raw)
        except (pickle.UnpicklingError, AttributeError, ImportError, TypeError, EOFError):
            return None
        return got if isinstance(got, Targets) and got.name == name else None

    def stop(self) -> None:
        """Stop the child if it still runs (SIGTERM, then SIGKILL) and wait for it and the reader."""
        self.proc.join(0.5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(2.0)
        if self.proc.is_alive():  # stuck in a C call that ignores the signal for now
            self.proc.kill()
            self.proc.join()
        self.reader.join(1.0)
        self.conn.close()


def _start(ctx: Any, strategies: Sequence[Strategy], compute: Callable[[Strategy], Targets]) -> _Job | None:
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, strategies, compute), name="rmpbt-targets", daemon=True)
    try:
        proc.start()
    except OSError:
        parent.close()
        return None
    finally:
        child.close()
    return _Job(proc, parent)


def _child(conn: Any, strategies: Sequence[Strategy], compute: Callable[[Strategy], Targets]) -> None:
    try:
        for strat in strategies:
            try:
                out = compute(strat)
            except BaseException:  # the parent recomputes this strategy and raises the error
                conn.send_bytes(b"")
                return
            conn.send_bytes(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:  # broken pipe: the parent stopped listening
        raise SystemExit(1) from None
    finally:
        conn.close()
