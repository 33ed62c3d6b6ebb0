"""``rmpbt data fetch CONFIG``: fill the download cache for a config's tickers and macro series."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from backtest.data.cache import Cache
from backtest.data.fred import PROVIDER as FRED
from backtest.data.fred import FredSource, fred_id
from backtest.data.yahoo import PROVIDER as YAHOO
from backtest.data.yahoo import YahooSource
from backtest.errors import DataError


def fetch_all(
    tickers: list[str],
    macro: list[str],
    refresh: bool,
    cache: Cache,
    yahoo: YahooSource | None = None,
    fred: FredSource | None = None,
) -> list[dict]:
    """Download (or reuse from ``cache``) the whole history of ``tickers`` and ``macro``.

    Parameters
    ----------
    tickers : list[str]
        Yahoo symbols.
    macro : list[str]
        FRED ids or ``VIX``/``VIX3M``.
    refresh : bool
        Download even when the cache is fresh.
    cache : Cache
        Cache to fill.
    yahoo, fred : optional
        Sources to use (default: built on ``cache`` and ``refresh``); injectable for tests.

    Returns
    -------
    list[dict]
        One row per ticker then per macro series, with keys ``name``, ``provider``,
        ``key`` (cache key), ``rows``, ``first``, ``last`` (``pd.Timestamp`` or None),
        ``cached_at`` (``datetime`` or None) and ``notes`` (list of str).

    Raises
    ------
    DataError
        A ticker or series could not be downloaded and has no cached copy.
    """
    yahoo = yahoo or YahooSource(cache=cache, refresh=refresh)
    fred = fred or FredSource(cache=cache, refresh=refresh)
    rows: list[dict] = []
    jobs: list[tuple[str, dict[str, pd.Series], list[str], dict[str, str]]] = []
    if tickers:
        prices, notes = yahoo.load_prices(list(tickers), None, None)
        jobs.append((YAHOO, prices, notes, {t: t for t in prices}))
    if macro:
        series, notes = fred.load_macro(list(macro), None, None)
        jobs.append((FRED, series, notes, {n: fred_id(n) for n in series}))
    for provider, data, notes, keys in jobs:
        for name, s in data.items():
            entry = cache.info(provider, keys[name])
            rows.append(
                {
                    "name": name,
                    "provider": provider,
                    "key": keys[name],
                    "rows": int(s.notna().sum()),
                    "first": s.first_valid_index(),
                    "last": s.last_valid_index(),
                    "cached_at": None if entry is None else entry.fetched_at,
                    "notes": [n for n in notes if n.startswith(f"{name}:")],
                }
            )
    return rows


def _day(t: object) -> str:
    return "-" if t is None else str(pd.Timestamp(t).date())


def render_table(rows: list[dict], cache: Cache) -> Table:
    """Rich table of :func:`fetch_all` rows."""
    table = Table(title=f"Data cache {cache.root}")
    for col, justify in (
        ("ticker/series", "left"),
        ("source", "left"),
        ("rows", "right"),
        ("first", "left"),
        ("last", "left"),
        ("cached at (UTC)", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        cached = (
            "-"
            if r["cached_at"] is None
            else r["cached_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        )
        name = r["name"] if r["key"] == r["name"] else f"{r['name']} ({r['key']})"
        table.add_row(
            name, r["provider"], str(r["rows"]), _day(r["first"]), _day(r["last"]), cached
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``data`` sub-app (``data fetch``) to ``app``."""
    data_app = typer.Typer(help="Download and cache market data.", no_args_is_help=True)

    @data_app.command("fetch")
    def fetch(
        config: Path = typer.Argument(
            ..., help="Run config (YAML) naming the universe and macro series."
        ),
        refresh: bool = typer.Option(
            False, "--refresh", help="Download even when the cache is fresh."
        ),
        data_dir: Path | None = typer.Option(
            None,
            "--data-dir",
            help="Cache folder (default: $RMPBT_CACHE_DIR or the user cache dir).",
        ),
    ) -> None:
        """Download the full history of the config's tickers (Yahoo) and macro series (FRED) into the cache."""
        from backtest.commands.loading import load_run_config as load_config
        from backtest.pipeline import required_series

        cfg = load_config(config, [])
        tickers, macro = required_series(cfg)
        if data_dir is not None and data_dir.exists() and not data_dir.is_dir():
            raise DataError(f"--data-dir {data_dir}: exists and is not a folder")
        cache = Cache(data_dir)
        rows = fetch_all(tickers, macro, refresh or bool(cfg.data.refresh), cache)
        console = Console()
        console.print(render_table(rows, cache))
        for r in rows:
            for note in r["notes"]:
                console.print(f"[yellow]note:[/yellow] {note}")

    app.add_typer(data_app, name="data")
