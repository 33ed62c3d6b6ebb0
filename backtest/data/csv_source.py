"""``csv`` source: a folder in the layout of the shared data set (:mod:`backtest.data.folder`).

``prices/<TICKER>.csv`` (``date,adj_close``), ``vol/VIX.csv`` and ``vol/VIX3M.csv``
(``date,open,high,low,close``), ``fred/<SERIES>.csv`` (``date,value``).
"""

from __future__ import annotations

import io

import pandas as pd

from backtest.data.folder import FolderSource


class CsvSource(FolderSource):
    """Read prices and macro series from a folder of csv files (``--data-dir``)."""

    name = "csv"
    suffix = ".csv"
    label = "CSV"

    def parse(self, buf: io.BytesIO) -> pd.DataFrame:
        """One csv file as pandas reads it."""
        return pd.read_csv(buf)
