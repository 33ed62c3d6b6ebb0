"""Where batches of work run: in this process, or on a Dask cluster.

The only module that imports dask. An :class:`Executor` has one method that matters,
``map(fn, items) -> list``, which returns ``[fn(x) for x in items]`` in the order of
``items`` whatever the order of completion. ``fn`` and the items must be picklable for
:class:`DaskExecutor` (top-level functions, plain data).

Executors are context managers; :class:`DaskExecutor` owns its ``LocalCluster`` (when it
started one) and shuts it down on exit, also after Ctrl-C (pending tasks are cancelled).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from backtest.errors import SweepError

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int], None]


class Executor(Protocol):
    """Runs ``fn`` over items, preserving their order."""

    #: Number of parallel workers (1 for in-process).
    workers: int
    #: True when tasks run in another process or thread (callers may then use serial kernels).
    distributed: bool

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        """``[fn(x) for x in items]``; ``progress(i)`` is called as item ``i`` completes."""
        ...

    def describe(self) -> str:
        """One line for logs and provenance."""
        ...

    def close(self) -> None:
        """Release resources (idempotent)."""
        ...


class LocalExecutor:
    """Run everything sequentially in this process."""

    workers = 1
    distributed = False

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        """Apply ``fn`` to each item in order."""
        out: list[R] = []
        for i, item in enumerate(items):
            out.append(fn(item))
            if progress is not None:
                progress(i)
        return out

    def describe(self) -> str:
        """``local (in-process)``."""
        return "local (in-process)"

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskExecutor:
    """Run tasks on a Dask cluster: a new ``LocalCluster`` or an existing scheduler.

    Parameters
    ----------
    workers : int, optional
        Start a ``LocalCluster`` with this many workers (one thread each).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); exclusive with ``workers``.
    processes : bool
        Workers are processes (default) or threads of this process (faster to start;
        used in tests).
    connect_timeout : float
        Seconds to wait for a scheduler to answer before raising :class:`SweepError`.

    Raises
    ------
    SweepError
        Bad arguments, dask not installed, or the scheduler does not answer.
    """

    distributed = True

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        *,
        processes: bool = True,
        connect_timeout: float = 4.0,
    ) -> None:
        if (workers is None) == (scheduler is None):
            raise SweepError("DaskExecutor needs exactly one of workers=N or scheduler=ADDR")
        if workers is not None and workers < 1:
            raise SweepError(f"--workers {workers}: must be at least 1")
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise SweepError("--workers/--scheduler need dask[distributed] (pip install 'rmpbt[distributed]')") from None
        self._cluster: Any = None
        self._client: Any = None
        self.scheduler = scheduler
        try:
            if scheduler is not None:
                addr = scheduler if "://" in scheduler else f"tcp://{scheduler}"
                _probe_scheduler(addr, scheduler, connect_timeout)
                try:
                    self._client = Client(addr, timeout=connect_timeout, set_as_default=False)
                except Exception as exc:  # noqa: BLE001 - any failure to connect is a user error
                    raise SweepError(
                        f"--scheduler {scheduler}: cannot connect ({type(exc).__name__})") from None
                self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
            else:
                where = {"host": "127.0.0.1"} if processes else {}  # threads talk in-process
                # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off
                # glibc's adaptive mmap threshold: every numpy temporary above 128 kB is then
                # mmapped and unmapped again (10x the page faults, ~30% more CPU on scenario and
                # calibration chunks). Our tasks are short and allocate alike: keep the default.
                # No dashboard, so no use for the workers' stack sampling every 10 ms either.
                with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                                      "distributed.worker.profile.enabled": False}):
                    self._cluster = LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=processes,
                        dashboard_address=None, silence_logs=50, **where,
                        # no dashboard; the scheduler's small HTTP server on a free port instead of
                        # 8787 (no "Port 8787 is already in use" warning when another cluster runs)
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    )
                self._client = Client(self._cluster, set_as_default=False)
                self.workers = int(workers)  # type: ignore[arg-type]
        except BaseException:
            self.close()
            raise
        self._processes = processes

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: Progress | None = None) -> list[R]:
        """Submit one task per item; gather results in item order."""
        from distributed import as_completed

        if not items:
            return []
        with warnings.catch_warnings():  # "Sending large graph of size ...": noise, not a fault
            warnings.filterwarnings("ignore", message=".*large graph.*")
            futures = self._client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures, loop=self._client.loop):
                if fut.status == "error":
                    fut.result()  # re-raises the task's exception here
                if progress is not None:
                    progress(index[fut.key])
            return list(self._client.gather(futures))
        except BaseException:
            self._client.cancel(futures)
            raise

    def describe(self) -> str:
        """``dask scheduler ADDR (N workers)`` or ``dask LocalCluster (N process workers)``."""
        if self.scheduler is not None:
            return f"dask scheduler {self.scheduler} ({self.workers} workers)"
        kind = "process" if self._processes else "thread"
        return f"dask LocalCluster ({self.workers} {kind} workers)"

    def close(self) -> None:
        """Close the client and any cluster this executor started."""
        if self._client is not None:
            try:
                self._client.close(timeout=10)
            except Exception:  # noqa: BLE001 - best effort on shutdown
                pass
            self._client = None
        if self._cluster is not None:
            try:
                self._cluster.close(timeout=10)
            except Exception:  # noqa: BLE001
                pass
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _probe_scheduler(addr: str, label: str, timeout: float) -> None:
    """Ask ``addr`` for its identity within ``timeout`` s; SweepError if it does not answer like a scheduler."""
    import asyncio

    from distributed.comm import connect

    async def ask() -> object:
        comm = await connect(addr, timeout=timeout)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            await comm.close()

    try:
        reply = asyncio.run(asyncio.wait_for(ask(), timeout))
    except Exception as exc:  # noqa: BLE001 - refused, timed out, garbage: all mean "no scheduler"
        raise SweepError(f"--scheduler {label}: no Dask scheduler answered within {timeout:g} s "
                         f"({type(exc).__name__})") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise SweepError(f"--scheduler {label}: the server at that address is not a Dask scheduler")


def make_executor(workers: int | None = None, scheduler: str | None = None, *, processes: bool = True,
                  connect_timeout: float = 4.0) -> LocalExecutor | DaskExecutor:
    """The executor for ``--workers`` / ``--scheduler`` (in-process when neither is given).

    Raises
    ------
    SweepError
        Both options given, or the cluster cannot be started / reached.
    """
    if workers is not None and scheduler is not None:
        raise SweepError("--workers and --scheduler are exclusive")
    if scheduler is not None:
        return DaskExecutor(scheduler=scheduler, processes=processes, connect_timeout=connect_timeout)
    if workers is not None and workers > 1:
        return DaskExecutor(workers=workers, processes=processes, connect_timeout=connect_timeout)
    if workers is not None and workers < 1:
        raise SweepError(f"--workers {workers}: must be at least 1")
    return LocalExecutor()
