"""Tests of backtest.optimizer: closed forms, constraints, solver agreement, DPP, fallbacks.

Expected numbers are derived independently (numpy linear algebra, scipy linprog), never
from the code under test.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.optimize import linprog

from backtest.errors import ConfigError, InfeasibleError, OptimizerError, SolverError
from backtest.optimizer import (
    BIG,
    Allocator,
    CvxAllocator,
    OptimizerConfig,
    build_problem,
    make_allocator,
    solve_problem,
)

N = 6
ASSETS = [f"A{i}" for i in range(N)]
DATE = pd.Timestamp("2021-06-30")
TOL = 1e-8


# ------------------------------------------------------------------------------ data
def _returns(seed: int = 0, t_rows: int = 252, n: int = N, drift: float = 4e-4) -> pd.DataFrame:
    """Daily returns with one common factor; index ends on DATE."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0, 0.008, size=(t_rows, 1))
    beta = rng.uniform(0.5, 1.5, size=(1, n))
    eps = rng.normal(0.0, 0.01, size=(t_rows, n)) * rng.uniform(0.5, 1.5, size=n)
    mu = drift * rng.uniform(-0.5, 2.0, size=n)
    idx = pd.bdate_range(end=DATE, periods=t_rows)
    cols = [f"A{i}" for i in range(n)]
    return pd.DataFrame(mu + market @ beta + eps, index=idx, columns=cols)


