"""Data layer: point-in-time access, release dates, csv source, validation repairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.base import MacroSeries, asof
from backtest.data.csv_source import CsvSource
from backtest.data.release import release_dates
from backtest.data.validate import align_prices
from backtest.errors import DataError
from tests.helpers import make_data_dir, trading_days


def test_asof_uses_release_not_observation_date():
    # weekly WALCL for Wednesday 2024-01-03 is public from Friday 2024-01-05
    obs = pd.DatetimeIndex(["2024-01-03", "2024-01-10"])
    ms = MacroSeries.from_observations("WALCL", pd.Series([100.0, 110.0], index=obs))
    assert list(ms.released) == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-12")]
    days = pd.bdate_range("2024-01-03", "2024-01-15")
    v = asof(ms, days)
    assert np.isnan(v[pd.Timestamp("2024-01-04")])  # Thursday: released after the close
    assert v[pd.Timestamp("2024-01-05")] == 100.0
    assert v[pd.Timestamp("2024-01-11")] == 100.0
    assert v[pd.Timestamp("2024-01-12")] == 110.0


def test_release_rules():
    # CPI for March 2024 (dated 2024-03-01) usable from 2024-04-15
    assert release_dates("CPIAUCSL", pd.DatetimeIndex(["2024-03-01"])).iloc[0] == pd.Timestamp("2024-04-15")
    # daily FRED rate of a Friday is usable the next Monday
    assert release_dates("DGS10", pd.DatetimeIndex(["2024-01-05"])).iloc[0] == pd.Timestamp("2024-01-08")
    # VIX close is known at the same close
    assert release_dates("VIX", pd.DatetimeIndex(["2024-01-05"])).iloc[0] == pd.Timestamp("2024-01-05")


def test_asof_with_out_of_order_releases():
    # a revised/late observation: obs 2 released before obs 1 -> latest *observation* wins
    values = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"]))
    released = pd.Series(pd.DatetimeIndex(["2024-01-10", "2024-01-05"]), index=values.index)
    ms = MacroSeries("X", values, released)
    v = asof(ms, pd.DatetimeIndex(["2024-01-04", "2024-01-05", "2024-01-10"]))
    assert np.isnan(v.iloc[0]) and v.iloc[1] == 2.0 and v.iloc[2] == 2.0


def test_csv_source_loads_and_labels(tmp_path):
    days = pd.bdate_range("2020-01-01", periods=200)
    d = make_data_dir(tmp_path / "d", macro={"DGS10": pd.Series(1.5, index=days), "VIX": pd.Series(20.0, index=days)})
    md = CsvSource(d).load(["SPY", "IEF"], ["DGS10", "VIX"], None, None)
    assert list(md.prices.columns) == ["SPY", "IEF"] and not md.synthetic
    assert md.macro["VIX"].values.iloc[0] == 20.0
    with pytest.raises(DataError, match="unknown macro series NOPE"):
        CsvSource(d).load(["SPY"], ["NOPE"], None, None)
    with pytest.raises(DataError, match="data folder .* not found"):
        CsvSource(tmp_path / "missing")


def test_short_gap_is_filled_and_reported():
    days = trading_days("2020-01-01", 30)  # no exchange holiday: refused by the data layer (issue 25)
    a = pd.Series(np.linspace(100, 110, 30), index=days)
    b = a.copy()
    b.iloc[10:12] = np.nan
    prices, notes = align_prices({"A": a, "B": b}, {"A": "a.csv", "B": "b.csv"})
    assert prices["B"].iloc[11] == b.iloc[9]
    assert notes == ["B: 2 missing price(s) inside its history forward-filled"]


def test_stale_series_is_an_error():
    days = trading_days("2020-01-01", 60)
    a = pd.Series(100.0, index=days)
    b = pd.Series(50.0, index=days[:30])
    with pytest.raises(DataError, match=rf"b.csv: B ends on {days[29].date()}, more than 10 days before "
                                        rf"{days[59].date()} \(the last price of A\)"):
        align_prices({"A": a, "B": b}, {"A": "a.csv", "B": "b.csv"})


def test_late_start_keeps_nan_before_first_price():
    days = trading_days("2020-01-01", 20)
    a = pd.Series(100.0, index=days)
    b = pd.Series(50.0, index=days[5:])
    prices, _ = align_prices({"A": a, "B": b}, {"A": "a", "B": "b"})
    assert prices["B"].iloc[:5].isna().all() and prices["B"].iloc[5:].notna().all()


def test_delayed_cpi_release_override():
    # November 2025 CPI came out on 2025-12-18 (shutdown), not mid-December
    rel = release_dates("CPIAUCSL", pd.DatetimeIndex(["2025-08-01", "2025-11-01"]))
    assert rel.iloc[0] == pd.Timestamp("2025-09-15")
    assert rel.iloc[1] == pd.Timestamp("2025-12-18")
