"""Convex portfolio optimiser behind an :class:`Allocator` protocol.

This is the only module of rmpbt that imports cvxpy. One :class:`CvxAllocator` compiles
one DPP problem per run (:func:`build_problem`); every input that changes between
rebalances (expected returns, the covariance factor ``F`` with ``Σ = F Fᵀ``, previous and
benchmark weights, bounds, CVaR scenarios) is a ``cp.Parameter`` of fixed shape, so a
rebalance only assigns values and re-solves (:func:`solve_problem`, a pure function of
the compiled problem and the parameter values: ``warm_start=False``).

Units: the allocator receives *daily simple returns* and works in *annualised* units
(mean x 252, covariance x 252). CVaR is measured on daily scenario returns.

Failures are never silent: a non-optimal solver status becomes :class:`InfeasibleError`
or :class:`SolverError`, bad inputs become :class:`OptimizerError`, the solver chain is
tried in order and the configured fallback policy (``previous`` / ``base`` / ``raise``)
decides what is returned; every fallback (and every accepted ``optimal_inaccurate``
solution) is appended to :attr:`CvxAllocator.fallbacks`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import cvxpy as cp
import numpy as np
import pandas as pd
from cvxpy.reductions.solvers.defines import SOLVER_MAP_CONIC, SOLVER_MAP_QP
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backtest import estimators as est
from backtest.errors import ConfigError, InfeasibleError, OptimizerError, SolverError

__all__ = [
    "BIG",
    "DEFAULT_SOLVER_OPTIONS",
    "Allocator",
    "AssetBounds",
    "BoundsConfig",
    "CompiledProblem",
    "CvxAllocator",
    "EstimatorConfig",
    "GroupConfig",
    "OptimizerConfig",
    "SolveResult",
    "build_problem",
    "make_allocator",
    "solve_problem",
]

BIG = 1e3
"""Finite stand-in for an absent per-asset bound (a weight of ±1000 = ±100000 %)."""

FALLBACK_COLUMNS = ("date", "strategy", "reason", "action", "solver_status")

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

_OK = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
_INFEASIBLE = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)

Objective = Literal[
    "mean_variance", "min_variance", "max_sharpe", "risk_parity", "min_cvar", "tracking_error"
]


# =============================================================================== config
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssetBounds(_Strict):
    """Bounds of one asset's weight (fractions of capital; ``None`` = default)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AssetBounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        return self


class BoundsConfig(_Strict):
    """Default per-asset bounds plus per-asset overrides."""

    lower: float | None = None
    upper: float | None = None
    assets: dict[str, AssetBounds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> BoundsConfig:
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"bounds.lower {self.lower} > bounds.upper {self.upper}")
        return self


class GroupConfig(_Strict):
    """Bounds on the summed weight of a group of assets."""

    assets: list[str] = Field(min_length=1)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> GroupConfig:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"group min {self.min} > max {self.max}")
        return self


class EstimatorConfig(_Strict):
    """Point-in-time estimators (trailing window only)."""

    covariance: Literal["sample", "ledoit_wolf", "ewma"] = "ledoit_wolf"
    window: int = Field(252, ge=2, description="trailing rows used (days)")
    halflife: float = Field(63.0, gt=0, description="EWMA half-life (days)")
    min_obs: int = Field(60, ge=2, description="fewer valid rows -> asset unavailable")
    mean: Literal["trailing", "regime", "prior"] = "trailing"
    shrinkage: float = Field(0.0, ge=0, le=1, description="weight on the prior mean")
    prior_mean: float | dict[str, float] | None = Field(
        None, description="annualised prior; None -> cross-sectional grand mean"
    )
    regime_k: float = Field(63.0, ge=0, description="pseudo-days of all-regime prior")
    bl_tau: float = Field(0.05, gt=0, description="Black-Litterman tau")
    view_uncertainty: float | None = Field(
        None, gt=0, description="annualised view variance; None -> He-Litterman"
    )

    @model_validator(mode="after")
    def _window(self) -> EstimatorConfig:
        if self.min_obs > self.window:
            raise ValueError(f"min_obs {self.min_obs} > window {self.window}")
        return self


