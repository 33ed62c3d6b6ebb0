"""Folder sources: the layout of the shared data set, one file per series, in some file format.

``prices/<TICKER><suffix>`` (``date, adj_close``), ``vol/VIX<suffix>`` and
``vol/VIX3M<suffix>`` (``date, ..., close``), ``fred/<SERIES><suffix>`` (``date, value``).
:class:`FolderSource` holds the layout and every check a folder format shares (regular files
of bounded size, ``YYYY-MM-DD`` dates sorted and unique, numeric cells, price alignment and
sanity, macro ranges); a format (:mod:`backtest.data.csv_source`,
:mod:`backtest.data.parquet_source`) gives its ``name``, ``suffix``, ``label`` and
:meth:`FolderSource.parse`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd

from backtest.data.base import MacroSeries, MarketData
from backtest.data.registry import SourceRequest
from backtest.data.sanity import Allowed
from backtest.data.validate import align_prices, check_dates, check_macro
from backtest.errors import DataError
from backtest.safe_io import read_regular_bytes

VOL_SERIES = ("VIX", "VIX3M")
MAX_FILE_BYTES = 200_000_000


def read_file_bytes(path: Path) -> bytes:
    """The bytes of one data file (a regular file of at most :data:`MAX_FILE_BYTES`).

    Raises
    ------
    DataError
        If the file is missing, not a regular file (a folder, FIFO or device would fail late
        or block forever), too large or unreadable.
    """
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    return read_regular_bytes(path, "data file", max_bytes=MAX_FILE_BYTES, error=DataError)


def frame_series(df: pd.DataFrame, path: Path, column: str) -> pd.Series:
    """The ``date, <column>`` table of one file as a float Series indexed by date.

    Dates are ``YYYY-MM-DD`` text, or (a typed format) dates or midnight timestamps without
    a time zone, which are read as that text; either way they must be sorted and unique.

    Raises
    ------
    DataError
        Missing columns, a bad date (with a time of day or a time zone), unsorted or
        duplicate dates, a non-numeric value (named with its date).
    """
    if "date" not in df.columns or column not in df.columns:
        raise DataError(f"{path}: expected columns 'date' and '{column}', found {list(df.columns)}")
    dates = df["date"]
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        raise DataError(f"{path}: bad date (dates carry a time zone: {dates.dtype})")
    if pd.api.types.is_datetime64_dtype(dates.dtype):
        timed = dates.notna() & (dates != dates.dt.normalize())
        if timed.any():
            raise DataError(f"{path}: bad date (a time of day: {dates[timed].iloc[0]})")
        dates = dates.dt.strftime("%Y-%m-%d")
    elif dates.dtype == object:  # parquet date32 columns arrive as datetime.date objects
        dates = dates.map(lambda d: d.isoformat() if type(d) is date else d)
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(dates, format="%Y-%m-%d"))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: bad date ({exc})") from None
    check_dates(idx, str(path))
    vals = pd.to_numeric(df[column], errors="coerce")
    garbage = df[column].notna() & vals.isna()
    if garbage.any():
        i = int(garbage.to_numpy().argmax())
        raise DataError(f"{path}: non-numeric {column} {df[column].iloc[i]!r} on {idx[i].date()}")
    return pd.Series(vals.to_numpy(dtype=float), index=idx, name=path.stem)


class FolderSource:
    """Prices and macro series from a folder in the shared data set's layout (``--data-dir``).

    Parameters
    ----------
    root : str or Path
        The folder.
    allow : iterable of (series, date, kind)
        Price events accepted on purpose (``data.allow``; :mod:`backtest.data.sanity`).
    """

    name = "folder"
    suffix = ""
    label = "file"  # the format's name in messages

    def __init__(self, root: str | Path, allow: Iterable[Allowed] = ()) -> None:
        self.root = Path(root)
        self.allow = tuple(allow)
        if not self.root.is_dir():
            raise DataError(f"data folder {self.root} not found")

    @classmethod
    def from_request(cls, req: SourceRequest) -> "FolderSource":
        """Open the folder of a :class:`~backtest.data.registry.SourceRequest` (its ``folder``, ``allow``)."""
        return cls(req.folder or "", allow=req.allow)

    def parse(self, buf: io.BytesIO) -> pd.DataFrame:
        """The table in one file's bytes (the format's reader; may raise anything on a malformed file)."""
        raise NotImplementedError

    def read_table(self, path: Path) -> pd.DataFrame:
        """The table of one file (:func:`read_file_bytes`, :meth:`parse`); DataError when it cannot be read."""
        raw = read_file_bytes(path)
        try:
            return self.parse(io.BytesIO(raw))
        except Exception as exc:  # readers raise many types on malformed files
            raise DataError(f"{path}: cannot read {self.label} ({type(exc).__name__}: {exc})") from None

    def read_series(self, path: Path, column: str) -> pd.Series:
        """Read one ``date,<column>`` file into a float Series indexed by date (see :func:`frame_series`)."""
        return frame_series(self.read_table(path), path, column)

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
            path = self.root / "prices" / f"{t}{self.suffix}"
            if not path.exists():
                raise DataError(f"unknown ticker {t}: no file {path}")
            frames[t] = self.read_series(path, "adj_close")
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
                path = self.root / "vol" / f"{name}{self.suffix}"
                s = self.read_series(path, "close")
            else:
                path = self.root / "fred" / f"{name}{self.suffix}"
                if not path.exists():
                    raise DataError(f"unknown macro series {name}: no file {path}")
                s = self.read_series(path, "value")
            check_macro(s, str(path), name)
            series[name] = MacroSeries.from_observations(name, s)
        return MarketData(
            prices, series, source=f"{self.name}:{self.root}", synthetic=False, notes=tuple(notes)
        )
