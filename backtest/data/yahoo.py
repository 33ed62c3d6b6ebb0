"""Yahoo Finance adjusted closes through yfinance, with a parquet cache and retries.

This is the only module importing yfinance; every call goes through :func:`_yf_download`
(tests patch it). yfinance does not raise when offline or for an unknown ticker: it logs
and returns an empty frame or all-NaN columns, which are detected here.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
import yfinance as yf

from backtest.data.cache import (
    Cache,
    CacheEntry,
    describe_exc,
    fallback_note,
    with_retries,
)
from backtest.data.validate import check_dates, check_prices
from backtest.errors import DataError

PROVIDER = "yahoo"


def _yf_download(
    tickers: list[str], start: pd.Timestamp | None, end: pd.Timestamp | None
) -> pd.DataFrame:
    """Thin wrapper of ``yf.download`` (daily, adjusted, explicit arguments).

    ``end`` is inclusive here (yfinance's is exclusive, so one day is added); without
    ``start`` the whole history (``period="max"``) is requested.
    """
    kwargs: dict[str, object] = {}
    if start is None:
        kwargs["period"] = "max"
    else:
        kwargs["start"] = pd.Timestamp(start).strftime("%Y-%m-%d")
    if end is not None:
        kwargs["end"] = (pd.Timestamp(end).normalize() + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    return yf.download(
        list(tickers),
        interval="1d",
        auto_adjust=True,
        actions=False,
        progress=False,
        threads=False,
        group_by="column",
        multi_level_index=True,
        **kwargs,
    )


class _Collect(logging.Handler):
    """Keeps the messages yfinance logs instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # a malformed record must not break the download
            pass


@contextmanager
def quiet_yfinance() -> Iterator[list[str]]:
    """Silence yfinance's logging and warnings; yield the list of messages it logged.

    yfinance reports failures (offline, unknown ticker) by logging many lines and
    returning an empty frame; rmpbt reports them as one :class:`DataError` line instead,
    quoting the first reason found here.
    """
    logger = logging.getLogger("yfinance")
    handler = _Collect()
    handlers, propagate, level = logger.handlers[:], logger.propagate, logger.level
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield handler.messages
    finally:
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


def first_reason(messages: list[str]) -> str | None:
    """The most telling failure reason among yfinance's log messages (one short line)."""
    for pattern in (r"Could not resolve host: [^\s.)]+(?:\.[^\s.)]+)*", r"possibly delisted[^\n]*",
                    r"Failed to get ticker[^\n]*"):
        for m in messages:
            hit = re.search(pattern, m)
            if hit:
                return hit.group(0).strip()[:160]
    return None


def _clean_index(s: pd.Series) -> pd.Series:
    idx = pd.DatetimeIndex(s.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)  # keep the exchange's wall-clock date
    s = s.copy()
    s.index = idx.normalize().rename("date")
    return s


def extract_closes(frame: pd.DataFrame | None, tickers: list[str]) -> dict[str, pd.Series]:
    """Adjusted closes per requested ticker from a ``yf.download`` frame.

    Handles the MultiIndex shape (``('Close', 'SPY')``, either level order) and the flat
    single-ticker shape (``Close`` column). Tickers whose column is missing or all NaN
    are left out. Matching is case-insensitive (yfinance upper-cases symbols).

    Parameters
    ----------
    frame : pd.DataFrame or None
        What yfinance returned.
    tickers : list[str]
        Requested tickers.

    Returns
    -------
    dict[str, pd.Series]
        Non-empty float series (NaN rows dropped) with tz-naive normalised ``date`` index.
    """
    if frame is None or frame.empty:
        return {}
    cols = frame.columns
    if isinstance(cols, pd.MultiIndex):
        if "Close" in cols.get_level_values(0):
            closes = frame.xs("Close", axis=1, level=0)
        elif "Close" in cols.get_level_values(1):
            closes = frame.xs("Close", axis=1, level=1)
        else:
            raise DataError(f"yahoo: no Close column in the download for {', '.join(tickers)}")
    elif "Close" in cols:
        if len(tickers) != 1:
            raise DataError(f"yahoo: single-ticker frame returned for {', '.join(tickers)}")
        closes = frame[["Close"]].set_axis([tickers[0]], axis=1)
    else:
        raise DataError(f"yahoo: no Close column in the download for {', '.join(tickers)}")
    by_upper = {str(c).upper(): c for c in closes.columns}
    out: dict[str, pd.Series] = {}
    for t in tickers:
        col = by_upper.get(t.upper())
        if col is None:
            continue
        s = pd.to_numeric(closes[col], errors="coerce").astype(float).dropna()
        if len(s):
            out[t] = _clean_index(s).rename(t)
    return out


def _slice(s: pd.Series, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.Series:
    if start is not None:
        s = s.loc[s.index >= pd.Timestamp(start)]
    if end is not None:
        s = s.loc[s.index <= pd.Timestamp(end)]
    return s


class YahooSource:
    """Adjusted daily closes from Yahoo Finance, cached as parquet.

    Parameters
    ----------
    cache : Cache, optional
        Where downloads are stored and reused; ``None`` disables caching.
    refresh : bool
        Always download, even when the cache covers the request.
    retries : int
        Retries after a failed download (any exception from yfinance).
    backoff : float
        First retry delay in seconds, doubled at each retry.
    sleep : callable
        ``time.sleep`` (default) or a test double.
    """

    name = "yahoo"

    def __init__(
        self,
        cache: Cache | None = None,
        refresh: bool = False,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.cache = cache
        self.refresh = refresh
        self.retries = retries
        self.backoff = backoff
        # resolved at call time so that tests can patch ``time.sleep``
        self.sleep = sleep if sleep is not None else (lambda s: time.sleep(s))

    def load_prices(
        self,
        tickers: list[str],
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
    ) -> tuple[dict[str, pd.Series], list[str]]:
        """Adjusted closes per ticker over ``[start, end]``, plus notes.

        Uses the cache without downloading when it covers the request (unless
        ``refresh``); otherwise downloads the missing tickers in one batch and caches
        them. A ticker that cannot be downloaded (network failure after retries, or an
        empty answer) falls back to its cached copy with a note giving its age.

        Parameters
        ----------
        tickers : list[str]
            Yahoo symbols.
        start, end : pd.Timestamp or None
            Inclusive range; ``None`` means unbounded.

        Returns
        -------
        prices : dict[str, pd.Series]
            Float series per ticker indexed by ``date`` (tz-naive, normalised).
        notes : list[str]
            E.g. ``"SPY: network failed, used cached copy from 2026-11-20 (3 days old)"``.

        Raises
        ------
        DataError
            A ticker came back empty or the network failed, and it has no cached copy;
            or the data have duplicate dates or non-positive prices.
        """
        start = None if start is None else pd.Timestamp(start).normalize()
        end = None if end is None else pd.Timestamp(end).normalize()
        tickers = list(dict.fromkeys(tickers))
        now = self.cache.now() if self.cache is not None else None
        cached: dict[str, tuple[pd.Series, CacheEntry]] = {}
        if self.cache is not None:
            for t in tickers:
                hit = self.cache.read(PROVIDER, t)
                if hit is not None:
                    cached[t] = hit
        out: dict[str, pd.Series] = {}
        notes: list[str] = []
        need = [
            t
            for t in tickers
            if self.refresh or t not in cached or not cached[t][1].covers(start, end, now)
        ]
        for t in tickers:
            if t not in need:
                out[t] = cached[t][0]
        if need:
            error: Exception | None = None
            got: dict[str, pd.Series] = {}
            logged: list[str] = []
            try:
                with quiet_yfinance() as logged:
                    frame = with_retries(
                        lambda: _yf_download(need, start, end),
                        self.retries,
                        self.backoff,
                        self.sleep,
                    )
                got = extract_closes(frame, need)
            except DataError:
                raise
            except Exception as exc:  # yfinance / curl_cffi / socket: all network failures
                error = exc
            no_copy: list[str] = []
            for t in need:
                if t in got:
                    s = got[t]
                    check_dates(s.index, f"yahoo:{t}")
                    check_prices(s, f"yahoo:{t}")
                    if self.cache is not None:
                        self.cache.write(PROVIDER, t, s, start, end)
                    out[t] = s
                elif t in cached:
                    reason = "network failed" if error is not None else "yahoo returned no data"
                    notes.append(fallback_note(t, reason, cached[t][1], now))
                    out[t] = cached[t][0]
                else:
                    no_copy.append(t)
            if no_copy:
                names = ", ".join(no_copy)
                if error is not None:
                    raise DataError(
                        f"network error fetching yahoo prices for {names} "
                        f"({describe_exc(error)}) and no cached copy"
                    )
                why = first_reason(logged)
                raise DataError(
                    f"yahoo returned no data for {names} (unknown ticker or no network"
                    + (f": {why})" if why else ")")
                )
        result: dict[str, pd.Series] = {}
        for t in tickers:
            s = out[t].astype(float).rename(t)
            check_dates(s.index, f"yahoo:{t}")
            check_prices(s, f"yahoo:{t}")
            result[t] = _slice(s, start, end)
        return result, notes
