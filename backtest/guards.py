"""Resource guards: refuse, before any work, requests whose time or memory is absurd.

Each guard estimates the work a request implies from its flags and sizes, raises a
one-line :class:`~backtest.errors.ResourceError` above a documented limit (the
``--force`` flag skips these soft limits), and a flag error for values out of range.
Limits are documented in ``docs/config.md``.
"""

from __future__ import annotations

import math
import os

import pandas as pd

from backtest.errors import ResourceError, ScenarioError, SweepError

MAX_PATHS = 1_000_000  # per scenario, even with --force
MAX_WORK = 2.0e9  # path-days x strategies before --force is needed (~ tens of minutes on 2 cores)
MAX_CHUNK_BYTES = 4.0e9  # memory of one chunk before --force is needed
MAX_SEED = 2**63 - 1
MAX_SIDE_PATHS = 100_000  # paths of each side measurement (pace, channel, pool sensitivity)
#: Paths per chunk of a scenario run when none is given: ``backtest.synthetic.runner.DEFAULT_CHUNK``
#: (kept here, not imported, so that the tuner may use these guards without importing the
#: scenario package; ``tests/test_faults_strict.py`` checks that the two agree).
DEFAULT_CHUNK = 2000


def check_path_flags(paths: int, chunk_size: int | None, seed: int) -> None:
    """``--paths`` 1..:data:`MAX_PATHS`, ``--chunk-size`` >= 1, ``--seed`` 0..2**63-1 (ScenarioError)."""
    if paths < 1 or paths > MAX_PATHS:
        raise ScenarioError(f"--paths {paths}: must be 1..{MAX_PATHS:,}")
    if chunk_size is not None and chunk_size < 1:
        raise ScenarioError(f"--chunk-size {chunk_size}: must be at least 1")
    if not 0 <= seed <= MAX_SEED:
        raise ScenarioError(f"--seed {seed}: must be 0..2**63-1")


def check_scenario_budget(
    paths: int,
    horizons: list[int],
    n_assets: int,
    n_strategies: int,
    chunk_size: int | None,
    seed: int,
    force: bool = False,
) -> float:
    """Refuse a scenario request whose implied work or memory is absurd (before any work).

    Parameters
    ----------
    paths : int
        ``--paths`` (per scenario).
    horizons : list of int
        Horizon of each scenario to run (trading days).
    n_assets, n_strategies : int
        Size of the universe and the number of strategies scored.
    chunk_size : int or None
        ``--chunk-size`` (``None``: the runner's default).
    seed : int
        ``--seed``.
    force : bool
        ``--force``: skip the work and memory limits (not the hard ones).

    Returns
    -------
    float
        The estimated work in path-days x strategies.

    Raises
    ------
    ScenarioError
        A flag out of range (paths, chunk size, seed).
    ResourceError
        Above :data:`MAX_WORK` or :data:`MAX_CHUNK_BYTES` without ``force``.
    """
    check_path_flags(paths, chunk_size, seed)
    days = float(sum(horizons))
    work = float(paths) * days * max(1, n_strategies)
    chunk = min(paths, chunk_size or DEFAULT_CHUNK)
    mem = 8.0 * chunk * max(horizons or [1]) * (n_assets + n_strategies) * 4
    if not force and work > MAX_WORK:
        raise ResourceError(
            f"--paths {paths:,} x {int(days):,} scenario days x {n_strategies} strategies = {work:.3g} "
            f"path-days, above the limit of {MAX_WORK:.3g}: lower --paths/--horizon or add --force"
        )
    if not force and mem > MAX_CHUNK_BYTES:
        raise ResourceError(
            f"--chunk-size {chunk:,}: about {mem / 1e9:.1f} GB per chunk, above "
            f"{MAX_CHUNK_BYTES / 1e9:.0f} GB: lower --chunk-size or add --force"
        )
    return work


def check_calibration_budget(
    paths: int,
    start_from: object,
    every: str,
    horizon: int,
    n_strategies: int,
    chunk_size: int | None,
    seed: int,
    force: bool = False,
) -> float:
    """Refuse a calibration backtest (``--calibrate``) whose implied work is absurd (before any work).

    The work is starts x paths x horizon x strategies, with the number of starts counted
    from ``start_from`` to today at the spacing ``every`` (an upper bound: the data may end
    earlier). Same flag ranges and limits as :func:`check_scenario_budget`.

    Returns
    -------
    float
        The estimated work in path-days x strategies.

    Raises
    ------
    ScenarioError
        A flag out of range (paths, chunk size, seed, start date, spacing).
    ResourceError
        Above :data:`MAX_WORK` without ``force``.
    """
    check_path_flags(paths, chunk_size, seed)
    freq = {"quarter": "QS", "month": "MS", "year": "YS"}.get(every)
    if freq is None:
        raise ScenarioError(f"--calibrate-every {every}: must be quarter, month or year")
    try:
        first = pd.Timestamp(str(start_from))
    except (ValueError, TypeError):
        raise ScenarioError(f"--calibrate-from {start_from}: not a date (YYYY-MM-DD)") from None
    if first is pd.NaT or not pd.Timestamp("1900-01-01") <= first <= pd.Timestamp("2100-12-31"):
        raise ScenarioError(f"--calibrate-from {start_from}: must be a date in 1900..2100")
    starts = max(1, len(pd.date_range(first, max(first, pd.Timestamp.today()), freq=freq)))
    work = float(starts) * paths * max(1, horizon) * max(1, n_strategies)
    if not force and work > MAX_WORK:
        raise ResourceError(
            f"--calibrate: {starts:,} starts x --paths {paths:,} x {horizon:,} days x {n_strategies} strategies = "
            f"{work:.3g} path-days, above the limit of {MAX_WORK:.3g}: lower --paths, use a later "
            "--calibrate-from or a coarser --calibrate-every, or add --force")
    return work


