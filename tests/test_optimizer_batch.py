"""The batched optimizer (backtest.optimizer.batch) against cvxpy and the run path.

* 50 random feasible mean-variance instances (bounds, gross cap, TE cap, turnover
  penalty, budget none/cash): weights within 1e-5 of cvxpy/CLARABEL, objective within 1e-7;
* an infeasible tracking-error cap is not taken by the barrier method, and the batch gives
  the allocator's fallback (base weights);
* the window estimators equal :mod:`backtest.estimators`;
* :func:`optimise_batch` on a small synthetic batch equals the allocator called decision by
  decision on each path (late listing, turnover chain, rf), and a path's weights do not
  depend on the other paths of its batch;
* on the sample market: the quickstart's ``my_rules_te`` and two ``optimized`` strategies, and
  on real data (skipped without it) ``playbook_opt`` / ``playbook_opt_6040``: the batch form
  equals the strategy's own ``weights()`` on scenario paths at every decision date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest import estimators as est
from backtest.optimizer import OptimizerConfig
from backtest.optimizer.allocator import make_allocator
from backtest.optimizer.batch import (
    OK,
    check_supported,
    mv_objective,
    optimise_batch,
    solve_mean_variance,
)
from backtest.optimizer.batch_estimators import (
    COV_LEDOIT_WOLF,
    COV_SAMPLE,
    window_availability,
    window_covariance,
    window_mean,
)
from backtest.optimizer.problem import build_problem
from backtest.optimizer.solve import solve_problem
from strategies.base import Unsupported
from tests.test_batch_strategies import FakeBatch


def random_instance(rng: np.random.Generator) -> dict:
    """A feasible instance: the benchmark lies inside the box and the gross cap."""
    n = int(rng.integers(3, 13))
    f = rng.normal(0, 1, (n, n)) * rng.uniform(0.02, 0.2, n)[:, None] / np.sqrt(n)
    cov = f @ f.T + np.diag(rng.uniform(1e-4, 4e-2, n))
    lb = np.where(rng.random(n) < 0.5, 0.0, -0.3)
    ub = np.full(n, 0.7)
    cash = bool(rng.random() < 0.3)
    b = np.clip(rng.dirichlet(np.ones(n)) * rng.uniform(0.8, 1.3), lb, ub)
    if cash and b.sum() >= 0.99:
        b = b * 0.9 / b.sum()
    return {"S": cov, "mu": rng.normal(0.04, 0.08, n), "lb": lb, "ub": ub,
            "wp": np.clip(b + rng.normal(0, 0.05, n), lb, ub), "kappa": float(rng.choice([0.0, 5e-4, 0.01])),
            "b": b, "te": float(rng.uniform(0.01, 0.06)), "L": float(rng.uniform(1.3, 2.0)), "cash": cash,
            "ra": float(rng.uniform(2, 10))}


def cvxpy_weights(d: dict) -> np.ndarray:
    """The allocator's compiled problem for the instance, solved by CLARABEL."""
    n = len(d["mu"])
    cfg = OptimizerConfig(objective="mean_variance", risk_aversion=d["ra"], te_cap=d["te"], long_only=False,
                          budget="cash" if d["cash"] else "none", max_gross_leverage=d["L"],
                          turnover_penalty=1e-4, solvers=["CLARABEL"])
    f = np.linalg.cholesky(d["S"])
    values = {"F": f, "lb": d["lb"], "ub": d["ub"], "mu": d["mu"], "w_prev": d["wp"], "kappa": d["kappa"],
              "bench_f": f.T @ d["b"]}
    return np.clip(solve_problem(build_problem(cfg, n), values).weights, d["lb"], d["ub"])


def solve(d: dict) -> tuple[int, np.ndarray]:
    w = np.full(len(d["mu"]), np.nan)
    st = solve_mean_variance(d["S"], d["mu"], d["lb"], d["ub"], d["wp"], d["kappa"], d["b"], d["te"], d["L"], d["cash"], d["ra"], w)
    return st, w


