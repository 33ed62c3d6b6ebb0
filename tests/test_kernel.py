"""The numba kernel reproduces ``backtest.engine.simulate`` (vectorbt) to 1e-10.

Each case simulates several random target-weight variants through the engine (one
``Portfolio.from_orders`` per variant) and through one :func:`simulate_many` call, and
compares the daily values. The largest difference over all cases is printed
(``pytest -s``); it is at the level of floating-point rounding (~1e-15).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.engine import drift_execute, simulate
from backtest.execution.drift import drift_keep
from backtest.execution.spec import Costs, KernelView, cash_growth, fill_dates
from backtest.kernel import numpy_floor, simulate_batch, simulate_many

TOL = 1e-10
T = 260
ASSETS = ["A", "B", "C", "D", "E"]
DAYS = pd.bdate_range("2021-01-01", periods=T)
MAX_DIFF: list[float] = []


def market(seed: int, late: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    px = pd.DataFrame(100 * np.cumprod(1 + rng.normal(0.0003, 0.015, (T, len(ASSETS))), axis=0),
                      index=DAYS, columns=ASSETS)
    if late is not None:
        px.iloc[:late, 3] = np.nan
    return px


def variants(seed: int, n_dec: int, *, short: bool, lever: bool, late_until: int | None = None,
             decisions: pd.DatetimeIndex | None = None, lag: int = 0, n_var: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.uniform(-0.4 if short else 0.0, 0.5, (n_var, n_dec, len(ASSETS)))
    w = w / np.abs(w).sum(axis=2, keepdims=True) * rng.uniform(0.6, 1.5 if lever else 1.0, (n_var, n_dec, 1))
    if late_until is not None and decisions is not None:
        pos = DAYS.get_indexer(decisions) + lag
        w[:, pos < late_until, 3] = 0.0
    return w


def compare(px: pd.DataFrame, w: np.ndarray, decisions: pd.DatetimeIndex, costs: Costs, lag: int,
            rate: pd.Series | None = None, band: float | None = None, hold: np.ndarray | None = None) -> float:
    """Max |engine value - kernel value| over every variant and day."""
    n_var = w.shape[0]
    ref = []
    for v in range(n_var):
        t = pd.DataFrame(w[v], index=decisions, columns=ASSETS)
        if hold is not None:
            t.loc[hold[v]] = np.nan
        ref.append(simulate(px, t, costs=costs, cash_rate=rate, lag_days=lag, drift_band=band).value.to_numpy())
    fills = fill_dates(DAYS, decisions, lag)
    fidx = DAYS.get_indexer(pd.DatetimeIndex(fills.to_numpy()))
    k = len(fidx)
    tg = w[:, :k].copy()
    live = np.ones((n_var, k), dtype=bool)
    if hold is not None:
        live = ~hold[:, :k]
        tg[~live] = np.nan
    execute = live
    if band is not None:
        execute = drift_keep(px.bfill().to_numpy(), np.nan_to_num(tg), live, DAYS.get_indexer(fills.index), fidx, band)
    borrow = np.array([costs.borrow_for(a) for a in ASSETS])
    view = KernelView(fidx, costs.fee, costs.slippage, borrow,
                      cash_growth=None if rate is None else cash_growth(rate.to_numpy(), T))
    got = simulate_many(px.to_numpy(), tg, view, execute=execute)
    diff = float(np.abs(got - np.array(ref).T).max())
    MAX_DIFF.append(diff)
    return diff


MONTHLY = DAYS[::21]


def test_no_costs_matches_engine():
    assert compare(market(1), variants(1, len(MONTHLY), short=False, lever=False), MONTHLY, Costs(), lag=0) < TOL


def test_fees_slippage_and_partial_fills_match_engine():
    # weights summing to 1 with fees: the last buy of each fill is partially filled
    w = variants(2, len(MONTHLY), short=False, lever=False)
    w = w / w.sum(axis=2, keepdims=True)
    assert compare(market(2), w, MONTHLY, Costs(fee_bps=10, slippage_bps=5), lag=1) < TOL


def test_shorts_with_borrow_match_engine():
    costs = Costs(fee_bps=2, slippage_bps=3, borrow_bps=80, borrow_bps_by_asset={"B": 400})
    assert compare(market(3), variants(3, len(MONTHLY), short=True, lever=False), MONTHLY, costs, lag=1) < TOL


def test_cash_yield_and_leverage_match_engine():
    rng = np.random.default_rng(4)
    rate = pd.Series(rng.uniform(0.0, 5.0, T), index=DAYS)
    rate.iloc[10:20] = np.nan  # missing rates count as 0
    w = variants(4, len(MONTHLY), short=True, lever=True)
    assert compare(market(4), w, MONTHLY, Costs(fee_bps=1, slippage_bps=2, borrow_bps=50), lag=2, rate=rate) < TOL


def test_late_starting_asset_and_lag_match_engine():
    late = 100
    w = variants(5, len(MONTHLY), short=False, lever=False, late_until=late, decisions=MONTHLY, lag=3)
    assert compare(market(5, late=late), w, MONTHLY, Costs(fee_bps=5, slippage_bps=5), lag=3) < TOL


def test_weekly_hold_rows_and_drift_band_match_engine():
    weekly = DAYS[::5]
    w = variants(6, len(weekly), short=True, lever=False)
    hold = np.random.default_rng(6).uniform(size=w.shape[:2]) < 0.3
    hold[:, 0] = False
    rate = pd.Series(2.0, index=DAYS)
    assert compare(market(6), w, weekly, Costs(fee_bps=3, slippage_bps=1, borrow_bps=100), lag=1, rate=rate,
                   band=0.03, hold=hold) < TOL


def test_daily_rebalancing_matches_engine():
    w = variants(7, T, short=True, lever=True, n_var=3)
    assert compare(market(7), w, DAYS, Costs(fee_bps=1, slippage_bps=1, borrow_bps=30), lag=0) < TOL


def ref_drift(px: pd.DataFrame, targets: pd.DataFrame, fills: pd.Series, band: float) -> np.ndarray:
    """Second implementation of the drift band (plain pandas loop, frictionless drift)."""
    idx = px.index
    out, held, held_pos = [], None, 0
    for dec, fill in fills.items():
        tgt = targets.loc[dec].to_numpy()
        if held is None:
            out.append(True)
            held, held_pos = tgt, idx.get_loc(fill)
            continue
        rel = px.iloc[idx.get_loc(dec)].to_numpy() / px.iloc[held_pos].to_numpy()
        vals = held * np.where(np.isfinite(rel), rel, 1.0)
        drifted = vals / (1.0 - held.sum() + vals.sum())
        trade = bool(np.max(np.abs(drifted - tgt)) > band)
        out.append(trade)
        if trade:
            held, held_pos = tgt, idx.get_loc(fill)
    return np.array(out)


def test_drift_keep_matches_a_pandas_loop_and_the_engine_uses_it():
    px = market(8)
    dec = DAYS[::10]
    w = variants(8, len(dec), short=False, lever=False, n_var=4) * 0.9
    fills = fill_dates(DAYS, dec, 1)
    k = len(fills)
    fidx = DAYS.get_indexer(pd.DatetimeIndex(fills.to_numpy()))
    got = drift_keep(px.bfill().to_numpy(), w[:, :k], np.ones((4, k), bool), DAYS.get_indexer(fills.index), fidx, 0.08)
    for v in range(4):
        frame = pd.DataFrame(w[v, :k], index=fills.index, columns=ASSETS)
        np.testing.assert_array_equal(got[v], ref_drift(px.bfill(), frame, fills, 0.08))
        np.testing.assert_array_equal(got[v], drift_execute(px.bfill(), frame, fills, 0.08).to_numpy())
    assert 0 < got.sum() < got.size  # the band both skips and trades
    # per-path prices: each path's own closes
    px3 = np.stack([px.to_numpy(), market(18).to_numpy(), px.to_numpy(), market(28).to_numpy()])
    got3 = drift_keep(px3, w[:, :k], np.ones((4, k), bool), DAYS.get_indexer(fills.index), fidx, 0.08)
    for v in range(4):
        frame = pd.DataFrame(w[v, :k], index=fills.index, columns=ASSETS)
        ref = ref_drift(pd.DataFrame(px3[v], index=DAYS, columns=ASSETS), frame, fills, 0.08)
        np.testing.assert_array_equal(got3[v], ref)


def test_batch_with_per_item_prices_equals_the_engine_per_item():
    """Paths (own prices, own cash rate) through ``simulate_batch`` = vectorbt on each path."""
    n_p = 3
    pxs = [market(40 + p) for p in range(n_p)]
    w = variants(40, len(MONTHLY), short=True, lever=True, n_var=n_p)
    rng = np.random.default_rng(40)
    rates = [pd.Series(rng.uniform(0.0, 4.0, T), index=DAYS) for _ in range(n_p)]
    costs = Costs(fee_bps=2, slippage_bps=3, borrow_bps=60, borrow_bps_by_asset={"C": 250})
    fills = fill_dates(DAYS, MONTHLY, 1)
    fidx = DAYS.get_indexer(pd.DatetimeIndex(fills.to_numpy()))
    k = len(fidx)
    cg = np.stack([cash_growth(r.to_numpy(), T) for r in rates])
    view = costs.kernel_view(ASSETS, fidx, cg)
    got = simulate_batch(np.stack([p.to_numpy() for p in pxs]), w[:, :k], view)
    for p in range(n_p):
        ref = simulate(pxs[p], pd.DataFrame(w[p], index=MONTHLY, columns=ASSETS), costs=costs, cash_rate=rates[p],
                       lag_days=1).value.to_numpy()
        diff = float(np.abs(got[p] - ref).max())
        MAX_DIFF.append(diff)
        assert diff < TOL
    serial = simulate_batch(np.stack([p.to_numpy() for p in pxs]), w[:, :k], view, parallel=False)
    assert np.array_equal(got, serial)


def test_numpy_floor_equals_kernel_without_costs():
    px = market(9)
    w = variants(9, len(MONTHLY), short=False, lever=False)
    fidx = DAYS.get_indexer(MONTHLY)
    a = simulate_many(px.to_numpy(), w, KernelView(fidx))
    b = numpy_floor(px.to_numpy(), w, fidx)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_kernel_serial_and_parallel_identical():
    px = market(10)
    w = variants(10, len(MONTHLY), short=True, lever=True, n_var=9)
    fidx = DAYS.get_indexer(MONTHLY)
    view = KernelView(fidx, fee=1e-4, slippage=2e-4, borrow_bps=50.0, cash_growth=cash_growth(np.full(T, 3.0), T))
    a = simulate_many(px.to_numpy(), w, view, parallel=True)
    b = simulate_many(px.to_numpy(), w, view, parallel=False)
    c = simulate_many(px.to_numpy(), w[4:5], view, parallel=False)
    assert np.array_equal(a, b)
    assert np.array_equal(a[:, 4], c[:, 0])  # a column never depends on the others


def test_kernel_rejects_bad_shapes():
    px = market(11).to_numpy()
    with pytest.raises(ValueError):
        simulate_many(px, np.zeros((2, 3, 4)), KernelView(np.arange(3)))
    with pytest.raises(ValueError):
        simulate_many(px, np.zeros((2, 3, 5)), KernelView(np.array([5, 3, 9])))


def test_report_max_difference():
    """Runs last in this file: print the largest kernel-vs-engine difference seen."""
    if MAX_DIFF:
        print(f"\nkernel vs engine: max |value difference| = {max(MAX_DIFF):.3e} over {len(MAX_DIFF)} cases")
        assert max(MAX_DIFF) < TOL
