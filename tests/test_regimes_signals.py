"""Liquidity signals: publication lags, units, proxies and missing data (hand-built series)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.base import MacroSeries, MarketData, asof
from backtest.regimes.signals import SIGNAL_INPUTS, SIGNALS, liquidity_signals, missing_inputs


def _md(days: pd.DatetimeIndex, macro: dict[str, pd.Series], spy: bool = True) -> MarketData:
    prices = pd.DataFrame({"SPY": 100 * np.cumprod(1 + np.full(len(days), 0.001))}, index=days) if spy \
        else pd.DataFrame(index=days)
    prices.index.name = "date"
    return MarketData(prices, {k: MacroSeries.from_observations(k, v) for k, v in macro.items()}, "test")


def _weekly(start: str, n: int, level: float, jump_at: int | None = None, jump: float = 0.0) -> pd.Series:
    idx = pd.date_range(start, periods=n, freq="W-WED")
    v = np.full(n, level)
    if jump_at is not None:
        v[jump_at:] += jump
    return pd.Series(v, index=idx)


# ---------------------------------------------------------------------------- publication lags


def test_walcl_wednesday_value_invisible_before_friday():
    walcl = _weekly("2023-06-07", 40, 8_000_000.0, jump_at=30, jump=100_000.0)  # +100 bn on one Wednesday
    wed = walcl.index[30]
    days = pd.bdate_range(wed - pd.Timedelta(days=14), wed + pd.Timedelta(days=10))
    sig = liquidity_signals(_md(days, {"WALCL": walcl}), days)
    thu, fri = wed + pd.Timedelta(days=1), wed + pd.Timedelta(days=2)
    assert sig.loc[:thu, "walcl"].eq(8000.0).all()  # Wednesday, Thursday: still the old level
    assert sig.loc[:thu, "walcl_chg_4w"].eq(0.0).all()
    assert sig.loc[fri, "walcl"] == pytest.approx(8100.0)  # Friday: the new level is public
    assert sig.loc[fri, "walcl_chg_4w"] == pytest.approx(100.0)
    # and through the low-level accessor
    ms = MacroSeries.from_observations("WALCL", walcl)
    assert asof(ms, pd.DatetimeIndex([wed, thu, fri])).tolist() == [8_000_000.0, 8_000_000.0, 8_100_000.0]


def test_cpi_month_invisible_before_mid_next_month():
    idx = pd.date_range("2022-01-01", "2024-03-01", freq="MS")
    cpi = pd.Series(100.0 * 1.002 ** np.arange(len(idx)), index=idx)
    cpi.loc["2024-01-01"] *= 1.05  # a big January 2024 print
    days = pd.bdate_range("2024-01-25", "2024-02-29")
    sig = liquidity_signals(_md(days, {"CPIAUCSL": cpi}), days)
    before = sig.loc[:"2024-02-14", "cpi_yoy"]
    after = sig.loc["2024-02-15":, "cpi_yoy"]
    assert (before < 3.0).all()  # December 2023 is the latest known print
    assert (after > 7.0).all()  # January's print is public from the 15th of February
    assert before.nunique() == 1 and after.nunique() == 1


def test_daily_fred_rate_usable_next_business_day():
    days = pd.bdate_range("2024-03-01", "2024-03-15")
    dgs10 = pd.Series(4.0, index=days)
    dgs10.loc["2024-03-08"] = 5.0  # a Friday
    dgs2 = pd.Series(3.0, index=days)
    sig = liquidity_signals(_md(days, {"DGS10": dgs10, "DGS2": dgs2}), days)
    assert sig.loc["2024-03-08", "curve_2s10s"] == pytest.approx(1.0)
    assert sig.loc["2024-03-11", "curve_2s10s"] == pytest.approx(2.0)  # Monday
    assert sig.loc["2024-03-12", "curve_2s10s"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------- funding spread


def test_sofr_spread_missing_before_sofr_and_proxy_before_iorb():
    days = pd.bdate_range("2021-06-01", "2021-09-30")
    sofr_days = days[days >= "2021-07-01"]
    sofr = pd.Series(0.05, index=sofr_days)
    iorb = pd.Series(0.15, index=days[days >= "2021-07-29"])
    top = pd.Series(0.25, index=pd.date_range("2021-05-01", "2021-10-31"))
    sig = liquidity_signals(_md(days, {"SOFR": sofr, "IORB": iorb, "DFEDTARU": top}), days)
    s, proxy = sig["sofr_iorb"], sig["sofr_iorb_proxy"]
    assert s.loc[:"2021-07-01"].isna().all()  # no SOFR yet: missing, not zero
    assert s.loc["2021-07-02":"2021-07-29"].eq(-0.20).all()  # SOFR - top of range (proxy)
    assert proxy.loc["2021-07-02":"2021-07-29"].eq(1.0).all()
    assert s.loc["2021-07-30":].round(10).eq(-0.10).all()  # SOFR - IORB
    assert proxy.loc["2021-07-30":].eq(0.0).all()


def test_sofr_spread_matched_by_observation_date_over_a_rate_change_weekend():
    # The target range is cut on a Sunday (like 2020-03-15): Monday's decision sees Friday's
    # SOFR, which must be compared with Friday's target, not Sunday's.
    days = pd.bdate_range("2020-03-09", "2020-03-20")
    cal = pd.date_range("2020-03-01", "2020-03-31")
    top = pd.Series(np.where(cal >= "2020-03-15", 0.25, 1.25), index=cal)
    sofr = pd.Series(np.where(days >= "2020-03-16", 0.20, 1.20), index=days)
    sig = liquidity_signals(_md(days, {"SOFR": sofr, "DFEDTARU": top}), days)
    assert sig["sofr_iorb"].dropna().round(10).eq(-0.05).all()


# ---------------------------------------------------------------------------- units and windows


def test_net_liquidity_units():
    walcl = _weekly("2023-01-04", 20, 8_000_000.0)
    tga = _weekly("2023-01-04", 20, 700_000.0)
    rrp = pd.Series(2000.0, index=pd.bdate_range("2023-01-02", "2023-05-31"))  # billions
    days = pd.bdate_range("2023-03-01", "2023-05-01")
    sig = liquidity_signals(_md(days, {"WALCL": walcl, "WDTGAL": tga, "RRPONTSYD": rrp}), days)
    assert sig["net_liquidity"].eq(5300.0).all()
    assert sig["net_liquidity_chg_4w"].eq(0.0).all()


def test_weekly_change_uses_calendar_offset_not_row_offset():
    walcl = _weekly("2023-01-04", 30, 8_000_000.0)
    walcl.iloc[20:] += np.arange(10) * 10_000.0
    gappy = walcl.drop(walcl.index[20])  # one missing Wednesday (2023-05-24)
    days = pd.bdate_range("2023-06-01", "2023-07-31")
    full = liquidity_signals(_md(days, {"WALCL": walcl}), days)["walcl_chg_4w"]
    holed = liquidity_signals(_md(days, {"WALCL": gappy}), days)["walcl_chg_4w"]
    # where the 4-week-earlier Wednesday exists, both agree; where it is missing: NaN, not a 5-week change
    both = holed.notna()
    assert both.any() and (~both).any()
    assert np.allclose(full[both], holed[both])


def test_cash_rate_switches_to_dgs3mo_after_dtb3_stops():
    days = pd.bdate_range("2026-03-02", "2026-04-30")
    dtb3 = pd.Series(3.5, index=days[days <= "2026-03-26"])
    dgs3mo = pd.Series(3.6, index=days)
    cash = liquidity_signals(_md(days, {"DTB3": dtb3, "DGS3MO": dgs3mo}), days)["cash_rate"]
    # DTB3 is a discount yield: bond-equivalent 365 d / (360 - 91 d), d = 0.035; DGS3MO as is
    assert np.allclose(cash.loc["2026-03-03":"2026-03-27"], 100 * 365 * 0.035 / (360 - 0.035 * 91))
    assert cash.loc["2026-04-15":].eq(3.6).all()


def test_signal_catalogue_and_inputs():
    days = pd.bdate_range("2024-01-01", "2024-02-01")
    sig = liquidity_signals(_md(days, {}), days)
    assert set(sig.columns) <= set(SIGNALS)
    assert set(SIGNAL_INPUTS) == set(SIGNALS)
    md = _md(days, {"WALCL": _weekly("2023-06-07", 40, 1.0)}, spy=False)
    miss = missing_inputs(md, ["walcl_chg_13w", "treast_chg_13w", "sofr_iorb", "spy_rv_1m", "vix"])
    assert miss == {"treast_chg_13w": "TREAST", "sofr_iorb": "SOFR", "spy_rv_1m": "price:SPY", "vix": "VIX|VIXCLS"}


def test_signals_at_or_before_t_ignore_data_after_t():
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2021-01-01", "2022-12-30")
    wed = pd.date_range("2020-06-03", "2022-12-28", freq="W-WED")
    macro = {
        "WALCL": pd.Series(7e6 + np.cumsum(rng.normal(0, 2e4, len(wed))), index=wed),
        "SOFR": pd.Series(rng.normal(0.05, 0.02, len(days)), index=days),
        "DFEDTARU": pd.Series(0.25, index=days),
        "CPIAUCSL": pd.Series(260 + np.arange(36.0), index=pd.date_range("2020-01-01", periods=36, freq="MS")),
    }
    base = liquidity_signals(_md(days, macro), days)
    t = pd.Timestamp("2022-03-16")  # a Wednesday: its H.4.1 level is released after t
    pert = {}
    for k, s in macro.items():
        ms = MacroSeries.from_observations(k, s)
        s2 = s.copy()
        s2[(ms.released > t).to_numpy()] *= 1.7
        pert[k] = s2
    other = liquidity_signals(_md(days, pert), days)
    pd.testing.assert_frame_equal(base.loc[:t], other.loc[:t])
    assert not base.loc[t + pd.Timedelta(days=3):].equals(other.loc[t + pd.Timedelta(days=3):])
