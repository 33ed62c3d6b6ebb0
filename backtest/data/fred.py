"""FRED series from the public CSV endpoint (no API key), with a parquet cache and retries.

``https://fred.stlouisfed.org/graph/fredgraph.csv?id=SERIES`` returns
``observation_date,SERIES`` (older files: ``DATE,SERIES``); missing values are ``.`` or
empty. All HTTP goes through :func:`_http_get` (tests patch it).
"""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

import numpy as np
import pandas as pd

from backtest.data.cache import (
    Cache,
    CacheEntry,
    describe_exc,
    fallback_note,
    with_retries,
)
from backtest.data.validate import check_dates, check_macro
from backtest.errors import DataError

PROVIDER = "fred"
URL = "https://fred.stlouisfed.org/graph/fredgraph.csv?id={id}"
TIMEOUT = 30.0
USER_AGENT = "rmpbt (+https://github.com/; portfolio backtester)"
#: Names used in configs that are stored on FRED under another id.
FRED_IDS = {"VIX": "VIXCLS", "VIX3M": "VXVCLS"}
DATE_COLUMNS = ("observation_date", "DATE")
MISSING = frozenset({"", "."})


def fred_id(name: str) -> str:
    """FRED id of series ``name`` (``VIX`` -> ``VIXCLS``, ``VIX3M`` -> ``VXVCLS``)."""
    return FRED_IDS.get(name, name)


