"""The NYSE calendar by rule (backtest.data.exchange_calendar) against real history and by hand.

The real check: every weekday missing from SPY's history in ``../shared/data``
(1993-2026) is a holiday of the rules or one of the known unscheduled closures, and no
holiday of the rules is a day SPY traded.
"""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.data.exchange_calendar import exchange_days, exchange_days_after, nyse_holidays
from backtest.execution.spec import decision_dates
from backtest.now import next_decision

# closures no rule can know in advance (funerals, 9/11, hurricane Sandy)
UNSCHEDULED = pd.DatetimeIndex(["1994-04-27", "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14", "2004-06-11",
                                "2007-01-02", "2012-10-29", "2012-10-30", "2018-12-05", "2025-01-09"])


def test_rules_match_every_closure_of_the_real_history(shared_data):
    spy = pd.read_csv(shared_data / "prices" / "SPY.csv", usecols=["date"], parse_dates=["date"])
    cal = pd.DatetimeIndex(spy["date"])
    s, e = cal[0], cal[-1]
    closed = pd.bdate_range(s, e).difference(cal)
    rules = nyse_holidays(s, e)
    assert len(rules) > 290  # ~9 a year over 33 years
    unscheduled = list(UNSCHEDULED[(UNSCHEDULED >= s) & (UNSCHEDULED <= e)])
    assert list(closed.difference(rules)) == unscheduled
    assert rules.difference(closed).empty  # no rule holiday was a trading day
    days = exchange_days(s, e)
    assert cal.difference(days).empty  # every trading day of the history is an exchange day
    assert list(days.difference(cal)) == unscheduled  # and only the unscheduled closures did not trade


def test_holidays_by_hand():
    h = set(nyse_holidays("2026-01-01", "2027-12-31").strftime("%Y-%m-%d"))
    assert {"2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19", "2026-07-03",
            "2026-09-07", "2026-11-26", "2026-12-25"} <= h  # July 4th 2026 is a Saturday: Friday the 3rd
    assert {"2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31", "2027-06-18", "2027-07-05",
            "2027-09-06", "2027-11-25", "2027-12-24"} <= h  # Juneteenth Sat -> Fri, Christmas Sat -> Fri 24th
    assert len(h) == 20
    # New Year's Day on a Saturday is not observed on Friday Dec 31 (2021-12-31 traded)
    assert pd.Timestamp("2021-12-31") not in nyse_holidays("2021-12-01", "2022-01-31")
    assert pd.Timestamp("2022-01-01") not in exchange_days("2021-12-31", "2022-01-03")
    # Juneteenth only from 2022; MLK day only from 1998
    assert pd.Timestamp("2021-06-18") not in nyse_holidays("2021-06-01", "2021-06-30")
    assert pd.Timestamp("1997-01-20") not in nyse_holidays("1997-01-01", "1997-01-31")


def test_exchange_days_after_gives_exactly_n_days():
    assert list(exchange_days_after("2026-12-23", 3).strftime("%Y-%m-%d")) == ["2026-12-24", "2026-12-28", "2026-12-29"]
    assert len(exchange_days_after("2026-07-13", 0)) == 0
    long = exchange_days_after("2026-07-13", 2520)  # ten years: the window grows as needed
    assert len(long) == 2520 and long[0] == pd.Timestamp("2026-07-14")
    assert long.equals(exchange_days(long[0], long[-1]))


@pytest.mark.parametrize("as_of, every, expected", [
    ("2024-03-27", "monthly", "2024-03-28"),   # Good Friday 2024-03-29 closes Q1 a day early
    ("2024-03-27", "quarterly", "2024-03-28"),
    ("2027-05-27", "monthly", "2027-05-28"),   # Memorial Day 2027 is Monday May 31, the month's last weekday
    ("2026-07-02", "daily", "2026-07-06"),     # July 3rd 2026 observed (the 4th is a Saturday)
    ("2026-12-31", "daily", "2027-01-04"),     # 2027-01-01 holiday, then the weekend
    ("2026-11-25", "weekly", "2026-11-27"),    # Thanksgiving week: Friday still trades
])
def test_next_decision_skips_exchange_holidays(as_of, every, expected):
    assert next_decision(pd.Timestamp(as_of), every) == pd.Timestamp(expected)


def test_data_ending_before_a_month_end_holiday_closes_its_month():
    """Data through Thursday 2024-03-28 (Good Friday follows): the 28th is March's (and Q1's) last trading day."""
    days = exchange_days("2024-01-02", "2024-03-28")
    assert days[-1] in decision_dates(days, "monthly")
    assert days[-1] in decision_dates(days, "quarterly")
    # one trading day earlier, the month is still open: no decision on the data's last day
    assert days[-2] not in decision_dates(days[:-1], "monthly")