def _sigma_mu(rets: pd.DataFrame, rf: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Annualised sample covariance and excess mean (independent of the code under test)."""
    x = rets.to_numpy()
    return np.cov(x.T, ddof=1) * 252, x.mean(axis=0) * 252 - rf


def _random_spd(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.normal(size=(n, 2 * n)) * 0.1
    return a @ a.T / (2 * n) + np.diag(rng.uniform(0.01, 0.04, size=n))


def _cfg(**kw) -> OptimizerConfig:
    kw.setdefault("estimator", {"covariance": "sample", "window": 252, "min_obs": 60})
    return OptimizerConfig(**kw)


def _alloc(cfg: OptimizerConfig, assets: list[str] = ASSETS, name: str = "test") -> CvxAllocator:
    alloc = make_allocator(cfg, assets, name=name)
    assert isinstance(alloc, CvxAllocator)
    return alloc


def _solve_raw(cfg: OptimizerConfig, n: int, values: dict, groups=None) -> np.ndarray:
    compiled = build_problem(cfg, n, groups)
    return solve_problem(compiled, values).weights


# ---------------------------------------------------------------------- closed forms
def test_mean_variance_unconstrained_matches_closed_form():
    rng = np.random.default_rng(1)
    sigma = _random_spd(rng, 5)
    mu = rng.normal(0.05, 0.05, size=5)
    gamma = 3.0
    cfg = OptimizerConfig(
        objective="mean_variance", risk_aversion=gamma, budget="none", long_only=False
    )
    values = {
        "F": np.linalg.cholesky(sigma),
        "mu": mu,
        "lb": np.full(5, -BIG),
        "ub": np.full(5, BIG),
    }
    w = _solve_raw(cfg, 5, values)
    np.testing.assert_allclose(w, np.linalg.solve(sigma, mu) / gamma, rtol=1e-7, atol=1e-9)


def test_mean_variance_allocator_uses_annualised_sample_moments():
    rets = _returns(2)
    rf = 0.02
    cfg = _cfg(objective="mean_variance", risk_aversion=4.0, budget="none", long_only=False)
    w = _alloc(cfg).allocate(DATE, rets, rf=rf)
    sigma, mu = _sigma_mu(rets, rf)
    np.testing.assert_allclose(w.to_numpy(), np.linalg.solve(sigma, mu) / 4.0, rtol=1e-6)
    assert list(w.index) == ASSETS


def test_min_variance_budget_only_matches_closed_form():
    rets = _returns(3)
    w = _alloc(_cfg(objective="min_variance", long_only=False)).allocate(DATE, rets)
    sigma, _ = _sigma_mu(rets)
    inv_one = np.linalg.solve(sigma, np.ones(N))
    np.testing.assert_allclose(w.to_numpy(), inv_one / inv_one.sum(), rtol=1e-6, atol=1e-9)


def _risk_contributions(w: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return w * (sigma @ w)


def test_risk_parity_equal_risk_contributions():
    rets = _returns(4)
    w = _alloc(_cfg(objective="risk_parity")).allocate(DATE, rets).to_numpy()
    sigma, _ = _sigma_mu(rets)
    rc = _risk_contributions(w, sigma)
    np.testing.assert_allclose(rc / rc.mean(), np.ones(N), rtol=1e-6)
    assert abs(w.sum() - 1) < TOL and np.all(w > 0)


def test_risk_budgets_and_missing_asset():
    rets = _returns(5)
    rets["A5"] = np.nan  # not listed yet
    budgets = {"A0": 3.0, "A1": 1.0, "A2": 1.0, "A3": 2.0, "A4": 1.0, "A5": 1.0}
    w = _alloc(_cfg(objective="risk_parity", risk_budgets=budgets)).allocate(DATE, rets)
    assert w["A5"] == 0.0
    sigma, _ = _sigma_mu(rets[ASSETS[:5]])
    rc = _risk_contributions(w.to_numpy()[:5], sigma)
    b = np.array([3.0, 1.0, 1.0, 2.0, 1.0])
    np.testing.assert_allclose(rc / rc.sum(), b / b.sum(), rtol=1e-6)


def _cvar_linprog(r: np.ndarray, alpha: float, ub: float) -> tuple[np.ndarray, float]:
    """Rockafellar–Uryasev LP solved by HiGHS: x = [w (n), zeta, u (T)]."""
    t_rows, n = r.shape
    c = np.concatenate([np.zeros(n), [1.0], np.full(t_rows, 1.0 / ((1 - alpha) * t_rows))])
    a_ub = np.hstack([-r, -np.ones((t_rows, 1)), -np.eye(t_rows)])  # -r w - zeta - u <= 0
    a_eq = np.concatenate([np.ones(n), [0.0], np.zeros(t_rows)])[None, :]
    bounds = [(0.0, ub)] * n + [(None, None)] + [(0.0, None)] * t_rows
    res = linprog(
        c, A_ub=a_ub, b_ub=np.zeros(t_rows), A_eq=a_eq, b_eq=[1.0], bounds=bounds, method="highs"
    )
    assert res.status == 0
    return res.x[:n], res.fun


def test_min_cvar_matches_linprog():
    rets = _returns(6, t_rows=200)
    cfg = _cfg(objective="min_cvar", cvar_alpha=0.9, bounds={"upper": 0.4})
    alloc = _alloc(cfg)
    w = alloc.allocate(DATE, rets).to_numpy()
    w_ref, cvar_ref = _cvar_linprog(rets.to_numpy(), 0.9, 0.4)
    assert alloc.compiled.problem.value == pytest.approx(cvar_ref, rel=1e-8, abs=1e-10)
    np.testing.assert_allclose(w, w_ref, atol=1e-6)


# ------------------------------------------------------------------ constraints hold
def test_active_bounds_groups_turnover_hold():
    rets = _returns(7)
    prev = pd.Series([0.2, 0.2, 0.2, 0.05, 0.2, 0.15], index=ASSETS)
    cfg = _cfg(
        objective="mean_variance",
        risk_aversion=1.0,
        bounds={"lower": 0.02, "upper": 0.35, "assets": {"A3": {"max": 0.05}}},
        groups={
            "g01": {"assets": ["A0", "A1"], "max": 0.4},
            "g45": {"assets": ["A4", "A5"], "min": 0.25},
        },
        turnover_limit=0.3,
        turnover_penalty="5bps",
    )
    alloc = _alloc(cfg)
    w = alloc.allocate(DATE, rets, prev_weights=prev).to_numpy()
    assert alloc.fallbacks == []
    lb = np.full(N, 0.02)
    ub = np.array([0.35, 0.35, 0.35, 0.05, 0.35, 0.35])
    assert np.all(w >= lb - TOL) and np.all(w <= ub + TOL)
    assert np.abs(w - ub).min() < 1e-9  # an upper bound binds
    assert abs(w.sum() - 1.0) < TOL
    assert w[0] + w[1] <= 0.4 + TOL
    assert w[4] + w[5] >= 0.25 - TOL
    turnover = np.abs(w - prev.to_numpy()).sum()
    assert turnover <= 0.3 + TOL
    assert turnover == pytest.approx(0.3, abs=1e-6)  # the limit binds


def test_active_group_bounds_hold():
    rets = _returns(7)
    cfg = _cfg(
        objective="mean_variance",
        risk_aversion=1.0,
        bounds={"lower": 0.02, "upper": 0.35},
        groups={
            "g01": {"assets": ["A0", "A1"], "max": 0.3},
            "g45": {"assets": ["A4", "A5"], "min": 0.4},
        },
    )
    w = _alloc(cfg).allocate(DATE, rets).to_numpy()
    assert w[0] + w[1] <= 0.3 + TOL and w[0] + w[1] == pytest.approx(0.3, abs=1e-7)
    assert w[4] + w[5] >= 0.4 - TOL and w[4] + w[5] == pytest.approx(0.4, abs=1e-7)
    assert np.all(w >= 0.02 - TOL) and np.all(w <= 0.35 + TOL) and abs(w.sum() - 1) < TOL
    assert np.abs(w - 0.02).min() < 1e-9  # a lower bound binds


def test_gross_leverage_cap_holds_for_signed_weights():
    rets = _returns(8)
    cfg = _cfg(
        objective="mean_variance",
        risk_aversion=0.5,
        long_only=False,
        max_gross_leverage=1.5,
        bounds={"lower": -1.0, "upper": 1.0},
    )
    w = _alloc(cfg).allocate(DATE, rets).to_numpy()
    assert np.abs(w).sum() <= 1.5 + TOL
    assert np.abs(w).sum() == pytest.approx(1.5, abs=1e-6)
    assert abs(w.sum() - 1.0) < TOL and w.min() < 0


def test_cash_budget_and_missing_asset_zero():
    rets = _returns(9)
    rets["A2"] = np.nan
    cfg = _cfg(objective="mean_variance", budget="cash", risk_aversion=50.0)
    alloc = _alloc(cfg)
    w = alloc.allocate(DATE, rets.drop(columns=["A4"]))  # A4 absent from the frame
    assert w["A2"] == 0.0 and w["A4"] == 0.0
    assert w.sum() <= 1.0 + TOL and w.min() >= -TOL
    assert alloc.fallbacks == []


def test_tracking_error_cap_binds():
    rets = _returns(10)
    bench = pd.Series(1.0 / N, index=ASSETS)
    cap = 0.02
    cfg = _cfg(objective="tracking_error", te_cap=cap)
    w = _alloc(cfg).allocate(DATE, rets, base_weights=bench).to_numpy()
    sigma, _ = _sigma_mu(rets)
    active = w - bench.to_numpy()
    te = np.sqrt(active @ sigma @ active)
    assert te <= cap + 1e-8
    assert te == pytest.approx(cap, rel=1e-6)


def test_mean_variance_with_te_constraint():
    rets = _returns(11)
    bench = pd.Series([0.3, 0.3, 0.1, 0.1, 0.1, 0.1], index=ASSETS)
    cfg = _cfg(objective="mean_variance", risk_aversion=0.1, te_cap=0.01)
    w = _alloc(cfg).allocate(DATE, rets, base_weights=bench).to_numpy()
    sigma, _ = _sigma_mu(rets)
    active = w - bench.to_numpy()
    assert np.sqrt(active @ sigma @ active) <= 0.01 + 1e-8


def test_te_cap_against_fixed_base_weights_not_the_anchor():
    # te_benchmark: base_weights -> the cap is measured against config.base_weights (a fixed
    # 60/40-style benchmark) while the anchor passed by the caller stays the prior/fallback.
    rets = _returns(13)
    fixed = {ASSETS[0]: 0.6, ASSETS[1]: 0.4}
    anchor = pd.Series([0.1, 0.1, 0.2, 0.2, 0.2, 0.2], index=ASSETS)
    cap = 0.015
    cfg = _cfg(objective="mean_variance", risk_aversion=0.5, te_cap=cap, te_benchmark="base_weights",
               base_weights=fixed)
    w = _alloc(cfg).allocate(DATE, rets, base_weights=anchor).to_numpy()
    sigma, _ = _sigma_mu(rets)
    b = np.array([fixed.get(a, 0.0) for a in ASSETS])
    te_fixed = np.sqrt((w - b) @ sigma @ (w - b))
    assert te_fixed <= cap + 1e-8
    # with the default (anchor) the same cap is measured around the anchor instead
    w2 = _alloc(_cfg(objective="mean_variance", risk_aversion=0.5, te_cap=cap)).allocate(
        DATE, rets, base_weights=anchor).to_numpy()
    a = anchor.to_numpy()
    assert np.sqrt((w2 - a) @ sigma @ (w2 - a)) <= cap + 1e-8
    assert np.sqrt((w2 - b) @ sigma @ (w2 - b)) > cap + 1e-4  # the anchor is far from 60/40
    with pytest.raises(ValueError, match="te_benchmark base_weights needs base_weights"):
        OptimizerConfig(te_cap=0.02, te_benchmark="base_weights")
    with pytest.raises(ValueError, match="te_benchmark base_weights needs te_cap"):
        OptimizerConfig(te_benchmark="base_weights", base_weights=fixed)


def test_max_sharpe_matches_tangency_closed_form():
    # Signed weights, budget only: w ∝ Σ⁻¹(μ − rf) when 1ᵀΣ⁻¹(μ − rf) > 0.
    rng = np.random.default_rng(12)
    sigma = _random_spd(rng, 5)
    mu = np.array([0.08, 0.06, 0.05, 0.03, 0.07])
    cfg = OptimizerConfig(objective="max_sharpe", long_only=False)
    values = {
        "F": np.linalg.cholesky(sigma),
        "mu": mu,
        "lb": np.full(5, -BIG),
        "ub": np.full(5, BIG),
    }
    w = _solve_raw(cfg, 5, values)
    ref = np.linalg.solve(sigma, mu)
    assert ref.sum() > 0
    np.testing.assert_allclose(w, ref / ref.sum(), rtol=1e-6, atol=1e-8)


def test_max_sharpe_long_only_bounds_homogenised():
    rets = _returns(13, drift=8e-4)
    cfg = _cfg(objective="max_sharpe", bounds={"upper": 0.3})
    w = _alloc(cfg).allocate(DATE, rets).to_numpy()
    assert abs(w.sum() - 1) < TOL and w.min() >= -TOL and w.max() <= 0.3 + TOL
    # no feasible perturbation improves the Sharpe ratio
    sigma, mu = _sigma_mu(rets)
    sharpe = mu @ w / np.sqrt(w @ sigma @ w)
    rng = np.random.default_rng(0)
    for _ in range(200):
        d = rng.normal(size=N) * 1e-3
        d -= d.mean()
        v = np.clip(w + d, 0, 0.3)
        v /= v.sum()
        if v.max() <= 0.3:
            assert mu @ v / np.sqrt(v @ sigma @ v) <= sharpe + 1e-9


def test_views_black_litterman_enter_mu():
    rets = _returns(14)
    views = pd.Series({"A0": 0.20, "A3": -0.05})
    cfg = _cfg(
        objective="mean_variance",
        budget="none",
        long_only=False,
        risk_aversion=2.0,
        estimator={"covariance": "sample", "bl_tau": 0.1, "view_uncertainty": 0.01},
    )
    w = _alloc(cfg).allocate(DATE, rets, views=views).to_numpy()
    sigma, pi = _sigma_mu(rets)
    p = np.zeros((2, N))
    p[0, 0] = p[1, 3] = 1.0
    q = np.array([0.20, -0.05])
    ts_inv = np.linalg.inv(0.1 * sigma)
    o_inv = np.eye(2) / 0.01
    post = np.linalg.solve(ts_inv + p.T @ o_inv @ p, ts_inv @ pi + p.T @ o_inv @ q)
    np.testing.assert_allclose(w, np.linalg.solve(sigma, post) / 2.0, rtol=1e-6)


def test_regime_mean_path_uses_regime_rows():
    rets = _returns(15)
    labels = pd.Series(np.where(np.arange(len(rets)) % 3 == 0, "QE", "QT"), index=rets.index)
    cfg = _cfg(
        objective="mean_variance",
        budget="none",
        long_only=False,
        estimator={"covariance": "sample", "mean": "regime", "regime_k": 20},
    )
    w = _alloc(cfg).allocate(DATE, rets, regime_window=labels, current_regime="QE")
    sigma, _ = _sigma_mu(rets)
    x = rets.to_numpy()
    mask = (labels == "QE").to_numpy()
    lam = mask.sum() / (mask.sum() + 20)
    mu = 252 * (lam * x[mask].mean(axis=0) + (1 - lam) * x.mean(axis=0))
    np.testing.assert_allclose(w.to_numpy(), np.linalg.solve(sigma, mu) / 5.0, rtol=1e-6)


# ------------------------------------------------------------------- solver agreement
def _agreement_cases():
    return [
        {"objective": "min_variance", "bounds": {"upper": 0.3}},
        {
            "objective": "mean_variance",
            "risk_aversion": 2.0,
            "bounds": {"lower": 0.02, "upper": 0.4},
            "groups": {"g": {"assets": ["A0", "A1", "A2"], "max": 0.5}},
            "turnover_penalty": 0.002,
            "turnover_limit": 0.6,
        },
        {"objective": "max_sharpe", "bounds": {"upper": 0.35}},
        {"objective": "mean_variance", "long_only": False, "max_gross_leverage": 1.6},
    ]


@pytest.mark.parametrize("case", _agreement_cases(), ids=lambda c: c["objective"])
def test_clarabel_and_osqp_agree(case):
    rets = _returns(16, drift=8e-4)
    prev = pd.Series(1.0 / N, index=ASSETS)
    out = {}
    for solver in ("CLARABEL", "OSQP"):
        alloc = _alloc(_cfg(**case, solvers=[solver]))
        assert alloc.compiled.solvers == (solver,)
        out[solver] = alloc.allocate(DATE, rets, prev_weights=prev).to_numpy()
        assert alloc.fallbacks == []
    np.testing.assert_allclose(out["CLARABEL"], out["OSQP"], atol=1e-5)


def test_solver_chain_filtered_by_problem_class():
    assert _alloc(_cfg(objective="risk_parity")).compiled.solvers == ("CLARABEL", "SCS")
    te = _alloc(_cfg(objective="tracking_error", te_cap=0.02))
    assert te.compiled.solvers == ("CLARABEL", "SCS")
    cvar = _alloc(_cfg(objective="min_cvar", solvers=["OSQP", "HIGHS", "CLARABEL"]))
    assert cvar.compiled.solvers == ("HIGHS", "CLARABEL")


def test_min_cvar_highs_matches_clarabel():
    rets = _returns(17, t_rows=150)
    out = [
        _alloc(_cfg(objective="min_cvar", bounds={"upper": 0.4}, solvers=[s]))
        .allocate(DATE, rets)
        .to_numpy()
        for s in ("CLARABEL", "HIGHS")
    ]
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)


# ----------------------------------------------------------------------- DPP / purity
_DPP_CASES = [
    {"objective": "mean_variance", "turnover_penalty": 0.001, "turnover_limit": 0.5},
    {"objective": "min_variance", "te_cap": 0.05},
    {
        "objective": "max_sharpe",
        "turnover_limit": 0.8,
        "groups": {"g": {"assets": ["A0"], "max": 0.2}},
    },
    {"objective": "risk_parity"},
    {"objective": "min_cvar", "estimator": {"window": 100, "min_obs": 60}},
    {"objective": "tracking_error", "te_cap": 0.03, "active_risk_aversion": 1.0},
]


@pytest.mark.parametrize("case", _DPP_CASES, ids=lambda c: c["objective"])
def test_problem_is_dpp_and_resolve_equals_fresh(case):
    cfg = OptimizerConfig(**case)
    rets_a = _returns(21, drift=1.5e-3)
    rets_b = _returns(22, drift=1.5e-3)
    prev = pd.Series(1.0 / N, index=ASSETS)
    alloc = _alloc(cfg)
    assert alloc.compiled.problem.is_dpp()
    first_a = alloc.allocate(DATE, rets_a, prev_weights=prev)
    reused_b = alloc.allocate(DATE, rets_b, prev_weights=prev)
    again_a = alloc.allocate(DATE, rets_a, prev_weights=prev)
    fresh_b = _alloc(cfg).allocate(DATE, rets_b, prev_weights=prev)
    np.testing.assert_allclose(reused_b, fresh_b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(first_a, again_a, rtol=0, atol=1e-12)
    assert not np.allclose(first_a, reused_b, atol=1e-4)
    assert alloc.fallbacks == []


# --------------------------------------------------------------------------- fallbacks
def _prev() -> pd.Series:
    return pd.Series([0.25, 0.25, 0.2, 0.1, 0.1, 0.1], index=ASSETS)


def test_precheck_infeasible_bounds_fallback_previous():
    cfg = _cfg(objective="min_variance", bounds={"upper": 0.1}, fallback="previous")
    alloc = _alloc(cfg, name="rmp_tilt")
    w = alloc.allocate(DATE, _returns(30), prev_weights=_prev())
    pd.testing.assert_series_equal(w, _prev())
    (rec,) = alloc.fallbacks
    assert rec["date"] == DATE and rec["strategy"] == "rmp_tilt"
    assert rec["action"] == "previous" and rec["solver_status"] == "infeasible"
    assert "sum of upper bounds" in rec["reason"]
    frame = alloc.fallback_frame()
    assert list(frame.columns) == ["date", "strategy", "reason", "action", "solver_status"]
    assert len(frame) == 1


def test_precheck_infeasible_raise_one_line():
    cfg = _cfg(objective="min_variance", bounds={"lower": 0.2}, fallback="raise")
    alloc = _alloc(cfg, name="s")
    with pytest.raises(InfeasibleError) as info:
        alloc.allocate(DATE, _returns(31))
    msg = str(info.value)
    assert "\n" not in msg and "sum of lower bounds" in msg and "2021-06-30" in msg


def test_group_precheck_names_group():
    cfg = _cfg(groups={"short_vol": {"assets": ["A0", "A1"], "min": 0.5}}, bounds={"upper": 0.2})
    alloc = _alloc(_cfg(**{**cfg.model_dump(), "fallback": "raise"}))
    with pytest.raises(InfeasibleError, match="short_vol"):
        alloc.allocate(DATE, _returns(32))


def test_solver_reported_infeasible_fallback_base():
    # prev holds 0.5 in A0 but A0 is capped at 0.2 and turnover is capped at 0.1.
    prev = pd.Series([0.5, 0.1, 0.1, 0.1, 0.1, 0.1], index=ASSETS)
    base = pd.Series(1.0 / N, index=ASSETS)
    cfg = _cfg(
        objective="min_variance",
        bounds={"assets": {"A0": {"max": 0.2}}},
        turnover_limit=0.1,
        fallback="base",
    )
    alloc = _alloc(cfg)
    w = alloc.allocate(DATE, _returns(33), prev_weights=prev, base_weights=base)
    pd.testing.assert_series_equal(w, base)
    (rec,) = alloc.fallbacks
    assert rec["action"] == "base" and rec["solver_status"] == "infeasible"
    assert "CLARABEL: infeasible" in rec["reason"]
    with pytest.raises(InfeasibleError):
        _alloc(_cfg(**{**cfg.model_dump(), "fallback": "raise"})).allocate(
            DATE, _returns(33), prev_weights=prev
        )


def test_forced_solver_failure(monkeypatch):
    alloc = _alloc(_cfg(objective="min_variance", fallback="base", base_weights={"A0": 1.0}))

    def broken(*args, **kwargs):
        raise cp.SolverError("forced failure")

    monkeypatch.setattr(alloc.compiled.problem, "solve", broken)
    w = alloc.allocate(DATE, _returns(34))
    assert w["A0"] == 1.0 and w.drop("A0").eq(0.0).all()
    (rec,) = alloc.fallbacks
    assert rec["solver_status"] == "solver_error" and rec["action"] == "base"
    assert "CLARABEL" in rec["reason"] and "OSQP" in rec["reason"] and "SCS" in rec["reason"]

    raising = _alloc(_cfg(objective="min_variance", fallback="raise"))
    monkeypatch.setattr(raising.compiled.problem, "solve", broken)
    with pytest.raises(SolverError) as info:
        raising.allocate(DATE, _returns(34))
    assert "\n" not in str(info.value)


def test_solver_chain_falls_through_and_records():
    # CLARABEL stopped after 2 iterations -> user_limit; OSQP solves; recorded.
    cfg = _cfg(objective="min_variance", solver_options={"clarabel": {"max_iter": 2}})
    alloc = _alloc(cfg)
    w = alloc.allocate(DATE, _returns(35))
    ref = _alloc(_cfg(objective="min_variance")).allocate(DATE, _returns(35))
    np.testing.assert_allclose(w, ref, atol=1e-6)
    (rec,) = alloc.fallbacks
    assert rec["action"] == "solver OSQP" and "CLARABEL: user_limit" in rec["reason"]
    assert rec["solver_status"] == "optimal"


def test_optimal_inaccurate_is_accepted_and_recorded(monkeypatch):
    alloc = _alloc(_cfg(objective="min_variance"))
    problem = alloc.compiled.problem
    real_solve = problem.solve

    def inaccurate(*args, **kwargs):
        out = real_solve(*args, **kwargs)
        problem._status = cp.OPTIMAL_INACCURATE  # as if the solver stopped at reduced tol
        return out

    monkeypatch.setattr(problem, "solve", inaccurate)
    w = alloc.allocate(DATE, _returns(35))
    ref = _alloc(_cfg(objective="min_variance")).allocate(DATE, _returns(35))
    pd.testing.assert_series_equal(w, ref)
    (rec,) = alloc.fallbacks
    assert rec["action"] == "accepted CLARABEL" and rec["solver_status"] == "optimal_inaccurate"


def test_nan_inside_window_fallback_and_raise():
    rets = _returns(36)
    rets.iloc[100, 2] = np.nan  # a gap, not a late listing
    alloc = _alloc(_cfg(fallback="previous"))
    w = alloc.allocate(DATE, rets, prev_weights=_prev())
    pd.testing.assert_series_equal(w, _prev())
    (rec,) = alloc.fallbacks
    assert "A2" in rec["reason"] and rec["solver_status"] == "bad_input"
    with pytest.raises(OptimizerError, match="A2"):
        _alloc(_cfg(fallback="raise")).allocate(DATE, rets)


def test_inf_return_names_asset():
    rets = _returns(37)
    rets.iloc[-1, 4] = np.inf
    with pytest.raises(OptimizerError, match="A4"):
        _alloc(_cfg(fallback="raise")).allocate(DATE, rets)


def test_max_sharpe_without_positive_excess_return():
    rets = _returns(38) - 0.01
    alloc = _alloc(_cfg(objective="max_sharpe", fallback="previous"))
    w = alloc.allocate(DATE, rets)  # no prev -> base -> equal weight
    np.testing.assert_allclose(w.to_numpy(), np.full(N, 1.0 / N))
    (rec,) = alloc.fallbacks
    assert rec["action"] == "equal_weight" and "positive expected excess" in rec["reason"]
    with pytest.raises(InfeasibleError):
        _alloc(_cfg(objective="max_sharpe", fallback="raise")).allocate(DATE, rets)


def test_fallback_zeroes_unavailable_assets():
    rets = _returns(39)
    rets["A5"] = np.nan
    cfg = _cfg(objective="min_variance", bounds={"upper": 0.1}, fallback="base")
    w = _alloc(cfg).allocate(DATE, rets, base_weights=pd.Series(1.0 / N, index=ASSETS))
    assert w["A5"] == 0.0 and w.sum() == pytest.approx(1.0)


def test_look_ahead_window_rejected():
    rets = _returns(40)
    with pytest.raises(OptimizerError, match="look-ahead"):
        _alloc(_cfg()).allocate(DATE - pd.Timedelta(days=5), rets)


# ------------------------------------------------------------------------------ config
def test_config_parsing_and_validation():
    cfg = OptimizerConfig.model_validate(
        {"turnover_penalty": "10bps", "solvers": ["osqp", "clarabel"]}
    )
    assert cfg.turnover_penalty == pytest.approx(0.001)
    assert cfg.solvers == ["OSQP", "CLARABEL"]
    with pytest.raises(ValidationError):
        OptimizerConfig.model_validate({"objective": "min_variance", "riskaversion": 1})
    with pytest.raises(ValidationError, match="te_cap"):
        OptimizerConfig(objective="tracking_error")
    with pytest.raises(ValidationError, match="risk_parity"):
        OptimizerConfig(objective="risk_parity", turnover_limit=0.2)
    with pytest.raises(ValidationError):
        OptimizerConfig(estimator={"covariance": "shrunk"})


def test_make_allocator_validates_assets():
    with pytest.raises(ConfigError, match="groups.vol"):
        make_allocator(OptimizerConfig(groups={"vol": {"assets": ["XX"], "max": 0.1}}), ASSETS)
    with pytest.raises(ConfigError, match="not installed"):
        make_allocator(OptimizerConfig(solvers=["NOPE"]), ASSETS)
    with pytest.raises(ConfigError, match="lower bound > upper bound"):
        make_allocator(
            OptimizerConfig(bounds={"lower": 0.2, "assets": {"A1": {"max": 0.1}}}), ASSETS
        )
    alloc = make_allocator(OptimizerConfig(), ASSETS)
    assert isinstance(alloc, Allocator)
