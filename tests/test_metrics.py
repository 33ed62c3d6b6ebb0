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


# ---------------------------------------------------------------- batch form = series form


def _series_ref(r: np.ndarray, rf: np.ndarray) -> dict[str, float]:
    s, rfs = pd.Series(r), pd.Series(rf)
    return {"sharpe": m.sharpe(s, rfs), "sortino": m.sortino(s, rfs), "cagr": m.cagr(s),
            "max_drawdown": m.max_drawdown(s), "calmar": m.calmar(s)}


def _close(a: float, b: float, what: tuple) -> None:
    if np.isnan(b):
        assert np.isnan(a), what
    else:
        assert a == pytest.approx(b, rel=1e-10, abs=1e-12), what


@pytest.mark.parametrize("per_series_rf", [False, True])
def test_window_metrics_equal_the_series_form(per_series_rf):
    from backtest.metrics_batch import WINDOW_METRICS, window_metrics

    rng = np.random.default_rng(12)
    r = rng.standard_t(4, (5, 300)) * 0.01 + 0.0004
    r[2] = 0.0  # flat: Sharpe/Sortino/Calmar undefined
    r[3, :40] = -0.03  # a deep drawdown
    rf = rng.uniform(0.0, 1e-4, (5, 300)) if per_series_rf else rng.uniform(0.0, 1e-4, 300)
    windows = [np.arange(0, 300), np.arange(50, 120), np.sort(rng.choice(300, 90, replace=False)), np.arange(5, 6)]
    got = window_metrics(r, rf, windows)
    assert got.shape == (len(windows), 5, len(WINDOW_METRICS))
    for w_i, rows in enumerate(windows):
        for v in range(5):
            rf_v = rf[v] if per_series_rf else rf
            ref = _series_ref(r[v, rows], rf_v[rows])
            for k, name in enumerate(WINDOW_METRICS):
                _close(got[w_i, v, k], ref[name], (name, w_i, v))


def test_window_metrics_nan_return_scores_nan():
    from backtest.metrics_batch import window_metrics

    r = np.array([[0.01, -0.02, 0.005, 0.0, np.nan, 0.01, -0.01, 0.02, -0.005, 0.003]])
    got = window_metrics(r, np.zeros(10), [np.arange(10), np.arange(5, 10)])
    assert np.isnan(got[0]).all() and np.isfinite(got[1]).all()


def test_path_metrics_equal_the_series_summary():
    from backtest.metrics_batch import path_metrics

    rng = np.random.default_rng(3)
    r = rng.standard_t(5, (6, 250)) * 0.012 + 0.0003
    r[:, 0] = 0.0
    v = np.cumprod(1 + r, axis=1)
    rf = rng.uniform(0.0, 2e-4, (6, 250))
    got = path_metrics(v, rf)
    pairs = (("horizon_return", "total_return"), ("cagr", "cagr"), ("ann_vol", "ann_vol"), ("sharpe", "sharpe"),
             ("sortino", "sortino"), ("max_drawdown", "max_drawdown"), ("calmar", "calmar"),
             ("hit_rate", "hit_rate"), ("worst_day", "worst_day"), ("best_day", "best_day"),
             ("daily_cvar_5", "cvar_5"))
    for i in range(6):
        ref = m.summary(pd.Series(r[i]), pd.Series(rf[i]))
        for ours, theirs in pairs:
            _close(got[ours][i], ref[theirs], (ours, i))


def test_summary_equals_the_single_metric_functions(series):
    """``summary`` (one pass) gives exactly the floats of the per-metric functions."""
    r, rf = series
    r = r.copy()
    r.iloc[:40] = np.nan  # not yet invested
    r.iloc[700] = np.nan  # an inner gap counts as 0
    to = pd.Series(np.abs(np.sin(np.arange(len(r)))) * 0.01, index=r.index)
    out = m.summary(r, rf, to)
    rc = r.iloc[40:].fillna(0.0)
    expected = {
        "total_return": m.total_return(r), "cagr": m.cagr(r), "ann_vol": m.ann_vol(r),
        "sharpe": m.sharpe(r, rf), "sortino": m.sortino(r, rf), "max_drawdown": m.max_drawdown(r),
        "calmar": m.calmar(r), "turnover": float(to.iloc[40:].sum() / 2.0 / (len(rc) / 252)),
        "hit_rate": m.hit_rate(r), "worst_day": float(rc.min()), "best_day": float(rc.max()), "cvar_5": m.cvar(r),
    }
    assert list(out) == m.METRIC_COLUMNS
    for k, v in expected.items():
        assert out[k] == v, k  # bit for bit, not approximately


def test_regime_metrics_equal_summary_of_each_regime_subset(series):
    """Each row is ``summary`` of the strategy's returns on that regime's days (rf, turnover aligned)."""
    r, rf = series
    rng = np.random.default_rng(3)
    rets = pd.DataFrame({"a": r, "b": r.shift(5) * 0.5, "c": np.nan}, index=r.index)
    rets.iloc[900, 0] = np.nan
    turnover = pd.DataFrame(rng.uniform(0, 0.02, (len(r), 3)), index=r.index, columns=list("abc"))
    lab = pd.Series(rng.choice(["qe", "qt", "rmp"], len(r)), index=r.index)
    lab.iloc[:30] = np.nan
    for cash in (None, rf, 0.0001):
        out = m.regime_metrics(rets, lab, cash, turnover).set_index(["strategy", "regime"])
        for c in rets.columns:
            start = rets[c].first_valid_index()
            for reg in ("qe", "qt", "rmp"):
                days = lab.index[(lab == reg).to_numpy() & ((lab.index >= start) if start is not None else True)]
                sub = rets[c].loc[days].fillna(0.0)
                ref = m.summary(sub, cash, turnover[c].loc[days])
                row = out.loc[(c, reg)]
                assert row["days"] == len(days)
                for k in m.METRIC_COLUMNS:
                    assert row[k] == ref[k] or (np.isnan(row[k]) and np.isnan(ref[k])), (c, reg, k)