def _http_get(url: str, timeout: float) -> bytes:
    """GET ``url`` and return the body (raises ``URLError``/``HTTPError``/``OSError``)."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def _permanent(exc: Exception) -> bool:
    """HTTP 4xx other than 408/429 will not get better by retrying."""
    return (
        isinstance(exc, urllib.error.HTTPError)
        and 400 <= exc.code < 500
        and exc.code not in (408, 429)
    )


def parse_fred_csv(body: bytes, series_id: str) -> pd.Series:
    """Parse a fredgraph CSV body into a float series indexed by observation date.

    Parameters
    ----------
    body : bytes
        Response body (``observation_date,<ID>`` or ``DATE,<ID>`` header).
    series_id : str
        FRED id, for messages and to pick the value column.

    Returns
    -------
    pd.Series
        Float values indexed by ``date``; missing markers (``.``, empty) dropped.

    Raises
    ------
    DataError
        Not a FRED CSV, bad date or value, duplicate/unsorted dates, no values.
    """
    origin = f"fred:{series_id}"
    text = body.decode("utf-8-sig", errors="replace")
    if not text.strip() or text.lstrip().startswith("<"):
        raise DataError(f"{origin}: FRED did not return a CSV (empty or HTML page)")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many types on malformed text
        raise DataError(f"{origin}: cannot parse FRED CSV ({describe_exc(exc)})") from None
    df.columns = [str(c).strip() for c in df.columns]
    date_col = next((c for c in DATE_COLUMNS if c in df.columns), None)
    if date_col is None:
        raise DataError(
            f"{origin}: expected a date column {DATE_COLUMNS}, found {list(df.columns)}"
        )
    others = [c for c in df.columns if c != date_col]
    if series_id in df.columns:
        val_col = series_id
    elif len(others) == 1:
        val_col = others[0]
    else:
        raise DataError(f"{origin}: no column {series_id} in FRED CSV, found {list(df.columns)}")
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(df[date_col].str.strip(), format="%Y-%m-%d"))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{origin}: bad date ({exc})") from None
    raw = df[val_col].str.strip()
    missing = raw.isin(MISSING).to_numpy()
    vals = pd.to_numeric(raw.where(~missing), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~missing & np.isnan(vals))
    if len(bad):
        i = bad[0]
        raise DataError(f"{origin}: bad value {raw.iloc[i]!r} on {idx[i].date()}")
    check_dates(idx, origin)
    s = pd.Series(vals, index=idx.rename("date"), name=series_id).dropna()
    return check_macro(s, origin)


class FredSource:
    """Macro series from FRED's public CSV endpoint, cached as parquet.

    Parameters
    ----------
    cache : Cache, optional
        Where downloads are stored and reused; ``None`` disables caching.
    refresh : bool
        Always download, even when the cache covers the request.
    retries : int
        Retries after a network failure (HTTP 4xx other than 408/429 is not retried).
    backoff : float
        First retry delay in seconds, doubled at each retry.
    sleep : callable
        ``time.sleep`` (default) or a test double.
    """

    name = "fred"

    def __init__(
        self,
        cache: Cache | None = None,
        refresh: bool = False,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], object] | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.cache = cache
        self.refresh = refresh
        self.retries = retries
        self.backoff = backoff
        # resolved at call time so that tests can patch ``time.sleep``
        self.sleep = sleep if sleep is not None else (lambda s: time.sleep(s))
        self.timeout = timeout

    def load_macro(
        self,
        names: list[str],
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
    ) -> tuple[dict[str, pd.Series], list[str]]:
        """Float series per requested name, plus notes.

        The whole history of each series is downloaded and cached; the result is cut at
        ``end`` only (history before ``start`` is kept to warm trailing signals).
        ``VIX``/``VIX3M`` are fetched as ``VIXCLS``/``VXVCLS`` and returned under the
        names asked for.

        Parameters
        ----------
        names : list[str]
            FRED ids or ``VIX``/``VIX3M``.
        start, end : pd.Timestamp or None
            Requested range (``start`` only decides whether the cache is sufficient).

        Returns
        -------
        series : dict[str, pd.Series]
            Float values per name indexed by observation ``date``.
        notes : list[str]
            E.g. ``"DGS10: network failed, used cached copy from 2026-11-20 (3 days old)"``.

        Raises
        ------
        DataError
            Unknown series (HTTP 4xx), network failure with no cached copy, malformed CSV.
        """
        start = None if start is None else pd.Timestamp(start).normalize()
        end = None if end is None else pd.Timestamp(end).normalize()
        out: dict[str, pd.Series] = {}
        notes: list[str] = []
        for name in dict.fromkeys(names):
            s, note = self._load_one(name, start, end)
            if note:
                notes.append(note)
            if end is not None:
                s = s.loc[s.index <= end]
            out[name] = s.rename(name)
        return out, notes

    def _load_one(
        self, name: str, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> tuple[pd.Series, str | None]:
        sid = fred_id(name)
        hit: tuple[pd.Series, CacheEntry] | None = None
        now = None
        if self.cache is not None:
            now = self.cache.now()
            hit = self.cache.read(PROVIDER, sid)
            if hit is not None and not self.refresh and hit[1].covers(start, end, now):
                return check_macro(hit[0], f"fred:{sid} (cached)"), None
        url = URL.format(id=quote(sid, safe=""))
        try:
            body = with_retries(
                lambda: _http_get(url, self.timeout),
                self.retries,
                self.backoff,
                self.sleep,
                give_up=_permanent,
            )
        except urllib.error.HTTPError as exc:
            if _permanent(exc):
                raise DataError(f"unknown FRED series {sid} (HTTP {exc.code})") from None
            return self._fallback(name, sid, exc, hit, now)
        except Exception as exc:  # URLError, OSError, TimeoutError, ssl errors...
            return self._fallback(name, sid, exc, hit, now)
        s = parse_fred_csv(body, sid)
        if self.cache is not None:
            self.cache.write(PROVIDER, sid, s)
        return s, None

    def _fallback(
        self,
        name: str,
        sid: str,
        exc: Exception,
        hit: tuple[pd.Series, CacheEntry] | None,
        now: datetime | None,
    ) -> tuple[pd.Series, str]:
        if hit is None:
            raise DataError(
                f"network error fetching FRED series {sid} ({describe_exc(exc)}) and no cached copy"
            )
        note = fallback_note(name, "network failed", hit[1], now)
        return check_macro(hit[0], f"fred:{sid} (cached)"), note
