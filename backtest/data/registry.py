"""The data sources rmpbt knows, one row each: ``data.source`` names a row of :data:`SOURCES`.

A row says what the config needs to know about a source without importing it (no pandas,
no numba, no network library): which class opens it, whether it reads a folder
(``data.dir`` / ``--data-dir``), which macro sources it pairs with (``data.macro_source``,
the default first) and whether it downloads. The config validates ``data.source`` and
``data.macro_source`` against these rows (with a "did you mean");
:func:`backtest.data.sources.make_source` imports the row's module and opens the source with
``Class.from_request(SourceRequest)``.

Adding a source is one module of :mod:`backtest.data` with a class that has ``load`` (see
:class:`backtest.data.base.DataSource`) and ``from_request``, plus one row here
(``tests/test_data_registry.py`` opens every row).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

__all__ = ["MACRO_ONLY", "SOURCES", "SourceInfo", "SourceRequest", "check_macro_source", "check_source",
           "macro_default", "source_info"]


@dataclass(frozen=True)
class SourceInfo:
    """One registered data source.

    Attributes
    ----------
    opener : str
        ``"module:Class"``; the class has ``from_request(SourceRequest)`` and ``load(...)``.
    doc : str
        One line for the docs and error messages.
    macro : tuple[str, ...]
        Macro sources it pairs with (``data.macro_source``); the first is the default.
    folder : bool
        It reads a folder (``data.dir``, ``--data-dir``).
    online : bool
        It downloads: ``rmpbt now`` refreshes its cache; error paths never load it twice.
    """

    opener: str
    doc: str
    macro: tuple[str, ...]
    folder: bool = False
    online: bool = False


#: ``data.source`` -> row. Macro source names are source names (a folder source read for its
#: macro series only) or one of :data:`MACRO_ONLY`.
SOURCES: dict[str, SourceInfo] = {
    "sample": SourceInfo("backtest.data.sample:SampleSource",
                         "built-in synthetic market calibrated per Fed regime", ("sample",)),
    "csv": SourceInfo("backtest.data.csv_source:CsvSource",
                      "a folder of csv files (prices/, vol/, fred/)", ("csv",), folder=True),
    "parquet": SourceInfo("backtest.data.parquet_source:ParquetSource",
                          "a folder of parquet files, the csv layout", ("parquet",), folder=True),
    "yahoo": SourceInfo("backtest.data.online:OnlineSource",
                        "prices from Yahoo Finance, macro from FRED (or a csv folder), cached",
                        ("fred", "csv"), online=True),
}

#: Macro sources that are not a ``data.source`` of their own.
MACRO_ONLY: tuple[str, ...] = ("fred",)


@dataclass(frozen=True)
class SourceRequest:
    """What :func:`~backtest.data.sources.make_source` hands a source's ``from_request``.

    Attributes
    ----------
    folder : str or None
        ``--data-dir`` or ``data.dir`` (checked present when the source or its macro source reads a folder).
    macro_source : str
        The macro source (the row's default when the config leaves it out).
    allow : tuple
        ``data.allow`` entries as ``(series, date, kind)``.
    seed : int
        ``data.seed`` (the sample market).
    refresh : bool
        ``data.refresh`` (online sources).
    """

    folder: str | None
    macro_source: str
    allow: tuple[tuple[str, Any, str], ...] = ()
    seed: int = 0
    refresh: bool = False


def _unknown(kind: str, name: object, known: list[str]) -> ValueError:
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
    return ValueError(f"unknown {kind} {name!r} ({hint})")


def check_source(name: str) -> str:
    """``name`` if it is a registered data source; ValueError with a "did you mean" otherwise."""
    if name not in SOURCES:
        raise _unknown("data source", name, list(SOURCES))
    return name


def check_macro_source(macro_source: str, source: str | None) -> str:
    """``macro_source`` if it is known and pairs with ``source`` (None: not checked); ValueError otherwise."""
    known = sorted({m for info in SOURCES.values() for m in info.macro} | set(MACRO_ONLY))
    if macro_source not in known:
        raise _unknown("macro source", macro_source, known)
    if source in SOURCES and macro_source not in SOURCES[source].macro:
        takes = ", ".join(SOURCES[source].macro)
        raise ValueError(f"{macro_source!r} cannot be combined with source {source!r} (it takes: {takes})")
    return macro_source


def source_info(name: str) -> SourceInfo:
    """The row of a registered source (ValueError with a "did you mean" for an unknown name)."""
    return SOURCES[check_source(name)]


def macro_default(name: str) -> str:
    """The macro source a source pairs with when ``data.macro_source`` is not set."""
    return source_info(name).macro[0]