def test_random_instances_match_cvxpy():
    rng = np.random.default_rng(12)
    active_te = 0
    for _ in range(50):
        d = random_instance(rng)
        ref = cvxpy_weights(d)
        st, w = solve(d)
        assert st == OK
        np.testing.assert_allclose(w, ref, atol=1e-5, rtol=0)
        ours = mv_objective(w, d["S"], d["mu"], d["ra"], d["kappa"], d["wp"])
        theirs = mv_objective(ref, d["S"], d["mu"], d["ra"], d["kappa"], d["wp"])
        assert abs(ours - theirs) <= 1e-7 * abs(theirs)
        te = np.sqrt((w - d["b"]) @ d["S"] @ (w - d["b"]))
        assert te <= d["te"] * (1 + 1e-7) and np.abs(w).sum() <= d["L"] * (1 + 1e-9)
        active_te += te > d["te"] * (1 - 1e-4)
    assert active_te >= 10  # the TE cap binds in a good share of the instances


def test_tracking_error_full_budget_instances_match_cvxpy():
    """objective tracking_error (−μᵀw + ½γ_a·active variance), budget full, long only."""
    rng = np.random.default_rng(5)
    solved = 0
    for _ in range(30):
        d = random_instance(rng)
        n = len(d["mu"])
        d.update(lb=np.zeros(n), ub=np.full(n, 0.6), L=float(rng.choice([0.0, 1.5])), ra_a=float(rng.choice([0.0, 3.0])))
        d["b"] = np.clip(rng.dirichlet(np.ones(n)), 0, 0.6)
        d["b"] /= d["b"].sum()
        w = np.full(n, np.nan)
        st = solve_mean_variance(d["S"], d["mu"], d["lb"], d["ub"], d["wp"], d["kappa"], d["b"], d["te"], d["L"],
                                 False, 0.0, w, True, d["ra_a"])
        if st != OK:  # no strictly feasible start found: the batch hands it to the allocator
            continue
        solved += 1
        cfg = OptimizerConfig(objective="tracking_error", te_cap=d["te"], active_risk_aversion=d["ra_a"],
                              budget="full", max_gross_leverage=d["L"] or None, turnover_penalty=1e-4,
                              solvers=["CLARABEL"])
        f = np.linalg.cholesky(d["S"])
        values = {"F": f, "lb": d["lb"], "ub": d["ub"], "mu": d["mu"], "w_prev": d["wp"], "kappa": d["kappa"],
                  "bench_f": f.T @ d["b"]}
        ref = np.clip(solve_problem(build_problem(cfg, n), values).weights, d["lb"], d["ub"])
        np.testing.assert_allclose(w, ref, atol=1e-5, rtol=0)
        assert abs(w.sum() - 1.0) <= 1e-9
        args = (d["S"], d["mu"], 0.0, d["kappa"], d["wp"], d["b"], d["ra_a"])
        assert abs(mv_objective(w, *args) - mv_objective(ref, *args)) <= 1e-7 * abs(mv_objective(ref, *args))
    assert solved >= 25


def test_infeasible_te_cap_is_left_to_the_allocator():
    d = random_instance(np.random.default_rng(3))
    d["b"] = d["b"].copy()
    d["b"][0] = 1.5  # far above the upper bound 0.7 ...
    d["te"] = 1e-3  # ... with a tiny TE budget: no feasible point
    assert solve(d)[0] != OK


