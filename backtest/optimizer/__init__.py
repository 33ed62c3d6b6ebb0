"""Convex portfolio optimiser behind an :class:`Allocator` protocol.

Modules
-------
models
    cvxpy-free pydantic config models (:class:`OptimizerConfig` ...) and the
    :class:`Allocator` protocol; imported eagerly here.
problem
    :func:`build_problem`: one DPP problem per run (imports cvxpy).
solve
    :func:`solve_problem`: the solver chain and status handling (imports cvxpy).
allocator
    :class:`CvxAllocator` and :func:`make_allocator`.

Only ``problem`` and ``solve`` import cvxpy. Their names are re-exported lazily (module
``__getattr__``), so ``from backtest.optimizer import OptimizerConfig`` stays cheap while
``from backtest.optimizer import make_allocator`` still works (and imports cvxpy).
"""

from __future__ import annotations

import importlib
from typing import Any

from backtest.optimizer.models import (
    BIG,
    FALLBACK_COLUMNS,
    Allocator,
    AssetBounds,
    BoundsConfig,
    EstimatorConfig,
    GroupConfig,
    Objective,
    OptimizerConfig,
)

__all__ = [
    "BIG",
    "DEFAULT_SOLVER_OPTIONS",
    "FALLBACK_COLUMNS",
    "RISK_PARITY_SOLVER_OPTIONS",
    "Allocator",
    "AssetBounds",
    "BoundsConfig",
    "CompiledProblem",
    "CvxAllocator",
    "EstimatorConfig",
    "GroupConfig",
    "Objective",
    "OptimizerConfig",
    "SolveResult",
    "build_problem",
    "make_allocator",
    "solve_problem",
]

_LAZY = {
    "CompiledProblem": "problem",
    "RISK_PARITY_SOLVER_OPTIONS": "problem",
    "build_problem": "problem",
    "DEFAULT_SOLVER_OPTIONS": "solve",
    "SolveResult": "solve",
    "solve_problem": "solve",
    "CvxAllocator": "allocator",
    "make_allocator": "allocator",
}


def __getattr__(name: str) -> Any:
    """Import the cvxpy-backed names on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