MAX_WORKERS_PER_CORE = 4  # local Dask workers per core before --force is needed
MAX_WORKERS = 1024  # local Dask workers, even with --force


def check_workers(workers: int | None, force: bool = False) -> None:
    """Refuse a local cluster of absurd size (``--workers``) before starting it.

    At most :data:`MAX_WORKERS_PER_CORE` workers per core of this machine without
    ``force`` and :data:`MAX_WORKERS` with it.

    Raises
    ------
    ResourceError
        Too many workers.
    """
    if workers is None or workers < 1:
        return  # None: in-process; < 1 is refused by backtest.executors.make_executor
    cores = os.cpu_count() or 1
    limit = MAX_WORKERS_PER_CORE * cores
    if workers > MAX_WORKERS:
        raise ResourceError(f"--workers {workers:,}: at most {MAX_WORKERS:,} local workers")
    if not force and workers > limit:
        raise ResourceError(f"--workers {workers:,}: more than {MAX_WORKERS_PER_CORE} per core "
                            f"({limit} on this machine with {cores} cores): lower --workers or add --force")


MAX_TUNE_CELLS = 5.0e8  # variants x trading days (the returns held in memory, 8 bytes each)
MAX_TUNE_VARIANTS = 1_000_000


def check_tune_budget(
    grid_sizes: list[int],
    random: int | None,
    chunk_size: int,
    seed: int | None,
    n_days: int,
    force: bool = False,
) -> int:
    """Refuse a tune request whose implied variants x days are absurd (before any work).

    Parameters
    ----------
    grid_sizes : list of int
        Number of values of each ``--grid`` axis.
    random : int or None
        ``--random N``.
    chunk_size : int
        ``--chunk-size`` (variants per batch, at least 1).
    seed : int or None
        ``--seed``.
    n_days : int
        Trading days of the run (an upper estimate is fine).
    force : bool
        ``--force``: skip the soft limit.

    Returns
    -------
    int
        The number of variants (upper bound: before ``--where``).

    Raises
    ------
    SweepError
        A flag out of range.
    ResourceError
        Above :data:`MAX_TUNE_CELLS` without ``force``.
    """
    if chunk_size < 1:
        raise SweepError(f"--chunk-size {chunk_size}: must be at least 1")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise SweepError(f"--seed {seed}: must be 0..2**63-1")
    if random is not None and not 1 <= random <= MAX_TUNE_VARIANTS:
        raise SweepError(f"--random {random}: must be 1..{MAX_TUNE_VARIANTS:,}")
    total = math.prod(grid_sizes) if grid_sizes else 0
    variants = min(total, random) if random is not None else total
    cells = float(variants) * max(1, n_days)
    if not force and cells > MAX_TUNE_CELLS:
        raise ResourceError(
            f"{variants:,} variants x {n_days:,} days = {cells:.3g} returns in memory, above the "
            f"limit of {MAX_TUNE_CELLS:.3g}: use --random N, a coarser --grid, or add --force"
        )
    return variants


def estimate_days(start: object = None, end: object = None) -> int:
    """Trading days between ``start`` and ``end`` (defaults: 1993-01-29 and today), an upper estimate."""

    s = pd.Timestamp(start) if start is not None else pd.Timestamp("1993-01-29")
    e = pd.Timestamp(end) if end is not None else pd.Timestamp.today().normalize()
    return max(1, int(len(pd.bdate_range(s, max(s, e)))))


def check_side_paths(flag: str, value: int | None) -> None:
    """A side measurement's path count (``--pace-effect-paths`` ...): ``None`` or 0 … :data:`MAX_SIDE_PATHS`.

    Raises
    ------
    ScenarioError
        Out of range.
    """
    if value is not None and not 0 <= value <= MAX_SIDE_PATHS:
        raise ScenarioError(f"{flag} {value}: must be between 0 and {MAX_SIDE_PATHS}")
