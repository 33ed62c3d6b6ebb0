"""Parquet cache of downloaded series, plus the retry and fallback plumbing of online sources.

One file per (provider, key): ``<root>/<provider>/<quoted key>.parquet`` holding one float
column ``value`` indexed by ``date``. The download time and the requested range are stored
in the parquet schema metadata (key ``rmpbt``), so data and metadata are replaced together
by one atomic ``os.replace``.

The cache folder is, in order of precedence: the ``root`` argument, the environment
variable ``RMPBT_CACHE_DIR``, ``platformdirs.user_cache_dir("rmpbt")``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pandas as pd

from backtest.errors import DataError

ENV_VAR = "RMPBT_CACHE_DIR"
META_KEY = b"rmpbt"
FORMAT_VERSION = 1

T = TypeVar("T")


def default_cache_dir() -> Path:
    """Cache folder used when none is given: ``$RMPBT_CACHE_DIR`` or the user cache dir."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()

    import platformdirs  # lazy: only when no cache folder is configured

    return Path(platformdirs.user_cache_dir("rmpbt"))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ts_or_none(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    return pd.Timestamp(value).normalize()


@dataclass(frozen=True)
class CacheEntry:
    """Metadata of one cached series.

    Attributes
    ----------
    provider, key : str
        Provider name (``"yahoo"``, ``"fred"``) and ticker or series id.
    path : Path
        The parquet file.
    fetched_at : datetime
        Download time (timezone-aware, UTC).
    requested_start, requested_end : pd.Timestamp or None
        Range asked of the provider when downloading (``None``: unbounded).
    rows : int
        Number of observations stored.
    first, last : pd.Timestamp or None
        First and last observation dates (``None`` when empty).
    """

    provider: str
    key: str
    path: Path
    fetched_at: datetime
    requested_start: pd.Timestamp | None
    requested_end: pd.Timestamp | None
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None

    def age(self, now: datetime | None = None) -> timedelta:
        """Time elapsed since the download."""
        return (now or _utcnow()) - self.fetched_at

    def covers(
        self,
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
        now: datetime | None = None,
    ) -> bool:
        """Whether this entry holds everything a download of ``[start, end]`` would return.

        Start side: the download started at or before ``start`` (or was unbounded), or the
        data begin on or before ``start``. End side: the data reach ``end``, or ``end`` is a
        day before the download day and within the requested range. An open end
        (``end=None``) is covered only by an open-ended download made today (UTC).
        """
        now = now or _utcnow()
        fetched_day = pd.Timestamp(self.fetched_at.astimezone(UTC).date())
        if start is not None:
            start = pd.Timestamp(start).normalize()
            ok_start = (
                self.requested_start is None
                or self.requested_start <= start
                or (self.first is not None and self.first <= start)
            )
        else:
            ok_start = self.requested_start is None
        if not ok_start:
            return False
        if end is None:
            return self.requested_end is None and fetched_day == pd.Timestamp(
                now.astimezone(UTC).date()
            )
        end = pd.Timestamp(end).normalize()
        if self.last is not None and self.last >= end:
            return True
        in_request = self.requested_end is None or end <= self.requested_end
        return in_request and end < fetched_day


class Cache:
    """Parquet cache of downloaded series, one file per (provider, key).

    Parameters
    ----------
    root : str or Path, optional
        Cache folder; defaults to ``$RMPBT_CACHE_DIR`` or the user cache dir. Created on
        first write.
    clock : callable, optional
        Returns the current time (timezone-aware); injectable for tests.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self._clock = clock or _utcnow

    def now(self) -> datetime:
        """Current time according to the cache's clock."""
        return self._clock()

    def path(self, provider: str, key: str) -> Path:
        """File holding ``key`` of ``provider`` (the key is percent-quoted)."""
        if not key or not provider:
            raise DataError(f"cache: empty provider or key ({provider!r}, {key!r})")
        return self.root / quote(provider, safe="") / f"{quote(key, safe='')}.parquet"

    def info(self, provider: str, key: str) -> CacheEntry | None:
        """Metadata of a cached entry, or ``None`` if absent or unreadable."""
        path = self.path(provider, key)
        if not path.is_file():
            return None
        import pyarrow.parquet as pq  # lazy: runs on csv or sample data never touch the cache

        try:
            meta = pq.read_schema(path).metadata or {}
            return _entry_from_meta(path, json.loads(meta[META_KEY]))
        except Exception:  # corrupt or foreign file: behave as if absent
            return None

    def read(self, provider: str, key: str) -> tuple[pd.Series, CacheEntry] | None:
        """Cached series and its metadata, or ``None`` if absent or unreadable.

        Returns
        -------
        tuple of (pd.Series, CacheEntry) or None
            Float series indexed by ``date`` (named ``key``).
        """
        entry = self.info(provider, key)
        if entry is None:
            return None
        import pyarrow.parquet as pq

        try:
            df = pq.read_table(entry.path).to_pandas()
            s = df["value"].astype(float)  # wrong columns / types: a foreign file, not our entry
            s.index = pd.DatetimeIndex(df.index, name="date")
        except Exception:  # noqa: BLE001 - corrupt or foreign file: behave as if absent
            return None
        s.name = key
        return s, entry

    def write(
        self,
        provider: str,
        key: str,
        series: pd.Series,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        fetched_at: datetime | None = None,
    ) -> CacheEntry:
        """Store ``series`` atomically (temp file in the same folder, then ``os.replace``).

        Parameters
        ----------
        provider, key : str
            Entry identity.
        series : pd.Series
            Float values indexed by date.
        start, end : pd.Timestamp, optional
            Range that was requested from the provider (``None``: unbounded).
        fetched_at : datetime, optional
            Download time; defaults to the clock's now.

        Returns
        -------
        CacheEntry
            Metadata of the written entry.
        """
        path = self.path(provider, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        idx = pd.DatetimeIndex(series.index, name="date")
        df = pd.DataFrame({"value": series.to_numpy(dtype=float)}, index=idx)
        fetched = (fetched_at or self.now()).astimezone(UTC)
        meta = {
            "version": FORMAT_VERSION,
            "provider": provider,
            "key": key,
            "fetched_at": fetched.isoformat(),
            "requested_start": None if start is None else str(pd.Timestamp(start).date()),
            "requested_end": None if end is None else str(pd.Timestamp(end).date()),
            "rows": len(df),
            "first": str(idx[0].date()) if len(idx) else None,
            "last": str(idx[-1].date()) if len(idx) else None,
        }
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=True)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()}
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return _entry_from_meta(path, meta)

    def age(self, provider: str, key: str) -> timedelta | None:
        """Time since ``key`` of ``provider`` was downloaded, or ``None`` if not cached."""
        entry = self.info(provider, key)
        return None if entry is None else entry.age(self.now())


