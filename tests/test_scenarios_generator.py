"""Statistical and structural tests of the scenario generator (bootstrap and parametric).

History is the built-in sample market (always available), bootstrapped as if it were
real data; the parametric source is checked against its calibration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, config_from_dict
from backtest.data.market_model import REGIME_KINDS
from backtest.data.release import release_dates
from backtest.data.sample import SampleSource, load_calibration
from backtest.synthetic import runner
from backtest.synthetic.model.bootstrap import next_row
from backtest.synthetic.model.context import build_context
from backtest.synthetic.model.generator import generate
from backtest.synthetic.model.history import CH
from backtest.synthetic.model.liquidity_beta import daily_drift_shift
from backtest.synthetic.scenarios import scenarios_from_dict
from tests.test_scenarios_defs import small

UNIVERSE = list(DEFAULT_UNIVERSE)


def cfg(source: str):
    data = {"source": "sample"} if source == "sample" else {"source": "csv", "dir": "unused"}
    return config_from_dict({"name": "t", "data": data, "cash": {"rate": "DTB3"},
                             "strategies": [{"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1}}}]})


@pytest.fixture(scope="module")
def md():
    return SampleSource(seed=5).load(UNIVERSE, list(DEFAULT_MACRO), None, None)


def prepared(md, source: str, raw: dict | None = None):
    raw = raw or small()
    raw.setdefault("drift", {"mode": "raw"})  # these tests check copies of the pool days as drawn
    sset = scenarios_from_dict(raw)
    return runner.prepare(cfg(source), sset, md=md)


@pytest.fixture(scope="module")
def boot(md):
    return prepared(md, "csv")


def test_bootstrap_copies_whole_days_of_the_state_pool(boot):
    ctx = boot.contexts["A"]
    assert ctx.source == "bootstrap"
    pan = generate(ctx, seed=3, p0=0, p1=60)
    hist = boot.history
    for s, pool in enumerate(ctx.pools):
        m = pan.states == s
        assert np.isin(pan.rows[m], pool.days).all()  # only the state's analogue days
        d = hist.dates[pan.rows[m]]
        inside = np.zeros(len(d), dtype=bool)
        for p in pool.periods:
            inside |= (d >= p.start) & (d <= p.end)
        assert inside.all()
    # a day either starts a block anywhere in the pool or continues it (wrapping inside its segment)
    same = pan.states[:, 1:] == pan.states[:, :-1]
    for s, pool in enumerate(ctx.pools):
        m = same & (pan.states[:, 1:] == s)
        prev, cur = pan.rows[:, :-1][m], pan.rows[:, 1:][m]
        cont = cur == next_row(pool, prev)
        assert 0.7 < cont.mean() < 0.9  # mean block 5: ~80 % of days continue a block
    # every asset's return of a simulated day is that history day's excess return plus the path's bill rate
    excess = hist.returns[pan.rows] - hist.rf[pan.rows][..., None]
    diff = pan.returns - excess  # = the path's daily bill return (+ pace shift, 0 here for stress)
    stress = pan.states == 1
    np.testing.assert_allclose(diff[stress], np.repeat(diff[stress][:, :1], diff.shape[2], axis=1), atol=1e-15)
    assert (np.abs(diff[stress][:, 0]) < 0.1 / 252).all()


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return x.mean(axis=0), x.std(axis=0, ddof=1), np.corrcoef(x, rowvar=False)


def test_bootstrap_moments_match_the_analogue_days(md):
    raw = small(scenarios__A__pace_bn_month=0, horizon_days=250)
    raw["liquidity"] = {"beta_scale": 0.0}
    prep = prepared(md, "csv", raw)
    ctx = prep.contexts["A"]
    pan = generate(ctx, seed=11, p0=0, p1=300)
    hist = prep.history
    excess_hist = hist.returns - hist.rf[:, None]
    rf_path = pan.returns[..., 0] - (hist.returns[pan.rows, 0] - hist.rf[pan.rows])
    gen_excess = pan.returns - rf_path[..., None]
    for s, pool in enumerate(ctx.pools):
        src = excess_hist[pool.days]
        gen = gen_excess[pan.states == s]
        m0, s0, c0 = _moments(src)
        m1, s1, c1 = _moments(gen)
        # block-dependent draws: effective sample ~ N / (2 * mean block); 5 standard errors
        n_eff = len(gen) / (2 * ctx.mean_block)
        assert (np.abs(m1 - m0) <= 5 * s0 / np.sqrt(n_eff)).all(), (s, np.abs(m1 - m0) / (s0 / np.sqrt(n_eff)))
        # vols and correlations of fat-tailed, block-dependent draws: loose but meaningful bounds
        # (a wrong pool, a missing de-meaning or cut blocks move them by far more)
        assert (np.abs(s1 / s0 - 1) < 0.15).all(), (s, s1 / s0)
        assert np.nanmax(np.abs(c1 - c0)) < 0.15, s


def test_parametric_moments_match_the_calibration(md):
    raw = small(horizon_days=250)
    raw["liquidity"] = {"beta_scale": 0.0}
    prep = prepared(md, "sample", raw)
    ctx = prep.contexts["A"]
    assert ctx.source == "parametric"
    pan = generate(ctx, seed=2, p0=0, p1=200)
    calib = load_calibration()
    cols = [calib["assets"]["tickers"].index(t) for t in UNIVERSE if t not in ("SVXY", "VIXY")]
    uni = [UNIVERSE.index(t) for t in UNIVERSE if t not in ("SVXY", "VIXY")]  # floored fat-tail products
    for s, kind in enumerate(prep.sset.kinds):
        reg = calib["joint"]["regimes"][kind]
        mean, vol, corr = (np.asarray(reg[k]) for k in ("mean_raw", "vol", "corr"))  # drift: raw
        gen = pan.returns[pan.states == s][:, uni]
        m1, s1, c1 = _moments(gen)
        se = vol[cols] / np.sqrt(len(gen))
        assert (np.abs(m1 - mean[cols]) <= 5 * se).all(), kind
        assert (np.abs(s1 / vol[cols] - 1) < 0.08).all(), (kind, s1 / vol[cols])
        assert np.abs(c1 - corr[np.ix_(cols, cols)]).max() < 0.06, kind
        assert kind in REGIME_KINDS


@pytest.mark.parametrize("source", ["csv", "sample"])
def test_same_seed_same_paths_whatever_the_chunks(md, source):
    prep = prepared(md, source)
    ctx = prep.contexts["B"]
    whole = generate(ctx, 7, 0, 9)
    a, b = generate(ctx, 7, 0, 4), generate(ctx, 7, 4, 9)
    np.testing.assert_array_equal(whole.returns, np.concatenate([a.returns, b.returns]))
    np.testing.assert_array_equal(whole.states, np.concatenate([a.states, b.states]))
    for k in whole.daily:
        np.testing.assert_array_equal(whole.daily[k], np.concatenate([a.daily[k], b.daily[k]]))
    other = generate(ctx, 8, 0, 9)
    assert not np.array_equal(whole.returns, other.returns)


def test_pace_shifts_paced_states_by_the_liquidity_beta(md):
    base = prepared(md, "csv")
    sc_fast = scenarios_from_dict(small(scenarios__A__pace_bn_month=125, drift={"mode": "raw"}))
    hist = base.history
    beta = np.linspace(-0.5, 0.5, len(hist.tickers))
    slow = build_context(hist, base.sset, base.sset.scenario("A"), source="bootstrap", beta=beta, periods=base.periods)
    fast = build_context(hist, sc_fast, sc_fast.scenario("A"), source="bootstrap", beta=beta, periods=base.periods)
    p1, p2 = generate(slow, 4, 0, 20), generate(fast, 4, 0, 20)
    np.testing.assert_array_equal(p1.states, p2.states)
    diff = p2.returns - p1.returns
    paced = p1.states == 0
    expected = daily_drift_shift(beta, 100.0)  # 125 - 25 bn/month
    np.testing.assert_allclose(diff[paced], np.broadcast_to(expected, diff[paced].shape), atol=1e-15)
    # the stress state is not paced: only the (pace-driven) bill rate could differ; returns are equal
    np.testing.assert_allclose(diff[~paced], 0.0, atol=1e-15)
    # purchases add to the balance sheet in the paced state: +100 bn/month more over the horizon
    calm = (p1.states == 0).all(axis=1)
    w1, w2 = p1.weekly["WALCL"][calm], p2.weekly["WALCL"][calm]
    extra = (w2[:, -1] - w1[:, -1]) / 1e3
    days = int(p1.ctx.days.get_loc(p1.weekly_dates[-1])) + 1
    assert calm.any()
    np.testing.assert_allclose(extra, 100.0 * days / 21.0, rtol=0.05)


def test_simulated_observations_carry_history_release_lags(md):
    prep = prepared(md, "csv")
    ctx = prep.contexts["A"]
    pan = generate(ctx, 1, 0, 2)
    m = pan.market_data(1)
    for name in ("WALCL", "CPIAUCSL", "DGS2", "VIX", "SOFR"):
        ms = m.macro[name]
        sim = ms.values.index > ctx.t0
        assert sim.any()
        pd.testing.assert_series_equal(ms.released[sim], release_dates(name, ms.values.index[sim]), check_names=False)
    wal = m.macro["WALCL"]
    sim = wal.values.index > ctx.t0
    assert (wal.values.index[sim].dayofweek == 2).all()
    assert (wal.released[sim].dt.dayofweek == 4).all()  # Wednesday level usable from Friday
    cpi = m.macro["CPIAUCSL"]
    assert (cpi.released[cpi.values.index > ctx.t0].dt.day == 15).all()
    # history is untouched up to t0, then the simulated days follow
    h = ctx.history
    pd.testing.assert_frame_equal(m.prices.loc[: ctx.t0], h.prices)
    assert m.prices.index[len(h.prices)] == ctx.days[0]
    assert m.synthetic


def test_states_visit_their_kinds_and_levels_stay_sane(md):
    prep = prepared(md, "sample", small(horizon_days=120))
    pan = generate(prep.contexts["B"], 9, 0, 50)
    assert (pan.daily["VIX"] > 5).all() and (pan.daily["VIX"] < 150).all()
    assert (pan.daily["DFEDTARU"] >= 0.25).all()
    np.testing.assert_allclose(pan.daily["IORB"], pan.daily["DFEDTARU"] + prep.contexts["B"].anchors["iorb_off"],
                               atol=0.006)
    assert (pan.weekly["WRESBAL"] <= 0.64 * pan.weekly["WALCL"] + 1).all()
    assert CH["vix"] == 0