def test_window_estimators_equal_the_estimators_module():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0004, 0.01, (120, 5))
    x[:50, 3] = np.nan  # listed late: 70 valid rows
    x[:80, 4] = np.nan  # 40 valid rows < min_obs 60
    avail = np.zeros(5, dtype=bool)
    start = window_availability(x, 60, avail)
    assert avail.tolist() == [True, True, True, True, False] and start == 50
    rows = np.ascontiguousarray(x[start:, avail])
    out = np.empty((4, 4))
    window_covariance(rows, COV_LEDOIT_WOLF, out)
    np.testing.assert_allclose(out, est.ledoit_wolf_covariance(rows)[0] * 252, rtol=1e-12)
    window_covariance(rows, COV_SAMPLE, out)
    np.testing.assert_allclose(out, est.sample_covariance(rows) * 252, rtol=1e-12)
    mu = np.empty(4)
    window_mean(rows, 0.8, np.zeros(4), True, 0.02, mu)
    sample = rows.mean(axis=0) * 252
    np.testing.assert_allclose(mu, 0.2 * sample + 0.8 * sample.mean() - 0.02, rtol=1e-12)


# ------------------------------------------------------------------ batch vs run path
ASSETS = ["SPY", "IEF", "GLD", "QQQ", "TLT"]
BLOCK = {"objective": "mean_variance", "risk_aversion": 8, "te_cap": 0.03, "long_only": False,
         "bounds": {"lower": -0.3, "upper": 0.7, "assets": {"GLD": {"min": 0}, "QQQ": {"min": 0}}},
         "budget": "none", "max_gross_leverage": 1.6, "turnover_penalty": "5bps",
         "estimator": {"covariance": "ledoit_wolf", "window": 120, "min_obs": 60, "mean": "trailing",
                       "shrinkage": 0.8}, "fallback": "base"}


def fake_batch(paths: int, seed: int = 0, shared: int = 0) -> tuple[FakeBatch, np.ndarray]:
    """Prices of ``paths`` paths (QQQ listed on day 100), decisions every 20 days from day 130.

    The first ``shared`` days are the same on every path (a common history).
    """
    rng = np.random.default_rng(seed)
    days = 330
    vol = np.array([0.012, 0.004, 0.009, 0.015, 0.008])
    rets = rng.normal(0.0003, 1.0, (days, paths, len(ASSETS))) * vol
    rets[:shared] = rets[:shared, :1]
    px = 100 * np.cumprod(1 + rets, axis=0)
    px[:100, :, 3] = np.nan
    rows = np.arange(130, days, 20)
    rate = 4.0 + np.cumsum(rng.normal(0, 0.01, (days, paths)), axis=0)
    rate[:shared] = rate[:shared, :1]
    fb = FakeBatch(rows, np.full((len(rows), paths), "rmp"), signals={"cash_rate": rate},
                   prices={a: px[:, :, j] for j, a in enumerate(ASSETS)})
    anchors = np.tile([0.6, 0.4, 0.0, 0.0, 0.0], (len(rows), paths, 1))
    anchors[:, :, 2] = rng.choice([0.0, 0.05], size=(len(rows), paths))  # a tilt switching on and off
    anchors[rows < shared, :, 2] = anchors[rows < shared, :1, 2]
    anchors[:, :, 3] = np.where(rows[:, None] >= 160, 0.05, 0.0)
    anchors[:, :, 0] -= anchors[:, :, 3]
    return fb, anchors


def run_path(cfg: OptimizerConfig, fb: FakeBatch, anchors: np.ndarray, p: int) -> np.ndarray:
    """What ``RegimeRules._optimise`` does on path ``p``: the allocator at each decision."""
    alloc = make_allocator(cfg, ASSETS, name="ref")
    px = pd.DataFrame({a: fb.px[a][:, p] for a in ASSETS})
    rets = px.pct_change(fill_method=None)
    rf = fb.sig["cash_rate"][:, p] / 100.0
    out, prev = [], None
    for k, r in enumerate(fb.rows):
        lo = max(r - cfg.estimator.window + 1, 0)
        w = alloc.allocate(fb.dates[k], rets.iloc[lo:r + 1], prev_weights=prev,
                           base_weights=pd.Series(anchors[k, p], index=ASSETS), rf=float(rf[r]))
        out.append(w.reindex(ASSETS).to_numpy())
        prev = w
    return np.array(out)


