"""Instrument metadata, short vol in -1x VIX-futures units, DV01-neutral steepener from the curve,
and the tearsheet's thesis checks; expected numbers by hand or by a second implementation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from backtest.instruments import (
    caveats,
    curve_yield,
    durations_at,
    instruments,
    leverage_at,
    par_duration,
    thesis_signs,
)
from backtest.report.sections import instrument_caveats, optimizer_strategies, thesis_violations
from tests.test_rules_engine import make_frame, strat

CALM = {"vix": 15.0, "vix_term": 0.90, "cpi_yoy_chg_3m": 0.0}


def calm_frame(n: int, start: str, prices: dict | None = None, regime="rmp"):
    return make_frame(n, signals={k: [v] * n for k, v in CALM.items()}, regime=regime, prices=prices, start=start)


# ------------------------------------------------------------------------------- the table


def test_table_covers_the_default_universe_and_thesis_signs():
    from backtest.config import DEFAULT_UNIVERSE

    table = instruments()
    assert set(DEFAULT_UNIVERSE) <= set(table)
    signs = thesis_signs()
    assert {a: signs[a] for a in ("GLD", "DBC", "TIP", "VNQ", "IWM", "QQQ", "SVXY")} == dict.fromkeys(
        ("GLD", "DBC", "TIP", "VNQ", "IWM", "QQQ", "SVXY"), 1)
    assert signs["VIXY"] == -1 and "SPY" not in signs
    assert {"SVXY", "VIXY"} <= set(caveats()) and "XIV" in caveats()["SVXY"]
    assert {t for t, i in table.items() if i.duration} >= {"SHY", "IEF", "TLT"}


def test_svxy_leverage_is_point_in_time():
    d = pd.DatetimeIndex(["2012-01-03", "2018-02-26", "2018-02-27", "2018-02-28", "2024-05-01"])
    np.testing.assert_allclose(leverage_at("SVXY", d), [-1, -1, -1, -0.5, -0.5])
    np.testing.assert_allclose(leverage_at("VIXY", d), [1] * 5)
    np.testing.assert_allclose(leverage_at("SPY", d), [1] * 5)  # no history: +1


# ---------------------------------------------------------------------- short vol in -1x units


def test_short_vol_sleeve_doubles_svxy_on_2018_02_28():
    # 2018-02-26 .. 2018-03-01: the 10 % sleeve of -1x exposure is 10 % SVXY at -1x, 20 % at -0.5x
    sf = calm_frame(4, "2018-02-26")
    w = strat({"vol_target": None}, kind="short_vol").weights(sf, sf.days)
    np.testing.assert_allclose(w["SVXY"], [0.1, 0.1, 0.2, 0.2])
    # the extra SVXY is funded pro rata from the 60/40 core: SPY 0.6 - 0.6 x 0.2, IEF 0.4 - 0.4 x 0.2
    np.testing.assert_allclose(w.iloc[2][["SPY", "IEF"]], [0.48, 0.32])
    # still subject to the notional cap
    w = strat({"vol_target": None, "max_notional": 0.15}, kind="short_vol").weights(sf, sf.days)
    np.testing.assert_allclose(w["SVXY"], [0.1, 0.1, 0.15, 0.15])


def test_short_vol_vol_target_in_minus_1x_units_across_the_switch():
    # SVXY moves +-3 % a day at -1x and +-1.5 % at -0.5x: the -1x-equivalent return is +-3 %
    # throughout, so the sleeve's exposure is constant and the SVXY weight doubles at the switch
    days = pd.bdate_range("2018-02-01", periods=30)
    lev = np.where(days < "2018-02-28", 1.0, 0.5)
    r = np.where(np.arange(30) % 2 == 0, 0.03, -0.03) * lev
    r[0] = 0.0
    sf = calm_frame(30, "2018-02-01", prices={"SVXY": 100 * np.cumprod(1 + r)})
    w = strat({"vol_window": 10, "vol_target": 0.04}, kind="short_vol").weights(sf, sf.days)["SVXY"]
    e = 0.04 / (0.03 * np.sqrt(10 / 9) * np.sqrt(252))  # 10 returns of +-3 %: sample std x sqrt(252)
    assert w.loc["2018-02-27"] == pytest.approx(e)
    assert w.loc["2018-02-28"] == pytest.approx(2 * e)
    assert w.iloc[-1] == pytest.approx(2 * e)


def test_playbook_short_vol_sleeve_in_minus_1x_units():
    sf = calm_frame(80, "2017-12-01")  # flat prices: vol 0 -> full size once half the window exists
    w = strat({"variant": "A"}, kind="rmp_playbook").weights(sf, sf.days)["SVXY"]
    assert w.loc["2018-02-27"] == pytest.approx(0.08)
    assert w.loc["2018-02-28"] == pytest.approx(0.10)  # 0.16 of SVXY, cut by the group cap 0.10


# ------------------------------------------------------------------------- durations, curve


def test_par_duration_by_hand_and_by_a_price_bump():
    assert float(par_duration(0.04, 2.0)) == pytest.approx(1.9038643, abs=1e-6)  # (1 - 1.02^-4) / 0.04
    assert float(par_duration(0.0, 5.0)) == pytest.approx(5.0)
    for y, m in [(0.01, 1.9), (0.045, 8.5), (0.03, 25.0)]:
        assert float(par_duration(y, m)) == pytest.approx(bump_duration(y, m), rel=1e-7)


def test_curve_interpolation_by_hand():
    yl = pd.DataFrame({"DGS3MO": [1.0, 1.0], "DGS2": [2.0, 2.0], "DGS10": [3.0, 3.0], "DGS30": [4.0, np.nan]})
    np.testing.assert_allclose(curve_yield(yl, 1.9), [1 + 1.65 / 1.75] * 2)
    # 25 y: 3 + 15/20 between DGS10 and DGS30; without DGS30 flat at DGS10
    np.testing.assert_allclose(curve_yield(yl, 25.0), [3.75, 3.0])
    np.testing.assert_allclose(curve_yield(yl[["DGS10"]], 1.9), [3.0, 3.0])


def test_curve_interpolation_equals_np_interp_row_by_row_bit_for_bit():
    rng = np.random.default_rng(5)
    y = rng.normal(3.0, 2.0, (3000, 4))
    y[rng.random(y.shape) < 0.3] = np.nan  # every pattern of known nodes, all-unknown rows included
    yl = pd.DataFrame(y, columns=["DGS10", "DGS3MO", "DGS30", "DGS2"])  # not in maturity order
    x = {"DGS3MO": 0.25, "DGS2": 2.0, "DGS10": 10.0, "DGS30": 30.0}
    cols = sorted(yl.columns, key=x.__getitem__)
    for m in (0.1, 0.25, 1.9, 2.0, 7.5, 30.0, 45.0):
        want = np.full(len(yl), np.nan)
        for r, row in enumerate(yl[cols].to_numpy()):  # the plain per-row loop
            ok = np.isfinite(row)
            if ok.any():
                want[r] = np.interp(m, np.array([x[c] for c in cols])[ok], row[ok])
        np.testing.assert_array_equal(curve_yield(yl, m), want)


def test_durations_fall_back_to_fixed_without_yields():
    d = durations_at(["SHY", "TLT"], pd.DataFrame({"DGS2": [np.nan, 4.0], "DGS10": [np.nan, 4.0]}))
    np.testing.assert_allclose(d["SHY"], [1.9, 1.8122101], atol=1e-6)  # flat 4 %: (1 - 1.02^-3.8) / 0.04
    np.testing.assert_allclose(d["TLT"], [16.5, 15.7118029], atol=1e-6)  # (1 - 1.02^-50) / 0.04


def test_steepener_is_dv01_neutral_on_synthetic_yields():
    sf = make_frame(3, regime="rmp", start="2024-01-01")
    yl = pd.DataFrame({"DGS3MO": [4.0, 5.0, np.nan], "DGS2": [4.0, 4.5, np.nan],
                       "DGS10": [4.0, 4.2, np.nan], "DGS30": [4.0, 4.4, np.nan]}, index=sf.days)
    sf = dataclasses.replace(sf, yields=yl)
    w = strat({"sweep_idle": False, "notional": 0.5}, kind="steepener").weights(sf, sf.days)
    # day 0, flat 4 %: TLT = -0.5 x 1.8122101 / 15.7118029; day 2: no yield -> fixed 1.9 / 16.5
    assert w.iloc[0]["TLT"] == pytest.approx(-0.5 * 1.8122101 / 15.7118029, rel=1e-6)
    assert w.iloc[2]["TLT"] == pytest.approx(-0.5 * 1.9 / 16.5)
    # day 1: second implementation (own interpolation, bumped price)
    y_s = (5.0 + (1.9 - 0.25) / 1.75 * (4.5 - 5.0)) / 100
    y_t = (4.2 + 15 / 20 * (4.4 - 4.2)) / 100
    dv01 = w.iloc[1]["SHY"] * bump_duration(y_s, 1.9) + w.iloc[1]["TLT"] * bump_duration(y_t, 25.0)
    assert abs(dv01) < 1e-6
    assert w.iloc[1]["SHY"] == pytest.approx(0.5) and w.iloc[1]["BIL"] == pytest.approx(1 - 0.5 - w.iloc[1]["TLT"])
    # with the sweep, the hedge still covers the steepener's notional only (the sweep is carry)
    ws = strat({"notional": 0.5}, kind="steepener").weights(sf, sf.days)
    assert ws.iloc[1]["TLT"] == pytest.approx(w.iloc[1]["TLT"]) and ws.iloc[1]["BIL"] == pytest.approx(0.0)


def test_fixed_duration_source_keeps_the_old_ratio():
    sf = dataclasses.replace(make_frame(1, regime="rmp"), yields=pd.DataFrame({"DGS10": [4.0]}))
    w = strat({"sweep_idle": False, "duration_source": "fixed"}, kind="steepener").weights(sf, sf.days)
    assert w.iloc[0]["TLT"] == pytest.approx(-1.9 / 16.5)


@pytest.mark.realdata
def test_steepener_dv01_neutral_on_every_decision_2012_2026(shared_data):
    from backtest.data.csv_source import CsvSource
    from backtest.signals import build_signal_frame

    md = CsvSource(shared_data).load(["BIL", "SHY", "TLT"], ["DGS3MO", "DGS2", "DGS10", "DGS30"],
                                     pd.Timestamp("2012-01-01"), pd.Timestamp("2026-12-31"))
    sf = build_signal_frame(md, pd.Series("rmp", index=md.calendar, dtype=object))
    s = pd.Series(sf.days, index=sf.days)
    dates = pd.DatetimeIndex(s.groupby(sf.days.to_period("M")).max())
    w = strat({"sweep_idle": False}, kind="steepener").weights(sf, dates)
    yl = sf.yields.reindex(dates)
    assert yl.notna().all(axis=None)
    dv01 = []
    for d in dates:
        y = yl.loc[d] / 100
        y_s = y["DGS3MO"] + (1.9 - 0.25) / 1.75 * (y["DGS2"] - y["DGS3MO"])
        y_t = y["DGS10"] + 15 / 20 * (y["DGS30"] - y["DGS10"])
        dv01.append(w.loc[d, "SHY"] * bump_duration(y_s, 1.9) + w.loc[d, "TLT"] * bump_duration(y_t, 25.0))
    # tolerance: 1e-6 years of duration per unit of NAV (a 1 bp parallel move: < 1e-10 of NAV)
    assert np.max(np.abs(dv01)) < 1e-6
    assert (w["SHY"] == 1.0).all() and w["TLT"].std() > 0.005  # the hedge moves with the curve


# ------------------------------------------------------------------------------- the report


def test_thesis_violations_and_caveats():
    pos = pd.DataFrame({
        "strategy": ["opt", "opt", "opt", "opt", "rules", "opt"],
        "date": pd.to_datetime(["2020-01-31"] * 4 + ["2020-01-31", "2020-02-28"]),
        "asset": ["SVXY", "IWM", "SPY", "VIXY", "TIP", "VIXY"],
        "weight": [-0.02, 0.05, -0.3, 0.01, -0.1, -0.05],
    })
    bad = thesis_violations(pos, ["opt"])
    # SVXY < 0 (long vol) and VIXY > 0 (long vol); SPY has no thesis; 'rules' is not an optimizer strategy
    assert list(zip(bad["asset"], bad["weight"], bad["thesis"], strict=True)) == [("SVXY", -0.02, "long"),
                                                                                  ("VIXY", 0.01, "short")]
    lines = instrument_caveats(pos)
    assert len(lines) == 2 and lines[0].startswith("SVXY (held by opt)") and "XIV" in lines[0]
    cfg = {"strategies": [{"name": "a", "kind": "rmp_playbook", "params": {"optimizer": {"te_cap": 0.03}}},
                          {"name": "b", "kind": "rmp_playbook"}, {"name": "c", "kind": "optimized"}]}
    assert optimizer_strategies(cfg) == ["a", "c"]


def test_historical_optimizer_bounds_keep_to_the_thesis():
    from pathlib import Path

    from backtest.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "historical.yaml")
    opt = [s for s in cfg.strategies if (s.params or {}).get("optimizer")]
    assert len(opt) >= 2
    signs = thesis_signs()
    for s in opt:
        held = strat(s.params, kind=s.kind).assets()
        bounds = s.params["optimizer"]["bounds"]["assets"]
        for a in held:
            if a in signs:
                key = "min" if signs[a] > 0 else "max"
                assert bounds.get(a, {}).get(key) == 0, (s.name, a)


# ------------------------------------------------------------------------------- helpers


def bump_duration(y: float, m: float, h: float = 1e-5) -> float:
    """Modified duration of a semi-annual par bond by a central price bump (second implementation)."""

    def price(r: float) -> float:
        disc = (1 + r / 2) ** (-2 * m)
        return y / r * (1 - disc) + disc  # coupon y (par at r = y): annuity + principal

    return -(price(y + h) - price(y - h)) / (2 * h * price(y))


# ------------------------------------------------------------------------------- batch form


class FrameBatch:
    """A two-path :class:`strategies.base.BatchSignals` that repeats one :class:`SignalFrame`."""

    def __init__(self, sf, dates):
        self.sf, self.dates = sf, pd.DatetimeIndex(dates)
        self.rows = sf.days.get_indexer(self.dates).astype(np.int64)
        self.shape = (len(self.rows), 2)
        self.regime = np.repeat(sf.regime.to_numpy(dtype=str)[self.rows, None], 2, axis=1)
        self.regime_known = np.ones(self.shape, bool)
        self.calendar = sf.days

    def values(self, name, lookback=0):
        v = self.sf.signal(name).to_numpy(dtype=float)
        r = self.rows - lookback
        return np.repeat(np.where(r >= 0, v[np.maximum(r, 0)], np.nan)[:, None], 2, axis=1)

    def listed(self, assets):
        return np.isfinite(self.sf.prices.reindex(columns=assets).to_numpy(dtype=float)[self.rows])

    def prices(self, assets, lo, hi):
        px = self.sf.prices.reindex(columns=assets).to_numpy(dtype=float)[lo:hi]
        return np.repeat(px[:, None, :], 2, axis=1)

    def yields(self, name):
        if name not in self.sf.yields:
            return None
        return np.repeat(self.sf.yields[name].to_numpy(dtype=float)[self.rows, None], 2, axis=1)

    def member(self, b):
        return f"path {b}"


@pytest.mark.parametrize(("kind", "params"), [
    ("short_vol", {"vol_window": 10}),
    ("steepener", {}),
    ("rmp_playbook", {"variant": "A", "short_vol_ref_vol": 0.2}),
])
def test_batch_form_equals_weights_across_the_switch_and_a_moving_curve(kind, params):
    from strategies.base import batch_weights

    n = 60
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2018-01-15", periods=n)
    r = rng.normal(0, 0.03, n) * np.where(days < "2018-02-28", 1.0, 0.5)
    sf = calm_frame(n, "2018-01-15", prices={"SVXY": 100 * np.cumprod(1 + r)})
    yl = pd.DataFrame({"DGS3MO": 1.5 + 0.01 * np.arange(n), "DGS2": 2.0 + rng.normal(0, 0.05, n),
                       "DGS10": 2.8 + rng.normal(0, 0.05, n), "DGS30": 3.1 + rng.normal(0, 0.05, n)}, index=days)
    sf = dataclasses.replace(sf, yields=yl)
    s = strat(params, kind=kind)
    dates = days[::3]
    ref = s.weights(sf, dates)
    w = batch_weights(s, FrameBatch(sf, dates))
    np.testing.assert_allclose(w[:, 0, :], ref.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(w[:, 1, :], ref.to_numpy(), atol=1e-12)
    assert ref.iloc[:, list(ref.columns).index("SVXY" if kind != "steepener" else "TLT")].std() > 0
