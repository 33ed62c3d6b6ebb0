"""The registry's example metric, the Ulcer index: by hand, against a plain loop, in metrics.csv and the tearsheet."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.metrics_registry import METRICS
from backtest.metrics_ulcer import ulcer_index, ulcer_index_paths
from backtest.report.html import metrics_table_html
from backtest.run_metrics import RUN_METRIC_COLUMNS, run_metrics_table


def loop_ulcer(returns: list[float]) -> float:
    """Independent plain-Python version: walk the days, keep the peak price, average the squared drawdowns."""
    price, peak, total, n = 1.0, 1.0, 0.0, 0
    for x in returns:
        price *= 1.0 + x
        peak = max(peak, price)
        total += (price / peak - 1.0) ** 2
        n += 1
    return math.sqrt(total / n)


def test_by_hand_tiny():
    # +10 %, -10 %, +10 %: wealth 1.1, 0.99, 1.089 under a peak of 1.1 -> drawdowns 0, -0.1, -0.01
    r = pd.Series([0.1, -0.1, 0.1], index=pd.bdate_range("2020-01-01", periods=3))
    assert ulcer_index(r) == pytest.approx(math.sqrt((0.0 + 0.01 + 0.0001) / 3), rel=1e-12)
    assert ulcer_index(pd.Series([0.01, 0.02, 0.0])) == 0.0  # never below a peak
    assert ulcer_index(pd.Series([-0.5])) == pytest.approx(0.5)  # the initial value is the first peak
    assert np.isnan(ulcer_index(pd.Series([np.nan, np.nan])))


def test_against_a_plain_loop_and_nan_policy():
    rng = np.random.default_rng(11)
    x = rng.standard_t(4, size=800) * 0.012 + 0.0002
    idx = pd.bdate_range("2018-01-01", periods=800)
    assert ulcer_index(pd.Series(x, index=idx)) == pytest.approx(loop_ulcer(list(x)), rel=1e-12)
    y = x.copy()
    y[:20] = np.nan  # not yet invested: dropped
    y[300] = np.nan  # a missing day inside: counts as 0
    want = loop_ulcer([0.0 if np.isnan(v) else v for v in y[20:]])
    assert ulcer_index(pd.Series(y, index=idx)) == pytest.approx(want, rel=1e-12)
    paths = np.stack([x, x[::-1], -x])
    np.testing.assert_allclose(ulcer_index_paths(paths), [loop_ulcer(list(p)) for p in paths], rtol=1e-12)


def test_metrics_csv_and_tearsheet_carry_it():
    rng = np.random.default_rng(3)
    idx = pd.bdate_range("2021-01-04", periods=300)
    ret = pd.DataFrame({"a": rng.normal(3e-4, 0.012, 300), "b": rng.normal(2e-4, 0.006, 300)}, index=idx)
    t = run_metrics_table(ret, None, None, benchmark="b")
    assert list(t.columns) == RUN_METRIC_COLUMNS and RUN_METRIC_COLUMNS[-1] == "ulcer_index"
    for c in ret.columns:
        assert t.loc[c, "ulcer_index"] == pytest.approx(loop_ulcer(list(ret[c])), rel=1e-12)
    assert METRICS["ulcer_index"].direction == -1 and "best" not in METRICS["ulcer_index"].views
    page = metrics_table_html(t, {"a": "#111", "b": "#222"})
    assert 'title="ulcer_index">Ulcer index</th>' in page
    assert f'data-col="ulcer_index">{t.loc["a", "ulcer_index"] * 100:.2f}%</td>' in page
