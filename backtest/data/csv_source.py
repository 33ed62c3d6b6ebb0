"""``csv`` source: a folder in the layout of the shared data set.

``prices/<TICKER>.csv`` (``date,adj_close``), ``vol/VIX.csv`` and ``vol/VIX3M.csv``
(``date,open,high,low,close``), ``fred/<SERIES>.csv`` (``date,value``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from backtest.data.base import MacroSeries, MarketData
from backtest.data.sanity import Allowed
from backtest.data.validate import align_prices, check_dates, check_macro
from backtest.errors import DataError
from backtest.safe_io import read_regular_bytes

VOL_SERIES = ("VIX", "VIX3M")
MAX_CSV_BYTES = 200_000_000


def read_csv_series(path: Path, column: str) -> pd.Series:
    """Read one ``date,<column>`` CSV into a float Series indexed by date.

    Raises
    ------
    DataError
        If the file is missing, unreadable, lacks the columns, or has bad dates.
    """
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():  # a folder, FIFO or device would fail late or block forever
        raise DataError(f"{path}: not a regular file")
    raw = read_regular_bytes(path, "data file", max_bytes=MAX_CSV_BYTES, error=DataError)
    try:
        df = pd.read_csv(io.BytesIO(raw))
    except Exception as exc:  # pandas raises many types on malformed files
        raise DataError(f"{path}: cannot read CSV ({type(exc).__name__}: {exc})") from None
    if "date" not in df.columns or column not in df.columns:
        raise DataError(f"{path}: expected columns 'date' and '{column}', found {list(df.columns)}")
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(df["date"], format="%Y-%m-%d"))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: bad date ({exc})") from None
    check_dates(idx, str(path))
    vals = pd.to_numeric(df[column], errors="coerce")
    garbage = df[column].notna() & vals.isna()
    if garbage.any():
        i = int(garbage.to_numpy().argmax())
        raise DataError(f"{path}: non-numeric {column} {df[column].iloc[i]!r} on {idx[i].date()}")
    return pd.Series(vals.to_numpy(dtype=float), index=idx, name=path.stem)


class CsvSource:
    """Read prices and macro series from a folder (``--data-dir``)."""

    name = "csv"

    def __init__(self, root: str | Path, allow: Iterable[Allowed] = ()) -> None:
        self.root = Path(root)
        self.allow = tuple(allow)
        if not self.root.is_dir():
            raise DataError(f"data folder {self.root} not found")

    def load(
        self,
        tickers: list[str],
        macro: list[str],
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
    ) -> MarketData:
        """Load ``tickers`` and ``macro`` series; see :class:`~backtest.data.base.DataSource`."""
        frames: dict[str, pd.Series] = {}
        origin: dict[str, str] = {}
        for t in tickers:
            path = self.root / "prices" / f"{t}.csv"
            if not path.exists():
                raise DataError(f"unknown ticker {t}: no file {path}")
            frames[t] = read_csv_series(path, "adj_close")
            origin[t] = str(path)
        prices, notes = align_prices(frames, origin, end=end, allow=self.allow)
        if start is not None:
            prices = prices.loc[prices.index >= start]
        if end is not None:
            prices = prices.loc[prices.index <= end]
        if prices.empty:
            span = " and ".join(f"{w} {d.date()}" for w, d in (("from", start), ("up to", end)) if d is not None)
            raise DataError(f"{self.root}: no prices {span or 'at all'} (data.start/data.end, --start/--end)")
        series: dict[str, MacroSeries] = {}
        for name in macro:
            if name in VOL_SERIES:
                path = self.root / "vol" / f"{name}.csv"
                s = read_csv_series(path, "close")
            else:
                path = self.root / "fred" / f"{name}.csv"
                if not path.exists():
                    raise DataError(f"unknown macro series {name}: no file {path}")
                s = read_csv_series(path, "value")
            check_macro(s, str(path), name)
            series[name] = MacroSeries.from_observations(name, s)
        return MarketData(
            prices, series, source=f"csv:{self.root}", synthetic=False, notes=tuple(notes)
        )