@pytest.mark.parametrize("variant", ["anchor", "base_weights"])
def test_optimise_batch_equals_the_allocator_on_each_path(variant):
    block = dict(BLOCK)
    if variant == "base_weights":
        block.update(te_benchmark="base_weights", base_weights={"SPY": 0.6, "IEF": 0.4})
    cfg = OptimizerConfig.model_validate(block)
    fb, anchors = fake_batch(3)
    w = optimise_batch(cfg, ASSETS, anchors, fb)
    assert w.shape == (len(fb.rows), 3, len(ASSETS))
    for p in range(3):
        np.testing.assert_allclose(w[:, p], run_path(cfg, fb, anchors, p), atol=1e-5, rtol=0)
    assert (w[fb.rows < 160, :, 3] == 0).all()  # QQQ: fewer than min_obs returns -> weight 0
    assert (np.abs(w[fb.rows >= 190, :, 3]) > 0).any()


def test_infeasible_decisions_get_the_allocator_fallback():
    block = {**BLOCK, "te_cap": 1e-4, "bounds": {"lower": -0.3, "upper": 0.5}}  # anchor SPY 0.6 > 0.5
    cfg = OptimizerConfig.model_validate(block)
    fb, anchors = fake_batch(2, seed=4)
    w = optimise_batch(cfg, ASSETS, anchors, fb)
    np.testing.assert_allclose(w[:, 0], run_path(cfg, fb, anchors, 0), atol=1e-12)
    listed = np.isfinite(np.array([fb.px[a][fb.rows, 0] for a in ASSETS]).T)
    assert np.allclose(w[-1, 0], anchors[-1, 0] * listed[-1])  # fallback: base (the anchor)


@pytest.mark.parametrize("shared", [0, 140])
def test_a_path_does_not_depend_on_its_batch(shared):
    cfg = OptimizerConfig.model_validate(BLOCK)
    fb, anchors = fake_batch(4, seed=9, shared=shared)  # shared: the first decision is solved once
    w = optimise_batch(cfg, ASSETS, anchors, fb)
    for p in (0, 2):
        one = FakeBatch(fb.rows, fb.regime[:, p:p + 1], signals={"cash_rate": fb.sig["cash_rate"][:, p:p + 1]},
                        prices={a: v[:, p:p + 1] for a, v in fb.px.items()})
        assert np.array_equal(optimise_batch(cfg, ASSETS, anchors[:, p:p + 1], one)[:, 0], w[:, p])
    assert np.array_equal(w[0, 0], w[0, 3]) == bool(shared)


@pytest.mark.parametrize("change", [{"objective": "min_variance"}, {"objective": "max_sharpe", "turnover_penalty": 0,
                                                                      "budget": "full"}, {"turnover_limit": 0.5},
                                    {"estimator": {"covariance": "ewma"}}, {"estimator": {"mean": "regime"}},
                                    {"groups": {"eq": {"assets": ["SPY", "QQQ"], "max": 0.8}}}])
def test_uncovered_configs_are_unsupported(change):
    with pytest.raises(Unsupported, match="optimizer block"):
        check_supported(OptimizerConfig.model_validate({**BLOCK, **change}))


# ------------------------------------------------------------------ real decisions
def test_playbook_opt_batch_equals_its_weights_on_real_data(shared_data):
    from backtest.config import load_config
    from backtest.synthetic import runner
    from backtest.synthetic.evaluate.vector_strategies import VectorEvaluator, per_path_weights
    from backtest.synthetic.labels.path_signals import PathSignals
    from backtest.synthetic.model.generator import generate
    from backtest.synthetic.scenarios import load_scenarios
    from strategies.base import build_strategy

    cfg = load_config("configs/historical.yaml", data_dir=str(shared_data))
    sset = load_scenarios().only(["C"])
    prep = runner.prepare(cfg, sset, md=runner.load_history(cfg))
    ctx, grid, labels = prep.contexts["C"], prep.grids["C"], prep.labels["C"]
    pan = generate(ctx, 7, 0, 2)
    ev = VectorEvaluator(pan, PathSignals(pan), str(labels["regime"].iloc[-1]), grid)
    for scfg in cfg.strategies:
        if scfg.name not in ("playbook_opt", "playbook_opt_6040"):
            continue
        strat = build_strategy(scfg)
        w, cols = ev.weights(strat)
        ref, rcols = per_path_weights(strat, pan, grid, labels)
        assert cols == rcols
        assert np.abs(w - ref).max() <= 1e-4, scfg.name


