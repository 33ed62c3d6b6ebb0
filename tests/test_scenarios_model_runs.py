"""The scenario model end to end: no leak past the start, the channel's total effect, pool sensitivity, disjointness.

Small runs on the sample market (bootstrap of its history, or its parametric model) with
few paths; the shipped scenario file's pools on ``../shared/data`` when it is present.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, config_from_dict
from backtest.data.base import MacroSeries
from backtest.data.sample import SampleSource
from backtest.synthetic import runner
from backtest.synthetic.model.history import CH
from backtest.synthetic.scenarios import load_scenarios, scenarios_from_dict
from backtest.synthetic.side.channel_effect import channel_lines
from backtest.synthetic.side.pool_sensitivity import sensitivity_lines

SPY = {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}}
SIXTY = {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}}
BILLS = {"name": "bills", "kind": "fixed_weights", "params": {"weights": {"BIL": 1.0}}}
SIZE_TECH = {"name": "size_tech", "kind": "size_tech_tilt"}  # reads CPI
SHORT_VOL = {"name": "short_vol", "kind": "short_vol"}  # reads VIX and its term structure
START = pd.Timestamp("2025-12-12")

TWO = {
    "start": str(START.date()), "horizon_days": 30, "mean_block_days": 5,
    "states": {
        "calm": {"kind": "rmp", "paced": True, "analogues": [{"rule": {"regime_kind": ["rmp"]}}]},
        "other": {"kind": "qt", "analogues": [{"rule": {"regime_kind": ["qt", "plateau", "qe"]}}]},
    },
    "scenarios": {
        "A": {"probability": 0.6, "pace_bn_month": 25, "start_state": "calm",
              "durations": {"calm": 20, "other": 10}, "exits": {"calm": {"other": 1.0}, "other": {"calm": 1.0}}},
        "B": {"probability": 0.4, "pace_bn_month": 45, "start_state": "other",
              "durations": {"calm": 10, "other": 20}, "exits": {"calm": {"other": 1.0}, "other": {"calm": 1.0}}},
    },
}


def _cfg(strategies, source: str = "csv"):
    data = {"source": "sample"} if source == "sample" else {"source": "csv", "dir": "unused"}
    return config_from_dict({"name": "t", "data": data, "cash": {"rate": "DTB3"}, "strategies": list(strategies)})


@pytest.fixture(scope="module")
def sample():
    return SampleSource(seed=5).load(list(DEFAULT_UNIVERSE), list(DEFAULT_MACRO), None, None)


@pytest.fixture(scope="module")
def md(sample):
    return dataclasses.replace(sample, synthetic=False)  # the bootstrap source: pools drawn from the history


# ------------------------------------------------------------------------ no leak


def _tables(run) -> dict[str, pd.DataFrame]:
    x = run.extras
    return {"metrics": run.scenario_metrics, "regret": run.regret, "fan": run.fan, "pace": x["pace_effect"],
            "channel": x["channel_effect"], "pools": x["pool_table"], "sensitivity": x["pool_sensitivity"].table,
            "separation": x["separation"], "weights": run.weights}


def _scaled(md, prices_from: pd.Timestamp | None, released: tuple[pd.Timestamp, pd.Timestamp], k: float = 1.07):
    """Prices dated on or after ``prices_from`` and macro values released in ``released`` times ``k``."""
    px = md.prices.copy()
    if prices_from is not None:
        px.loc[px.index >= prices_from] *= k
    macro = {}
    for name, ms in md.macro.items():
        hit = np.asarray((ms.released >= released[0]) & (ms.released <= released[1]))
        macro[name] = MacroSeries(ms.name, ms.values.where(~hit, ms.values * k), ms.released)
    return dataclasses.replace(md, prices=px, macro=macro)


def test_values_released_on_or_after_the_start_never_reach_the_run(md):
    cfg = _cfg([SPY, SIZE_TECH, SHORT_VOL])
    sset = scenarios_from_dict(TWO)

    def run(data):
        return runner.run_scenarios(cfg, sset, paths=10, seed=3, md=data, pace_effect_paths=6,
                                    channel_effect_paths=6, sensitivity_paths=6)

    base = run(md)
    assert base.prep.contexts["A"].fill["CPIAUCSL"][0][-1] == pd.Timestamp("2025-12-01")  # Nov, Dec: not out at t0
    late = _scaled(md, START, (START, pd.Timestamp("2100-01-01")))  # every price and release from the start on
    assert not late.macro["CPIAUCSL"].values.equals(md.macro["CPIAUCSL"].values)
    moved = run(late)
    for name, df in _tables(base).items():
        pd.testing.assert_frame_equal(df, _tables(moved)[name], check_exact=True, obj=name)
    # control: the releases of the 40 days before the start (VIX, CPI, H.4.1 ...) do move it
    t0 = base.prep.contexts["A"].t0
    early = run(_scaled(md, None, (t0 - pd.Timedelta(days=40), t0)))
    assert not base.scenario_metrics.equals(early.scenario_metrics)


# ------------------------------------------------------------------------ the liquidity channel's total effect


def _channel_set(beta: float, scale: float, neutral: float | None, pace_b: float) -> dict:
    raw = copy.deepcopy(TWO)
    raw["horizon_days"] = 40
    raw["drift"] = {"mode": "raw"}
    raw["liquidity"] = {"sample_betas": {"SPY": beta}, "beta_scale": scale, "neutral_pace_bn_month": neutral}
    raw["scenarios"]["A"].update({"durations": {"calm": None}, "exits": {}})
    raw["scenarios"]["B"].update({"pace_bn_month": pace_b, "start_state": "calm", "durations": {"calm": None},
                                  "exits": {}})
    return raw


def test_no_channel_gives_an_effect_of_exactly_zero_said_indistinguishable(sample):
    run = runner.run_scenarios(_cfg([SPY, SIXTY], "sample"), scenarios_from_dict(_channel_set(0.05, 0.0, None, 100)),
                               paths=40, seed=2, md=sample, pace_effect_paths=0, channel_effect_paths=40)
    ce = run.extras["channel_effect"]
    assert set(ce["scenario"]) == {"A", "B"} and (ce["paths"] == 40).all()
    np.testing.assert_array_equal(ce[["effect", "ci_lo", "ci_hi"]].to_numpy(), 0.0)
    assert not ce["distinguishable"].any()
    assert all(line.endswith("indistinguishable from zero for every strategy") for line in channel_lines(ce))


def test_a_planted_beta_is_found_and_a_pace_at_neutral_moves_nothing(sample):
    """SPY beta 0.05 per 100 bn; neutral pace 25 stated; A at 25 (no shift), B at 100 (+75 bn/month)."""
    n, horizon = 200, 40
    run = runner.run_scenarios(_cfg([SPY], "sample"), scenarios_from_dict(_channel_set(0.05, 1.0, 25.0, 100)),
                               paths=n, seed=4, md=sample, pace_effect_paths=0, channel_effect_paths=n)
    ce = run.extras["channel_effect"].set_index("scenario")
    assert ce.loc["A", "effect"] == 0.0 and ce.loc["A", "neutral_pace"] == 25.0
    d = 0.05 / 100.0 * (75.0 / (52.0 / 12.0)) / 5.0  # daily shift of every (paced) day: 0.0173 %
    off = run.scenario_metrics  # the "on" median of B's paths is in the scorecard; off = on / ((1 + d)^(T - 1))
    on_med = float(off[(off["scenario"] == "B") & (off["statistic"] == "horizon_return")]["median"].iloc[0])
    expected = (1 + on_med) * (1 - (1 + d) ** -(horizon - 1))  # bought at the first simulated close (lag 1)
    r = ce.loc["B"]
    assert r["pace"] == 100.0 and r["distinguishable"] and r["ci_lo"] <= expected <= r["ci_hi"]
    assert r["effect"] == pytest.approx(expected, rel=0.02)


# ------------------------------------------------------------------------ pool sensitivity


def _crash(md, lo: str, hi: str, daily: float = -0.02):
    """SPY falls ``daily`` every day of [lo, hi] (prices after rescaled: returns elsewhere unchanged)."""
    px = md.prices.copy()
    s = px["SPY"].to_numpy(dtype=float)
    r = np.r_[0.0, s[1:] / s[:-1] - 1.0]
    r[np.asarray((px.index >= lo) & (px.index <= hi))] = daily
    px["SPY"] = s[0] * np.cumprod(1.0 + r)
    return dataclasses.replace(md, prices=px)


def test_leaving_out_a_crash_episode_moves_spy_and_the_choice(md):
    r1, r2 = ("2015-01-02", "2015-06-30"), ("2016-01-04", "2016-03-31")  # SPY +20 % in r1 on this market
    data = _crash(md, *r2)
    raw = {"start": str(START.date()), "horizon_days": 30, "mean_block_days": 5, "drift": {"mode": "raw"},
           "scoring": {"regret_statistic": "horizon_return", "choice_resamples": 20},
           "states": {"calm": {"kind": "qt", "analogues": [{"start": r1[0], "end": r1[1]},
                                                            {"start": r2[0], "end": r2[1]}]}},
           "scenarios": {"A": {"probability": 1.0, "pace_bn_month": 25, "start_state": "calm",
                               "durations": {"calm": None}}}}
    cfg, n = _cfg([SPY, BILLS]), 24
    run = runner.run_scenarios(cfg, scenarios_from_dict(raw), paths=n, seed=6, md=data, pace_effect_paths=0,
                               channel_effect_paths=0, sensitivity_paths=n)
    res = run.extras["pool_sensitivity"]
    t = res.table.set_index(["episode", "strategy"])
    crash, calm = f"{r2[0]}..{r2[1]}", f"{r1[0]}..{r1[1]}"
    assert set(res.table["episode"]) == {crash, calm} and (res.table["rerun_paths"] == n).all()
    assert res.choice_base == "bills" and t.loc[(crash, "spy"), "choice_without"] == "spy"
    assert t.loc[(crash, "spy"), "d_median"] > 0.10 and t.loc[(crash, "spy"), "d_cvar5"] > 0.10
    assert t.loc[(calm, "spy"), "d_median"] < 0 and t.loc[(calm, "spy"), "choice_without"] == "bills"
    assert abs(t.loc[(crash, "bills"), "d_median"]) < 0.01
    assert res.most["episode"] == crash and f"leaving out calm {crash}" in sensitivity_lines(res)[0]
    # a second implementation: a fresh run whose pool is the calm episode alone gives the same numbers
    alone = copy.deepcopy(raw)
    alone["states"]["calm"]["analogues"] = [{"start": r1[0], "end": r1[1]}]
    fresh = runner.run_scenarios(cfg, scenarios_from_dict(alone), paths=n, seed=6, md=data, pace_effect_paths=0,
                                 channel_effect_paths=0, sensitivity_paths=0)
    sm = fresh.scenario_metrics.set_index(["strategy", "scenario", "statistic"])
    assert t.loc[(crash, "spy"), "median_without"] == sm.loc[("spy", "mix", "horizon_return"), "median"]
    assert t.loc[(crash, "spy"), "cvar5_without"] == sm.loc[("spy", "mix", "cvar_5"), "mean"]


# ------------------------------------------------------------------------ neutral rates


def test_rate_channels_carry_no_pool_drift(md):
    raw = copy.deepcopy(TWO)
    raw["horizon_days"] = 120
    raw["states"] = {"calm": {"kind": "qt", "paced": True, "analogues": [{"start": "2009-01-02", "end": "2012-12-31"}]}}
    raw["scenarios"] = {"A": {"probability": 1.0, "pace_bn_month": 25, "start_state": "calm",
                              "durations": {"calm": None}}}
    prep = runner.prepare(_cfg([SPY]), scenarios_from_dict(raw), md=md)
    ctx = prep.contexts["A"]
    ch = np.nan_to_num(prep.history.changes, nan=0.0)
    for c in ("dgs2", "dgs10", "top", "rrp"):  # a second implementation of the demeaning
        assert ctx.ch_demean[0, CH[c]] == pytest.approx(ch[ctx.pools[0].days, CH[c]].mean(), abs=1e-15)
    from backtest.synthetic.model.generator import generate

    pan = generate(ctx, 1, 0, 300)
    move = pan.daily["DGS10"][:, -1] - ctx.anchors["dgs10"]
    se = move.std(ddof=1) / np.sqrt(len(move))
    pool_drift = ch[ctx.pools[0].days, CH["dgs10"]].mean() * ctx.horizon
    assert abs(pool_drift) > 6 * se  # the pool trends: without demeaning the test would fail
    assert abs(move.mean()) < 4 * se


# ------------------------------------------------------------------------ disjoint pools of the shipped file


def _assert_disjoint(prep) -> None:
    sset = prep.sset
    for kh in {id(k): k for k in prep.known.values()}.values():
        dates = kh.history.dates
        owned = np.zeros(len(dates), dtype=int)
        watch = kh.signals["stress_watch"].to_numpy(dtype=bool)
        for s, paced in zip(sset.states, sset.paced, strict=True):
            m = np.zeros(len(dates), dtype=bool)
            for p in kh.periods[s]:
                m |= np.asarray((dates >= p.start) & (dates <= p.end))
            owned += m
            if paced:
                assert not (m & watch).any(), s
                assert not (m & kh.signals["stress"].to_numpy(dtype=bool)).any(), s
        assert owned.max() <= 1, "a day in two pools"


def test_shipped_pools_are_disjoint_on_the_sample_market(sample):
    _assert_disjoint(runner.prepare(_cfg([SPY], "sample"), load_scenarios(), md=sample))


@pytest.mark.realdata
def test_shipped_pools_are_disjoint_on_the_real_data(shared_data):
    from backtest.commands.loading import load_run_config

    cfg = load_run_config("configs/historical.yaml", [], data_dir=str(shared_data))
    cfg = cfg.model_copy(update={"strategies": cfg.strategies[:1]})
    prep = runner.prepare(cfg, load_scenarios())
    _assert_disjoint(prep)
    calm = prep.sset.states.index("calm_repair")
    days = prep.history.dates[prep.contexts["A"].pools[calm].days]
    assert days.min() == pd.Timestamp("2019-10-15") and days.max() == pd.Timestamp("2020-02-21")  # no Covid crash
    for ctx in prep.contexts.values():  # nothing released after t0 was read
        assert prep.known[ctx.scenario.name].md.calendar[-1] == ctx.t0
