"""The path-vectorised layer agrees with the per-path framework: signals, weights, simulation, metrics.

* signals of every path computed at once equal ``liquidity_signals`` on that path's
  ``MarketData`` (same publication lags as history);
* vectorised weights equal each strategy's own ``weights()`` on individual paths;
* changing what is released after a day never changes weights decided by that day;
* the path kernel equals ``backtest.engine.simulate`` (vectorbt) on a path;
* per-path metrics equal ``backtest.metrics.summary``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, StrategyConfig, config_from_dict
from backtest.data.sample import SampleSource
from backtest.execution.spec import PathSpec, cash_growth
from backtest.metrics_batch import path_metrics
from backtest.regimes.signals import liquidity_signals
from backtest.synthetic import runner
from backtest.synthetic.evaluate.scoring import simulate_paths
from backtest.synthetic.evaluate.vector_strategies import (
    VectorEvaluator,
    finalise,
    path_frame,
    per_path_weights,
)
from backtest.synthetic.labels.path_signals import KNOWN, PathSignals
from backtest.synthetic.model.generator import generate
from backtest.synthetic.scenarios import scenarios_from_dict
from strategies.base import build_strategy
from tests.test_scenarios_defs import small

UNIVERSE = list(DEFAULT_UNIVERSE)
CUSTOM = {
    "base": {"SPY": 0.5, "IEF": 0.3, "BIL": 0.1},
    "tilts": [
        {"name": "curve", "when": {"all": [{"regime": ["rmp", "qe"]}, "curve_2s10s > 0.2 exit 0.0"]},
         "add": {"TLT": 0.1}, "fund_from": ["IEF", "cash"], "min_hold_days": 30},
        {"name": "funding", "when": {"any": ["sofr_iorb > 0.0", {"signal": "net_liquidity", "change": "diff",
                                                                  "lookback": 10, "op": "<", "value": 0}]},
         "add": {"GLD": 0.05}, "fund_from": ["SPY"], "min_hold_periods": 2},
        {"name": "spy_vol", "when": {"not": "spy_rv_1m > 30"}, "exit_when": "policy_rate > 6",
         "add": {"QQQ": 0.05}, "fund_from": ["SPY"], "vol_target": {"target": 0.01, "window": 21}},
        {"name": "sweep", "when": "walcl_chg_13w > 0", "sweep": {"from": ["cash", "BIL"], "to": {"SHY": 1.0}}},
    ],
    "caps": {"max_weight": 0.55, "max_gross": 1.2},
}
STRATEGIES = [
    {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}},
    {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
    {"name": "equal_weight", "kind": "equal_weight"},
    {"name": "inverse_vol", "kind": "inverse_vol", "params": {"window": 21}},
    {"name": "short_vol", "kind": "short_vol"},
    {"name": "short_vixy", "kind": "short_vol", "params": {"instrument": "short_vixy", "min_hold_days": 15}},
    {"name": "real_assets", "kind": "real_assets"},
    {"name": "size_tech", "kind": "size_tech_tilt"},
    {"name": "steepener", "kind": "steepener"},
    {"name": "playbook_B", "kind": "rmp_playbook", "params": {"variant": "B"}},
    {"name": "custom", "kind": "regime_rules", "params": CUSTOM},
]


def cfg(source: str, every: str = "weekly"):
    data = {"source": "sample"} if source == "sample" else {"source": "csv", "dir": "unused"}
    return config_from_dict({"name": "v", "data": data, "cash": {"rate": "DTB3"}, "rebalance": {"every": every},
                             "costs": {"fee_bps": 2, "slippage_bps": 3, "borrow_bps": 80},
                             "strategies": STRATEGIES})


@pytest.fixture(scope="module")
def md():
    return SampleSource(seed=5).load(UNIVERSE, list(DEFAULT_MACRO), None, None)


@pytest.fixture(scope="module", params=["csv", "sample"])
def panel(request, md):
    raw = small(horizon_days=130, scenarios__B__start_state="calm")
    prep = runner.prepare(cfg(request.param), scenarios_from_dict(raw), md=md)
    ctx = prep.contexts["B"]
    pan = generate(ctx, 12, 0, 6)
    return prep, pan


def test_vectorised_signals_equal_liquidity_signals_per_path(panel):
    prep, pan = panel
    ps = PathSignals(pan)
    rows = np.arange(ps.H - 60, len(ps.calendar))  # the end of history and every simulated day
    for i in (0, 3):
        sig = liquidity_signals(pan.market_data(i))
        assert sig.index.equals(ps.calendar)
        for name in KNOWN:
            assert name in sig.columns, name
            np.testing.assert_allclose(ps.at(name, rows)[:, i], sig[name].to_numpy()[rows], rtol=1e-9, atol=1e-12,
                                       equal_nan=True, err_msg=name)


def test_vectorised_weights_equal_strategy_weights(panel):
    prep, pan = panel
    grid = prep.grids["B"]
    labels = prep.labels["B"]
    ps = PathSignals(pan)
    ev = VectorEvaluator(pan, ps, str(labels["regime"].iloc[-1]), grid)
    active_any = False
    for scfg in STRATEGIES:
        strat = build_strategy(StrategyConfig.model_validate(scfg))
        w, cols = ev.weights(strat)
        ref, rcols = per_path_weights(strat, pan, grid, labels, range(pan.paths))
        assert cols == rcols, scfg["name"]
        avail = ev._available(cols).astype(bool)
        a, b = finalise(w, cols, avail, 2.0), finalise(ref, cols, avail, 2.0)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=scfg["name"])
        if scfg["kind"] not in ("buy_and_hold", "fixed_weights", "equal_weight", "inverse_vol"):
            active_any |= bool(np.nanstd(a[:, 1:], axis=(0, 1)).max() > 0)
    assert active_any  # some rule actually switches on and off across paths and dates


def test_weights_never_see_what_is_released_later(panel):
    """Perturb every simulated price after day t and every observation released after t."""
    prep, pan = panel
    grid, labels = prep.grids["B"], prep.labels["B"]
    ctx = pan.ctx
    t = 40  # simulated day index
    t_day = ctx.days[t]
    import copy

    from backtest.data.release import release_dates

    other = copy.copy(pan)
    rng = np.random.default_rng(0)
    other.returns = pan.returns.copy()
    other.returns[:, t + 1 :] = rng.normal(0, 0.05, other.returns[:, t + 1 :].shape)
    other.daily, other.weekly, other.monthly = dict(pan.daily), dict(pan.weekly), dict(pan.monthly)
    for store, dates in ((other.daily, ctx.days), (other.weekly, pan.weekly_dates), (other.monthly, pan.monthly_dates)):
        for name, v in store.items():
            late = np.asarray(release_dates(name, dates) > t_day)
            v = v.copy()
            v[:, late] = v[:, late] * rng.uniform(0.2, 3.0, v[:, late].shape) + 0.37
            store[name] = v
    keep = grid.dates <= t_day
    for scfg in STRATEGIES:
        strat = build_strategy(StrategyConfig.model_validate(scfg))
        w1, _ = VectorEvaluator(pan, PathSignals(pan), str(labels["regime"].iloc[-1]), grid).weights(strat)
        w2, _ = VectorEvaluator(other, PathSignals(other), str(labels["regime"].iloc[-1]), grid).weights(strat)
        np.testing.assert_array_equal(w1[:, keep], w2[:, keep], err_msg=scfg["name"])


def test_path_kernel_equals_the_engine(panel):
    from backtest.engine import simulate
    from backtest.execution.spec import Costs

    prep, pan = panel
    c = prep.cfg
    grid, labels = prep.grids["B"], prep.labels["B"]
    ctx = pan.ctx
    ps = PathSignals(pan)
    run_rows = np.arange(ps.H - 1, len(ps.calendar))
    run_days = ps.calendar[run_rows]
    rate = ps.at("cash_rate", run_rows)
    cg = cash_growth(rate)
    ev = VectorEvaluator(pan, ps, str(labels["regime"].iloc[-1]), grid)
    for name in ("steepener", "playbook_B", "spy"):
        scfg = next(s for s in STRATEGIES if s["name"] == name)
        strat = build_strategy(StrategyConfig.model_validate(scfg))
        w, cols = ev.weights(strat)
        w = finalise(w, cols, ev._available(cols).astype(bool), 2.0)
        idx = [ctx.tickers.index(x) for x in cols]
        rets = np.zeros((pan.paths, len(run_rows), len(cols)))
        rets[:, 1:] = pan.returns[:, :, idx]
        spec = PathSpec(1, Costs(2.0, 3.0, c.costs.borrow_bps, dict(c.costs.borrow_bps_by_asset)), "DTB3", 2.0, None)
        val = simulate_paths(ctx.start_prices[idx], rets, w, grid.rows - (ps.H - 1), spec, cols, cash_growth=cg)
        for i in (0, 4):
            md_i, sf = path_frame(pan, i, labels)
            prices = md_i.prices.loc[run_days, cols]
            target = pd.DataFrame(w[i], index=grid.dates, columns=cols)
            res = simulate(prices, target, costs=Costs(2.0, 3.0, c.costs.borrow_bps, {}),
                           cash_rate=pd.Series(rate[:, i], index=run_days), lag_days=1)
            np.testing.assert_allclose(val[i], res.value.to_numpy(), rtol=1e-9, err_msg=name)
    # a drift band skips the same rebalances as the engine
    w = np.broadcast_to(np.array([0.6, 0.4]), (pan.paths, len(grid.rows), 2)).copy()
    idx = [ctx.tickers.index("SPY"), ctx.tickers.index("IEF")]
    rets = np.zeros((pan.paths, len(run_rows), 2))
    rets[:, 1:] = pan.returns[:, :, idx]
    spec = PathSpec(1, Costs(2.0, 0.0, 0.0, {}), "DTB3", 2.0, 0.02)
    val = simulate_paths(ctx.start_prices[idx], rets, w, grid.rows - (ps.H - 1), spec, ["SPY", "IEF"], cash_growth=cg)
    md_i, _ = path_frame(pan, 2, labels)
    res = simulate(md_i.prices.loc[run_days, ["SPY", "IEF"]], pd.DataFrame(w[2], index=grid.dates, columns=["SPY", "IEF"]),
                   costs=Costs(2.0, 0.0, 0.0, {}), cash_rate=pd.Series(rate[:, 2], index=run_days), lag_days=1,
                   drift_band=0.02)
    assert res.skipped > 0
    np.testing.assert_allclose(val[2], res.value.to_numpy(), rtol=1e-9)


def test_path_metrics_equal_the_metrics_module():
    from backtest.metrics import summary

    rng = np.random.default_rng(1)
    r = rng.normal(0.0004, 0.01, (3, 120))
    r[:, 0] = 0.0
    v = np.cumprod(1 + r, axis=1)
    rf = np.full((3, 120), 0.0001)
    m = path_metrics(v, rf)
    for i in range(3):
        ref = summary(pd.Series(r[i]), pd.Series(rf[i]))
        for k_ours, k_ref in (("horizon_return", "total_return"), ("cagr", "cagr"), ("ann_vol", "ann_vol"),
                              ("sharpe", "sharpe"), ("sortino", "sortino"), ("max_drawdown", "max_drawdown"),
                              ("calmar", "calmar"), ("hit_rate", "hit_rate"), ("worst_day", "worst_day"),
                              ("best_day", "best_day"), ("daily_cvar_5", "cvar_5")):
            assert m[k_ours][i] == pytest.approx(ref[k_ref], rel=1e-9, abs=1e-12), k_ours


def test_unknown_history_regime_agrees_with_per_path(panel):
    """A missing regime label at t0 is *unknown* on both routes (``not`` of unknown never switches on)."""
    prep, pan = panel
    grid = prep.grids["B"]
    labels = prep.labels["B"].copy()
    ps = PathSignals(pan)
    assert grid.rows[0] == ps.H - 1  # the first decision is at t0, a history day
    labels["regime"] = labels["regime"].astype(object)
    labels.iloc[-3:, labels.columns.get_loc("regime")] = None
    strat = build_strategy(StrategyConfig.model_validate({"name": "not_qt", "kind": "regime_rules", "params": {
        "base": {"SPY": 0.6, "IEF": 0.4},
        "tilts": [{"name": "gold", "when": {"not": {"regime": "qt"}}, "add": {"GLD": 0.1}, "fund_from": ["IEF"]}]}}))
    w, cols = VectorEvaluator(pan, ps, labels["regime"], grid).weights(strat)
    ref, rcols = per_path_weights(strat, pan, grid, labels)
    assert cols == rcols
    np.testing.assert_allclose(w, ref, rtol=1e-12, atol=0, equal_nan=True)
    g = cols.index("GLD")
    np.testing.assert_array_equal(w[:, 0, g], 0.0)  # unknown regime at t0: the tilt stays off
    # reading the missing label as a label (the old vector behaviour) would switch it on and disagree
    w_old, _ = VectorEvaluator(pan, ps, str(labels["regime"].iloc[-1]), grid).weights(strat)
    np.testing.assert_allclose(w_old[:, 0, g], 0.1)
    assert not np.allclose(w_old[:, 0], ref[:, 0])
