"""Compatibility shim: the verdict of ``rmpbt tune`` lives in :mod:`backtest.tune.verdict`
(``target_turnover`` in :mod:`backtest.tune.chunks`)."""

from __future__ import annotations

from backtest.tune.chunks import (
    target_turnover,
)
from backtest.tune.verdict import (
    COLOURS,
    LEVEL,
    MAX_VARIANTS,
    NULL_ALPHA,
    PBO_SPLITS,
    Comparison,
    Deflated,
    TuneVerdict,
    assess,
    attach_verdict,
    compare,
    deflate_active,
    held_targets,
    holdings_of,
    judge,
    switch_costs,
)

__all__ = [
    "COLOURS",
    "Comparison",
    "Deflated",
    "LEVEL",
    "MAX_VARIANTS",
    "NULL_ALPHA",
    "PBO_SPLITS",
    "TuneVerdict",
    "assess",
    "attach_verdict",
    "compare",
    "deflate_active",
    "held_targets",
    "holdings_of",
    "judge",
    "switch_costs",
    "target_turnover",
]
