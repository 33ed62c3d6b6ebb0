"""The scenario model's own checks: disjoint pools, neutral channels, episodes, drift and separation words.

Cheap unit tests on hand-built inputs; the end-to-end ones (leak, channel effect, pool
sensitivity) are in ``tests/test_scenarios_model_runs.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.base import MacroSeries
from backtest.errors import ScenarioError
from backtest.synthetic.evaluate.separation import margin_se, separation_sentence, separation_table
from backtest.synthetic.model.bootstrap import build_pool
from backtest.synthetic.model.context import neutral_paces
from backtest.synthetic.model.drift import drift_source, state_drifts
from backtest.synthetic.model.generator import path_release
from backtest.synthetic.model.pool_episodes import pool_episodes
from backtest.synthetic.model.pools import resolve_analogues
from backtest.synthetic.model.release_cut import cpi_nowcast, unreleased_fill
from backtest.synthetic.scenarios import Period, scenarios_from_dict
from tests.test_scenario_pools import DAYS, calendar, signals

TS = pd.Timestamp


# ------------------------------------------------------------------------ disjoint pools


def _two_states(precedence: list[str] | None, paced: str | None = None) -> dict:
    st = {"a": {"kind": "qe", "analogues": [{"rule": {"vix_above": 20}}]},
          "b": {"kind": "rmp", "analogues": [{"rule": {"regime_kind": ["rmp", "qe"]}}]}}  # days 6..19
    if paced:
        st[paced]["paced"] = True
    raw = {"start": "2021-03-01", "horizon_days": 5, "states": st,
           "scenarios": {"A": {"probability": 1.0, "pace_bn_month": 10, "start_state": "a",
                               "durations": {"a": None}}}}
    if precedence:
        raw["precedence"] = precedence
    return raw


def _resolve(raw: dict, claims: dict | None = None) -> dict[str, set[int]]:
    sset = scenarios_from_dict(raw, "s.yaml")
    sig = signals()
    sig["stress_watch"] = sig["stress"] | (sig["vix"] >= 25)
    from unittest import mock

    with mock.patch("backtest.synthetic.model.pools.load_calendar", return_value=calendar()):
        per = resolve_analogues(sset, DAYS, signals=sig, claims=claims)
    out = {}
    for s, ps in per.items():
        m = np.zeros(len(DAYS), dtype=bool)
        for p in ps:
            m |= np.asarray((DAYS >= p.start) & (DAYS <= p.end))
        out[s] = set(np.flatnonzero(m).tolist())
    return out


def test_precedence_gives_each_day_to_the_first_state_that_selects_it():
    # by hand: vix > 20 on days 3..10 and 15, 17, 18 (19 is NaN); qe/rmp days 6..19
    a = {3, 4, 5, 6, 7, 8, 9, 10, 15, 17, 18}
    b = set(range(6, 20))
    claims: dict = {}
    got = _resolve(_two_states(["a", "b"]), claims)
    assert got == {"a": a, "b": b - a}
    assert claims["b"] == {"selected": 14, "lost_to": {"a": 8}, "stress_watch": 0}
    assert _resolve(_two_states(["b", "a"])) == {"b": b, "a": a - b}
    assert _resolve(_two_states(None)) == {"a": a, "b": b - a}  # default: the order of the states


def test_a_paced_state_holds_no_stress_watch_day():
    # stress flag on 3, 4, 5, 6, 15; VIX >= 25 on 3..8, 15: the watch covers 3..8 and 15
    got = _resolve(_two_states(["b", "a"], paced="b"))
    assert got["b"] == set(range(9, 20)) - {15}
    assert got["a"] == {3, 4, 5, 6, 7, 8, 15}  # a is not paced: it keeps the watch days b could not take


def test_precedence_must_name_every_state_once():
    with pytest.raises(ScenarioError, match=r"precedence: must list every state exactly once \(missing b\)"):
        scenarios_from_dict(_two_states(["a"]), "s.yaml")
    with pytest.raises(ScenarioError, match=r"unknown or repeated a"):
        scenarios_from_dict(_two_states(["a", "a", "b"]), "s.yaml")


# ------------------------------------------------------------------------ episodes


def _pool(dates, runs):
    return build_pool(dates, np.ones(len(dates), dtype=bool), [Period("s", dates[a], dates[b - 1], "x") for a, b in runs])


def test_episodes_bridge_short_gaps_join_short_ones_and_group_many_by_year():
    dates = pd.bdate_range("2019-01-01", periods=900)
    # [10, 35) and [40, 60): gap of 5 rows, one episode of 45 days; [100, 130): 30 days; [200, 205): 5 days,
    # shorter than 21, joins its nearest neighbour [100, 130)
    eps = pool_episodes("s", _pool(dates, [(10, 35), (40, 60), (100, 130), (200, 205)]), dates)
    assert [e.days for e in eps] == [45, 35] and all(e.grouped == "segment" for e in eps)
    np.testing.assert_array_equal(eps[1].rows, np.r_[100:130, 200:205])
    assert eps[0].label == f"{dates[10].date()}..{dates[59].date()}" and eps[1].last == dates[204]
    runs = [(a, a + 12) for a in range(0, 900, 60)]  # 15 runs of 12 days: more than 8 -> one episode per year
    eps = pool_episodes("s", _pool(dates, runs), dates)
    rows = np.concatenate([np.arange(a, b) for a, b in runs])
    per_year = pd.Series(1, index=dates[rows].year).groupby(level=0).sum()
    assert per_year.to_dict() == {2019: 60, 2020: 48, 2021: 52, 2022: 20}  # 2022 is short: joins 2021
    assert [e.label for e in eps] == ["year 2019", "year 2020", "years 2021-2022"] and eps[0].grouped == "year"
    assert [e.days for e in eps] == [60, 48, 72]
    assert pool_episodes("s", _pool(dates, [(0, 30)]), dates)[0].days == 30  # one episode: nothing to join


# ------------------------------------------------------------------------ neutral channels


def test_neutral_pace_is_the_flow_the_target_drift_carries():
    ref = np.array([100.0, -40.0])
    np.testing.assert_allclose(neutral_paces(None, ref, 20.0, np.array([0.0, 0.0])), [20.0, 20.0])
    np.testing.assert_allclose(neutral_paces(None, ref, 20.0, np.array([1.0, 0.25])), [100.0, 0.25 * -40 + 0.75 * 20])
    np.testing.assert_allclose(neutral_paces(None, ref, 20.0, None), ref)
    np.testing.assert_allclose(neutral_paces(7.5, ref, 20.0, np.array([1.0, 0.0])), [7.5, 7.5])


# ------------------------------------------------------------------------ release cut and nowcasts


def test_cpi_months_not_released_at_t0_are_nowcast_at_the_trailing_growth():
    months = pd.date_range("2024-01-01", "2025-09-01", freq="MS")
    vals = 300.0 * np.exp(0.002 * np.arange(len(months)))
    ms = MacroSeries("CPIAUCSL", pd.Series(vals, index=months), pd.Series(months + pd.Timedelta(days=45), index=months))
    level, dates, fill = cpi_nowcast(ms, TS("2025-12-11"))  # Oct, Nov, Dec unknown
    assert list(dates) == [TS("2025-10-01"), TS("2025-11-01"), TS("2025-12-01")]
    np.testing.assert_allclose(fill, vals[-1] * np.exp(0.002 * np.array([1, 2, 3])), rtol=1e-12)
    assert level == pytest.approx(fill[-1])
    level, dates, fill = cpi_nowcast(ms, TS("2025-09-20"))  # the month of t0 is out: nothing to fill
    assert level == vals[-1] and len(dates) == 0


def test_unreleased_daily_and_weekly_observations_are_filled_flat():
    from backtest.data.base import MarketData

    days = pd.bdate_range("2025-12-01", "2025-12-11")
    wed = pd.DatetimeIndex(["2025-11-26", "2025-12-03"])  # 12-10 is released on Friday 12-12: not known at t0
    md = MarketData(pd.DataFrame({"SPY": 1.0}, index=days), {
        "WALCL": MacroSeries("WALCL", pd.Series([10.0, 11.0], index=wed), pd.Series(wed + pd.Timedelta(days=2), index=wed)),
        "DGS2": MacroSeries("DGS2", pd.Series(3.5, index=days[:-1]), pd.Series(days[1:], index=days[:-1])),
    }, "t")
    fill = unreleased_fill(md, TS("2025-12-11"), ["WALCL", "DGS2"])
    assert list(fill["WALCL"][0]) == [TS("2025-12-10")] and fill["WALCL"][1].tolist() == [11.0]
    assert list(fill["DGS2"][0]) == [TS("2025-12-11")] and fill["DGS2"][1].tolist() == [3.5]


def test_path_observations_are_never_released_before_the_first_simulated_day():
    obs = pd.DatetimeIndex(["2025-09-01", "2025-10-01", "2025-11-01", "2026-01-01"])
    rel = path_release("CPIAUCSL", obs, TS("2025-12-12"), n_history=1)
    assert rel.iloc[0] < TS("2025-12-12")  # history keeps its rule date
    assert rel.iloc[1] == TS("2025-12-12") and rel.iloc[2] >= TS("2025-12-12")  # nowcast months: not before day 1
    assert rel.iloc[3] > TS("2026-01-31")


# ------------------------------------------------------------------------ where the medians come from


def test_drift_sentence_names_the_states_at_the_unconditional_drift():
    pool = np.array([[0.001, 0.0002], [0.0, 0.0001]])
    sd = np.full((2, 2), 0.01)
    uncond = np.array([0.0004, 0.0001])
    d = state_drifts("demeaned", pool, sd, uncond, np.array([100, 100]), np.array([100, 100]))
    text = drift_source(["calm", "stress"], d, ["SPY", "IEF"])
    assert text.startswith("Where the medians come from: every state drifts at the unconditional mean")
    assert f"SPY {0.0004 * 252:+.1%}/yr" in text and f"IEF {0.0001 * 252:+.1%}/yr" in text
    assert drift_source(["calm", "stress"], state_drifts("raw", pool, sd, uncond, np.array([100, 100]),
                                                         np.array([100, 100])), ["SPY", "IEF"]) is None
    d2 = state_drifts("shrunk", pool, sd, uncond, np.array([100, 100]), np.array([100, 100]))
    d2 = type(d2)(**{**d2.__dict__, "weight": np.array([0.0, 0.4])})
    assert "calm drifts at the unconditional mean" in drift_source(["calm", "stress"], d2, ["SPY", "IEF"])


# ------------------------------------------------------------------------ can the scenarios separate?


def test_margin_standard_error_by_hand():
    # 3 resamples, 2 strategies, 1 scenario: regret = best - value; margin of s1 over s0 = v0 - v1 when s0 leads
    v = np.array([[[0.10], [0.07]], [[0.10], [0.09]], [[0.08], [0.10]]])
    margins = np.array([0.03, 0.01, -0.02])  # max regret s1 - max regret s0 per resample
    np.testing.assert_allclose(margin_se(v, 0), [0.0, np.std(margins, ddof=1)])


def _regret(mx: list[float]) -> pd.DataFrame:
    mx = np.asarray(mx)
    return pd.DataFrame({"strategy": ["a", "b", "c"], "max_regret": mx, "robust": mx == mx.min()})


def test_a_margin_within_the_noise_is_said_to_be_inseparable():
    reg = _regret([0.00, 0.010, 0.050])
    t = separation_table(reg, np.array([0.0, 0.006, 0.004]), {"a": 0.0, "b": 0.001, "c": 0.002})
    assert t["separated"].tolist() == [False, False, True]  # b: 1.0 pp < 2 x 0.6; c: 5 pp > 0.8 and > 0.2
    text, tone = separation_sentence(t, reg)
    assert text.startswith("The scenarios cannot separate a from b:") and tone == "neutral"
    t = separation_table(reg, np.array([0.0, 0.001, 0.001]), {"a": 0.0, "b": 0.02, "c": 0.0})
    assert t["separated"].tolist() == [False, False, True]  # b: beyond Monte Carlo, within the pool move
    t = separation_table(reg, np.array([0.0, 0.001, 0.001]), {"a": 0.0, "b": 0.002, "c": 0.0})
    text, tone = separation_sentence(t, reg)
    assert tone == "good" and text.startswith("The scenarios separate a from every other strategy: the runner-up b")
