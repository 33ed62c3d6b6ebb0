"""State drifts (raw | shrunk | demeaned): hand-computed targets, and the generator applying them."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, config_from_dict
from backtest.data.sample import SampleSource, load_calibration
from backtest.errors import ScenarioError
from backtest.synthetic import runner
from backtest.synthetic.model.drift import (
    bootstrap_drifts,
    drift_line,
    effective_days,
    parametric_drifts,
    state_drifts,
)
from backtest.synthetic.model.generator import generate
from backtest.synthetic.scenarios import scenarios_from_dict
from tests.test_scenarios_defs import small

UNIVERSE = list(DEFAULT_UNIVERSE)

# two states, one asset: pool means +1% / -1% a day, vol 1%, unconditional 0.05 %
M = np.array([[0.01], [-0.01]])
SD = np.array([[0.01], [0.01]])
U = np.array([0.0005])
N = np.array([100.0, 400.0])  # pool days; n_eff 10 and 40 below


def test_raw_and_demeaned_targets():
    raw = state_drifts("raw", M, SD, U, N, N / 10)
    np.testing.assert_array_equal(raw.target, M)
    np.testing.assert_array_equal(raw.shift, 0.0)
    np.testing.assert_array_equal(raw.weight, [1.0, 1.0])
    dem = state_drifts("demeaned", M, SD, U, N, N / 10)
    np.testing.assert_allclose(dem.target, [[0.0005], [0.0005]], rtol=0, atol=1e-18)
    np.testing.assert_allclose(dem.shift, [[0.0005 - 0.01], [0.0005 + 0.01]], rtol=0, atol=1e-18)


def test_shrunk_weights_by_hand():
    d = state_drifts("shrunk", M, SD, U, N, N / 10)
    np.testing.assert_allclose(d.n_eff, [10.0, 40.0])
    # z = (0.01 - 0.0005)/0.01 = 0.95 and (-0.01 - 0.0005)/0.01 = -1.05; mean z^2 = (0.9025 + 1.1025)/2 = 1.0025
    # noise 1/n_eff = 0.1 and 0.025, mean 0.0625 -> tau2 = 0.94
    assert d.tau2 == pytest.approx(0.94)
    w = np.array([0.94 / (0.94 + 0.1), 0.94 / (0.94 + 0.025)])  # 0.903846..., 0.974093...
    np.testing.assert_allclose(d.weight, w)
    np.testing.assert_allclose(d.target[:, 0], w * M[:, 0] + (1 - w) * 0.0005)
    assert "calm 0.90, stress 0.97" in drift_line(["calm", "stress"], d)


def test_shrunk_weight_is_zero_when_means_differ_no_more_than_noise():
    m = np.array([[0.0006], [0.0004]])  # z = +-0.01, z^2 = 1e-4 << noise 0.0625
    d = state_drifts("shrunk", m, SD, U, N, N / 10)
    assert d.tau2 == 0.0
    np.testing.assert_array_equal(d.weight, [0.0, 0.0])
    np.testing.assert_allclose(d.target, [[0.0005], [0.0005]], rtol=0, atol=1e-18)


def test_effective_days_by_hand():
    x = np.array([1.0, 1, -1, -1, 1, 1, -1, -1])[:, None]
    # mean 0; lag-1 products 1-1+1-1+1-1+1 = 1 over sum x^2 = 8: rho_1 = 1/8; L = 1: factor 1 + 2 (1/2)(1/8)
    assert effective_days(x, 1) == pytest.approx(8 / 1.125)
    alt = np.array([1.0, -1] * 5)[:, None]  # negative autocorrelation: never more than n days
    assert effective_days(alt, 3) == 10.0
    assert effective_days(x, 0) == 8.0


def test_bootstrap_drifts_on_a_tiny_pool_use_no_day_after_t0():
    excess = np.array([[0.01, 0.0], [0.03, 0.002], [0.02, 0.001], [-0.01, 0.0], [-0.03, -0.004], [0.5, 0.5]])
    # pools: rows 0-2 and 3-4; row 5 is after t0 (not in uncond_rows)
    d = bootstrap_drifts("demeaned", excess, [np.array([0, 1, 2]), np.array([3, 4])], np.arange(5), 1.0)
    np.testing.assert_allclose(d.pool_mean, [[0.02, 0.001], [-0.02, -0.002]])
    np.testing.assert_allclose(d.uncond, [0.004, -0.0002])  # (0.01+0.03+0.02-0.01-0.03)/5, (0.002+0.001-0.004)/5
    np.testing.assert_allclose(d.target, [[0.004, -0.0002]] * 2)


def _cfg(source: str):
    data = {"source": "sample"} if source == "sample" else {"source": "csv", "dir": "unused"}
    return config_from_dict({"name": "t", "data": data, "cash": {"rate": "DTB3"},
                             "strategies": [{"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1}}}]})


@pytest.fixture(scope="module")
def md():
    return SampleSource(seed=5).load(UNIVERSE, list(DEFAULT_MACRO), None, None)


@pytest.mark.parametrize("mode", ["demeaned", "shrunk"])
def test_bootstrap_adds_target_minus_pool_mean_to_every_drawn_day(md, mode):
    raw = small(horizon_days=30, drift={"mode": mode})
    raw["liquidity"] = {"beta_scale": 0.0}
    prep = runner.prepare(_cfg("csv"), scenarios_from_dict(raw), md=md)
    ctx = prep.contexts["A"]
    hist = prep.history
    excess = hist.returns - hist.rf[:, None]
    # the unconditional mean, independently: usable days on or before t0
    ok = np.isfinite(hist.returns).all(axis=1) & (hist.dates <= ctx.t0)
    ok &= np.isfinite(hist.levels[:, 0])  # VIX level known (channel 0 is vix)
    np.testing.assert_allclose(ctx.drifts.uncond, excess[ok].mean(axis=0), rtol=1e-12)
    for s, pool in enumerate(ctx.pools):
        np.testing.assert_allclose(ctx.drifts.pool_mean[s], excess[pool.days].mean(axis=0), rtol=1e-12)
    if mode == "demeaned":
        np.testing.assert_allclose(ctx.drifts.target, np.broadcast_to(ctx.drifts.uncond, ctx.drifts.target.shape))
    pan = generate(ctx, 3, 0, 12)
    gap = pan.returns - excess[pan.rows] - ctx.drifts.shift[pan.states.astype(int)]
    # what remains is the path's own bill return: the same for every asset of a day
    np.testing.assert_allclose(gap, np.repeat(gap[..., :1], gap.shape[2], axis=2), rtol=0, atol=1e-15)


def test_parametric_means_are_the_targets(md):
    raw = small(horizon_days=10, drift={"mode": "demeaned"})
    prep = runner.prepare(_cfg("sample"), scenarios_from_dict(raw), md=md)
    ctx = prep.contexts["A"]
    calib = load_calibration()
    reg = calib["joint"]["regimes"]
    n_a = len(calib["assets"]["tickers"])
    days = {k: r["n_days"] for k, r in reg.items()}
    uncond = sum(np.asarray(reg[k]["mean_raw"])[:n_a] * days[k] for k in reg) / sum(days.values())
    for s in range(len(prep.sset.states)):
        np.testing.assert_allclose(ctx.param.mean[s, :n_a], uncond)
    raw_d = parametric_drifts("raw", calib, ["rmp", "qt"])
    np.testing.assert_allclose(raw_d.target[1], np.asarray(reg["qt"]["mean_raw"])[:n_a])


def test_drift_mode_validation():
    with pytest.raises(ScenarioError, match="drift.mode"):
        scenarios_from_dict(small(drift={"mode": "median"}))
    s = scenarios_from_dict(small())
    assert s.spec.drift.mode == "shrunk"
    assert s.with_drift("raw").spec.drift.mode == "raw"
    with pytest.raises(ScenarioError, match="--drift median: must be one of raw, shrunk, demeaned"):
        s.with_drift("median")