class OptimizerConfig(_Strict):
    """The ``params.optimizer:`` block of a strategy."""

    objective: Objective = "mean_variance"
    risk_aversion: float = Field(5.0, gt=0, description="γ in μᵀw − γ/2 wᵀΣw")
    active_risk_aversion: float = Field(0.0, ge=0, description="tracking_error: γ_a")
    bounds: BoundsConfig = Field(default_factory=BoundsConfig)
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    long_only: bool = True
    max_gross_leverage: float | None = Field(None, gt=0)
    turnover_limit: float | None = Field(None, ge=0, description="max Σ|w − w_prev|")
    turnover_penalty: float = Field(0.0, ge=0, description="κ per unit turnover")
    budget: Literal["full", "cash", "none"] = "full"
    estimator: EstimatorConfig = Field(default_factory=EstimatorConfig)
    te_cap: float | None = Field(None, gt=0, description="annualised tracking error cap")
    te_benchmark: Literal["anchor", "base_weights"] = Field(
        "anchor",
        description="what te_cap / tracking_error measure against: the caller's anchor weights "
        "(a regime_rules strategy's rule weights) or the fixed config base_weights (e.g. 60/40)",
    )
    risk_budgets: dict[str, float] | None = None
    cvar_alpha: float = Field(0.95, gt=0, lt=1)
    solvers: list[str] = Field(default_factory=lambda: ["CLARABEL", "OSQP", "SCS"], min_length=1)
    solver_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    fallback: Literal["previous", "base", "raise"] = "previous"
    base_weights: dict[str, float] | None = None

    @field_validator("turnover_penalty", mode="before")
    @classmethod
    def _penalty_units(cls, value: Any) -> Any:
        """Accept a fraction (``0.001``) or a string in bps / percent (``"10bps"``)."""
        if isinstance(value, str):
            text = value.strip().lower().replace(" ", "")
            if text.endswith("bps"):
                return float(text[:-3]) / 1e4
            if text.endswith("%"):
                return float(text[:-1]) / 100.0
            return float(text)
        return value

    @field_validator("solvers")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(s.upper() for s in value))

    @field_validator("solver_options")
    @classmethod
    def _upper_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {k.upper(): v for k, v in value.items()}

    @model_validator(mode="after")
    def _compatible(self) -> OptimizerConfig:
        obj = self.objective
        if obj == "tracking_error" and self.te_cap is None:
            raise ValueError("objective tracking_error needs te_cap")
        if self.te_benchmark == "base_weights":
            if self.te_cap is None:
                raise ValueError("te_benchmark base_weights needs te_cap")
            if not self.base_weights:
                raise ValueError("te_benchmark base_weights needs base_weights (e.g. {SPY: 0.6, IEF: 0.4})")
        if obj == "risk_parity":
            bad = [
                name
                for name, is_set in (
                    ("groups", bool(self.groups)),
                    ("turnover_limit", self.turnover_limit is not None),
                    ("turnover_penalty", self.turnover_penalty > 0),
                    ("max_gross_leverage", self.max_gross_leverage is not None),
                    ("te_cap", self.te_cap is not None),
                    ("bounds", self.bounds != BoundsConfig()),
                    ("budget", self.budget != "full"),
                )
                if is_set
            ]
            if bad:
                raise ValueError(f"risk_parity does not support {', '.join(bad)}")
        elif self.risk_budgets is not None:
            raise ValueError("risk_budgets is only used by objective risk_parity")
        if obj == "max_sharpe" and (self.budget != "full" or self.turnover_penalty > 0):
            raise ValueError("max_sharpe needs budget 'full' and no turnover_penalty")
        if self.risk_budgets and any(v <= 0 for v in self.risk_budgets.values()):
            raise ValueError("risk_budgets must be > 0")
        return self


# ============================================================================ protocol
@runtime_checkable
class Allocator(Protocol):
    """What a strategy calls at each rebalance."""

    def allocate(
        self,
        date: pd.Timestamp,
        returns_window: pd.DataFrame,
        *,
        prev_weights: pd.Series | None = None,
        base_weights: pd.Series | None = None,
        views: pd.Series | None = None,
        regime_window: pd.Series | None = None,
        current_regime: str | None = None,
        rf: float = 0.0,
    ) -> pd.Series:
        """Weights (indexed by asset) decided at ``date`` from data up to ``date``."""
        ...

    @property
    def fallbacks(self) -> list[dict[str, Any]]:
        """Records (date, strategy, reason, action, solver_status) of every fallback."""
        ...


# ============================================================================= problem
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


