"""Ex-ante analogue pools: rules on a hand-built calendar + signal frame, no peeking, warnings, progress."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from backtest.commands.progress import RichProgress, time_left
from backtest.data.regime_calendar import Regime, RegimeCalendar
from backtest.errors import ScenarioError
from backtest.synthetic.model.bootstrap import build_pool, pool_ranges
from backtest.synthetic.model.pools import (
    clip_before,
    hand_written_warnings,
    mask_periods,
    rule_mask,
)
from backtest.synthetic.scenarios import Period, RuleSpec, scenarios_from_dict
from tests.test_scenarios_defs import small

DAYS = pd.bdate_range("2021-01-04", periods=20)  # Mon 2021-01-04 .. Fri 2021-01-29
TS = pd.Timestamp


def calendar() -> RegimeCalendar:
    # QT over days 0..4, QE announced on day 5 (a stress day) effective day 6 to day 13, RMP day 14..
    return RegimeCalendar((
        Regime("QTX", "qt", TS("2020-12-01"), DAYS[0], DAYS[4]),
        Regime("QEX", "qe", DAYS[5], DAYS[6], DAYS[13]),
        Regime("RMPX", "rmp", DAYS[13] + pd.Timedelta(days=1), DAYS[14], None),
    ))


def signals() -> pd.DataFrame:
    stress = np.zeros(20, dtype=bool)
    stress[[3, 4, 5, 6, 15]] = True
    vix = np.array([15, 16, 17, 31, 35, 40, 38, 30, 26, 24, 22, 20, 19, 18, 17, 33, 20, 21, 22, np.nan])
    hiking = np.array([1, 1, 1, 0, 0] + [0] * 15, dtype=float)
    hiking[0] = np.nan
    return pd.DataFrame({"stress": stress, "vix": vix, "hiking": hiking}, index=DAYS)


def days_of(rule: dict) -> list[int]:
    return list(np.flatnonzero(rule_mask(RuleSpec(**rule), DAYS, calendar(), signals())))


def test_rules_select_the_expected_days():
    assert days_of({"regime_kind": ["rmp"]}) == [14, 15, 16, 17, 18, 19]
    assert days_of({"regime": ["QEX"]}) == list(range(6, 14))
    assert days_of({"regime_kind": ["qt"], "hiking": True}) == [1, 2]  # day 0: rate unknown -> neither
    assert days_of({"regime_kind": ["qt"], "hiking": False}) == [3, 4]
    assert days_of({"stress": True}) == [3, 4, 5, 6, 15]
    assert days_of({"regime_kind": ["rmp"], "stress": False, "vix_below": 21}) == [14, 16]  # NaN VIX excluded
    assert days_of({"vix_above": 30}) == [3, 4, 5, 6, 15]
    assert days_of({"regime_kind": ["qe"], "announced_in_stress": True, "first_days": 3}) == [6, 7, 8]
    assert days_of({"regime_kind": ["qe"], "after_first_days": 3}) == [9, 10, 11, 12, 13]
    assert days_of({"regime_kind": ["qe"], "announced_in_stress": False}) == []
    # day 5 (announcement, before the effective date) is a GAP/plateau day, not QE
    assert days_of({"regime_kind": ["plateau"]}) == [5]


def test_rule_needing_a_missing_signal_is_named():
    with pytest.raises(ScenarioError, match="needs the point-in-time signal 'hiking'"):
        rule_mask(RuleSpec(hiking=True), DAYS, calendar(), signals().drop(columns="hiking"), "s.yaml: x")


def test_runs_of_days_become_periods_and_pool_ranges_are_exact():
    mask = np.zeros(20, dtype=bool)
    mask[[1, 2, 3, 7, 12, 13]] = True
    per = mask_periods("s", DAYS, mask, "rule")
    assert [(p.start, p.end) for p in per] == [(DAYS[1], DAYS[3]), (DAYS[7], DAYS[7]), (DAYS[12], DAYS[13])]
    usable = np.ones(20, dtype=bool)
    usable[2] = False
    pool = build_pool(DAYS, usable, per)
    assert pool_ranges(pool, DAYS) == [(str(DAYS[1].date()), str(DAYS[1].date())),
                                       (str(DAYS[3].date()), str(DAYS[3].date())),
                                       (str(DAYS[7].date()), str(DAYS[7].date())),
                                       (str(DAYS[12].date()), str(DAYS[13].date()))]


def test_no_pool_day_on_or_after_the_start():
    per = [Period("s", DAYS[0], DAYS[4], "a"), Period("s", DAYS[8], DAYS[19], "b"), Period("s", DAYS[12], DAYS[15], "c")]
    cut = clip_before(per, DAYS[10])
    assert [(p.start, p.end) for p in cut] == [(DAYS[0], DAYS[4]), (DAYS[8], DAYS[10] - pd.Timedelta(days=1))]
    pool = build_pool(DAYS, np.ones(20, dtype=bool), cut)
    assert DAYS[pool.days].max() < DAYS[10] and len(pool.days) == 5 + 2


def test_hand_written_ranges_warn_in_one_line_and_rules_do_not():
    sset = scenarios_from_dict(small(), "s.yaml")  # a clipped RMP2019 and two date ranges
    w = hand_written_warnings(sset)
    assert len(w) == 1 and "\n" not in w[0] and w[0].startswith("s.yaml: hand-written analogue dates")
    assert "states.calm.analogues[0]" in w[0] and "states.stress.analogues[1]" in w[0]
    assert "states.calm.analogues[1]" not in w[0]  # a whole calendar period is not hand-written
    ruled = scenarios_from_dict(small(states__calm__analogues=[{"rule": {"regime_kind": ["rmp"]}}],
                                      states__stress__analogues=[{"rule": {"stress": True}}]), "s.yaml")
    assert hand_written_warnings(ruled) == []
    peek = ruled.with_forecast_period(True)
    assert peek.spec.include_forecast_period and "include_forecast_period" in hand_written_warnings(peek)[0]


def test_rule_with_dates_or_unknown_excluded_state_is_rejected():
    with pytest.raises(ScenarioError, match="takes no regime, start or end"):
        scenarios_from_dict(small(states__calm__analogues=[{"rule": {"stress": True}, "end": "2020-01-01"}]), "s.yaml")
    with pytest.raises(ScenarioError, match="exclude_states: 'nope' is not another state"):
        scenarios_from_dict(small(states__calm__analogues=[{"rule": {"stress": True, "exclude_states": ["nope"]}}]),
                            "s.yaml")


def test_time_left_uses_completed_units():
    assert time_left(10.0, 0, 8) is None
    assert time_left(10.0, 2, 8) == pytest.approx(30.0)  # 5 s per unit, 6 left
    assert time_left(10.0, 8, 8) == 0.0


def test_progress_prints_plain_lines_when_not_a_terminal():
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=False, width=200)
    bar = RichProgress(con, "scenarios", "chunks", interval=0.05)
    assert bar.plain
    bar.start(4)
    bar.update(1)
    import time

    time.sleep(0.2)  # the heartbeat prints at least every interval, even without progress
    bar.update(4)
    bar.stop()
    lines = [x for x in buf.getvalue().splitlines() if x.strip()]
    assert len(lines) >= 3
    assert lines[0].startswith("scenarios 1/4 chunks 25%  elapsed 0:00:0")
    assert lines[-1].startswith("scenarios 4/4 chunks 100%") and lines[-1].endswith("left 0:00:00")
    assert "\x1b" not in buf.getvalue()  # no bar, no escape codes
    quick = io.StringIO()
    bar = RichProgress(Console(file=quick, force_terminal=False), "tune", "variants", interval=5.0)
    bar.start(2)
    bar.update(2)
    bar.stop()
    assert quick.getvalue() == ""  # shorter than the interval: nothing (an error stays the only line)
