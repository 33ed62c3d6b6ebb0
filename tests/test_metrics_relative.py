"""Benchmark-relative metrics, checked against a plain pandas computation and empyrical-reloaded."""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

from backtest import metrics_relative as mr
from backtest.constants import TRADING_DAYS


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(11)
    idx = pd.bdate_range("2016-01-01", periods=900)
    b = pd.Series(rng.standard_t(5, size=len(idx)) * 0.008 + 0.0003, index=idx)
    r = 0.7 * b + pd.Series(rng.normal(0.0001, 0.004, size=len(idx)), index=idx)
    return r, b


def test_against_pandas_and_empyrical(pair):
    r, b = pair
    a = r - b
    assert mr.active_return(r, b) == pytest.approx(a.mean() * TRADING_DAYS, rel=1e-12)
    assert mr.tracking_error(r, b) == pytest.approx(a.std() * np.sqrt(TRADING_DAYS), rel=1e-12)
    assert mr.information_ratio(r, b) == pytest.approx(ep.excess_sharpe(r, b) * np.sqrt(TRADING_DAYS), rel=1e-10)
    assert mr.information_ratio(r, b) == pytest.approx(mr.active_return(r, b) / mr.tracking_error(r, b), rel=1e-12)
    assert mr.beta(r, b) == pytest.approx(ep.beta(r, b), rel=1e-10)
    assert mr.beta(r, b) == pytest.approx(r.cov(b) / b.var(), rel=1e-10)
    assert mr.capture(r, b, up=True) == pytest.approx(ep.up_capture(r, b), rel=1e-10)
    assert mr.capture(r, b, up=False) == pytest.approx(ep.down_capture(r, b), rel=1e-10)
    # relative wealth and its drawdown, by pandas; empyrical's max drawdown of the ratio's daily changes
    rel = (1 + r).cumprod() / (1 + b).cumprod()
    pd.testing.assert_series_equal(mr.relative_wealth(r, b), rel, check_names=False, rtol=1e-12)
    peak = rel.cummax().clip(lower=1.0)
    assert mr.active_max_drawdown(r, b) == pytest.approx((rel / peak - 1).min(), rel=1e-12)
    rel_ret = rel.pct_change()
    rel_ret.iloc[0] = rel.iloc[0] - 1
    assert mr.active_max_drawdown(r, b) == pytest.approx(ep.max_drawdown(rel_ret), rel=1e-10)
    # rolling one-year beta equals empyrical's rolling beta
    roll = mr.rolling_relative(r, b)
    want = ep.roll_beta(r, b, window=TRADING_DAYS)
    got = roll["beta"].dropna()
    np.testing.assert_allclose(got.to_numpy(), np.asarray(want, dtype=float)[-len(got):], rtol=1e-8)
    te = (r - b).rolling(TRADING_DAYS).std() * np.sqrt(TRADING_DAYS)
    pd.testing.assert_series_equal(roll["tracking_error"], te, check_names=False, rtol=1e-8)


def test_by_hand_tiny():
    idx = pd.bdate_range("2021-01-04", periods=4)
    b = pd.Series([0.02, -0.01, 0.01, -0.02], index=idx)
    r = pd.Series([0.03, -0.01, 0.00, -0.01], index=idx)
    # active: .01, 0, -.01, .01 -> mean .0025; beta = cov/var
    assert mr.active_return(r, b) == pytest.approx(0.0025 * 252)
    bd, rd = b - b.mean(), r - r.mean()
    assert mr.beta(r, b) == pytest.approx((bd * rd).sum() / (bd * bd).sum())
    # up days 1 and 3: strategy 1.03 * 1.00 vs benchmark 1.02 * 1.01, two days = 2/252 years each
    up = (1.03 ** (126) - 1) / ((1.02 * 1.01) ** 126 - 1)
    assert mr.capture(r, b, up=True) == pytest.approx(up)
    # relative wealth: 1.03/1.02, then *0.99/0.99, then *1.00/1.01, then *0.99/0.98
    w = np.cumprod([1.03 / 1.02, 1.0, 1 / 1.01, 0.99 / 0.98])
    assert mr.active_max_drawdown(r, b) == pytest.approx(w[2] / w[0] - 1)


def test_table_benchmark_row_empty_and_late_start():
    idx = pd.bdate_range("2020-01-01", periods=300)
    rng = np.random.default_rng(2)
    ret = pd.DataFrame({"bench": rng.normal(0, 0.01, len(idx)), "late": rng.normal(0, 0.01, len(idx))}, index=idx)
    ret.iloc[:50, 1] = np.nan  # starts later: compared on its own days only
    t = mr.relative_table(ret, "bench")
    assert list(t.columns) == mr.RELATIVE_COLUMNS
    assert t.loc["bench"].isna().all()
    a = ret["late"].iloc[50:] - ret["bench"].iloc[50:]
    assert t.loc["late", "active_return"] == pytest.approx(a.mean() * 252)
    assert mr.relative_table(ret, None).isna().all().all()
    per = mr.relative_table(ret, {"bench": "late", "late": None})
    assert per.loc["late"].isna().all() and per.loc["bench"].notna().all()


def test_degenerate_inputs():
    idx = pd.bdate_range("2020-01-01", periods=5)
    flat = pd.Series(0.0, index=idx)
    r = pd.Series([0.01, 0.0, -0.01, 0.02, 0.0], index=idx)
    assert np.isnan(mr.beta(r, flat))  # var(b) = 0
    assert np.isnan(mr.information_ratio(flat, flat))  # TE = 0
    assert np.isnan(mr.capture(r, flat, up=True))  # no up days
    assert mr.active_max_drawdown(flat, flat) == 0.0
