"""The pace channel: per-path beta draws, the measured pace effect (null and planted), --pace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, config_from_dict
from backtest.data.sample import SampleSource
from backtest.synthetic import runner
from backtest.synthetic.model.generator import generate
from backtest.synthetic.model.liquidity_beta import PER, WEEKS_PER_MONTH, draw_betas, newey_west_ols
from backtest.synthetic.scenarios import scenarios_from_dict
from backtest.synthetic.side.pace_effect import COLUMNS, pace_effect_lines, paired_median_ci
from tests.helpers import run_cli
from tests.test_scenarios_defs import small

UNIVERSE = list(DEFAULT_UNIVERSE)
BUY_SPY = {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}}
SIXTY = {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}}


def _cfg(source: str, strategies=(BUY_SPY,)):
    data = {"source": "sample"} if source == "sample" else {"source": "csv", "dir": "unused"}
    return config_from_dict({"name": "t", "data": data, "cash": {"rate": "DTB3"}, "strategies": list(strategies)})


@pytest.fixture(scope="module")
def md():
    return SampleSource(seed=5).load(UNIVERSE, list(DEFAULT_MACRO), None, None)


# ------------------------------------------------------------------------ beta draws


def _newey_west_by_hand(y: np.ndarray, x: np.ndarray, lags: int) -> tuple[float, float, float]:
    """The oracle: OLS slope by the centred formula, Bartlett-weighted score autocovariances, R²."""
    xc = x - x.mean()
    sxx = float(xc @ xc)
    b = float(xc @ (y - y.mean())) / sxx
    e = y - y.mean() - b * xc
    u = xc * e
    s = float(u @ u)
    for k in range(1, min(lags, len(y) - 1) + 1):
        s += 2.0 * (1.0 - k / (lags + 1.0)) * float(u[k:] @ u[:-k])
    r2 = 1.0 - float(e @ e) / float((y - y.mean()) @ (y - y.mean()))
    return b, float(np.sqrt(s)) / sxx, r2


def test_newey_west_ols_equals_the_hand_formula():
    """statsmodels' HAC slope standard error is the Bartlett sum written out (no small-sample correction)."""
    rng = np.random.default_rng(11)
    x = np.cumsum(rng.normal(size=300)) * 0.1 + rng.normal(size=300)  # autocorrelated regressor
    e = np.convolve(rng.normal(size=302), [1.0, 0.6, 0.3], mode="valid")  # MA(2) errors
    y = 0.02 + 0.5 * x + e
    for lags in (0, 1, 4, 12):
        got, want = newey_west_ols(y, x, lags), _newey_west_by_hand(y, x, lags)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert abs(newey_west_ols(y, x, 4)[0] - 0.5) < 0.1  # the planted slope
    assert all(np.isnan(newey_west_ols(y, np.ones_like(x), 4)))  # constant regressor: no estimate
    assert all(np.isnan(newey_west_ols(y[:2], x[:2], 4)))


@pytest.mark.parametrize("source", ["csv", "sample"])
def test_beta_draws_are_deterministic_and_chunk_independent(md, source):
    raw = small(horizon_days=5)
    raw["liquidity"] = {"sample_betas": {"SPY": 0.002, "TLT": -0.001}, "sample_ses": {"SPY": 0.001, "TLT": 0.0005}}
    prep = runner.prepare(_cfg(source), scenarios_from_dict(raw), md=md)
    ctx = prep.contexts["A"]
    assert (ctx.beta_se > 0).any()
    whole = generate(ctx, 7, 0, 9)
    a, b = generate(ctx, 7, 0, 4), generate(ctx, 7, 4, 9)
    np.testing.assert_array_equal(whole.betas, np.concatenate([a.betas, b.betas]))
    np.testing.assert_array_equal(whole.returns, np.concatenate([a.returns, b.returns]))
    assert not np.array_equal(whole.betas, generate(ctx, 8, 0, 9).betas)
    # a path's betas differ across paths where se > 0, never where se == 0
    varies = whole.betas.std(axis=0) > 0
    np.testing.assert_array_equal(varies, ctx.beta_se > 0)


def test_beta_draws_follow_the_sampling_distribution(md):
    raw = small(horizon_days=2)
    raw["liquidity"] = {"sample_betas": {"SPY": 0.002}, "sample_ses": {"SPY": 0.001}}
    prep = runner.prepare(_cfg("sample"), scenarios_from_dict(raw), md=md)
    ctx = prep.contexts["A"]
    j = ctx.tickers.index("SPY")
    b = generate(ctx, 1, 0, 2000).betas[:, j]
    # N(0.002, 0.001^2): mean within 5 standard errors (0.001/sqrt(2000)), sd within 10 %
    assert abs(b.mean() - 0.002) < 5 * 0.001 / np.sqrt(2000)
    assert abs(b.std(ddof=1) / 0.001 - 1) < 0.1


