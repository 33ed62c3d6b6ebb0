"""The execution specification and the weight finalisation, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import config_from_dict
from backtest.data.base import asof
from backtest.errors import ConfigError, StrategyError
from backtest.execution.spec import (
    Costs,
    build_spec,
    cash_growth,
    cash_price,
    cash_rate_source,
    fill_dates,
    fill_rows,
    risk_free,
    risk_free_paths,
)
from backtest.execution.weights import finalise_frame, finalise_weights
from backtest.pipeline import load_market
from strategies.base import renormalise
from tests.helpers import make_data_dir

DAYS = pd.bdate_range("2024-01-01", periods=6)


def test_costs_are_divided_once():
    c = Costs(fee_bps=2.5, slippage_bps=4.0, borrow_bps=50, borrow_bps_by_asset={"B": 300})
    assert c.fee == pytest.approx(0.00025) and c.slippage == pytest.approx(0.0004)
    np.testing.assert_array_equal(c.borrow_vector(["A", "B"]), [50.0, 300.0])


def test_trade_cost_is_fee_plus_slippage_on_the_notional():
    c = Costs(fee_bps=5.0, slippage_bps=3.0)
    assert c.trade_cost(1000.0) == pytest.approx(0.8)  # 1000 x (5 + 3) bp, by hand
    np.testing.assert_allclose(c.trade_cost(np.array([0.0, 0.5, 2.0])), [0.0, 0.0004, 0.0016])
    assert Costs().trade_cost(1e6) == 0.0


def test_carry_per_year_by_hand():
    c = Costs(borrow_bps=50.0, borrow_bps_by_asset={"IEF": 20.0}, borrow_spread_bps=100.0,
              short_rebate_haircut_bps=10.0)
    w = {"SPY": 1.5, "IEF": -0.3, "GLD": -0.1, "CASH": -0.1}
    fin, bor = c.carry_per_year(w, 0.1, 0.04)
    assert fin == pytest.approx(0.1 * (0.04 + 0.01))  # borrowed x (rate + 100 bp)
    assert bor == pytest.approx(0.3 * (20 + 10) / 1e4 + 0.1 * (50 + 10) / 1e4)  # CASH is not a short leg
    assert c.carry_per_year({"SPY": 1.0}, 0.0, 0.04) == (0.0, 0.0)


def test_kernel_view_is_the_costs_as_arrays():
    c = Costs(fee_bps=2.0, slippage_bps=4.0, borrow_bps=50.0, borrow_bps_by_asset={"B": 300.0},
              borrow_spread_bps=120.0, short_rebate_haircut_bps=10.0)
    v = c.kernel_view(["A", "B"], [0, 3], np.array([1.0, 1.01, 1.0]))
    assert v.fee == pytest.approx(2e-4) and v.slippage == pytest.approx(4e-4) and v.borrow_spread_bps == 120.0
    np.testing.assert_array_equal(v.borrow_bps, [60.0, 310.0])  # borrow + haircut per column
    assert v.fill_idx.dtype == np.int64 and v.fill_idx.tolist() == [0, 3]
    np.testing.assert_array_equal(v.cash_growth, [1.0, 1.01, 1.0])
    assert c.kernel_view(["A"], [1]).cash_growth is None


def test_fills_lag_and_drop_after_the_end():
    fd = fill_dates(DAYS, DAYS[[0, 3, 5]], 2)
    assert list(fd.index) == [DAYS[0], DAYS[3]] and list(fd) == [DAYS[2], DAYS[5]]
    keep, rows = fill_rows(np.array([0, 3, 5]), 2, 6)
    assert keep.tolist() == [True, True, False] and rows.tolist() == [2, 5]
    with pytest.raises(StrategyError, match="not a trading day"):
        fill_dates(DAYS, pd.DatetimeIndex(["2024-01-06"]), 1)


def test_cash_rate_source():
    assert cash_rate_source("none") is None and cash_rate_source("None") is None
    assert cash_rate_source("DTB3") == "cash_rate" and cash_rate_source("cash_rate") == "cash_rate"
    assert cash_rate_source("DGS3MO", ["DGS3MO"]) == "DGS3MO"
    with pytest.raises(ConfigError, match="SOFR"):
        cash_rate_source("SOFR", ["DGS3MO"], "x.yaml")


def test_cash_growth_price_and_risk_free_by_hand():
    rate = pd.Series([2.52, np.nan, 5.04, 0.0, 1.0, 1.0], index=DAYS)
    g = cash_growth(rate.to_numpy())
    np.testing.assert_allclose(g, [1.0, 1.0001, 1.0, 1.0002, 1.0, 1 + 1.0 / 100 / 252], rtol=0, atol=1e-15)
    np.testing.assert_allclose(cash_price(DAYS, rate).to_numpy(), np.cumprod(g), rtol=1e-15)
    rf = risk_free(DAYS, rate)
    np.testing.assert_allclose(rf.to_numpy(), g - 1.0, atol=1e-15)
    assert (risk_free(DAYS, pd.Series(np.nan, index=DAYS)) == 0).all()
    two = np.stack([rate.to_numpy(), np.full(6, 2.52)], axis=1)  # (T, P)
    g2 = cash_growth(two)
    assert g2.shape == (2, 6)
    np.testing.assert_array_equal(g2[0], g)
    np.testing.assert_allclose(risk_free_paths(two)[1, 1:], 0.0001, rtol=1e-12)
    assert risk_free_paths(np.full((6, 2), np.nan)) is None


def test_finalise_equals_renormalise_then_cap():
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2024-01-01", periods=8)
    w = pd.DataFrame(rng.uniform(-0.5, 1.0, (8, 4)), index=idx, columns=list("ABCD"))
    w.iloc[2] = np.nan  # hold
    avail = pd.DataFrame(True, index=idx, columns=w.columns)
    avail.iloc[:4, 3] = False  # D lists on the 5th date
    got, n_renorm, n_cap = finalise_frame(w, avail, 1.5)
    ref, n_ref = renormalise(w, avail)  # the strategies' reference renormalisation
    gross = ref.abs().sum(axis=1)
    over = gross > 1.5 + 1e-12
    ref.loc[over] = ref.loc[over].mul(1.5 / gross[over], axis=0)
    pd.testing.assert_frame_equal(got, ref, rtol=1e-14, atol=0)
    assert n_renorm == n_ref == 3 and n_cap == int(over.sum()) > 0
    assert got.iloc[2].isna().all()
    # the batch form: one item per variant, rows independent of the other items
    b, rows, capped = finalise_weights(np.stack([w.to_numpy(), w.to_numpy() * 0.1]), avail.to_numpy(), 1.5)
    np.testing.assert_array_equal(b[0], got.to_numpy())
    assert rows[1].sum() == 3 and not capped[1].any()


def test_build_spec_cash_rate_choices(tmp_path):
    cal = pd.bdate_range("2020-01-01", periods=120)
    macro = {"DTB3": pd.Series(np.linspace(1.0, 2.0, 60), index=cal[:60]),
             "DGS3MO": pd.Series(np.linspace(1.5, 2.5, 120), index=cal)}
    d = make_data_dir(tmp_path / "d", n=120, start="2020-01-01", macro=macro)

    def spec(rate: str, md=None):
        cfg = config_from_dict({
            "name": "t", "data": {"source": "csv", "dir": str(d), "universe": ["SPY", "IEF"],
                                  "macro": ["DTB3", "DGS3MO"], "start": "2020-02-03"},
            "rebalance": {"every": "monthly"}, "execution": {"lag_days": 2, "max_gross_leverage": 1.3},
            "costs": {"fee_bps": 3, "slippage_bps": 1}, "cash": {"rate": rate},
            "strategies": [{"name": "s", "kind": "fixed_weights", "params": {"weights": {"SPY": 1.0}}}],
        })
        md = md or load_market(cfg)
        days = md.calendar[md.calendar >= pd.Timestamp("2020-02-03")]
        signal = pd.Series(np.linspace(0.5, 0.9, len(md.calendar)), index=md.calendar)
        return build_spec(cfg, md, days, signal, "t.yaml"), md, days, signal

    s, md, days, signal = spec("DTB3")
    pd.testing.assert_series_equal(s.cash_rate, signal.reindex(days))  # the cash_rate signal
    np.testing.assert_allclose(s.rf.to_numpy(), cash_growth(signal.reindex(days).to_numpy()) - 1.0, atol=1e-16)
    assert s.costs.fee == pytest.approx(3e-4) and s.max_gross == 1.3 and s.lag_days == 2
    assert s.decisions[0] == days[0] and (s.fill_idx - s.dec_idx == 2).all()
    np.testing.assert_array_equal(s.cash_growth(), cash_growth(s.cash_rate.to_numpy()))
    s2, md, days, _ = spec("DGS3MO")
    pd.testing.assert_series_equal(s2.cash_rate, asof(md.macro["DGS3MO"], md.calendar).reindex(days))
    assert spec("none")[0].cash_rate is None and spec("none")[0].cash_growth() is None
    with pytest.raises(ConfigError, match="SOFR"):  # a series that is not loaded
        spec("SOFR", md)


def test_discount_to_bey_by_hand():
    from backtest.data.rates import discount_to_bey

    # d = 5% on a 91-day bill: 365 * 0.05 / (360 - 0.05 * 91) = 18.25 / 355.45
    assert discount_to_bey(5.0) == pytest.approx(100 * 18.25 / 355.45, abs=1e-12)
    assert discount_to_bey(5.0) == pytest.approx(5.13434, abs=1e-5)
    # d = 1%: 3.65 / 359.09; zero stays zero
    np.testing.assert_allclose(discount_to_bey(np.array([1.0, 0.0])), [100 * 3.65 / 359.09, 0.0], atol=1e-12)


def test_cash_rate_is_dtb3_bey_then_dgs3mo_unconverted():
    from backtest.data.rates import combine_cash_rate

    dtb3 = pd.Series([2.0, np.nan, np.nan])
    dgs = pd.Series([9.0, 3.0, np.nan])
    got = combine_cash_rate(dtb3, dgs)
    np.testing.assert_allclose(got.to_numpy(), [100 * 365 * 0.02 / (360 - 0.02 * 91), 3.0, np.nan])
    arr = combine_cash_rate(dtb3.to_numpy()[:, None], dgs.to_numpy()[:, None])
    np.testing.assert_allclose(arr[:, 0], got.to_numpy())
    assert combine_cash_rate(None, dgs) is dgs
    assert combine_cash_rate(None, None) is None


def _cfg(**over):
    d = {"name": "t", "data": {"source": "sample", "universe": ["SPY", "IEF"]},
         "execution": {"max_gross_leverage": 1.5},
         "strategies": [{"name": "lev", "kind": "fixed_weights", "params": {"weights": {"SPY": 1.4, "IEF": 0.2}}}]}
    d.update(over)
    return config_from_dict(d)


def test_financing_keys_defaults_range_and_costs():
    cfg = _cfg()
    assert cfg.cash.borrow_spread_bps == 50 and cfg.cash.short_rebate_haircut_bps == 25
    c = Costs.from_config(_cfg(cash={"borrow_spread_bps": 120, "short_rebate_haircut_bps": 10},
                               costs={"borrow_bps": 30, "borrow_bps_by_asset": {"IEF": 70}}))
    assert c.borrow_spread_bps == 120 and c.short_rebate_haircut_bps == 10
    np.testing.assert_array_equal(c.borrow_vector(["SPY", "IEF"]), [40.0, 80.0])  # fee + haircut
    for bad in (-1, 2000.5, float("nan"), float("inf")):
        with pytest.raises(Exception, match="borrow_spread_bps"):
            _cfg(cash={"borrow_spread_bps": bad})
        with pytest.raises(Exception, match="short_rebate_haircut_bps"):
            _cfg(cash={"short_rebate_haircut_bps": bad})


def test_financing_growth_is_cash_growth_plus_spread():
    from backtest.execution.spec import financing_growth

    g = cash_growth(np.array([2.52, 2.52, 5.04]))  # [1, 1.0001, 1.0001]
    # + 252 bp / 252 = 0.0001 a day from day 1
    np.testing.assert_allclose(financing_growth(g, 252.0), [1.0, 1.0002, 1.0002], atol=1e-15)
    np.testing.assert_allclose(financing_growth(None, 252.0, 3), [1.0, 1.0001, 1.0001], atol=1e-15)
    two = financing_growth(np.ones((2, 3)), 504.0)
    np.testing.assert_allclose(two, [[1.0, 1.0002, 1.0002]] * 2, atol=1e-15)
    np.testing.assert_array_equal(g, cash_growth(np.array([2.52, 2.52, 5.04])))  # input not modified


def test_static_gross_above_limit_is_a_config_error():
    from backtest.execution.weights import check_static_leverage

    with pytest.raises(ConfigError, match=r"strategies\.lev\.params\.weights: gross leverage 1\.6 exceeds"):
        check_static_leverage(_cfg(), "x.yaml")
    check_static_leverage(_cfg(execution={"max_gross_leverage": 1.6}), "x.yaml")  # at the limit: fine
    short = [{"name": "ls", "kind": "fixed_weights", "params": {"weights": {"SPY": 1.0, "IEF": -0.7}}}]
    with pytest.raises(ConfigError, match="gross leverage 1.7"):
        check_static_leverage(_cfg(strategies=short), "x.yaml")


def test_run_refuses_static_gross_before_loading_data():
    from backtest.pipeline import run_backtest

    with pytest.raises(ConfigError, match="exceeds execution.max_gross_leverage 1.5"):
        # sums to 1 (a valid fixed_weights), gross 1.3 + 0.3 = 1.6 > 1.5
        lev = [{"name": "ls", "kind": "fixed_weights", "params": {"weights": {"SPY": 1.3, "IEF": -0.3}}}]
        run_backtest(_cfg(strategies=lev), "x.yaml")
