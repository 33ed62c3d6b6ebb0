"""The NYSE trading calendar by rule: weekdays that are not full-day exchange holidays.

The price data give the trading days of the past; a run that looks past its last day (the
next decision date of ``rmpbt now``, whether the data's last day closes its month) needs
the exchange's future days. These are the NYSE's regular holiday rules (Rule 7.2):

* New Year's Day (Jan 1; Sunday -> Monday; Saturday -> not observed: Dec 31 is a trading day),
* Martin Luther King Jr. Day (third Monday of January, from 1998),
* Washington's Birthday (third Monday of February),
* Good Friday (two days before Easter Sunday, Gregorian computus),
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

from datetime import date, timedelta

import pandas as pd

__all__ = ["exchange_days", "exchange_days_after", "nyse_holidays"]


def _easter(year: int) -> date:
    """Easter Sunday of ``year`` (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month = (h + m - 7 * n + 114) // 31
    day = (h + m - 7 * n + 114) % 31 + 1
    return date(year, month, day)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of a month; ``n = -1``: the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    """A fixed-date holiday's observed day (Saturday -> Friday, Sunday -> Monday)."""
    if d.weekday() == 5:
        return d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


def _year_holidays(year: int) -> list[date]:
    days = []
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:  # a Saturday New Year's Day is not observed on Dec 31
        days.append(_observed(new_year))
    if year >= 1998:
        days.append(_nth_weekday(year, 1, 0, 3))
    days.append(_nth_weekday(year, 2, 0, 3))
    days.append(_easter(year) - timedelta(days=2))
    days.append(_nth_weekday(year, 5, 0, -1))
    if year >= 2022:
        days.append(_observed(date(year, 6, 19)))
    days.append(_observed(date(year, 7, 4)))
    days.append(_nth_weekday(year, 9, 0, 1))
    days.append(_nth_weekday(year, 11, 3, 4))
    days.append(_observed(date(year, 12, 25)))
    return days


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
    days = sorted({d for y in range(s.year, e.year + 1) for d in _year_holidays(y)})
    idx = pd.DatetimeIndex(days)
    return idx[(idx >= s) & (idx <= e)]


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
