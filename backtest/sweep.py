"""Compatibility shim: the tuner lives in the package :mod:`backtest.tune`.

Re-exports the public names this module used to hold; new code imports from the
modules of :mod:`backtest.tune` directly.
"""

from __future__ import annotations

from backtest.tune.chunks import (
    Chunk,
    ChunkResult,
    PathContext,
    chunk_targets,
    run_chunk,
    target_turnover,
)
from backtest.tune.folds import (
    MIN_TEST_DAYS,
    Fold,
    parse_period,
    split_folds,
    walk_forward_folds,
)
from backtest.tune.grid import (
    MAX_DRAWS,
    MAX_FILTER,
    MAX_GRID,
    GridAxis,
    expand,
    parse_grid,
)
from backtest.tune.keys import (
    Key,
    format_key,
    get_path,
    parse_key,
    set_path,
)
from backtest.tune.orchestrate import (
    ProgressSink,
    TuneRequest,
    TuneResult,
    run_tune,
)
from backtest.tune.paths import (
    PATH_ROOTS,
    benchmark_kinds,
    check_axis,
    pick_strategy,
)
from backtest.tune.selection import (
    METRICS,
    DeflatedSharpe,
    deflated_sharpe,
    expected_max_sharpe,
    parse_metric,
    probabilistic_sharpe,
    spearman,
)
from backtest.tune.verdict import (
    MAX_VARIANTS,
)
from backtest.tune.where import (
    WhereExpr,
)
from backtest.tune.write import (
    write_tune,
)

__all__ = [
    "Chunk",
    "ChunkResult",
    "DeflatedSharpe",
    "Fold",
    "GridAxis",
    "Key",
    "MAX_DRAWS",
    "MAX_FILTER",
    "MAX_GRID",
    "MAX_VARIANTS",
    "METRICS",
    "MIN_TEST_DAYS",
    "PATH_ROOTS",
    "PathContext",
    "ProgressSink",
    "TuneRequest",
    "TuneResult",
    "WhereExpr",
    "benchmark_kinds",
    "check_axis",
    "chunk_targets",
    "deflated_sharpe",
    "expand",
    "expected_max_sharpe",
    "format_key",
    "get_path",
    "parse_grid",
    "parse_key",
    "parse_metric",
    "parse_period",
    "pick_strategy",
    "probabilistic_sharpe",
    "run_chunk",
    "run_tune",
    "set_path",
    "spearman",
    "split_folds",
    "target_turnover",
    "walk_forward_folds",
    "write_tune",
]
