"""Optimizer configuration models and the :class:`Allocator` protocol (no cvxpy).

These pydantic models validate the ``params.optimizer:`` block of a strategy. They are
importable without cvxpy so that loading or validating a config never pays the cvxpy
import; only :mod:`backtest.optimizer.problem` and :mod:`backtest.optimizer.solve` import it.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd
from pydantic import BaseModel, Field, field_validator, model_validator

from backtest.config import STRICT_INPUT

__all__ = [
    "BIG",
    "FALLBACK_COLUMNS",
    "Allocator",
    "AssetBounds",
    "BoundsConfig",
    "EstimatorConfig",
    "GroupConfig",
    "Objective",
    "OptimizerConfig",
]

BIG = 1e3
"""Finite stand-in for an absent per-asset bound (a weight of ±1000 = ±100000 %)."""

FALLBACK_COLUMNS = ("date", "strategy", "reason", "action", "solver_status")

Objective = Literal[
    "mean_variance", "min_variance", "max_sharpe", "risk_parity", "min_cvar", "tracking_error"
]


# =============================================================================== config
class _Strict(BaseModel):
    model_config = STRICT_INPUT  # no coercion: one rule for every input (backtest.config)


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
    window: int = Field(252, ge=2, le=2520, description="trailing rows used (days)")
    halflife: float = Field(63.0, gt=0, le=2520, description="EWMA half-life (days)")
    min_obs: int = Field(60, ge=2, le=2520, description="fewer valid rows -> asset unavailable")
    mean: Literal["trailing", "regime", "prior"] = "trailing"
    shrinkage: float = Field(0.0, ge=0, le=1, description="weight on the prior mean")
    prior_mean: float | dict[str, float] | None = Field(
        None, description="annualised prior; None -> cross-sectional grand mean"
    )
    regime_k: float = Field(63.0, ge=0, le=2520, description="pseudo-days of all-regime prior")
    bl_tau: float = Field(0.05, gt=0, le=10, description="Black-Litterman tau")
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
    risk_aversion: float = Field(5.0, gt=0, le=1e4, description="γ in μᵀw − γ/2 wᵀΣw")
    active_risk_aversion: float = Field(0.0, ge=0, le=1e4, description="tracking_error: γ_a")
    bounds: BoundsConfig = Field(default_factory=BoundsConfig)
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    long_only: bool = True
    max_gross_leverage: float | None = Field(None, gt=0, le=100)
    turnover_limit: float | None = Field(None, ge=0, le=200, description="max Σ|w − w_prev|")
    turnover_penalty: float = Field(
        0.0, ge=0, le=1e4,
        description="κ per unit turnover; unset in a run config: the run's fee + slippage "
        "(mean_variance, tracking_error, min_cvar; backtest.config.COST_PENALTY_OBJECTIVES)")
    budget: Literal["full", "cash", "none"] = "full"
    estimator: EstimatorConfig = Field(default_factory=EstimatorConfig)
    te_cap: float | None = Field(None, gt=0, le=10, description="annualised tracking error cap")
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

