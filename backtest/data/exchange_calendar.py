"""The NYSE trading calendar by rule: weekdays that are not full-day exchange holidays.

The price data give the trading days of the past; a run that looks past its last day (the
next decision date of ``rmpbt now``, whether the data's last day closes its month) needs
the exchange's future days. These are the NYSE's regular holiday rules (Rule 7.2), written
as :mod:`pandas.tseries.holiday` rules (pandas' own US rules where they match the exchange):

* New Year's Day (Jan 1; Sunday -> Monday; Saturday -> not observed: Dec 31 is a trading day),
* Martin Luther King Jr. Day (third Monday of January, from 1998),
* Washington's Birthday (third Monday of February),
* Good Friday (two days before Easter Sunday),
* Memorial Day (last Monday of May),
* Juneteenth (June 19, from 2022),
* Independence Day (July 4),
* Labor Day (first Monday of September),
* Thanksgiving Day (fourth Thursday of November),
* Christmas Day (Dec 25),

where a fixed-date holiday on a Saturday is observed the Friday before and on a Sunday the
Monday after. Unscheduled closures (national days of mourning, storms: 2012-10-29/30,
2018-12-05, 2025-01-09) cannot be known in advance and are not included; early closes are
trading days. ``tests/test_exchange_calendar.py`` checks the rules against every weekday
missing from the real SPY history of ``../shared/data``.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from pandas.tseries.holiday import (
    AbstractHolidayCalendar,
    GoodFriday,
    Holiday,
    USLaborDay,
    USMartinLutherKingJr,
    USMemorialDay,
    USPresidentsDay,
    USThanksgivingDay,
    nearest_workday,
    sunday_to_monday,
)

__all__ = ["NYSEHolidayCalendar", "exchange_days", "exchange_days_after", "holidays_of_years", "nyse_holidays"]


class NYSEHolidayCalendar(AbstractHolidayCalendar):
    """The NYSE's regular full-day holidays (see the module docstring)."""

    rules = [
        Holiday("New Year's Day", month=1, day=1, observance=sunday_to_monday),  # a Saturday one stays on Saturday
        Holiday(USMartinLutherKingJr.name, month=1, day=1, offset=USMartinLutherKingJr.offset, start_date="1998-01-01"),
        USPresidentsDay,
        GoodFriday,
        USMemorialDay,
        Holiday("Juneteenth", month=6, day=19, observance=nearest_workday, start_date="2022-01-01"),
        Holiday("Independence Day", month=7, day=4, observance=nearest_workday),
        USLaborDay,
        USThanksgivingDay,
        Holiday("Christmas Day", month=12, day=25, observance=nearest_workday),
    ]


def nyse_holidays(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """Full-day NYSE holidays (by rule) between ``start`` and ``end`` inclusive.

    Parameters
    ----------
    start, end : Timestamp or str
        The window (dates; times are ignored).

    Returns
    -------
    pd.DatetimeIndex
        Sorted weekdays on which the exchange is closed by its holiday rules.
    """
    s, e = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    days = holidays_of_years(min(s.year, YEARS[0]), max(e.year, YEARS[1]))
    return days[(days >= s) & (days <= e)]


#: The years computed on first use (pandas evaluates each rule at ~1 ms a call, whatever the
#: span): the data's history and the decades after it. A wider request computes its own span.
YEARS = (1990, 2060)


@lru_cache(maxsize=8)
def holidays_of_years(first: int, last: int) -> pd.DatetimeIndex:
    """Full-day NYSE holidays on weekdays from Jan 1 of ``first`` to Dec 31 of ``last`` (cached)."""
    days = NYSEHolidayCalendar().holidays(pd.Timestamp(first, 1, 1), pd.Timestamp(last, 12, 31))
    return pd.DatetimeIndex(days[days.dayofweek < 5])


def exchange_days(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """NYSE trading days between ``start`` and ``end`` inclusive (weekdays less holidays).

    Parameters
    ----------
    start, end : Timestamp or str
        The window (dates; times are ignored).

    Returns
    -------
    pd.DatetimeIndex
    """
    s, e = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    return pd.bdate_range(s, e).difference(nyse_holidays(s, e))


def exchange_days_after(day: pd.Timestamp | str, n: int) -> pd.DatetimeIndex:
    """The first ``n`` NYSE trading days strictly after ``day``.

    Parameters
    ----------
    day : Timestamp or str
        The last day already known (a date; times are ignored).
    n : int
        How many days (>= 0).

    Returns
    -------
    pd.DatetimeIndex
        Exactly ``n`` days.
    """
    start = pd.Timestamp(day).normalize() + pd.Timedelta(days=1)
    span = n * 3 // 2 + 10  # calendar days: ~1.45 per trading day, plus a holiday cluster
    while True:
        days = exchange_days(start, start + pd.Timedelta(days=span))
        if len(days) >= n:
            return days[:n]
        span *= 2