def _entry_from_meta(path: Path, meta: dict) -> CacheEntry:
    fetched = datetime.fromisoformat(meta["fetched_at"])
    if fetched.tzinfo is None:
        fetched = fetched.replace(tzinfo=UTC)
    return CacheEntry(
        provider=meta["provider"],
        key=meta["key"],
        path=path,
        fetched_at=fetched,
        requested_start=_ts_or_none(meta.get("requested_start")),
        requested_end=_ts_or_none(meta.get("requested_end")),
        rows=int(meta.get("rows", 0)),
        first=_ts_or_none(meta.get("first")),
        last=_ts_or_none(meta.get("last")),
    )


def format_age(age: timedelta) -> str:
    """Human age: ``"3 days old"``, ``"1 day old"``, ``"5 hours old"``, ``"less than an hour old"``."""
    secs = max(age.total_seconds(), 0.0)
    days = int(secs // 86400)
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''} old"
    hours = int(secs // 3600)
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''} old"
    return "less than an hour old"


def fallback_note(name: str, reason: str, entry: CacheEntry, now: datetime | None = None) -> str:
    """Note for a cached copy used instead of a download.

    Example: ``"SPY: network failed, used cached copy from 2026-11-20 (3 days old)"``.
    """
    day = entry.fetched_at.astimezone(UTC).date()
    return f"{name}: {reason}, used cached copy from {day} ({format_age(entry.age(now))})"


def describe_exc(exc: BaseException) -> str:
    """``"URLError: <reason>"`` on one line (for error messages and notes)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def with_retries(
    fn: Callable[[], T],
    retries: int,
    backoff: float,
    sleep: Callable[[float], object],
    give_up: Callable[[Exception], bool] | None = None,
) -> T:
    """Call ``fn``; on an exception retry up to ``retries`` more times with exponential backoff.

    The delays before the retries are ``backoff * 2**i`` for ``i = 0, 1, ...``.
    ``DataError`` and exceptions for which ``give_up(exc)`` is true are raised at once;
    after the last attempt the last exception is raised.

    Parameters
    ----------
    fn : callable
        The network call.
    retries : int
        Retries after the first attempt (``0``: one attempt only).
    backoff : float
        First delay in seconds.
    sleep : callable
        ``time.sleep`` or a test double.
    give_up : callable, optional
        Predicate marking an exception as permanent (e.g. HTTP 404).
    """
    attempt = 0
    while True:
        try:
            return fn()
        except DataError:
            raise
        except Exception as exc:
            if attempt >= retries or (give_up is not None and give_up(exc)):
                raise
            sleep(backoff * 2**attempt)
            attempt += 1
