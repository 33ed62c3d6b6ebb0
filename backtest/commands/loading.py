"""Load a run config and validate its strategies: the one place both layers meet.

``backtest.config`` validates the config's structure and knows nothing of strategies;
``strategies`` validates each strategy's params against its kind. Commands sit above
both and call :func:`load_run_config`, which wraps the one loader of a run config
(:func:`backtest.config.load_config`, also the API's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backtest.config import RunConfig, load_config
from strategies.base import validate_config


def load_run_config(
    path: str | Path | dict[str, Any] | RunConfig,
    sets: list[str] | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    data_dir: str | None = None,
    validate_strategies: bool = True,
) -> RunConfig:
    """Load, override and validate a run config, strategy params included.

    Parameters
    ----------
    path : str, Path, dict or RunConfig
        YAML file (or a mapping, or a validated config: see :func:`backtest.config.load_config`,
        the one loader this wraps).
    sets : list of str, optional
        ``KEY=VALUE`` overrides with dotted keys.
    start, end : str, optional
        Override ``data.start`` / ``data.end`` (ISO dates).
    data_dir : str, optional
        Override ``data.dir`` (implies source ``csv``).
    validate_strategies : bool
        Also validate each strategy's params against its kind's model.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        One line naming the file and key path.
    """
    cfg = load_config(path, sets, start=start, end=end, data_dir=data_dir)
    if validate_strategies:
        validate_config(cfg, str(path) if isinstance(path, str | Path) else cfg.name)
    return cfg
