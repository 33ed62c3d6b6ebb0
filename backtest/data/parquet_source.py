"""``parquet`` source: the csv layout with ``.parquet`` files (:mod:`backtest.data.folder`).

``prices/<TICKER>.parquet`` (columns ``date, adj_close``), ``vol/VIX.parquet`` and
``vol/VIX3M.parquet`` (``date, close``; other columns ignored), ``fred/<SERIES>.parquet``
(``date, value``). Dates may be ``YYYY-MM-DD`` text, dates, or midnight timestamps without a
time zone. Every check of the csv source applies (the same code).
"""

from __future__ import annotations

import io

import pandas as pd

from backtest.data.folder import FolderSource


class ParquetSource(FolderSource):
    """Read prices and macro series from a folder of parquet files (``--data-dir``)."""

    name = "parquet"
    suffix = ".parquet"
    label = "Parquet"

    def parse(self, buf: io.BytesIO) -> pd.DataFrame:
        """One parquet file, read by pyarrow."""
        return pd.read_parquet(buf, engine="pyarrow")
