"""``yahoo`` source: prices from Yahoo Finance and macro series from FRED (or a csv folder), both cached."""

from __future__ import annotations

import pandas as pd

from backtest.data.base import MacroSeries, MarketData
from backtest.data.csv_source import CsvSource
from backtest.data.registry import SourceRequest
from backtest.data.validate import align_prices, check_macro


class OnlineSource:
    """Prices from Yahoo Finance and macro series from FRED (or a csv folder), both cached."""

    name = "yahoo"

    def __init__(self, refresh: bool = False, macro_dir: str | None = None, allow: tuple = ()) -> None:
        self.refresh = refresh
        self.macro_dir = macro_dir
        self.allow = tuple(allow)

    @classmethod
    def from_request(cls, req: SourceRequest) -> "OnlineSource":
        """Open it for a :class:`~backtest.data.registry.SourceRequest` (macro from the folder when ``csv``)."""
        return cls(refresh=req.refresh, macro_dir=req.folder if req.macro_source == "csv" else None, allow=req.allow)

    def load(
        self,
        tickers: list[str],
        macro: list[str],
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
    ) -> MarketData:
        """Download (or read from cache) prices and macro series."""
        # the cache, FRED (urllib) and Yahoo: only the online source needs them
        from backtest.data.cache import Cache
        from backtest.data.fred import FredSource
        from backtest.data.yahoo import YahooSource

        frames, notes = YahooSource(cache=Cache(), refresh=self.refresh).load_prices(tickers, start, end)
        prices, repair = align_prices(frames, {t: f"yahoo:{t}" for t in frames}, end=end, allow=self.allow)
        if start is not None:
            prices = prices.loc[prices.index >= start]
        if end is not None:
            prices = prices.loc[prices.index <= end]
        series: dict[str, MacroSeries] = {}
        if self.macro_dir is not None:

            md = CsvSource(self.macro_dir).load([], macro, start, end) if macro else None
            series = dict(md.macro) if md else {}
        else:

            raw, mnotes = FredSource(cache=Cache(), refresh=self.refresh).load_macro(macro, start, end)
            notes = list(notes) + list(mnotes)
            for name, s in raw.items():
                check_macro(s, f"fred:{name}")
                series[name] = MacroSeries.from_observations(name, s)
        return MarketData(
            prices,
            series,
            source="yahoo+fred" if self.macro_dir is None else "yahoo+csv",
            synthetic=False,
            notes=tuple(list(notes) + repair),
        )
