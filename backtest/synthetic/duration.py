"""Duration estimate of a scenario run, and the cost-weighted progress of its chunks.

Before the chunks start, :func:`pilot` runs two small *pilot chunks* per scenario (paths
``[0, k1)`` and ``[k1, k1 + k2)``) and times every strategy on them. The pilots are real
chunks: their results are kept and the remaining chunks start at path ``k1 + k2``, so the
run's results are those of any other chunking (results never depend on the chunk size).

Each strategy's cost on a chunk of ``n`` paths is fitted as ``a + b * n`` from the two
pilots (``a``: per-chunk overhead, ``b``: per path; both at least 0), and likewise the
path generation and signals; a strategy evaluated path by path costs ``b * n`` with ``b``
from the second (larger, warmed-up) pilot. :class:`Estimate` then gives the expected seconds of every
remaining chunk, the total, and the strategies that dominate it; the progress display
counts those estimated seconds as its work units, strategy by strategy within a chunk,
so its time left is right even when a few strategies cost most of the run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from backtest.synthetic.evaluate.scoring import INTERNAL_6040

GENERATE = "path generation"
PILOT_PATHS = (1, 4, 16)  # a warm-up chunk, then the two chunks the cost fit uses


@dataclass
class Estimate:
    """Fitted cost per scenario and strategy: ``seconds = a + b * paths`` per chunk."""

    coef: dict[str, dict[str, tuple[float, float]]]
    """``coef[scenario][name] = (a, b)``; ``name`` a strategy or :data:`GENERATE`."""
    pilot_paths: int
    pilot_seconds: float
    workers: int = 1
    total: float = 0.0
    by_name: dict[str, float] = field(default_factory=dict)

    def cost(self, scenario: str, name: str, n: int) -> float:
        """Estimated seconds of ``name`` on a chunk of ``n`` paths of ``scenario`` (0 if unknown)."""
        a, b = self.coef.get(scenario, {}).get(name, (0.0, 0.0))
        return a + b * n

    def chunk_cost(self, scenario: str, n: int) -> float:
        """Estimated seconds of a whole chunk of ``n`` paths of ``scenario``."""
        return sum(self.cost(scenario, k, n) for k in self.coef.get(scenario, {}))

    def add_chunks(self, chunks: list[tuple[str, int]]) -> None:
        """Accumulate the estimate of the remaining ``(scenario, paths)`` chunks."""
        for sc, n in chunks:
            for k in self.coef.get(sc, {}):
                c = self.cost(sc, k, n)
                self.by_name[k] = self.by_name.get(k, 0.0) + c
                self.total += c

    def seconds(self) -> float:
        """Wall-clock estimate of the remaining chunks (work divided over the workers)."""
        return self.total / max(1, self.workers)

    def dominant(self, share: float = 0.8, least: float = 0.1, most: int = 3) -> list[tuple[str, float]]:
        """The costliest names and their shares: until ``share`` of the work, each at least ``least``, at most ``most``."""
        if self.total <= 0:
            return []
        out, acc = [], 0.0
        for k, v in sorted(self.by_name.items(), key=lambda kv: -kv[1]):
            if out and (acc >= share or v / self.total < least or len(out) >= most):
                break
            out.append((k, v / self.total))
            acc += v / self.total
        return out

    def message(self) -> str:
        """``estimated ~X s; dominated by a (45%), b (40%)``."""
        if self.total <= 0:
            return "estimated ~0 s more: the pilot chunks covered every path"
        shown = {INTERNAL_6040: "internal 60/40"}
        dom = ", ".join(f"{shown.get(k, k)} ({v:.0%})" for k, v in self.dominant())
        return f"estimated ~{_human(self.seconds())}; dominated by {dom or '-'}"


def _human(sec: float) -> str:
    sec = max(0.0, float(sec))
    if sec < 90:
        return f"{sec:.0f} s"
    if sec < 5400:
        return f"{sec / 60:.1f} min"
    return f"{sec / 3600:.1f} h"


def fit(t1: dict[str, float], n1: int, t2: dict[str, float], n2: int) -> dict[str, tuple[float, float]]:
    """``(a, b)`` per name from two timed chunks of ``n1 < n2`` paths (one chunk: ``a = 0``).

    Parameters
    ----------
    t1, t2 : dict
        Seconds per name on the two chunks.
    n1, n2 : int
        Their paths.

    Returns
    -------
    dict
        ``name -> (a, b)`` with ``a, b >= 0`` and ``a + b * n`` through both points when
        the slope and intercept are non-negative.
    """
    out = {}
    for k in t1:
        y1, y2 = float(t1[k]), float(t2.get(k, t1[k]))
        if n2 <= n1:
            out[k] = (0.0, max(y1, 0.0) / max(n1, 1))
            continue
        b = max(0.0, (y2 - y1) / (n2 - n1))
        a = max(0.0, y2 - b * n2)
        out[k] = (a, b)
    return out


def timed_parts(seconds: dict[str, float]) -> dict[str, float]:
    """Per-name seconds of a chunk result (``strategy:<name>`` keys; the rest is generation)."""
    parts = {k.split(":", 1)[1]: v for k, v in seconds.items() if k.startswith("strategy:")}
    parts[GENERATE] = max(0.0, float(seconds.get("total", 0.0)) - sum(parts.values()))
    return parts


def pilot_sizes(paths: int) -> tuple[int, ...]:
    """Paths of the pilot chunks: :data:`PILOT_PATHS` while they fit in ``paths`` (at least one chunk)."""
    out: list[int] = []
    for k in PILOT_PATHS:
        if sum(out) + k > paths:
            break
        out.append(k)
    return tuple(out) or (paths,)


def estimate_from(results: dict[str, list], paths: int, workers: int, seconds: float,
                  remaining: list[tuple[str, int]]) -> Estimate:
    """The :class:`Estimate` of timed pilot chunks.

    Parameters
    ----------
    results : dict
        Scenario -> its pilot chunk results (``.p0``, ``.p1``, ``.seconds``).
    paths : int
        Paths in the pilots of each scenario.
    workers : int
        Workers the remaining chunks are spread over.
    seconds : float
        Wall-clock seconds of the pilots.
    remaining : list of (str, int)
        ``(scenario, paths)`` of every remaining chunk.
    """
    coef = {}
    for sc, rs in results.items():
        rs = sorted(rs, key=lambda r: r.p0)[-2:]  # the warm pilots (the first one pays first-call costs)
        t1, n1 = timed_parts(rs[0].seconds), rs[0].p1 - rs[0].p0
        if len(rs) > 1:
            t2, n2 = timed_parts(rs[1].seconds), rs[1].p1 - rs[1].p0
            coef[sc] = fit(t1, n1, t2, n2)
            for k in rs[1].per_path:  # path by path: proportional to the paths (the warm second pilot)
                coef[sc][k] = (0.0, max(float(t2.get(k, 0.0)), 0.0) / max(n2, 1))
        else:
            coef[sc] = fit(t1, n1, t1, n1)
    est = Estimate(coef, paths, seconds, workers)
    est.add_chunks(remaining)
    return est


class WorkMeter:
    """Cost-weighted progress: ``report(done, total)`` in estimated seconds of work.

    :meth:`step` credits one strategy (or the generation) of the running chunk (local,
    in-process executors); :meth:`chunk_done` completes a chunk (any executor).

    Parameters
    ----------
    costs : list of float
        Estimated seconds of each chunk, in the executor's item order.
    cost_of : callable
        ``cost_of(i, name, n)``: estimated seconds of ``name`` on chunk ``i`` of ``n`` paths.
    report : callable
        ``report(done, total)``.
    """

    def __init__(self, costs: list[float], cost_of: Callable[[int, str, int], float],
                 report: Callable[[float, float], None] | None) -> None:
        self.costs = list(costs)
        self.total = float(sum(self.costs))
        self.cost_of = cost_of
        self.report = report
        self.finished = 0.0
        self.current = 0  # the chunk running in-process (local executors run them in order)
        self.partial = 0.0
        self.n_done = 0

    def _emit(self) -> None:
        if self.report is not None:
            self.report(self.finished + self.partial, self.total)

    def step(self, name: str, n: int) -> None:
        """``name`` finished on ``n`` paths of the running chunk."""
        if self.current < len(self.costs):
            self.partial = min(self.partial + self.cost_of(self.current, name, n), self.costs[self.current])
        self._emit()

    def chunk_done(self, i: int) -> None:
        """Chunk ``i`` finished."""
        self.finished += self.costs[i]
        self.n_done += 1
        self.current = self.n_done
        self.partial = 0.0
        self._emit()


def task_paths(task: Any) -> int:
    """Paths a chunk task simulates (its ``ids`` when it runs a subset of ``p0 .. p1 - 1``)."""
    ids = getattr(task, "ids", None)
    return len(ids) if ids is not None else int(task.p1 - task.p0)


def run_chunks(tasks_for: Callable[[int, int, bool, int], list], run: Callable[..., Any], ex: Any, paths: int,
               size: int, progress: Callable[[float, float], None] | None,
               on_estimate: Callable[[Estimate], None] | None, extra: Sequence[Any] = ()) -> list:
    """Run every chunk through ``ex`` with cost-weighted progress; pilots first with ``on_estimate``.

    Parameters
    ----------
    tasks_for : callable
        ``tasks_for(paths, chunk_size, parallel, start)``: the chunk tasks of every
        scenario covering paths ``[start, paths)`` (``runner.make_tasks``).
    run : callable
        ``run(task, step=None)``: one chunk (``runner.run_chunk``).
    ex : Executor
        Runs the remaining chunks (``step`` callbacks only in-process).
    paths, size : int
        Paths per scenario and per chunk.
    progress : callable, optional
        ``progress(done, total)`` (:class:`WorkMeter`).
    on_estimate : callable, optional
        Called with the :class:`Estimate` of the pilots before the remaining chunks.
    extra : sequence, optional
        More tasks run after the remaining chunks (e.g. the pace effect's); their
        results come last, in order.

    Returns
    -------
    list
        Chunk results (pilots first; the aggregation orders them by path).
    """
    local = not getattr(ex, "distributed", False)
    pilot_results: list = []
    start = 0
    if on_estimate is not None:  # pilots are chunks [0, k1), [k1, k1 + k2), ...: kept (results do not change)
        tp = time.perf_counter()
        pilots = []
        for k in pilot_sizes(paths):
            pilots += tasks_for(start + k, k, True, start)
            start += k
        pilot_results = [run(t) for t in pilots]
    tasks = tasks_for(paths, size, local, start) + list(extra)
    if on_estimate is not None:
        by_sc: dict[str, list] = {}
        for r in pilot_results:
            by_sc.setdefault(r.scenario, []).append(r)
        est = estimate_from(by_sc, start, int(getattr(ex, "workers", 1) or 1), time.perf_counter() - tp,
                            [(t.ctx.scenario.name, task_paths(t)) for t in tasks])
        on_estimate(est)
        meter = WorkMeter([est.chunk_cost(t.ctx.scenario.name, task_paths(t)) for t in tasks],
                          lambda i, k, n: est.cost(tasks[i].ctx.scenario.name, k, n), progress)
    else:  # units: path x (strategy or generation) evaluations
        n_st = len(tasks[0].strategies) + 1 if tasks else 1
        meter = WorkMeter([float(task_paths(t) * n_st) for t in tasks], lambda i, k, n: float(n), progress)
    fn = functools.partial(run, step=meter.step) if local else run
    return pilot_results + ex.map(fn, tasks, meter.chunk_done)


__all__ = ["GENERATE", "Estimate", "WorkMeter", "estimate_from", "fit", "pilot_sizes", "run_chunks", "task_paths",
           "timed_parts"]