def test_joint_beta_draws_have_the_error_correlation():
    rngs = [np.random.default_rng(np.random.SeedSequence(3, spawn_key=(1, p))) for p in range(3000)]
    corr = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, -0.3], [0.0, -0.3, 1.0]])
    b = draw_betas(np.array([0.1, 0.2, 0.0]), np.array([0.01, 0.02, 0.0]), rngs, corr)
    assert abs(np.corrcoef(b[:, 0], b[:, 1])[0, 1] - 0.8) < 0.03  # se of r near 0.8: (1 - 0.64)/sqrt(3000)
    assert abs(b[:, 1].std(ddof=1) / 0.02 - 1) < 0.05
    np.testing.assert_array_equal(b[:, 2], 0.0)  # no standard error: not drawn
    # identity correlation = independent draws, the same normals
    ind = draw_betas(np.zeros(3), np.ones(3), rngs_again(5), np.eye(3))
    np.testing.assert_array_equal(ind, draw_betas(np.zeros(3), np.ones(3), rngs_again(5)))


def rngs_again(n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(np.random.SeedSequence(3, spawn_key=(1, p))) for p in range(n)]


def test_estimated_betas_carry_an_error_correlation(md):
    prep = runner.prepare(_cfg("csv"), scenarios_from_dict(small(horizon_days=5)), md=md)
    c = prep.contexts["A"].beta_corr
    t = list(prep.history.tickers)
    np.testing.assert_allclose(c, c.T)
    np.testing.assert_allclose(np.diag(c), 1.0)
    assert c[t.index("SPY"), t.index("QQQ")] > 0.5  # their residuals (and so their beta errors) move together


