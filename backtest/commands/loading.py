"""Load a run config and validate its strategies: the one place both layers meet.

``backtest.config`` validates the config's structure and knows nothing of strategies;
``strategies`` validates each strategy's params against its kind. Commands sit above
both and call :func:`load_run_config`.
"""

from __future__ import annotations

from pathlib import Path

from backtest.config import RunConfig, load_config
from strategies.base import validate_config


def load_run_config(
    path: str | Path,
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
    path : str or Path
        YAML file.
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
        validate_config(cfg, str(path))
    return cfg
