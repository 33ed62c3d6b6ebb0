"""Metrics checked against empyrical-reloaded (an independent implementation) and by hand."""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest import metrics as m


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(42)
    idx = pd.bdate_range("2015-01-01", periods=1500)
    r = pd.Series(rng.standard_t(4, size=len(idx)) * 0.01 + 0.0003, index=idx)
    rf = pd.Series(rng.uniform(0, 0.0002, size=len(idx)), index=idx)
    return r, rf


def test_against_empyrical(series):
    r, rf = series
    assert m.cagr(r) == pytest.approx(ep.cagr(r), rel=1e-10)
    assert m.ann_vol(r) == pytest.approx(ep.annual_volatility(r), rel=1e-10)
    assert m.max_drawdown(r) == pytest.approx(ep.max_drawdown(r), rel=1e-10)
    assert m.sharpe(r, rf) == pytest.approx(ep.sharpe_ratio(r, risk_free=rf), rel=1e-10)
    assert m.sortino(r, rf) == pytest.approx(ep.sortino_ratio(r, required_return=rf), rel=1e-10)
    assert m.calmar(r) == pytest.approx(ep.calmar_ratio(r), rel=1e-10)
    assert m.total_return(r) == pytest.approx(ep.cum_returns_final(r), rel=1e-10)


def test_by_hand_tiny():
    # +10%, -10%, +10%: wealth 1.1, 0.99, 1.089; peak 1.1, trough 0.99 -> mdd = -0.1
    r = pd.Series([0.1, -0.1, 0.1], index=pd.bdate_range("2020-01-01", periods=3))
    assert m.total_return(r) == pytest.approx(1.089 - 1)
    assert m.max_drawdown(r) == pytest.approx(-0.1)
    assert m.cagr(r) == pytest.approx(1.089 ** (252 / 3) - 1)
    assert m.hit_rate(r) == pytest.approx(2 / 3)
    # Sharpe with rf=0: mean 1/30, std(ddof=1) of [.1,-.1,.1] = sqrt(((2/30)^2*2+(4/30)^2)/2)
    mean, sd = 0.1 / 3, np.sqrt(((0.1 - 0.1 / 3) ** 2 * 2 + (-0.1 - 0.1 / 3) ** 2) / 2)
    assert m.sharpe(r) == pytest.approx(mean / sd * np.sqrt(252))
    # Sortino: downside deviation sqrt((0 + 0.01 + 0)/3)
    assert m.sortino(r) == pytest.approx(mean * 252 / (np.sqrt(0.01 / 3) * np.sqrt(252)))


def test_leading_nan_dropped_and_turnover():
    r = pd.Series([np.nan, np.nan, 0.01, 0.02], index=pd.bdate_range("2020-01-01", periods=4))
    assert m.total_return(r) == pytest.approx(1.01 * 1.02 - 1)
    to = pd.Series([0.0, 0.0, 2.0, 0.0], index=r.index)
    # one full switch (traded 2x value) over 2 days = 1 switch per 2/252 years
    assert m.annual_turnover(to.iloc[2:], 2) == pytest.approx(1 / (2 / 252))


def test_regime_metrics_split_days():
    idx = pd.bdate_range("2020-01-01", periods=4)
    r = pd.DataFrame({"s": [0.01, 0.02, -0.01, 0.03]}, index=idx)
    lab = pd.Series(["qe", "qt", "qe", "qt"], index=idx)
    out = m.regime_metrics(r, lab).set_index("regime")
    assert out.loc["qe", "days"] == 2
    assert out.loc["qe", "total_return"] == pytest.approx(1.01 * 0.99 - 1)
    assert out.loc["qt", "total_return"] == pytest.approx(1.02 * 1.03 - 1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.2, 0.2, allow_nan=False), min_size=3, max_size=60))
def test_drawdown_properties(xs):
    r = pd.Series(xs, index=pd.bdate_range("2020-01-01", periods=len(xs)))
    mdd = m.max_drawdown(r)
    assert -1.0 <= mdd <= 0.0
    assert mdd == pytest.approx(ep.max_drawdown(r), abs=1e-12)
    assert (m.drawdown(r) <= 1e-15).all()
