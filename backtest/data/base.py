"""Market data as typed values: the ``MarketData`` bundle, macro series with release dates.

Every macro value carries the date from which a decision taken at that day's close may
use it (``released``). Point-in-time access goes through :func:`asof`, which never returns
a value before its release. Sources build ``MarketData``; nothing downstream re-reads files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from backtest.data.release import release_dates


@dataclass(frozen=True)
class MacroSeries:
    """One macro series with the release date of each observation.

    Attributes
    ----------
    name : str
        Series id (FRED id, or ``VIX``/``VIX3M``).
    values : pd.Series
        Float values indexed by observation date (sorted, unique ``DatetimeIndex``).
    released : pd.Series
        Same index as ``values``; the first day (at its close) on which each value is
        public and usable by a decision.
    """

    name: str
    values: pd.Series
    released: pd.Series

    @classmethod
    def from_observations(cls, name: str, values: pd.Series) -> "MacroSeries":
        """Build a series from observations, deriving release dates from the lag rules."""
        v = values.astype(float).dropna().sort_index()
        v.index = pd.DatetimeIndex(v.index).normalize()
        v.index.name = "date"
        return cls(name=name, values=v, released=release_dates(name, v.index))


@dataclass(frozen=True)
class MarketData:
    """Prices and macro series for one run (history or a synthetic path).

    Attributes
    ----------
    prices : pd.DataFrame
        Adjusted closes, index = trading days (``DatetimeIndex`` named ``date``),
        columns = tickers; NaN before a ticker's first trading day.
    macro : dict[str, MacroSeries]
        Macro series by id, each with release dates.
    source : str
        Human-readable origin, e.g. ``"sample (synthetic)"`` or ``"csv:/path"``.
    synthetic : bool
        True when the data are generated, not observed.
    notes : tuple[str, ...]
        Repairs and warnings made while loading, reported in provenance.
    """

    prices: pd.DataFrame
    macro: dict[str, MacroSeries]
    source: str
    synthetic: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def calendar(self) -> pd.DatetimeIndex:
        """Trading days of the run."""
        return pd.DatetimeIndex(self.prices.index)

    def first_valid(self) -> pd.Series:
        """First date with a price, per ticker."""
        return self.prices.apply(lambda s: s.first_valid_index())

    def fingerprint(self) -> dict[str, str]:
        """SHA-256 (first 16 hex digits) of each price column and macro series."""
        out: dict[str, str] = {}
        for col in self.prices.columns:
            out[f"price:{col}"] = _hash_series(self.prices[col])
        for name, ms in sorted(self.macro.items()):
            out[f"macro:{name}"] = _hash_series(ms.values)
        return out

    def provenance(self, days: pd.DatetimeIndex | None = None) -> dict[str, object]:
        """The ``data`` block of a run's ``provenance.json``.

        Parameters
        ----------
        days : pd.DatetimeIndex, optional
            Trading days the run covers (default: the whole calendar).

        Returns
        -------
        dict
            ``source``, ``synthetic``, ``first_date``, ``last_date``, ``fingerprint``.
        """
        d = self.calendar if days is None else days
        return {"source": self.source, "synthetic": self.synthetic, "first_date": str(d[0].date()),
                "last_date": str(d[-1].date()), "fingerprint": self.fingerprint()}

    def slice(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> "MarketData":
        """Prices restricted to ``[start, end]``; macro series restricted to ``<= end``.

        Macro history before ``start`` is kept so that trailing signals are warm.
        """
        p = self.prices
        if start is not None:
            p = p.loc[p.index >= start]
        if end is not None:
            p = p.loc[p.index <= end]
        macro = self.macro
        if end is not None:
            macro = {
                k: MacroSeries(
                    k, m.values[m.values.index <= end], m.released[m.values.index <= end]
                )
                for k, m in self.macro.items()
            }
        return MarketData(p, macro, self.source, self.synthetic, self.notes)


def _hash_series(s: pd.Series) -> str:
    h = hashlib.sha256()
    h.update(
        np.asarray(s.index.asi8 if isinstance(s.index, pd.DatetimeIndex) else s.index).tobytes()
    )
    h.update(np.ascontiguousarray(s.to_numpy(dtype=float)).tobytes())
    return h.hexdigest()[:16]


def asof(series: MacroSeries, days: pd.DatetimeIndex) -> pd.Series:
    """Value of ``series`` known at the close of each day in ``days``.

    For each day ``d`` this is the observation with the latest observation date among
    those whose release date is ``<= d`` (NaN when none is released yet).

    Parameters
    ----------
    series : MacroSeries
        The series with its release dates.
    days : pd.DatetimeIndex
        Decision days (sorted).

    Returns
    -------
    pd.Series
        Float values indexed by ``days``.
    """
    days = pd.DatetimeIndex(days)
    if len(series.values) == 0:
        return pd.Series(np.nan, index=days, name=series.name)
    rel = series.released.to_numpy(dtype="datetime64[ns]")
    vals = series.values.to_numpy(dtype=float)
    # Sort observations by release date; the value known at d is the latest observation
    # (largest position in observation order) among those released by d.
    order = np.argsort(rel, kind="stable")
    latest = np.maximum.accumulate(order)
    pos = np.searchsorted(rel[order], days.to_numpy(dtype="datetime64[ns]"), side="right") - 1
    out = np.full(len(days), np.nan)
    ok = pos >= 0
    out[ok] = vals[latest[pos[ok]]]
    return pd.Series(out, index=days, name=series.name)


class DataSource(Protocol):
    """Anything that can load ``MarketData`` for a universe and a set of macro series."""

    name: str

    def load(
        self,
        tickers: list[str],
        macro: list[str],
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
    ) -> MarketData:
        """Load prices for ``tickers`` and the ``macro`` series over ``[start, end]``."""
        ...
