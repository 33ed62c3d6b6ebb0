"""Solving a compiled problem: the solver chain, tight defaults, status handling.

:func:`solve_problem` is a pure function of the compiled problem and the parameter
values (``warm_start=False``). A non-optimal status becomes :class:`InfeasibleError` or
:class:`SolverError`; ``optimal_inaccurate`` is accepted (the allocator records it).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

from backtest.errors import InfeasibleError, OptimizerError, SolverError
from backtest.optimizer.problem import CompiledProblem

__all__ = ["DEFAULT_SOLVER_OPTIONS", "OPTIMAL", "SolveResult", "installed_solvers", "solve_problem"]

DEFAULT_SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {
        "tol_gap_abs": 1e-10,
        "tol_gap_rel": 1e-10,
        "tol_feas": 1e-10,
        "tol_ktratio": 1e-8,
        "max_iter": 200,
    },
    "OSQP": {"eps_abs": 1e-9, "eps_rel": 1e-9, "polishing": True, "max_iter": 200_000},
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 100_000},
}
"""Tight per-solver settings (bounds hold to ~1e-9); ``solver_options`` overrides them."""

_OK = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
_INFEASIBLE = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)
OPTIMAL = cp.OPTIMAL
"""Status string of a solution solved to full accuracy."""


def installed_solvers() -> list[str]:
    """Names of the cvxpy solvers installed in this environment.

    Returns
    -------
    list of str
    """
    return list(cp.installed_solvers())


@dataclass(frozen=True)
class SolveResult:
    """Outcome of :func:`solve_problem`.

    Attributes
    ----------
    weights : ndarray, shape (n,)
        Normalised weights (before the bound clean-up done by the allocator).
    solver : str
        Solver that produced them.
    status : str
        ``optimal`` or ``optimal_inaccurate``.
    failures : tuple of str
        ``"SOLVER: status"`` of solvers tried before ``solver``.
    objective : float
        Optimal objective value of the compiled problem.
    """

    weights: np.ndarray
    solver: str
    status: str
    failures: tuple[str, ...] = field(default_factory=tuple)
    objective: float = float("nan")


def _status_error(failures: Sequence[str], saw_infeasible: bool, context: str) -> OptimizerError:
    detail = "; ".join(failures) or "no solver able to handle the problem"
    if saw_infeasible:
        return InfeasibleError(f"{context}: problem infeasible ({detail})")
    return SolverError(f"{context}: every solver failed ({detail})")


def solve_problem(
    compiled: CompiledProblem,
    values: Mapping[str, np.ndarray | float],
    *,
    solver_options: Mapping[str, Mapping[str, Any]] | None = None,
    context: str = "optimizer",
) -> SolveResult:
    """Assign every Parameter and solve, trying ``compiled.solvers`` in order.

    A pure function of ``compiled`` and ``values``: all parameters are set on every call
    and solvers run with ``warm_start=False``, so the call history cannot change the
    answer.

    Parameters
    ----------
    compiled : CompiledProblem
    values : mapping str -> ndarray or float
        A value for every name in ``compiled.params`` (shapes as documented in
        :func:`build_problem`).
    solver_options : mapping, optional
        Per-solver keyword overrides on top of :data:`DEFAULT_SOLVER_OPTIONS` and
        ``compiled.solver_defaults``.
    context : str
        Prefix of error messages (e.g. strategy and date).

    Returns
    -------
    SolveResult

    Raises
    ------
    InfeasibleError
        A solver certified infeasibility (and no later solver found a solution).
    SolverError
        Every solver raised or returned another non-optimal status.
    """
    missing = set(compiled.params) - set(values)
    if missing:
        raise ValueError(f"no value for parameters {sorted(missing)}")
    for name, param in compiled.params.items():
        param.value = values[name]
    failures: list[str] = []
    saw_infeasible = False
    for solver in compiled.solvers:
        opts = {
            **DEFAULT_SOLVER_OPTIONS.get(solver, {}),
            **compiled.solver_defaults.get(solver, {}),
            **(solver_options or {}).get(solver, {}),
        }
        try:
            with warnings.catch_warnings():  # statuses are recorded by the caller instead
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                compiled.problem.solve(solver=solver, warm_start=False, **opts)
        except (cp.SolverError, ArithmeticError, ValueError) as exc:
            failures.append(f"{solver}: solver_error ({' '.join(str(exc).split())[:120]})")
            continue
        status = compiled.problem.status
        weights = _extract(compiled)
        if status in _OK and weights is not None:
            value = float(compiled.problem.value)
            return SolveResult(weights, solver, status, tuple(failures), value)
        failures.append(f"{solver}: {status if status not in _OK else 'degenerate solution'}")
        if status in _INFEASIBLE:
            saw_infeasible = True
            if status == cp.INFEASIBLE:  # a certificate: other solvers will agree
                break
    raise _status_error(failures, saw_infeasible, context)


def _extract(compiled: CompiledProblem) -> np.ndarray | None:
    """Weights from the variable value (normalising ``y`` when homogenised)."""
    x = compiled.variable.value
    if x is None or not np.all(np.isfinite(x)):
        return None
    if not compiled.homogenised:
        return np.array(x, dtype=float)
    total = float(np.sum(x))
    if total <= 1e-12 * max(1.0, float(np.max(np.abs(x)))):
        return None
    return np.asarray(x, dtype=float) / total
