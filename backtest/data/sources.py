"""Open the data source a run config names: the registry's row for ``data.source``.

:data:`backtest.data.registry.SOURCES` lists the sources (the config validates
``data.source`` and ``data.macro_source`` against it); :func:`make_source` imports the row's
module and opens the source with ``Class.from_request``.
"""

from __future__ import annotations

import importlib
from typing import Any

from backtest.data.registry import SOURCES, SourceInfo, SourceRequest, macro_default, source_info
from backtest.errors import ConfigError


def make_source(data_cfg: Any, data_dir: str | None = None) -> Any:
    """Build the source object for a ``DataConfig``.

    Parameters
    ----------
    data_cfg : backtest.config.DataConfig
        The ``data:`` block (its ``source`` and ``macro_source`` already validated).
    data_dir : str, optional
        Folder for a folder source (defaults to ``data_cfg.dir``).

    Returns
    -------
    DataSource
        An object with ``load(tickers, macro, start, end) -> MarketData``.

    Raises
    ------
    ConfigError
        The source (or its macro source) reads a folder and none is given.
    """
    info = source_info(data_cfg.source)
    macro = data_cfg.macro_source or macro_default(data_cfg.source)
    folder = data_dir or data_cfg.dir
    if not folder and info.folder:
        raise ConfigError(f"data.dir: the {data_cfg.source} source needs a folder (data.dir or --data-dir)")
    if not folder and macro in SOURCES and SOURCES[macro].folder:
        raise ConfigError(f"data.dir: macro_source {macro!r} needs a folder")
    req = SourceRequest(folder=folder, macro_source=macro, allow=allowed(data_cfg),
                        seed=int(data_cfg.seed), refresh=bool(data_cfg.refresh))
    return source_class(info).from_request(req)


def source_class(info: SourceInfo) -> Any:
    """The class a registry row names (``"module:Class"``), its module imported on first use."""
    module, _, name = info.opener.partition(":")
    return getattr(importlib.import_module(module), name)


def allowed(data_cfg: Any) -> tuple[tuple[str, object, str], ...]:
    """The ``data.allow`` entries of a ``DataConfig`` as ``(series, date, kind)`` tuples."""
    return tuple((a.series, a.date, a.kind) for a in getattr(data_cfg, "allow", ()) or ())
