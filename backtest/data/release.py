"""Publication lags: the day from which each observation may be used by a decision.

Rules (decision at the close of a trading day; see docs/REGIMES in the README):

* H.4.1 weekly series (WALCL, WRESBAL, TREAST, WSHOMCB, WDTGAL): the level of
  Wednesday W is published Thursday 16:30 ET, after the close, so it is usable from
  Friday W+2 days.
* Monthly CPI (CPIAUCSL): the value for month M (dated the 1st of M) is published
  around mid-month M+1; usable from the 15th of M+1 (the next day if the 15th is a
  weekend is implied by :func:`asof`, which only evaluates trading days).
* Daily FRED rates and spreads (SOFR, IORB, DGS*, DTB3, DFEDTARU, RRPONTSYD, ...):
  published the next business morning, so usable from the next business day.
* CBOE index closes (VIX, VIX3M): known at the same day's close (lag 0).

Unknown series default to the daily rule (next business day): conservative.
"""

from __future__ import annotations

import pandas as pd

H41_WEEKLY = frozenset({"WALCL", "WRESBAL", "TREAST", "WSHOMCB", "WDTGAL", "WTREGEN"})
MONTHLY_MID = frozenset({"CPIAUCSL", "CPILFESL", "PCEPI"})
SAME_DAY = frozenset({"VIX", "VIX3M"})

# Known releases that missed the usual schedule (observation date -> first usable day).
# The 2025 government shutdown delayed the September and November 2025 CPI reports
# (October 2025 was never published).
RELEASE_OVERRIDES: dict[str, dict[str, str]] = {
    "CPIAUCSL": {"2025-09-01": "2025-10-24", "2025-11-01": "2025-12-18"},
}


def release_rule(name: str) -> str:
    """Name of the lag rule applied to series ``name``.

    Returns one of ``"h41"``, ``"monthly_mid"``, ``"same_day"``, ``"next_bday"``.
    """
    if name in H41_WEEKLY:
        return "h41"
    if name in MONTHLY_MID:
        return "monthly_mid"
    if name in SAME_DAY:
        return "same_day"
    return "next_bday"


def release_dates(name: str, obs: pd.DatetimeIndex) -> pd.Series:
    """Release (first usable) date of each observation of series ``name``.

    Parameters
    ----------
    name : str
        Series id.
    obs : pd.DatetimeIndex
        Observation dates.

    Returns
    -------
    pd.Series
        Timestamps indexed by ``obs``.
    """
    obs = pd.DatetimeIndex(obs)
    rule = release_rule(name)
    if rule == "h41":
        # Wednesday level -> Friday. For a non-Wednesday stamp, the next Friday strictly after.
        days_to_fri = (4 - obs.dayofweek) % 7
        days_to_fri = days_to_fri.where(days_to_fri > 0, 7)
        rel = obs + pd.to_timedelta(days_to_fri, unit="D")
    elif rule == "monthly_mid":
        rel = (obs.to_period("M") + 1).to_timestamp() + pd.Timedelta(days=14)
    elif rule == "same_day":
        rel = obs
    else:
        rel = obs + pd.offsets.BDay(1)
    out = pd.Series(pd.DatetimeIndex(rel), index=obs, name=f"{name}_released")
    for day, released in RELEASE_OVERRIDES.get(name, {}).items():
        d = pd.Timestamp(day)
        if d in out.index:
            out[d] = max(out[d], pd.Timestamp(released))
    return out