# =========================================================================== allocator
@dataclass(frozen=True)
class _Inputs:
    """Numeric inputs of one rebalance (annualised, full asset order)."""

    available: np.ndarray  # bool (n,)
    rows: np.ndarray  # daily returns of the estimation window, (T_est, n), 0 for absent
    index: pd.Index  # dates of ``rows``
    factor: np.ndarray  # F (n, n)
    mu: np.ndarray | None  # annualised expected excess return (n,), 0 for absent


class CvxAllocator:
    """:class:`Allocator` backed by one compiled cvxpy problem (see :func:`make_allocator`).

    Attributes
    ----------
    config : OptimizerConfig
    assets : list of str
        Fixed asset universe (weights are indexed by it).
    name : str
        Strategy name written into fallback records and error messages.
    compiled : CompiledProblem
    """

    def __init__(self, cfg: OptimizerConfig, assets: Sequence[str], *, name: str = "") -> None:
        self.config = cfg
        self.assets = list(assets)
        self.name = name
        self._pos = {a: i for i, a in enumerate(self.assets)}
        self._lb0, self._ub0 = self._default_bounds()
        self._groups = {g: self._indices(grp.assets) for g, grp in cfg.groups.items()}
        budgets = None
        if cfg.risk_budgets is not None:
            budgets = np.array([cfg.risk_budgets.get(a, 0.0) for a in self.assets])
            if np.any(budgets <= 0):
                raise ConfigError(f"optimizer {name!r}: risk_budgets must cover every asset")
        self.compiled = build_problem(cfg, len(self.assets), self._groups, risk_budgets=budgets)
        if not self.compiled.solvers:
            raise ConfigError(
                f"optimizer {name!r}: none of solvers {cfg.solvers} can solve objective "
                f"{cfg.objective}{' with te_cap' if cfg.te_cap else ''}"
            )
        self._records: list[dict[str, Any]] = []

    # ---------------------------------------------------------------- construction
    def _indices(self, names: Sequence[str]) -> np.ndarray:
        return np.array([self._pos[a] for a in names], dtype=int)

    def _default_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-asset (lower, upper) before availability; absent bounds are ±BIG."""
        cfg = self.config
        n = len(self.assets)
        lb = np.full(n, -BIG if cfg.bounds.lower is None else cfg.bounds.lower)
        ub = np.full(n, BIG if cfg.bounds.upper is None else cfg.bounds.upper)
        for asset, ab in cfg.bounds.assets.items():
            if ab.min is not None:
                lb[self._pos[asset]] = ab.min
            if ab.max is not None:
                ub[self._pos[asset]] = ab.max
        if cfg.long_only:
            lb = np.maximum(lb, 0.0)
        bad = [a for a, lo, hi in zip(self.assets, lb, ub, strict=True) if lo > hi]
        if bad:
            raise ConfigError(f"optimizer {self.name!r}: lower bound > upper bound for {bad}")
        return lb, ub

    # ---------------------------------------------------------------- records
    @property
    def fallbacks(self) -> list[dict[str, Any]]:
        """Copy of the fallback records (keys: date, strategy, reason, action, solver_status)."""
        return [dict(r) for r in self._records]

    def fallback_frame(self) -> pd.DataFrame:
        """Fallback records as a DataFrame with columns :data:`FALLBACK_COLUMNS`."""
        return pd.DataFrame(self._records, columns=list(FALLBACK_COLUMNS))

    def _record(self, date: pd.Timestamp, reason: str, action: str, status: str) -> None:
        self._records.append(
            {
                "date": date,
                "strategy": self.name,
                "reason": reason,
                "action": action,
                "solver_status": status,
            }
        )

    # ---------------------------------------------------------------- main entry
    def allocate(
        self,
        date: pd.Timestamp,
        returns_window: pd.DataFrame,
        *,
        prev_weights: pd.Series | None = None,
        base_weights: pd.Series | None = None,
        views: pd.Series | None = None,
        regime_window: pd.Series | None = None,
        current_regime: str | None = None,
        rf: float = 0.0,
    ) -> pd.Series:
        """Optimal weights at ``date``.

        Parameters
        ----------
        date : Timestamp
            Decision date; ``returns_window`` must not extend past it.
        returns_window : DataFrame, shape (T, m)
            Trailing daily simple returns ending at ``date``; the last
            ``estimator.window`` rows are used. Columns not in ``assets`` are ignored;
            assets absent from it, all-NaN or with fewer than ``estimator.min_obs`` valid
            trailing rows are unavailable and get weight 0.
        prev_weights : Series, optional
            Current holdings (turnover terms, ``previous`` fallback). None on the first
            rebalance: turnover limit and penalty are then not applied.
        base_weights : Series, optional
            Anchor allocation: the implied-return prior, the ``base`` fallback and (unless
            ``te_benchmark`` is ``base_weights``) the tracking-error benchmark (default
            ``config.base_weights``, else equal weight).
        views : Series, optional
            Absolute annualised return views per asset, blended Black–Litterman style.
        regime_window : Series, optional
            Regime label per date of ``returns_window`` (``estimator.mean == "regime"``).
        current_regime : str, optional
            Regime at ``date``; default the last label of ``regime_window``.
        rf : float, default 0
            Annualised risk-free rate; expected returns enter as excess returns.

        Returns
        -------
        Series, shape (n,)
            Weights indexed by ``assets`` (fallback weights if the optimisation failed and
            the policy is not ``raise``).

        Raises
        ------
        OptimizerError
            Look-ahead window (always), or any failure when ``fallback == "raise"``.
        ConfigError
            ``estimator.mean == "regime"`` without ``regime_window``.
        """
        date = pd.Timestamp(date)
        self._check_window(date, returns_window)
        label = f"optimizer {self.name!r}" if self.name else "optimizer"
        context = f"{label} on {date.date()}"
        base = self._base(base_weights)
        available = np.zeros(len(self.assets), dtype=bool)
        try:
            inputs = self._inputs(
                returns_window, base, views, regime_window, current_regime, rf, context
            )
            available = inputs.available
            lb, ub = self._bounds(available, context)
            values = self._values(inputs, lb, ub, prev_weights, base, context)
            result = solve_problem(
                self.compiled, values, solver_options=self.config.solver_options, context=context
            )
        except OptimizerError as err:
            return self._fallback(date, err, prev_weights, base, available)
        if result.failures:
            self._record(date, "; ".join(result.failures), f"solver {result.solver}", result.status)
        elif result.status != cp.OPTIMAL:
            self._record(date, result.status, f"accepted {result.solver}", result.status)
        return pd.Series(self._clean(result.weights, lb, ub, available), index=self.assets)

    # ---------------------------------------------------------------- inputs
    def _check_window(self, date: pd.Timestamp, window: pd.DataFrame) -> None:
        if not isinstance(window, pd.DataFrame):
            raise TypeError("returns_window must be a DataFrame")
        if isinstance(window.index, pd.DatetimeIndex) and len(window) and window.index[-1] > date:
            raise OptimizerError(
                f"optimizer {self.name!r}: returns window ends {window.index[-1].date()} "
                f"after decision date {date.date()} (look-ahead)"
            )

    def _base(self, base_weights: pd.Series | None) -> np.ndarray | None:
        if base_weights is not None:
            return base_weights.reindex(self.assets).fillna(0.0).to_numpy(dtype=float)
        if self.config.base_weights is not None:
            return np.array([self.config.base_weights.get(a, 0.0) for a in self.assets])
        return None

    def _inputs(
        self,
        window: pd.DataFrame,
        base: np.ndarray | None,
        views: pd.Series | None,
        regime_window: pd.Series | None,
        current_regime: str | None,
        rf: float,
        context: str,
    ) -> _Inputs:
        est_cfg = self.config.estimator
        frame = window.reindex(columns=self.assets).iloc[-est_cfg.window :]
        x = frame.to_numpy(dtype=float)
        available, start = _availability(x, est_cfg.min_obs)
        if not available.any():
            raise OptimizerError(
                f"{context}: no asset has {est_cfg.min_obs} valid returns in the window"
            )
        rows = x[start:][:, available]
        finite = np.isfinite(rows).all(axis=0)
        bad = list(np.array(self.assets)[available][~finite])
        if bad:
            raise OptimizerError(f"{context}: NaN or inf returns inside the window for {bad}")
        cov_sub = est.annualise_cov(_covariance(rows, est_cfg))
        mu_sub = None
        if self.config.objective in ("mean_variance", "max_sharpe", "tracking_error"):
            index = frame.index[start:]
            mu_sub = self._mean(
                rows, index, cov_sub, available, base, regime_window, current_regime
            )
            if views is not None:
                try:
                    mu_sub = self._blend_views(mu_sub, cov_sub, views, available)
                except np.linalg.LinAlgError as exc:
                    raise OptimizerError(
                        f"{context}: Black-Litterman blend failed ({exc})"
                    ) from exc
            mu_sub = mu_sub - rf
        self._check_finite(mu_sub, cov_sub, available, context)
        full_rows = np.zeros((rows.shape[0], len(self.assets)))
        full_rows[:, available] = rows
        return _Inputs(
            available=available,
            rows=full_rows,
            index=frame.index[start:],
            factor=_embed(est.psd_factor(cov_sub), available),
            mu=None if mu_sub is None else _embed_vec(mu_sub, available),
        )

    def _mean(
        self,
        rows: np.ndarray,
        index: pd.Index,
        cov_sub: np.ndarray,
        available: np.ndarray,
        base: np.ndarray | None,
        regime_window: pd.Series | None,
        current_regime: str | None,
    ) -> np.ndarray:
        """Annualised expected returns of the available assets, shape (k,)."""
        est_cfg = self.config.estimator
        if est_cfg.mean == "prior":
            if est_cfg.prior_mean is not None:
                return self._prior(available, None)
            w = _base_or_equal(base, available)[available]
            return est.implied_returns(cov_sub, w, self.config.risk_aversion)
        if est_cfg.mean == "regime":
            if regime_window is None:
                raise ConfigError(
                    f"optimizer {self.name!r}: estimator.mean 'regime' needs regime_window"
                )
            frame = pd.DataFrame(rows, index=index)
            daily, _ = est.regime_mean(frame, regime_window, current_regime, k=est_cfg.regime_k)
            sample = est.annualise_mean(daily.to_numpy())
        else:
            sample = est.annualise_mean(rows.mean(axis=0))
        if est_cfg.shrinkage == 0.0:
            return sample
        return est.shrink_mean(sample, self._prior(available, sample), est_cfg.shrinkage)

    def _prior(self, available: np.ndarray, sample: np.ndarray | None) -> np.ndarray:
        """Annualised prior mean for the available assets (grand mean where unset)."""
        prior = self.config.estimator.prior_mean
        grand = 0.0 if sample is None else float(np.mean(sample))
        names = np.array(self.assets)[available]
        if isinstance(prior, dict):
            return np.array([prior.get(a, grand) for a in names], dtype=float)
        return np.full(len(names), grand if prior is None else float(prior))

    def _blend_views(
        self, mu_sub: np.ndarray, cov_sub: np.ndarray, views: pd.Series, available: np.ndarray
    ) -> np.ndarray:
        names = list(np.array(self.assets)[available])
        views = views[views.index.isin(names)].dropna()
        if views.empty:
            return mu_sub
        p, q = est.view_matrices(views, names)
        est_cfg = self.config.estimator
        omega = None
        if est_cfg.view_uncertainty is not None:
            omega = np.eye(len(q)) * est_cfg.view_uncertainty
        return est.black_litterman(mu_sub, cov_sub, p, q, omega, tau=est_cfg.bl_tau)

    def _check_finite(
        self, mu_sub: np.ndarray | None, cov_sub: np.ndarray, available: np.ndarray, context: str
    ) -> None:
        ok = np.isfinite(cov_sub).all(axis=0)
        if mu_sub is not None:
            ok &= np.isfinite(mu_sub)
        if not ok.all():
            bad = list(np.array(self.assets)[available][~ok])
            raise OptimizerError(f"{context}: non-finite expected return or covariance for {bad}")

    # ---------------------------------------------------------------- parameters
    def _bounds(self, available: np.ndarray, context: str) -> tuple[np.ndarray, np.ndarray]:
        """Bounds with unavailable assets pinned to 0; checks they can meet the budget."""
        lb = np.where(available, self._lb0, 0.0)
        ub = np.where(available, self._ub0, 0.0)
        cfg = self.config
        if cfg.objective == "risk_parity":
            return lb, ub
        full = cfg.budget == "full"
        if cfg.budget != "none" and lb.sum() > 1.0 + 1e-12:
            raise InfeasibleError(
                f"{context}: sum of lower bounds {lb.sum():.6g} exceeds the budget 1"
            )
        if full and ub.sum() < 1.0 - 1e-12:
            names = ", ".join(str(a) for a in np.array(self.assets)[available])
            raise InfeasibleError(
                f"{context}: sum of upper bounds {ub.sum():.6g} over available assets "
                f"({names}) is below the budget 1"
            )
        for gname, idx in self._groups.items():
            grp = cfg.groups[gname]
            if grp.min is not None and ub[idx].sum() < grp.min - 1e-12:
                raise InfeasibleError(
                    f"{context}: group {gname!r} min {grp.min} exceeds the sum of its "
                    f"available upper bounds {ub[idx].sum():.6g}"
                )
            if grp.max is not None and lb[idx].sum() > grp.max + 1e-12:
                raise InfeasibleError(
                    f"{context}: group {gname!r} max {grp.max} is below the sum of its "
                    f"lower bounds {lb[idx].sum():.6g}"
                )
        return lb, ub

    def _values(
        self,
        inputs: _Inputs,
        lb: np.ndarray,
        ub: np.ndarray,
        prev_weights: pd.Series | None,
        base: np.ndarray | None,
        context: str,
    ) -> dict[str, np.ndarray | float]:
        """Parameter values for :func:`solve_problem`."""
        cfg = self.config
        params = self.compiled.params
        values: dict[str, np.ndarray | float] = {"F": inputs.factor}
        if "absent" in params:
            values["absent"] = (~inputs.available).astype(float)
            return values
        values["lb"], values["ub"] = lb, ub
        if "mu" in params:
            values["mu"] = inputs.mu
            if cfg.objective == "max_sharpe" and not np.any(inputs.mu[inputs.available] > 0):
                raise InfeasibleError(
                    f"{context}: max_sharpe needs a positive expected excess return; "
                    f"max is {inputs.mu[inputs.available].max():.4g}"
                )
        if "w_prev" in params:
            self._turnover_values(values, prev_weights, lb, ub)
        if "bench_f" in params:
            if cfg.te_benchmark == "base_weights" and cfg.base_weights:
                base = np.array([cfg.base_weights.get(a, 0.0) for a in self.assets])
            bench = _base_or_equal(base, inputs.available)
            values["bench_f"] = inputs.factor.T @ bench
        if "R" in params:
            values["R"], values["prob"] = _scenarios(inputs.rows, cfg.estimator.window)
        return values

    def _turnover_values(
        self,
        values: dict[str, np.ndarray | float],
        prev_weights: pd.Series | None,
        lb: np.ndarray,
        ub: np.ndarray,
    ) -> None:
        """w_prev / kappa / turnover_cap; with no previous weights both terms are switched off."""
        cfg = self.config
        params = self.compiled.params
        first = prev_weights is None
        prev = np.zeros(len(self.assets))
        if not first:
            prev = prev_weights.reindex(self.assets).fillna(0.0).to_numpy(dtype=float)
        values["w_prev"] = prev
        if "kappa" in params:
            values["kappa"] = 0.0 if first else cfg.turnover_penalty
        if "turnover_cap" in params:
            loose = float(np.sum(np.maximum(np.abs(lb), np.abs(ub))) + np.abs(prev).sum() + 1.0)
            values["turnover_cap"] = loose if first else float(cfg.turnover_limit)

    # ---------------------------------------------------------------- outputs
    def _clean(
        self, w: np.ndarray, lb: np.ndarray, ub: np.ndarray, available: np.ndarray
    ) -> np.ndarray:
        """Clip solver round-off (≤ solver tolerance) onto the per-asset bounds."""
        if self.config.objective == "risk_parity":
            w = np.clip(w, 0.0, None)
        else:
            w = np.clip(w, lb, ub)
        return np.where(available, w, 0.0)

    def _fallback(
        self,
        date: pd.Timestamp,
        err: OptimizerError,
        prev_weights: pd.Series | None,
        base: np.ndarray | None,
        available: np.ndarray,
    ) -> pd.Series:
        status = _status_of(err)
        policy = self.config.fallback
        if policy == "raise":
            self._record(date, str(err), "raise", status)
            raise err
        if policy == "previous" and prev_weights is not None:
            w = prev_weights.reindex(self.assets).fillna(0.0).to_numpy(dtype=float)
            action = "previous"
        elif base is not None:
            w, action = base.copy(), "base"
        elif available.any():
            w, action = _base_or_equal(None, available), "equal_weight"
        else:
            w, action = np.zeros(len(self.assets)), "cash"
        if available.any():
            w = _restrict(w, available)
        self._record(date, str(err), action, status)
        return pd.Series(w, index=self.assets)


# ============================================================================= helpers
def _availability(x: np.ndarray, min_obs: int) -> tuple[np.ndarray, int]:
    """Available columns (≥ ``min_obs`` rows since the first valid one) and first common row."""
    valid = ~np.isnan(x)
    t_rows = x.shape[0]
    has = valid.any(axis=0)
    first = np.where(has, valid.argmax(axis=0), t_rows)
    available = (t_rows - first) >= min_obs
    start = int(first[available].max()) if available.any() else t_rows
    return available, start


def _covariance(rows: np.ndarray, cfg: EstimatorConfig) -> np.ndarray:
    """Daily covariance of ``rows`` (T x k) by the configured estimator."""
    if cfg.covariance == "sample":
        return est.sample_covariance(rows)
    if cfg.covariance == "ewma":
        return est.ewma_covariance(rows, cfg.halflife)
    cov, _ = est.ledoit_wolf_covariance(rows)
    return cov


def _embed(sub: np.ndarray, available: np.ndarray) -> np.ndarray:
    """k x k matrix into n x n with zeros for unavailable rows/columns."""
    n = available.shape[0]
    out = np.zeros((n, n))
    out[np.ix_(available, available)] = sub
    return out


def _embed_vec(sub: np.ndarray, available: np.ndarray) -> np.ndarray:
    out = np.zeros(available.shape[0])
    out[available] = sub
    return out


def _base_or_equal(base: np.ndarray | None, available: np.ndarray) -> np.ndarray:
    """``base`` restricted to available assets, or equal weight over them."""
    if base is not None and np.any(base[available] != 0):
        return _restrict(base, available)
    return available / max(int(available.sum()), 1)


def _restrict(w: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Zero unavailable assets, rescaling so the total weight is unchanged."""
    out = np.where(available, w, 0.0)
    kept = out.sum()
    return out * (w.sum() / kept) if kept > 0 and abs(kept - w.sum()) > 0 else out


