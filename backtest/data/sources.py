"""Choose and compose data sources from the ``data:`` block of a run config."""

from __future__ import annotations

import pandas as pd

from backtest.data.base import MacroSeries, MarketData
from backtest.data.csv_source import CsvSource
from backtest.data.sample import SampleSource
from backtest.data.validate import align_prices, check_macro
from backtest.errors import ConfigError


class OnlineSource:
    """Prices from Yahoo Finance and macro series from FRED (or a csv folder), both cached."""

    name = "yahoo"

    def __init__(self, refresh: bool = False, macro_dir: str | None = None, allow: tuple = ()) -> None:
        self.refresh = refresh
        self.macro_dir = macro_dir
        self.allow = tuple(allow)

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


def make_source(data_cfg, data_dir: str | None = None):
    """Build the source object for a ``DataConfig``.

    Parameters
    ----------
    data_cfg : backtest.config.DataConfig
        The ``data:`` block.
    data_dir : str, optional
        Folder for the csv source (defaults to ``data_cfg.dir``).
    """
    src = data_cfg.source
    macro_src = data_cfg.macro_source or {"sample": "sample", "csv": "csv", "yahoo": "fred"}[src]
    if src == "sample":
        if macro_src != "sample":
            raise ConfigError(
                f"data.macro_source: {macro_src!r} cannot be combined with source 'sample'"
            )

        return SampleSource(seed=data_cfg.seed, allow=allowed(data_cfg))
    if src == "csv":
        folder = data_dir or data_cfg.dir
        if not folder:
            raise ConfigError("data.dir: the csv source needs a folder (data.dir or --data-dir)")
        if macro_src != "csv":
            raise ConfigError(
                f"data.macro_source: {macro_src!r} cannot be combined with source 'csv'"
            )

        return CsvSource(folder, allow=allowed(data_cfg))
    if macro_src == "csv":
        folder = data_dir or data_cfg.dir
        if not folder:
            raise ConfigError("data.dir: macro_source 'csv' needs a folder")
        return OnlineSource(refresh=data_cfg.refresh, macro_dir=folder, allow=allowed(data_cfg))
    if macro_src == "sample":
        raise ConfigError("data.macro_source: 'sample' cannot be combined with source 'yahoo'")
    return OnlineSource(refresh=data_cfg.refresh, allow=allowed(data_cfg))


def allowed(data_cfg) -> tuple[tuple[str, object, str], ...]:
    """The ``data.allow`` entries of a ``DataConfig`` as ``(series, date, kind)`` tuples."""
    return tuple((a.series, a.date, a.kind) for a in getattr(data_cfg, "allow", ()) or ())