def test_each_path_is_shifted_by_its_own_beta(md):
    """Pace 125 vs 25 on the same paths: the paced-day difference is that path's beta x the pace factor."""
    raw = small(horizon_days=20, drift={"mode": "raw"})
    raw["liquidity"] = {"sample_betas": {"SPY": 0.002, "IEF": 0.001}, "sample_ses": {"SPY": 0.001, "IEF": 0.002}}
    prep = runner.prepare(_cfg("sample"), scenarios_from_dict(raw), md=md)
    ctx = prep.contexts["A"]
    lo, hi = generate(ctx.with_pace(25.0), 4, 0, 10), generate(ctx.with_pace(125.0), 4, 0, 10)
    np.testing.assert_array_equal(lo.states, hi.states)
    np.testing.assert_array_equal(lo.betas, hi.betas)
    diff = hi.returns - lo.returns
    per_day = 100.0 / WEEKS_PER_MONTH / 5.0 / PER  # 100 bn/month more, per unit of weekly beta per 100 bn
    paced = lo.states == 0
    expected = np.broadcast_to(lo.betas[:, None, :] * per_day, diff.shape)
    np.testing.assert_allclose(diff[paced], expected[paced], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(diff[~paced], 0.0, atol=1e-15)


# ------------------------------------------------------------------------ the measured effect


def test_paired_median_ci_by_hand():
    low = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    eff, lo, hi = paired_median_ci(low, low + 0.05, seed=1)
    assert eff == pytest.approx(0.05) and lo == pytest.approx(0.05) and hi == pytest.approx(0.05)
    eff, lo, hi = paired_median_ci(low, low, seed=1)
    assert (eff, lo, hi) == (0.0, 0.0, 0.0)


def _three(scen_changes: dict | None = None, **kw) -> dict:
    """A, B, C (paces 25, 45, 3.5) over two states of the same kind (one pool model), different chains."""
    raw = small(**kw)
    raw["states"]["stress"]["kind"] = "rmp"  # same kind, same vol_scale: the same parametric draws
    raw["scenarios"]["A"]["probability"] = 0.4
    raw["scenarios"]["B"]["probability"] = 0.35
    raw["scenarios"]["C"] = {"probability": 0.25, "pace_bn_month": 3.5, "start_state": "stress",
                             "durations": {"calm": 5, "stress": 50},
                             "exits": {"calm": {"stress": 1.0}, "stress": {"calm": 1.0}}}
    raw.update(scen_changes or {})
    return raw


@pytest.mark.parametrize("source", ["sample", "csv"])
def test_null_paces_give_the_same_scorecard_within_monte_carlo_error(md, source):
    """Every state draws from one pool (model) and the pace channel is off: A, B and C agree."""
    raw = _three(horizon_days=40, liquidity={"beta_scale": 0.0, "sample_betas": {"SPY": 0.01}})
    if source == "csv":  # bootstrap: one pool (RMP2019 whole; pools are disjoint, so one state) for every chain
        raw["states"] = {"calm": {**raw["states"]["calm"], "analogues": [{"regime": "RMP2019"}]}}
        for sc in raw["scenarios"].values():
            sc.update({"start_state": "calm", "durations": {"calm": None}, "exits": {}})
            sc.pop("transitions", None)
    n = 400
    run = runner.run_scenarios(_cfg(source, (BUY_SPY, SIXTY)), scenarios_from_dict(raw), paths=n, seed=2, md=md)
    sm = run.scenario_metrics
    for strat in ("spy", "sixty_forty"):
        hr = sm[(sm["statistic"] == "horizon_return") & (sm["strategy"] == strat)].set_index("scenario")
        pl = sm[(sm["statistic"] == "prob_loss") & (sm["strategy"] == strat)].set_index("scenario")
        for x, y in (("A", "B"), ("A", "C"), ("B", "C")):
            # median of n draws: se = sqrt(pi/2) sd / sqrt(n) (normal), sd from the IQR (IQR / 1.349);
            # two independent medians: sqrt(2) se; 4 standard errors
            sd = (hr.loc[x, "p75"] - hr.loc[x, "p25"]) / 1.349
            tol = 4 * np.sqrt(2) * np.sqrt(np.pi / 2) * sd / np.sqrt(n)
            assert abs(hr.loc[x, "median"] - hr.loc[y, "median"]) < tol, (strat, x, y)
            p = pl.loc[x, "mean"]
            assert abs(p - pl.loc[y, "mean"]) < 4 * np.sqrt(2 * p * (1 - p) / n), (strat, x, y)
    pe = run.extras["pace_effect"]
    assert list(pe.columns) == COLUMNS and len(pe) == 2
    assert (pe["pace_low"] == 3.5).all() and (pe["pace_high"] == 45.0).all() and (pe["scenario"] == "A").all()
    # beta 0 and strategies that do not read the balance sheet: the same paths give the same outcomes
    np.testing.assert_array_equal(pe[["effect", "ci_lo", "ci_hi"]].to_numpy(), 0.0)
    assert not pe["distinguishable"].any()
    assert "indistinguishable from zero for spy, sixty_forty" in pace_effect_lines(pe)[-1]


def test_planted_pace_beta_is_recovered(md):
    """One absorbing paced state, SPY beta 0.05 per 100 bn, paces 0 and 100: the effect is the planted drift."""
    beta, horizon, n = 0.05, 63, 300
    raw = small(horizon_days=horizon, drift={"mode": "raw"},
                liquidity={"sample_betas": {"SPY": beta}, "beta_scale": 1.0})
    raw["scenarios"] = {
        "L": {"probability": 0.6, "pace_bn_month": 0, "start_state": "calm", "durations": {"calm": None}},
        "H": {"probability": 0.4, "pace_bn_month": 100, "start_state": "calm", "durations": {"calm": None}},
    }
    sset = scenarios_from_dict(raw)
    run = runner.run_scenarios(_cfg("sample"), sset, paths=n, seed=4, md=md)
    pe = run.extras["pace_effect"].set_index("strategy")
    r = pe.loc["spy"]
    assert (r["scenario"], r["pace_low"], r["pace_high"], r["paths"]) == ("L", 0.0, 100.0, n)
    # by hand: 100 bn/month = 100 / (52/12) bn a week; beta 0.05 per 100 bn a week -> 0.05 * 0.2308 a week
    # = 0.0023077 a day over 5 days; every day of every path is paced, so a buy-and-hold path's wealth is
    # multiplied by about (1 + d_high)^T' / (1 + d_low)^T', and so is the median (order kept); T' = T - 1:
    # with lag_days 1 the position is bought at the first simulated close (costs are 0 in this config)
    d = beta * (100.0 / (52.0 / 12.0)) / 100.0 / 5.0
    assert d == pytest.approx(0.0023077, rel=1e-4)
    ref = run.prep.contexts["L"]
    d_lo = beta / 100.0 * ((0.0 - ref.neutral[0]) / (52.0 / 12.0)) / 5.0  # raw drift: neutral = the pool's flow
    assert ref.neutral[0] == ref.pace_ref[0]
    d_hi = d_lo + d
    sm = run.scenario_metrics
    med_low = float(sm[(sm["strategy"] == "spy") & (sm["scenario"] == "L")
                       & (sm["statistic"] == "horizon_return")]["median"].iloc[0])  # the same paths as pace_low
    expected = (1 + med_low) * (((1 + d_hi) / (1 + d_lo)) ** (horizon - 1) - 1)
    assert r["ci_lo"] <= expected <= r["ci_hi"], (expected, r.to_dict())
    assert r["distinguishable"] and r["effect"] == pytest.approx(expected, rel=0.01)
    # a second implementation: the same paths generated at each pace, buy-and-hold wealth by hand
    j = ref.tickers.index("SPY")
    g = [np.prod(1 + generate(ref.with_pace(p), 4, 0, n).returns[:, 1:, j], axis=1) for p in (0.0, 100.0)]
    assert r["effect"] == pytest.approx(np.median(g[1]) - np.median(g[0]), rel=1e-9)
    assert 0.10 < r["effect"] < 0.22  # (1.0023)^63 - 1 = 15.6 % on a median path near 1
    # chunking changes nothing, the interval included
    ticks: list[tuple[int, int]] = []
    again = runner.run_scenarios(_cfg("sample"), sset, paths=n, seed=4, md=md, chunk_size=70,
                                 progress=lambda d, t: ticks.append((d, t)))
    pd.testing.assert_frame_equal(again.extras["pace_effect"], run.extras["pace_effect"])
    pd.testing.assert_frame_equal(again.extras["channel_effect"], run.extras["channel_effect"])
    # progress counts the measurements' paths too: (2 scenarios + 2 paces) x n paths, plus the channel-off
    # min(n, 200) paths of each scenario, x (strategies + generation)
    n_units = len(again.prep.cfg.strategies) + 1 + 1  # + the internal 60/40 of P(beat 60/40) + generation
    total = (4 * n + 2 * min(n, 200)) * n_units
    assert ticks[-1] == (pytest.approx(total), pytest.approx(total))
    assert all(d <= t + 1e-9 for d, t in ticks)


# ------------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("pace")
    cfg = {"name": "pace-test", "data": {"source": "sample"}, "cash": {"rate": "DTB3"}, "report": {"png": False},
           "strategies": [BUY_SPY, SIXTY]}
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (d / "scen.yaml").write_text(yaml.safe_dump(small(horizon_days=10), sort_keys=False))
    return d / "cfg.yaml", d / "scen.yaml"


@pytest.mark.parametrize("value, needle", [
    ("A=25,Z=3", "--pace 'Z=3': unknown scenario 'Z' (scenarios: A, B)"),
    ("A=-1", "must be a finite number in 0..2000"),
    ("A=nan", "must be a finite number in 0..2000"),
    ("A=2001", "must be a finite number in 0..2000"),
    ("A=ten", "'ten' is not a number"),
    ("A25", "expected NAME=BN_PER_MONTH"),
])
def test_pace_override_errors_are_one_line(files, tmp_path, value, needle):
    cfg, scen = files
    r = run_cli("scenarios", str(cfg), "--scenarios", str(scen), "--paths", "2", "--out", str(tmp_path),
                "--pace", value)
    assert r.exit_code == 2, r.stdout + r.stderr
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not any(tmp_path.iterdir())


def test_bad_drift_flag_is_one_line(files, tmp_path):
    cfg, scen = files
    r = run_cli("scenarios", str(cfg), "--scenarios", str(scen), "--paths", "2", "--out", str(tmp_path),
                "--drift", "median")
    assert r.exit_code == 2 and "--drift median: must be one of raw, shrunk, demeaned" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not any(tmp_path.iterdir())


def test_pace_and_drift_flags_are_applied_and_recorded(files, tmp_path):
    cfg, scen = files
    r = run_cli("scenarios", str(cfg), "--scenarios", str(scen), "--paths", "6", "--out", str(tmp_path),
                "--pace", "A=10,B=80", "--drift", "demeaned", "--no-report", "--seed", "1", "--pace-effect-paths", "4")
    assert r.exit_code == 0, r.stdout + r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1])
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["pace_override"] == {"A": 10.0, "B": 80.0}
    assert prov["scenarios"]["A"]["pace_bn_month"] == [{"until": None, "bn_month": 10.0}]
    assert prov["drift"]["mode"] == "demeaned"
    assert set(prov["drift"]["weights"]["A"].values()) == {0.0}
    pe = pd.read_csv(folder / "pace_effect.csv")
    assert list(pe.columns) == COLUMNS and set(pe["strategy"]) == {"spy", "sixty_forty"}
    assert (pe["pace_low"] == 10).all() and (pe["pace_high"] == 80).all() and (pe["paths"] == 4).all()
    assert len(prov["pace_effect"]) == 2
    assert "drift: demeaned" in r.stdout and "pace effect (median horizon return at 80 minus at 10" in r.stdout


def test_pace_effect_can_be_skipped(files, tmp_path):
    cfg, scen = files
    r = run_cli("scenarios", str(cfg), "--scenarios", str(scen), "--paths", "3", "--out", str(tmp_path),
                "--no-report", "--pace-effect-paths", "0")
    assert r.exit_code == 0, r.stdout + r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1])
    pe = pd.read_csv(folder / "pace_effect.csv")
    assert list(pe.columns) == COLUMNS and pe.empty
    assert "pace effect: not measured" in r.stdout
