"""Problem building: one DPP cvxpy problem per run, its changing inputs Parameters.

Every input that changes between rebalances (expected returns, the covariance factor
``F`` with ``Σ = F Fᵀ``, previous and benchmark weights, bounds, CVaR scenarios) is a
``cp.Parameter`` of fixed shape, so a rebalance only assigns values and re-solves
(:func:`backtest.optimizer.solve.solve_problem`). With :mod:`backtest.optimizer.solve`,
the only modules of rmpbt that import cvxpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
from cvxpy.reductions.solvers.defines import SOLVER_MAP_CONIC, SOLVER_MAP_QP

from backtest.optimizer.models import OptimizerConfig

__all__ = ["RISK_PARITY_SOLVER_OPTIONS", "CompiledProblem", "build_problem"]

RISK_PARITY_SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {
        "tol_gap_abs": 1e-12,
        "tol_gap_rel": 1e-12,
        "tol_feas": 1e-12,
        "tol_ktratio": 1e-10,
    },
}
"""Tighter settings for the exponential-cone risk-parity problem: at the default
tolerances the risk contributions are only equal to ~5e-6; these give ~1e-8."""

_POOR_ON_LP = frozenset({"OSQP"})
"""Skipped for the min-CVaR LP: ADMM stalls at the user_limit on it (≈1 s wasted)."""


@dataclass(frozen=True)
class CompiledProblem:
    """A DPP problem whose changing inputs are Parameters.

    Attributes
    ----------
    problem : cvxpy.Problem
    params : mapping str -> cvxpy.Parameter
        Every Parameter of ``problem`` by name; :func:`solve_problem` needs a value for each.
    variable : cvxpy.Variable, shape (n,)
        Weights ``w``, or the homogenised ``y`` when ``homogenised`` (``w = y / Σy``).
    homogenised : bool
        True for max_sharpe and risk_parity.
    solvers : tuple of str
        Solvers of the configured chain able to handle this problem class (QP-only
        solvers are dropped for conic problems, OSQP for the min-CVaR LP).
    solver_defaults : mapping str -> dict
        Problem-specific solver settings (on top of :data:`DEFAULT_SOLVER_OPTIONS`).
    """

    problem: cp.Problem
    params: Mapping[str, cp.Parameter]
    variable: cp.Variable
    homogenised: bool
    solvers: tuple[str, ...]
    solver_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _scaled(param: cp.Expression, k: cp.Expression | None) -> cp.Expression:
    """``param·k`` for the homogenised problem, ``param`` otherwise."""
    return param if k is None else cp.multiply(param, k)


def _needed_cones(cfg: OptimizerConfig) -> set[str]:
    cones = set()
    if cfg.te_cap is not None:
        cones.add("SOC")
    if cfg.objective == "risk_parity":
        cones.add("ExpCone")
    return cones


def _supported(solver: str, problem: cp.Problem, cones: set[str]) -> bool:
    """Whether ``solver`` can take ``problem`` (QP-only solvers need a QP)."""
    if solver in SOLVER_MAP_CONIC:
        names = {c.__name__ for c in SOLVER_MAP_CONIC[solver].SUPPORTED_CONSTRAINTS}
        if cones <= names:
            return True
    return solver in SOLVER_MAP_QP and not cones and problem.is_qp()


def _risk_parity(n: int, budgets: np.ndarray) -> tuple[cp.Problem, dict, cp.Variable]:
    """min ½ yᵀΣy − Σ b_i log(y_i + a_i) s.t. a_i y_i = 0 (a_i = 1 for absent assets)."""
    f = cp.Parameter((n, n), name="F")
    absent = cp.Parameter(n, nonneg=True, name="absent")
    y = cp.Variable(n, name="y")
    obj = 0.5 * cp.sum_squares(f.T @ y) - budgets @ cp.log(y + absent)
    problem = cp.Problem(cp.Minimize(obj), [cp.multiply(absent, y) == 0])
    return problem, {"F": f, "absent": absent}, y


def _weight_constraints(
    cfg: OptimizerConfig,
    x: cp.Variable,
    k: cp.Expression | None,
    params: dict[str, cp.Parameter],
    groups: Mapping[str, np.ndarray],
) -> list[cp.Constraint]:
    """Bounds, budget, groups, leverage, turnover and TE constraints (homogenised by k)."""
    n = x.shape[0]
    one = 1.0 if k is None else k
    cons = [x >= _scaled(params["lb"], k), x <= _scaled(params["ub"], k)]
    if k is not None:
        cons.append(k >= 0)
    elif cfg.budget == "full":
        cons.append(cp.sum(x) == 1.0)
    elif cfg.budget == "cash":
        cons.append(cp.sum(x) <= 1.0)
    for name, idx in groups.items():
        grp = cfg.groups[name]
        if grp.min is not None:
            cons.append(cp.sum(x[idx]) >= grp.min * one)
        if grp.max is not None:
            cons.append(cp.sum(x[idx]) <= grp.max * one)
    if cfg.max_gross_leverage is not None:
        gross = cp.Variable(n, name="gross")
        cons += [gross >= x, gross >= -x, cp.sum(gross) <= cfg.max_gross_leverage * one]
    if cfg.te_cap is not None:
        active = params["F"].T @ x - _scaled(params["bench_f"], k)
        cons.append(cp.norm(active, 2) <= cfg.te_cap * one)
    return cons


def build_problem(
    cfg: OptimizerConfig,
    n_assets: int,
    groups: Mapping[str, np.ndarray] | None = None,
    *,
    risk_budgets: np.ndarray | None = None,
) -> CompiledProblem:
    """Compile the DPP problem for ``cfg`` with ``n_assets`` assets.

    Parameters
    ----------
    cfg : OptimizerConfig
    n_assets : int
        Number of assets n (fixed for the run).
    groups : mapping str -> int ndarray, optional
        Column indices of each group of ``cfg.groups``.
    risk_budgets : ndarray, shape (n,), optional
        Positive risk budgets (risk_parity); default equal. Normalised to sum 1.

    Returns
    -------
    CompiledProblem
        Parameters: ``F`` (n x n, annualised Σ = F Fᵀ) always; ``mu`` (n, annualised
        expected excess return) for mean_variance/max_sharpe/tracking_error; ``lb``/``ub``
        (n); ``w_prev`` (n), ``kappa`` and/or ``turnover_cap`` with a turnover term;
        ``bench_f`` (n, = Fᵀw_bench) with ``te_cap``; ``R`` (window x n, daily scenario
        returns) and ``prob`` (window) for min_cvar; ``absent`` (n) for risk_parity.
    """
    n = n_assets
    groups = dict(groups or {})
    obj = cfg.objective
    if obj == "risk_parity":
        b = np.ones(n) if risk_budgets is None else np.asarray(risk_budgets, dtype=float)
        problem, params, x = _risk_parity(n, b / b.sum())
        homog = True
    else:
        params = {
            "F": cp.Parameter((n, n), name="F"),
            "lb": cp.Parameter(n, name="lb"),
            "ub": cp.Parameter(n, name="ub"),
        }
        if obj in ("mean_variance", "max_sharpe", "tracking_error"):
            params["mu"] = cp.Parameter(n, name="mu")
        if cfg.te_cap is not None:
            params["bench_f"] = cp.Parameter(n, name="bench_f")
        homog = obj == "max_sharpe"
        x = cp.Variable(n, name="y" if homog else "w")
        k = cp.sum(x) if homog else None
        cons = _weight_constraints(cfg, x, k, params, groups)
        cost, turnover_cons = _turnover_terms(cfg, x, k, params)
        cons += turnover_cons
        objective, obj_cons = _objective(cfg, x, params)
        problem = cp.Problem(cp.Minimize(objective + cost), cons + obj_cons)
    cones = _needed_cones(cfg)
    chain = tuple(
        s
        for s in cfg.solvers
        if _supported(s, problem, cones) and not (obj == "min_cvar" and s in _POOR_ON_LP)
    )
    defaults = RISK_PARITY_SOLVER_OPTIONS if obj == "risk_parity" else {}
    return CompiledProblem(problem, params, x, homog, chain, defaults)


def _turnover_terms(
    cfg: OptimizerConfig,
    x: cp.Variable,
    k: cp.Expression | None,
    params: dict[str, cp.Parameter],
) -> tuple[cp.Expression | float, list[cp.Constraint]]:
    """Turnover auxiliaries ``t ≥ |x − w_prev·k|``, penalty ``κ·Σt`` and limit ``Σt ≤ T·k``."""
    if cfg.turnover_limit is None and cfg.turnover_penalty <= 0:
        return 0.0, []
    n = x.shape[0]
    params["w_prev"] = cp.Parameter(n, name="w_prev")
    t = cp.Variable(n, name="turnover")
    prev = _scaled(params["w_prev"], k)
    cons = [t >= x - prev, t >= prev - x]
    cost: cp.Expression | float = 0.0
    if cfg.turnover_limit is not None:
        params["turnover_cap"] = cp.Parameter(nonneg=True, name="turnover_cap")
        cons.append(cp.sum(t) <= _scaled(params["turnover_cap"], k))
    if cfg.turnover_penalty > 0:
        params["kappa"] = cp.Parameter(nonneg=True, name="kappa")
        cost = params["kappa"] * cp.sum(t)
    return cost, cons


def _objective(
    cfg: OptimizerConfig, x: cp.Variable, params: dict[str, cp.Parameter]
) -> tuple[cp.Expression, list[cp.Constraint]]:
    """Objective (to minimise) of the non-risk-parity objectives plus extra constraints."""
    f = params["F"]
    risk = cp.sum_squares(f.T @ x)
    obj = cfg.objective
    if obj == "mean_variance":
        return 0.5 * cfg.risk_aversion * risk - params["mu"] @ x, []
    if obj == "min_variance":
        return risk, []
    if obj == "max_sharpe":
        return risk, [params["mu"] @ x == 1.0]
    if obj == "tracking_error":
        expr = -(params["mu"] @ x)
        if cfg.active_risk_aversion > 0:
            active = cp.sum_squares(f.T @ x - params["bench_f"])
            expr = expr + 0.5 * cfg.active_risk_aversion * active
        return expr, []
    # min_cvar: Rockafellar–Uryasev
    t_rows = cfg.estimator.window
    params["R"] = cp.Parameter((t_rows, x.shape[0]), name="R")
    params["prob"] = cp.Parameter(t_rows, nonneg=True, name="prob")
    zeta = cp.Variable(name="var")
    excess = cp.Variable(t_rows, nonneg=True, name="excess_loss")
    cons = [excess >= -(params["R"] @ x) - zeta]
    return zeta + (params["prob"] @ excess) / (1.0 - cfg.cvar_alpha), cons