def _scenarios(rows: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad daily scenario returns to ``window`` rows; padded rows get probability 0."""
    t_rows, n = rows.shape
    r = np.zeros((window, n))
    prob = np.zeros(window)
    r[window - t_rows :] = rows
    prob[window - t_rows :] = 1.0 / t_rows
    return r, prob


def _status_of(err: OptimizerError) -> str:
    if isinstance(err, InfeasibleError):
        return "infeasible"
    if isinstance(err, SolverError):
        return "solver_error"
    return "bad_input"


# ============================================================================= factory
def make_allocator(cfg: OptimizerConfig, assets: list[str], *, name: str = "") -> Allocator:
    """Validate ``cfg`` against ``assets`` and compile the allocator once for the run.

    Parameters
    ----------
    cfg : OptimizerConfig
    assets : list of str
        Asset universe (fixed order of the returned weights).
    name : str, optional
        Strategy name used in fallback records and messages.

    Returns
    -------
    Allocator
        A :class:`CvxAllocator`.

    Raises
    ------
    ConfigError
        Duplicate/empty assets, names in bounds/groups/risk_budgets/prior_mean/base_weights
        that are not in ``assets``, solvers that are not installed, inconsistent bounds.
    """
    label = f"optimizer {name!r}" if name else "optimizer"
    if not assets or len(set(assets)) != len(assets):
        raise ConfigError(f"{label}: assets must be non-empty and unique, got {assets}")
    known = set(assets)
    refs: dict[str, Sequence[str]] = {
        "bounds.assets": list(cfg.bounds.assets),
        "risk_budgets": list(cfg.risk_budgets or {}),
        "base_weights": list(cfg.base_weights or {}),
        "estimator.prior_mean": list(cfg.estimator.prior_mean)
        if isinstance(cfg.estimator.prior_mean, dict)
        else [],
    }
    refs.update({f"groups.{g}": grp.assets for g, grp in cfg.groups.items()})
    for key, names in refs.items():
        unknown = [a for a in names if a not in known]
        if unknown:
            raise ConfigError(f"{label}: {key} names unknown assets {unknown}")
    installed = set(cp.installed_solvers())
    missing = [s for s in cfg.solvers if s not in installed]
    if missing:
        raise ConfigError(
            f"{label}: solvers {missing} are not installed (have {sorted(installed)})"
        )
    return CvxAllocator(cfg, assets, name=name)
