"""The cvxpy-backed :class:`CvxAllocator` and its factory :func:`make_allocator`.

Units: the allocator receives *daily simple returns* and works in *annualised* units
(mean x 252, covariance x 252). CVaR is measured on daily scenario returns.

Failures are never silent: bad inputs become :class:`OptimizerError`, the solver chain
is tried in order and the configured fallback policy (``previous`` / ``base`` /
``raise``) decides what is returned; every fallback (and every accepted
``optimal_inaccurate`` solution) is appended to :attr:`CvxAllocator.fallbacks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest import estimators as est
from backtest.errors import ConfigError, InfeasibleError, OptimizerError, SolverError
from backtest.optimizer.models import (
    BIG,
    FALLBACK_COLUMNS,
    Allocator,
    EstimatorConfig,
    OptimizerConfig,
)
from backtest.optimizer.problem import build_problem
from backtest.optimizer.solve import OPTIMAL, installed_solvers, solve_problem

__all__ = ["CvxAllocator", "make_allocator"]


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
        elif result.status != OPTIMAL:
            self._record(date, result.status, f"accepted {result.solver}", result.status)
        return pd.Series(self._clean(result.weights, lb, ub, available), index=self.assets)

    def estimates(
        self,
        date: pd.Timestamp,
        returns_window: pd.DataFrame,
        *,
        base_weights: pd.Series | None = None,
        regime_window: pd.Series | None = None,
        current_regime: str | None = None,
        rf: float = 0.0,
    ) -> tuple[pd.Series, pd.DataFrame]:
        """The expected excess returns and covariance :meth:`allocate` would use at ``date``.

        Same arguments as :meth:`allocate` (no views); nothing is solved or recorded.

        Returns
        -------
        mu : Series, shape (n,)
            Annualised expected excess return per asset (NaN: unavailable, or an objective
            without expected returns).
        cov : DataFrame, shape (n, n)
            Annualised covariance (zero rows and columns for unavailable assets).

        Raises
        ------
        OptimizerError
            The inputs :meth:`allocate` would fall back on (look-ahead window, no data,
            non-finite estimates).
        """
        date = pd.Timestamp(date)
        self._check_window(date, returns_window)
        context = f"optimizer {self.name!r} on {date.date()}"
        inputs = self._inputs(returns_window, self._base(base_weights), None, regime_window,
                              current_regime, rf, context)
        mu = np.full(len(self.assets), np.nan) if inputs.mu is None else np.where(inputs.available, inputs.mu, np.nan)
        cov = inputs.factor @ inputs.factor.T
        return pd.Series(mu, index=self.assets), pd.DataFrame(cov, index=self.assets, columns=self.assets)

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
    installed = set(installed_solvers())
    missing = [s for s in cfg.solvers if s not in installed]
    if missing:
        raise ConfigError(
            f"{label}: solvers {missing} are not installed (have {sorted(installed)})"
        )
    return CvxAllocator(cfg, assets, name=name)
