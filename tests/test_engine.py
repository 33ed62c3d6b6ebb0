"""Hand-checkable engine cases on 3-5 day frames; the arithmetic is in the comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.constants import CASH
from backtest.engine import fill_orders, portfolio_values, simulate
from backtest.errors import StrategyError
from backtest.execution.spec import Costs, cash_price, fill_dates
from strategies.base import renormalise

DAYS = pd.bdate_range("2024-01-01", periods=5)


def frame(**cols):
    return pd.DataFrame(cols, index=DAYS[: len(next(iter(cols.values())))], dtype=float)


def targets(rows: dict[int, dict[str, float]], cols: list[str]) -> pd.DataFrame:
    idx = DAYS[list(rows)]
    return pd.DataFrame([rows[i] for i in rows], index=idx, columns=cols, dtype=float)


def test_rebalance_no_costs_drifts_between_fills():
    # A: 100 -> 110 -> 99 ; B: 50 -> 50 -> 55. 50/50 filled at the close of day 0 (lag 0).
    # day0: 0.005 A, 0.01 B, V=1.
    # day1: 0.005*110 + 0.01*50 = 0.55 + 0.50 = 1.05 ; weight A = 0.55/1.05
    # day2: 0.005*99 + 0.01*55 = 0.495 + 0.55 = 1.045, then rebalanced to 0.5225 each
    # day3: A 99 -> 108.9 (+10%), B flat: 0.5225*1.1 + 0.5225 = 1.09725
    p = frame(A=[100, 110, 99, 108.9], B=[50, 50, 55, 55])
    t = targets({0: {"A": 0.5, "B": 0.5}, 2: {"A": 0.5, "B": 0.5}}, ["A", "B"])
    r = simulate(p, t, costs=Costs(), lag_days=0)
    np.testing.assert_allclose(r.value.to_numpy(), [1.0, 1.05, 1.045, 1.09725], rtol=0, atol=1e-12)
    assert r.weights.loc[DAYS[1], "A"] == pytest.approx(0.55 / 1.05, abs=1e-12)
    assert r.weights.loc[DAYS[2], "A"] == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(r.returns.to_numpy(), [0.0, 0.05, 1.045 / 1.05 - 1, 1.09725 / 1.045 - 1], atol=1e-12)


def test_fees_and_partial_fill_with_lag():
    # Decision at day 0, filled at day 1 close (lag 1); fee 10 bps.
    # day1: buy A: 0.5/110 units, cash 1 - 0.5*1.001 = 0.4995
    # buy B: wants 0.01 units costing 0.5*1.001 = 0.5005 > 0.4995 -> partial:
    #   units = 0.4995 / (50 * 1.001) ; value = 0.4995/1.001 = 0.499000999...
    # V1 = 0.5 + 0.4995/1.001 ; fees = 0.0005 + 0.001 * 0.4995/1.001
    p = frame(A=[100, 110, 110], B=[50, 50, 50])
    t = targets({0: {"A": 0.5, "B": 0.5}}, ["A", "B"])
    r = simulate(p, t, costs=Costs(fee_bps=10), lag_days=1)
    v1 = 0.5 + 0.4995 / 1.001
    np.testing.assert_allclose(r.value.to_numpy(), [1.0, v1, v1], atol=1e-12)
    assert r.fees.sum() == pytest.approx(0.0005 + 0.001 * 0.4995 / 1.001, abs=1e-12)
    assert list(r.fills) == [DAYS[1]]
    # turnover: traded 0.5 + 0.499001 over previous value 1
    assert r.turnover.loc[DAYS[1]] == pytest.approx(0.5 + 0.4995 / 1.001, abs=1e-12)


def test_sells_before_buys_and_slippage():
    # day0 (lag 0): 100% A with 10 bps fee: units = 1/(100*1.001); V0 = 1/1.001
    # day1: A=110 -> V = 1.1/1.001; switch to 100% B at 50 with 10 bps fee and 0 slippage.
    # Sell A first: cash = 1.1/1.001 * 0.999; buy B with all of it (partial):
    #   value of B = cash / 1.001 = 1.1 * 0.999 / 1.001**2
    p = frame(A=[100, 110, 110], B=[50, 50, 50])
    t = targets({0: {"A": 1.0, "B": 0.0}, 1: {"A": 0.0, "B": 1.0}}, ["A", "B"])
    r = simulate(p, t, costs=Costs(fee_bps=10), lag_days=0)
    assert r.value.iloc[0] == pytest.approx(1 / 1.001, abs=1e-12)
    assert r.value.iloc[1] == pytest.approx(1.1 * 0.999 / 1.001**2, abs=1e-12)
    # Slippage 20 bps only: buy at 100*1.002 -> units 1/100.2, marked at 100: V0 = 100/100.2
    r2 = simulate(p, t.iloc[:1], costs=Costs(slippage_bps=20), lag_days=0)
    assert r2.value.iloc[0] == pytest.approx(100 / 100.2, abs=1e-12)
    assert r2.fees.iloc[0] == pytest.approx(1 - 100 / 100.2, abs=1e-12)  # slippage cost counted


def test_cash_earns_previous_days_rate():
    # rate 2.52% a year -> 0.0001 a day; C0 = 1, C1 = 1.0001, C2 = 1.0001**2.
    # All in cash (no risky weight), filled day 0: V_t = C_t.
    p = frame(A=[100, 100, 100])
    t = targets({0: {"A": 0.0}}, ["A"])
    rate = pd.Series(2.52, index=DAYS[:3])
    r = simulate(p, t, costs=Costs(), cash_rate=rate, lag_days=0)
    np.testing.assert_allclose(r.value.to_numpy(), [1.0, 1.0001, 1.0001**2], atol=1e-14)
    assert r.weights[CASH].iloc[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(cash_price(DAYS[:3], rate).to_numpy(), [1.0, 1.0001, 1.0001**2])


def test_half_invested_cash_yield():
    # 50% A (flat price), 50% cash at 0.0001/day: V1 = 0.5 + 0.5*1.0001 = 1.00005
    p = frame(A=[100, 100])
    t = targets({0: {"A": 0.5}}, ["A"])
    r = simulate(p, t, costs=Costs(), cash_rate=pd.Series(2.52, index=DAYS[:2]), lag_days=0)
    assert r.value.iloc[1] == pytest.approx(1.00005, abs=1e-14)


def test_short_pays_borrow():
    # Short 50% of A at 100, borrow 25.2%/yr = 0.1% a trading day (252 days).
    # day0: -0.005 units, cash 1.5. day1: A flat, short leg price 100*1.001:
    #   V1 = 1.5 - 0.005*100.1 = 0.9995 (cost 0.0005 = 0.5 * 0.001)
    # day2: A -> 90: V2 = 1.5 - 0.005*90*1.001**2
    p = frame(A=[100, 100, 90])
    t = targets({0: {"A": -0.5}}, ["A"])
    r = simulate(p, t, costs=Costs(borrow_bps=2520), lag_days=0)
    np.testing.assert_allclose(r.value.to_numpy(), [1.0, 0.9995, 1.5 - 0.005 * 90 * 1.001**2], atol=1e-12)
    assert r.borrow.iloc[1] == pytest.approx(0.0005, abs=1e-12)
    assert r.borrow.iloc[2] == pytest.approx(0.005 * 90 * 1.001 * 0.001, abs=1e-12)
    assert r.weights.loc[DAYS[1], "A"] == pytest.approx(-0.5005 / 0.9995, abs=1e-12)


def test_per_asset_borrow_override():
    p = frame(A=[100, 100], B=[10, 10])
    t = targets({0: {"A": -0.5, "B": -0.5}}, ["A", "B"])
    c = Costs(borrow_bps=0.0, borrow_bps_by_asset={"B": 2520})
    r = simulate(p, t, costs=c, lag_days=0)
    # only B's leg pays: 0.5 * 0.001
    assert r.value.iloc[1] == pytest.approx(1 - 0.0005, abs=1e-12)


def test_late_starting_asset():
    # B has no price on days 0-1. A weight on B before day 2 is an error; from day 2 it trades.
    p = frame(A=[100, 100, 100, 110], B=[np.nan, np.nan, 20, 22])
    bad = targets({0: {"A": 0.5, "B": 0.5}}, ["A", "B"])
    with pytest.raises(StrategyError, match="before its first price"):
        simulate(p, bad, costs=Costs(), lag_days=0)
    t = targets({0: {"A": 1.0, "B": 0.0}, 2: {"A": 0.5, "B": 0.5}}, ["A", "B"])
    r = simulate(p, t, costs=Costs(), lag_days=0)
    # day3: 0.5*1.1 + 0.5*1.1 = 1.1
    np.testing.assert_allclose(r.value.to_numpy(), [1, 1, 1, 1.1], atol=1e-12)
    # the framework renormalises a strategy's wish over listed assets:
    avail = p.notna()
    w, n = renormalise(bad, avail)
    assert n == 1 and w.loc[DAYS[0], "A"] == 1.0 and w.loc[DAYS[0], "B"] == 0.0


def test_drift_band_skips_small_drift():
    # 50/50 at day0; day1 weights drift to 0.5238 (|0.0238| < band 0.05): skipped;
    # day3 after A doubles, A weight is 2/3 (> band): executed.
    p = frame(A=[100, 110, 110, 200], B=[50, 50, 50, 50])
    rows = {i: {"A": 0.5, "B": 0.5} for i in range(4)}
    t = targets(rows, ["A", "B"])
    r = simulate(p, t, costs=Costs(), lag_days=0, drift_band=0.05)
    assert r.skipped == 2  # day1 and day2 skipped
    assert list(r.fills) == [DAYS[0], DAYS[3]]
    assert r.weights.loc[DAYS[3], "A"] == pytest.approx(0.5)


def test_nan_row_means_hold_and_fill_dates():
    days = DAYS
    fd = fill_dates(days, days[[0, 3, 4]], lag_days=1)
    assert list(fd.index) == [days[0], days[3]]  # day 4's fill would be past the end
    assert list(fd) == [days[1], days[4]]
    p = frame(A=[100, 110, 121], B=[50, 50, 50])
    t = targets({0: {"A": 0.5, "B": 0.5}, 1: {"A": np.nan, "B": np.nan}}, ["A", "B"])
    r = simulate(p, t, costs=Costs(), lag_days=0)
    assert list(r.fills) == [DAYS[0]]


def test_leveraged_long_borrows_cash():
    # 150% A financed by borrowing cash at 2.52%/yr (0.0001/day):
    # day0: 0.015 units A, cash -0.5 ; day1: A +10% -> 1.65 - 0.5*1.0001 = 1.14995
    p = frame(A=[100, 110])
    t = targets({0: {"A": 1.5}}, ["A"])
    r = simulate(p, t, costs=Costs(), cash_rate=pd.Series(2.52, index=DAYS[:2]), lag_days=0)
    assert r.value.iloc[1] == pytest.approx(1.65 - 0.5 * 1.0001, abs=1e-12)
    # without a cash rate the loan is free, but the leverage is still delivered
    r0 = simulate(p, t, costs=Costs(), lag_days=0)
    assert r0.value.iloc[1] == pytest.approx(1.15, abs=1e-12)


def test_leverage_financed_at_rate_plus_spread():
    # 1.5x long A, lag 0, no fees; cash rate 2.52%/yr = 0.0001/day, spread 100 bp = 0.01/252/day.
    # day0: 0.015 units A at 100 (1.5), CASH:borrow -0.5 (price f_0 = 1)
    # f_t = f_{t-1} * (1 + 0.0001 + 0.01/252)
    # day1: A flat: V1 = 1.5 - 0.5 f1 ; day2: A -> 110: V2 = 0.015*110 - 0.5 f1**2
    p = frame(A=[100, 100, 110])
    t = targets({0: {"A": 1.5}}, ["A"])
    rate = pd.Series(2.52, index=DAYS[:3])
    r = simulate(p, t, costs=Costs(borrow_spread_bps=100), cash_rate=rate, lag_days=0)
    f1 = 1 + 0.0001 + 0.01 / 252
    np.testing.assert_allclose(r.value.to_numpy(), [1.0, 1.5 - 0.5 * f1, 1.65 - 0.5 * f1**2], rtol=0, atol=1e-14)
    # interest paid: yesterday's debt times the day's growth - 1
    np.testing.assert_allclose(r.financing.to_numpy(), [0.0, 0.5 * (f1 - 1), 0.5 * f1 * (f1 - 1)], atol=1e-15)
    assert r.weights.loc[DAYS[1], CASH] == pytest.approx(-0.5 * f1 / (1.5 - 0.5 * f1), abs=1e-12)
    assert r.turnover.loc[DAYS[0]] == pytest.approx(1.5, abs=1e-12)  # the borrow leg is not turnover
    # no cash rate set: the spread alone (252 bp = 0.0001/day)
    r0 = simulate(p, t, costs=Costs(borrow_spread_bps=252), lag_days=0)
    assert r0.value.iloc[1] == pytest.approx(1.5 - 0.5 * 1.0001, abs=1e-14)


def test_short_proceeds_earn_rate_minus_haircut():
    # Short 50% A (flat), no borrow fee, haircut 2520 bp = 0.001/day, cash rate 0.0001/day.
    # day0: CASH 1.5, A:short -0.005 units. day1: CASH 1.5*1.0001, short leg price 100*1.001:
    #   V1 = 1.50015 - 0.5005 = 0.99965 = 1 + 1.5*0.0001 - 0.5*0.001
    #   (the proceeds 0.5 earn 0.0001 - 0.001 a day, own cash 1.0 earns 0.0001)
    p = frame(A=[100, 100])
    t = targets({0: {"A": -0.5}}, ["A"])
    c = Costs(short_rebate_haircut_bps=2520)
    r = simulate(p, t, costs=c, cash_rate=pd.Series(2.52, index=DAYS[:2]), lag_days=0)
    assert r.value.iloc[1] == pytest.approx(0.99965, abs=1e-14)
    assert r.borrow.iloc[1] == pytest.approx(0.0005, abs=1e-14)  # the haircut is reported with borrow
    assert r.financing.sum() == 0.0
    assert c.short_accrual_for("A") == 2520 and list(c.borrow_vector(["A"])) == [2520.0]


def test_kernel_matches_engine_with_financing_and_haircut():
    # The batch kernel lays out CASH and CASH:borrow as the engine does: same values.
    from backtest.execution.spec import cash_growth
    from backtest.kernel import simulate_many

    rng = np.random.default_rng(3)
    days = pd.bdate_range("2024-01-01", periods=30)
    px = pd.DataFrame(100 * np.cumprod(1 + rng.normal(0, 0.01, (30, 2)), axis=0), index=days, columns=["A", "B"])
    fills = [0, 7, 15, 22]
    w = np.array([[[1.2, 0.6], [0.8, -0.3], [0.5, 0.2], [1.6, 0.1]],
                  [[0.5, 0.5], [0.4, 0.4], [0.5, 0.5], [0.3, 0.3]]])
    rate = pd.Series(np.linspace(1.0, 4.0, 30), index=days)
    costs = Costs(fee_bps=3, slippage_bps=2, borrow_bps=40, borrow_spread_bps=150, short_rebate_haircut_bps=30)
    got = simulate_many(px.to_numpy(), w, costs.kernel_view(["A", "B"], np.array(fills), cash_growth(rate.to_numpy())),
                        parallel=False)
    for v in range(2):
        tg = pd.DataFrame(w[v], index=days[fills], columns=["A", "B"])
        ref = simulate(px, tg, costs=costs, cash_rate=rate, lag_days=0).value.to_numpy()
        np.testing.assert_allclose(got[:, v], ref, rtol=0, atol=1e-12)


def test_values_rebuilt_from_the_kernels_are_vectorbts_public_values():
    # portfolio_values rebuilds asset values, cash and value from the order records with the
    # kernels of vectorbt's public methods (for speed): bit for bit the same as the methods, on
    # a portfolio with a long, a short leg, cash earning a rate and borrowed cash, fees and slippage.
    rng = np.random.default_rng(11)
    days = pd.bdate_range("2024-01-01", periods=40)
    px = 100 * np.cumprod(1 + rng.normal(0, 0.02, (40, 2)), axis=0)
    close = pd.DataFrame({"A": px[:, 0], "B:short": px[:, 1] * 1.0001 ** np.arange(40),
                          "CASH": 1.0002 ** np.arange(40), "CASH:borrow": 1.0003 ** np.arange(40)}, index=days)
    size = pd.DataFrame(np.nan, index=days, columns=close.columns)
    size.iloc[[0, 9, 25]] = [[1.3, -0.2, 0.0, -0.1], [0.7, -0.4, 0.7, 0.0], [1.6, 0.0, 0.0, -0.6]]
    pf = fill_orders(close, size, Costs(fee_bps=3, slippage_bps=2))
    assert len(pf.orders.records) >= 8
    av, cash, value = portfolio_values(pf)
    pd.testing.assert_frame_equal(av, pf.asset_value(group_by=False), check_exact=True)
    np.testing.assert_array_equal(cash.to_numpy(), pf.cash().to_numpy())
    np.testing.assert_array_equal(value.to_numpy(), pf.value().to_numpy())
    assert cash.index.equals(days) and value.index.equals(days) and value.name == "value"
    assert abs(value.iloc[-1] - 1.0) > 0.01  # a portfolio that moved
