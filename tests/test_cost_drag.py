"""Costs as fractions of NAV: hand computations on tiny cases (the engine's own cost series included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.cost_drag import (
    COST_DRAG_COLUMNS,
    cost_drag,
    cost_drag_table,
    nav_before,
    rebase_costs,
)
from backtest.engine import simulate
from backtest.execution.spec import Costs
from backtest.pipeline import costs_frame
from backtest.run_metrics import RUN_METRIC_COLUMNS, run_metrics_table


def test_drag_by_hand_three_days():
    idx = pd.bdate_range("2022-03-01", periods=3)
    r = pd.Series([0.10, -0.50, 0.20], index=idx)
    fees = pd.Series([0.002, 0.0, 0.0011], index=idx)
    # NAV at the previous close: 1, 1.1, 0.55
    assert nav_before(r).tolist() == pytest.approx([1.0, 1.1, 0.55])
    want = (0.002 / 1.0 + 0.0011 / 0.55) * 252 / 3
    assert cost_drag(fees, r) == pytest.approx(want)
    # the last two days alone (compare --align): costs in units of the NAV before day 2 (1.1)
    part = rebase_costs(pd.DataFrame({"date": idx, "strategy": "s", "fees": fees.to_numpy()}),
                        pd.DataFrame({"s": r}), idx[1])
    assert part["fees"].tolist() == pytest.approx([0.0, 0.0011 / 1.1])
    assert cost_drag(part.set_index("date")["fees"], r.iloc[1:]) == pytest.approx(0.0011 / 0.55 * 252 / 2)


def test_engine_financing_drag_by_hand():
    """150% SPY financed at 1% a day (spread only, no cash rate), 4 days, no fees.

    d0: fill at 100, V=1, borrowed 0.5.  d1: SPY 110, debt 0.505, V=1.145, interest 0.005.
    d2: SPY 99, debt 0.51005, V=0.97495, interest 0.00505.  d3: SPY 108.9, debt 0.5151505,
    V=1.1183495, interest 0.0051005.
    """
    idx = pd.bdate_range("2022-03-01", periods=4)
    prices = pd.DataFrame({"SPY": [100.0, 110.0, 99.0, 108.9]}, index=idx)
    targets = pd.DataFrame({"SPY": [1.5]}, index=idx[:1])
    sim = simulate(prices, targets, costs=Costs(borrow_spread_bps=0.01 * 252 * 1e4), cash_rate=None, lag_days=0)
    np.testing.assert_allclose(sim.value.to_numpy(), [1.0, 1.145, 0.97495, 1.1183495], rtol=1e-12)
    np.testing.assert_allclose(sim.financing.to_numpy(), [0.0, 0.005, 0.00505, 0.0051005], rtol=1e-10)
    want = (0.005 / 1.0 + 0.00505 / 1.145 + 0.0051005 / 0.97495) * 252 / 4
    costs = costs_frame(pd.DatetimeIndex(idx), {"lev": sim})
    drags = cost_drag_table(costs, pd.DataFrame({"lev": sim.returns}))
    assert drags.loc["lev", "financing_drag"] == pytest.approx(want, rel=1e-10)
    assert drags.loc["lev", "fee_drag"] == 0.0 and drags.loc["lev", "borrow_drag"] == 0.0
    # the money unit the terminal used to print is larger here (it ignores the NAV's growth)
    assert sim.financing.sum() * 252 / 4 != pytest.approx(want, rel=1e-3)


def test_engine_fee_and_borrow_drag_by_hand():
    """A short of 50% SPY paying 2.52% a day of borrow, bought with a 100 bp fee, 3 days."""
    idx = pd.bdate_range("2022-03-01", periods=3)
    prices = pd.DataFrame({"SPY": [100.0, 90.0, 99.0]}, index=idx)
    targets = pd.DataFrame({"SPY": [-0.5]}, index=idx[:1])
    sim = simulate(prices, targets, costs=Costs(fee_bps=100.0, borrow_bps=0.01 * 252 * 1e4), lag_days=0)
    # d0: short 0.5 of value, fee 0.005 -> V0 = 0.995; the short leg is 0.5 * accrual factor
    assert sim.fees.iloc[0] == pytest.approx(0.005)
    # d1: the leg's price 90 * 1.01 vs 100: short value 0.5 * 0.909 = 0.4545; borrow = 0.5 * 0.9 * 0.01
    assert sim.borrow.iloc[1] == pytest.approx(0.5 * 0.9 * 0.01)
    v = sim.value.to_numpy()
    assert v[0] == pytest.approx(0.995)
    assert v[1] == pytest.approx(0.995 + 0.5 - 0.5 * 0.9 * 1.01)
    b2 = 0.5 * 0.9 * 1.01 * (99 / 90) * 0.01  # short value at d1 close x the price move x the accrual
    assert sim.borrow.iloc[2] == pytest.approx(b2)
    costs = costs_frame(pd.DatetimeIndex(idx), {"short": sim})
    drags = cost_drag_table(costs, pd.DataFrame({"short": sim.returns}))
    assert drags.loc["short", "fee_drag"] == pytest.approx(0.005 / 1.0 * 252 / 3)
    assert drags.loc["short", "borrow_drag"] == pytest.approx((0.0045 / v[0] + b2 / v[1]) * 252 / 3)


def test_run_metrics_columns_append_and_window():
    idx = pd.bdate_range("2022-03-01", periods=4)
    ret = pd.DataFrame({"a": [0.01, 0.02, -0.01, 0.0], "b": [0.0, 0.01, 0.01, 0.0]}, index=idx)
    costs = pd.DataFrame({"date": list(idx) * 2, "strategy": ["a"] * 4 + ["b"] * 4,
                          "fees": [0.001, 0, 0, 0.002, 0, 0, 0, 0], "borrow": 0.0, "financing": 0.0})
    t = run_metrics_table(ret, None, None, benchmark="b", costs=costs)
    assert list(t.columns) == RUN_METRIC_COLUMNS and RUN_METRIC_COLUMNS[19:22] == COST_DRAG_COLUMNS
    nav3 = 1.01 * 1.02 * 0.99
    assert t.loc["a", "fee_drag"] == pytest.approx((0.001 + 0.002 / nav3) * 252 / 4)
    assert t.loc["b", "fee_drag"] == 0.0 and t.loc["b"][["beta", "active_return"]].isna().all()
    # a window of the run (compare --align): costs rebased to the window's first NAV
    w = run_metrics_table(ret.iloc[2:], None, None, costs=rebase_costs(costs, ret, idx[2]))
    assert w.loc["a", "fee_drag"] == pytest.approx(0.002 / nav3 * 252 / 2)
