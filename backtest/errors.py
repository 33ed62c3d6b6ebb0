"""One error hierarchy for rmpbt: every error a user can cause is one of these.

The CLI catches :class:`RmpbtError`, prints ``str(err)`` on one line and exits with
``err.exit_code`` (2 for bad input). Messages must name the file, key, date, ticker,
series or strategy at fault.
"""

from __future__ import annotations


class RmpbtError(Exception):
    """Base class of all user-facing rmpbt errors."""

    exit_code: int = 2
    kind: str = "error"

    def __str__(self) -> str:  # one line, always
        msg = super().__str__()
        return " ".join(msg.split())


class ConfigError(RmpbtError):
    """Bad configuration: unreadable file, unknown key, wrong type, bad value."""

    kind = "config error"


class DataError(RmpbtError):
    """Bad or missing market data: unknown ticker, NaN run, duplicate date, stale series."""

    kind = "data error"


class RegimeError(RmpbtError):
    """Bad regime calendar or regime-model input."""

    kind = "regime error"


class StrategyError(RmpbtError):
    """A strategy could not produce valid weights."""

    kind = "strategy error"


class OptimizerError(RmpbtError):
    """The optimizer failed (infeasible, unbounded, solver error) and was told to raise."""

    kind = "optimizer error"


class InfeasibleError(OptimizerError):
    """The allocation problem has no feasible point."""


class SolverError(OptimizerError):
    """Every solver in the chain failed or returned a non-optimal status."""


class ScenarioError(RmpbtError):
    """Bad scenario definition (probabilities, transition matrix, analogue periods)."""

    kind = "scenario error"


class SweepError(RmpbtError):
    """Bad tuning request (grid, walk-forward window, scheduler)."""

    kind = "tune error"


class ResultsError(RmpbtError):
    """A results folder is missing, incomplete or of an incompatible format."""

    kind = "results error"