SAMPLE_STRATEGIES = [
    # the quickstart's my_rules_te: regime_rules + a tracking_error optimizer (budget full)
    {"name": "my_rules_te", "kind": "regime_rules", "params": {
        "base": {"SPY": 0.6, "IEF": 0.4},
        "tilts": [{"name": "gold_in_easing", "when": {"all": [{"regime": ["rmp", "qe"]},
                                                              {"signal": "vix", "op": "<", "value": 25, "exit": 30}]},
                   "add": {"GLD": 0.10}, "fund_from": ["IEF"]}],
        "optimizer": {"objective": "tracking_error", "te_cap": 0.03, "estimator": {"window": 252, "min_obs": 60}}}},
    # the optimized kind, with a base (TE benchmark, anchor) and without one (equal-weight benchmark)
    {"name": "opt_base", "kind": "optimized", "params": {
        "base": {"SPY": 0.6, "IEF": 0.4},
        "optimizer": {"objective": "mean_variance", "te_cap": 0.04, "turnover_penalty": "10bps",
                      "estimator": {"shrinkage": 0.5, "window": 126, "min_obs": 60}}}},
    {"name": "opt_equal", "kind": "optimized", "params": {
        "assets": ["SPY", "IEF", "GLD", "TLT"],
        "optimizer": {"objective": "mean_variance", "risk_aversion": 3, "budget": "cash", "te_cap": 0.05}}},
]


@pytest.mark.parametrize("scfg", SAMPLE_STRATEGIES, ids=lambda s: s["name"])
def test_optimizer_strategies_on_the_sample_market_equal_their_weights(scfg):
    """Batch form vs each strategy's own ``weights()`` on individual scenario paths."""
    from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, StrategyConfig, config_from_dict
    from backtest.data.sample import SampleSource
    from backtest.synthetic import runner
    from backtest.synthetic.evaluate.vector_strategies import VectorEvaluator, per_path_weights
    from backtest.synthetic.labels.path_signals import PathSignals
    from backtest.synthetic.model.generator import generate
    from backtest.synthetic.scenarios import scenarios_from_dict
    from strategies.base import build_strategy
    from tests.test_scenarios_defs import small

    cfg = config_from_dict({"name": "te", "data": {"source": "sample"}, "cash": {"rate": "DTB3"},
                            "rebalance": {"every": "monthly"}, "strategies": [scfg]})
    md = SampleSource(seed=5).load(list(DEFAULT_UNIVERSE), list(DEFAULT_MACRO), None, None)
    prep = runner.prepare(cfg, scenarios_from_dict(small(horizon_days=130)), md=md)
    name = next(iter(prep.contexts))
    pan = generate(prep.contexts[name], 3, 0, 3)
    grid, labels = prep.grids[name], prep.labels[name]
    ev = VectorEvaluator(pan, PathSignals(pan), str(labels["regime"].iloc[-1]), grid)
    strat = build_strategy(StrategyConfig.model_validate(scfg))
    w, cols = ev.weights(strat)
    ref, rcols = per_path_weights(strat, pan, grid, labels)
    assert cols == rcols
    assert np.abs(w - ref).max() <= 1e-4
    if scfg["name"] == "my_rules_te":
        assert np.allclose(np.nansum(w, axis=2), 1.0)  # budget full
