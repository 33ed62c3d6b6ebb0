"""The regime_rules engine, checked by hand on tiny signal frames (one decision per day).

Every expected weight is worked out in a comment next to the assertion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import StrategyConfig
from backtest.errors import ConfigError, StrategyError
from backtest.signals import SignalFrame
from strategies.base import build_strategy, renormalise, validate_params
from strategies.history import Context
from strategies.rules_engine import parse_condition

ASSETS = ("SPY", "IEF", "TLT", "SHY", "BIL", "GLD", "DBC", "TIP", "VNQ", "IWM", "QQQ", "SVXY", "VIXY")
KINDS = ("qe", "plateau", "qt", "rmp")


# --------------------------------------------------------------------------------- helpers


def make_frame(n: int = 10, *, prices: dict | None = None, signals: dict | None = None,
               regime: str | list[str] = "rmp", start: str = "2024-01-01") -> SignalFrame:
    """A hand-built frame: flat prices at 100 unless given, named signals, regime labels."""
    days = pd.bdate_range(start, periods=n)
    px = pd.DataFrame(100.0, index=days, columns=list(ASSETS))
    for a, v in (prices or {}).items():
        px[a] = np.asarray(v, dtype=float)
    sig = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in (signals or {}).items()}, index=days)
    reg = pd.Series(regime if isinstance(regime, list) else [regime] * n, index=days, dtype=object)
    return SignalFrame(px, sig, reg)


def random_frame(n: int = 400, seed: int = 0) -> SignalFrame:
    """Random prices, signals crossing the usual thresholds, and regime blocks."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2015-01-01", periods=n)
    px = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.015, (n, len(ASSETS))), axis=0)),
                      index=days, columns=list(ASSETS))
    px.iloc[:60, ASSETS.index("SVXY")] = np.nan  # a late starter
    walk = np.cumsum(rng.normal(0, 1, n))
    sig = pd.DataFrame({
        "vix": np.clip(20 + 3 * walk + rng.normal(0, 2, n), 9, 80),
        "vix_term": 0.93 + 0.06 * np.sin(np.arange(n) / 9) + rng.normal(0, 0.02, n),
        "cpi_yoy_chg_3m": 0.4 * np.sin(np.arange(n) / 40) + rng.normal(0, 0.05, n),
        "curve_2s10s": rng.normal(0.3, 0.5, n),
        "curve_2s10s_chg_3m": rng.normal(0, 0.2, n),
        "sofr_iorb": rng.normal(0, 0.05, n),
        "cash_rate": np.full(n, 4.0),
    }, index=days)
    sig.iloc[:5, 2] = np.nan  # CPI not yet published
    reg = pd.Series(np.repeat(rng.choice(KINDS, n // 40 + 1), 40)[:n], index=days, dtype=object)
    return SignalFrame(px, sig, reg)


def perturb_after(sf: SignalFrame, t: pd.Timestamp, seed: int = 1) -> SignalFrame:
    """Replace every price, signal and regime label after ``t`` with random values."""
    rng = np.random.default_rng(seed)
    after = sf.prices.index > t
    px, sig, reg = sf.prices.copy(), sf.signals.copy(), sf.regime.copy()
    px.loc[after] = rng.uniform(1, 500, size=(after.sum(), px.shape[1]))
    sig.loc[after] = rng.normal(0, 50, size=(after.sum(), sig.shape[1]))
    reg.loc[after] = rng.choice(KINDS, after.sum())
    return SignalFrame(px, sig, reg)


def assert_no_lookahead(strategy, sf: SignalFrame, dates: pd.DatetimeIndex, cuts=(0.3, 0.55, 0.8)) -> None:
    """Weights decided at or before each cut date do not move when the future is randomised."""
    w = strategy.weights(sf, dates)
    for i, frac in enumerate(cuts):
        t = dates[int(frac * (len(dates) - 1))]
        w2 = strategy.weights(perturb_after(sf, t, seed=i), dates)
        pd.testing.assert_frame_equal(w.loc[:t], w2.loc[:t], check_exact=False, rtol=0, atol=1e-12)


def strat(params: dict, kind: str = "regime_rules", name: str = "my_rules"):
    return build_strategy(StrategyConfig(name=name, kind=kind, params=params), "test.yaml")


def weights(params: dict, sf: SignalFrame, kind: str = "regime_rules") -> pd.DataFrame:
    return strat(params, kind).weights(sf, sf.days)


def config_error(params: dict, kind: str = "regime_rules") -> str:
    """The one-line ConfigError raised when validating ``params``."""
    with pytest.raises(ConfigError) as exc:
        validate_params(StrategyConfig(name="my_rules", kind=kind, params=params), "test.yaml")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("test.yaml: strategies.my_rules.params")
    return msg


BASE = {"SPY": 0.6, "IEF": 0.4}


def gold(**over) -> dict:
    tilt = {"name": "gold", "when": {"regime": ["rmp", "qe"]}, "add": {"GLD": 0.10}, "fund_from": ["IEF"]}
    tilt.update(over)
    return tilt


# ----------------------------------------------------------------------------------- gating


def test_regime_gate_on_and_off():
    sf = make_frame(5, regime=["qt", "qt", "rmp", "qe", "plateau"])
    w = weights({"base": BASE, "tilts": [gold()]}, sf)
    # off: 60/40; on: GLD +0.10 taken from IEF (0.40 -> 0.30)
    expected = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.6, 0.4, 0.0]])
    np.testing.assert_allclose(w[["SPY", "IEF", "GLD"]].to_numpy(), expected, atol=1e-12)
    assert list(w.columns) == ["SPY", "IEF", "GLD"]


def test_signal_comparison_and_string_shorthand_agree():
    sf = make_frame(4, signals={"vix": [18, 26, 24, np.nan]})
    long = weights({"base": BASE, "tilts": [gold(when={"signal": "vix", "op": "<", "value": 25})]}, sf)
    short = weights({"base": BASE, "tilts": [gold(when="vix < 25")]}, sf)
    pd.testing.assert_frame_equal(long, short)
    # vix 18 on, 26 off, 24 on, missing -> off
    np.testing.assert_allclose(long["GLD"], [0.1, 0.0, 0.1, 0.0])


def test_all_any_not_and_missing_data_never_switch_on():
    sf = make_frame(5, signals={"vix": [15, 15, 35, np.nan, 15], "curve_2s10s": [1, -1, 1, 1, np.nan]},
                    regime=["rmp", "rmp", "rmp", "rmp", "qt"])
    when = {"all": [{"regime": "rmp"}, {"not": {"any": ["vix > 30", "curve_2s10s < 0"]}}]}
    w = weights({"base": BASE, "tilts": [gold(when=when)]}, sf)
    # 1: calm, positive curve -> on; 2: inverted -> off; 3: spike -> off;
    # 4: vix unknown -> not(unknown) is unknown -> off; 5: qt -> off
    np.testing.assert_allclose(w["GLD"], [0.1, 0, 0, 0, 0])
    # the Kleene values themselves
    ctx = Context(sf, sf.days)
    np.testing.assert_allclose(parse_condition({"not": "vix > 30"}, "x").evaluate(ctx), [1, 1, 0, 0.5, 1])


def test_signal_change_over_lookback():
    # vix 10, 10, 12, 14, 13: pct change over 2 rows: nan, nan, +20 %, +40 %, +8.3 %
    sf = make_frame(5, signals={"vix": [10, 10, 12, 14, 13]})
    when = {"signal": "vix", "change": "pct", "lookback": 2, "op": ">", "value": 0.3}
    np.testing.assert_allclose(weights({"base": BASE, "tilts": [gold(when=when)]}, sf)["GLD"], [0, 0, 0, 0.1, 0])
    when = {"signal": "vix", "change": "diff", "lookback": 1, "op": ">=", "value": 2}
    np.testing.assert_allclose(weights({"base": BASE, "tilts": [gold(when=when)]}, sf)["GLD"], [0, 0, 0.1, 0.1, 0])


# ---------------------------------------------------------------------------- hysteresis, hold


def test_hysteresis_enter_and_exit_thresholds():
    vix = [20, 26, 29, 31, 28, 24, np.nan, 26, 24]
    sf = make_frame(len(vix), signals={"vix": vix})
    hyst = gold(when={"signal": "vix", "op": "<", "value": 25, "exit": 30})
    # 20 enter; 26, 29 stay (< 30); 31 exit; 28 stays off (needs < 25); 24 enter;
    # missing -> off and state reset; 26 stays off; 24 enter
    np.testing.assert_allclose(weights({"base": BASE, "tilts": [hyst]}, sf)["GLD"] / 0.1,
                               [1, 1, 1, 0, 0, 1, 0, 0, 1])
    plain = gold(when="vix < 25")
    np.testing.assert_allclose(weights({"base": BASE, "tilts": [plain]}, sf)["GLD"] / 0.1,
                               [1, 0, 0, 0, 0, 1, 0, 0, 1])
    assert parse_condition("vix < 25 exit 30", "x") == parse_condition(hyst["when"], "x")


def test_hysteresis_greater_than():
    sf = make_frame(5, signals={"cpi_yoy_chg_3m": [0.1, 0.3, 0.1, -0.05, 0.2]})
    when = {"signal": "cpi_yoy_chg_3m", "op": ">", "value": 0.25, "exit": 0.0}
    # 0.1 off; 0.3 on; 0.1 stays (> 0); -0.05 exit; 0.2 stays off (needs > 0.25)
    np.testing.assert_allclose(weights({"base": BASE, "tilts": [gold(when=when)]}, sf)["GLD"] / 0.1, [0, 1, 1, 0, 0])


def test_min_hold_days_and_periods():
    reg = ["rmp", "qt", "qt", "qt", "qt", "rmp", "qt", "qt"]
    sf = make_frame(len(reg), regime=reg)
    # on at day 0, condition fails at day 1: held until 3 trading days have passed (day 3 off)
    w = weights({"base": BASE, "tilts": [gold(min_hold_days=3)]}, sf)
    np.testing.assert_allclose(w["GLD"] / 0.1, [1, 1, 1, 0, 0, 1, 1, 1])
    # 2 decision periods: on at 0, kept at 1 (1 period held), off at 2
    w = weights({"base": BASE, "tilts": [gold(min_hold_periods=2)]}, sf)
    np.testing.assert_allclose(w["GLD"] / 0.1, [1, 1, 0, 0, 0, 1, 1, 0])


def test_min_hold_days_counts_trading_days_between_monthly_decisions():
    sf = make_frame(70, regime=["rmp"] * 25 + ["qt"] * 45)
    dates = sf.days[[0, 21, 42, 63]]  # ~monthly decisions, 21 trading days apart
    s = strat({"base": BASE, "tilts": [gold(min_hold_days=42)]})
    # on at day 0; rule off from day 25; at day 42 the tilt has been held 42 days -> off
    np.testing.assert_allclose(s.weights(sf, dates)["GLD"] / 0.1, [1, 1, 0, 0])


def test_exit_when_overrides_min_hold():
    sf = make_frame(5, signals={"vix": [15, 15, 45, 15, 15]}, regime=["rmp", "qt", "qt", "rmp", "rmp"])
    w = weights({"base": BASE, "tilts": [gold(min_hold_days=10, exit_when="vix > 40")]}, sf)
    # held through the qt day by min hold, forced off by the spike, back on in rmp
    np.testing.assert_allclose(w["GLD"] / 0.1, [1, 1, 0, 1, 1])


# ------------------------------------------------------------------------------------ funding


def test_funding_pro_rata_to_base_weight():
    sf = make_frame(1)
    base = {"SPY": 0.5, "IEF": 0.3, "TLT": 0.2}
    w = weights({"base": base, "tilts": [gold(fund_from=["IEF", "TLT"])]}, sf).iloc[0]
    # 0.10 taken 3:2 -> IEF 0.30 - 0.06, TLT 0.20 - 0.04
    assert w["IEF"] == pytest.approx(0.24) and w["TLT"] == pytest.approx(0.16)
    assert w["SPY"] == pytest.approx(0.5) and w.sum() == pytest.approx(1.0)


def test_funding_respects_floors_by_water_filling():
    sf = make_frame(1)
    base = {"SPY": 0.5, "IEF": 0.3, "TLT": 0.2}
    p = {"base": base, "floors": {"IEF": 0.28}, "tilts": [gold(fund_from=["IEF", "TLT"])]}
    w = weights(p, sf).iloc[0]
    # pro rata would take 0.06 from IEF, but only 0.02 is above its floor: IEF 0.28, TLT 0.2 - 0.08
    assert w["IEF"] == pytest.approx(0.28) and w["TLT"] == pytest.approx(0.12)


def test_funding_from_cash_and_leverage_floor():
    sf = make_frame(1)
    # 0.9 invested: the first 0.10 of gold comes from cash; nothing from SPY (it is not a funder)
    w = weights({"base": {"SPY": 0.9}, "tilts": [gold(fund_from=["cash"])]}, sf).iloc[0]
    assert w["GLD"] == pytest.approx(0.1) and w["SPY"] == pytest.approx(0.9) and w.sum() == pytest.approx(1.0)
    # fully invested: borrowing 0.10 needs a negative cash floor
    p = {"base": BASE, "floors": {"cash": -0.2}, "tilts": [gold(fund_from=["cash"])]}
    w = weights(p, sf).iloc[0]
    assert w.sum() == pytest.approx(1.1)  # cash = -0.10


def test_funding_zero_base_assets_used_last():
    sf = make_frame(1)
    # cash has base weight 0 but may borrow 0.2: IEF (key 0.4) is emptied first, then cash borrows
    p = {"base": BASE, "floors": {"cash": -0.2}, "tilts": [gold(add={"GLD": 0.5}, fund_from=["IEF", "cash"])]}
    w = weights(p, sf).iloc[0]
    assert w["IEF"] == pytest.approx(0.0) and w["GLD"] == pytest.approx(0.5)
    assert 1 - w.sum() == pytest.approx(-0.1)


def test_funding_check_is_conservative_across_tilt_combinations():
    # TIP is added by one tilt and funds another: gold alone cannot be funded, so the config
    # is rejected even if both tilts always share a condition (combinations are all tried)
    tilts = [{"name": "tips", "when": {"regime": "rmp"}, "add": {"TIP": 0.2}, "fund_from": ["SPY"]},
             gold(add={"GLD": 0.45}, fund_from=["IEF", "TIP"])]
    msg = config_error({"base": BASE, "tilts": tilts})
    assert "tilt 'gold': impossible funding: needs 0.45 from ['IEF', 'TIP'] but only 0.4 is available" in msg


def test_negative_net_tilt_returns_weight_to_funders():
    sf = make_frame(1)
    tilt = {"name": "derisk", "when": {"regime": "rmp"}, "add": {"SPY": -0.2}, "fund_from": ["IEF", "TLT"]}
    w = weights({"base": {"SPY": 0.6, "IEF": 0.3, "TLT": 0.1}, "tilts": [tilt]}, sf).iloc[0]
    # 0.20 of SPY sold, proceeds 3:1 to IEF and TLT
    assert w["SPY"] == pytest.approx(0.4) and w["IEF"] == pytest.approx(0.45) and w["TLT"] == pytest.approx(0.15)


def test_short_tilt_funded_from_cash_adds_cash():
    sf = make_frame(1)
    tilt = {"name": "short_vixy", "when": {"regime": "rmp"}, "add": {"VIXY": -0.05}}
    w = weights({"base": BASE, "tilts": [tilt]}, sf).iloc[0]
    assert w["VIXY"] == pytest.approx(-0.05) and w["SPY"] == pytest.approx(0.6)
    assert 1 - w.sum() == pytest.approx(0.05)  # short proceeds held as cash


def test_sweep_moves_idle_cash_and_bills_never_borrows():
    sf = make_frame(2, regime=["qt", "rmp"])
    sweep = {"name": "no_idle", "when": {"regime": "rmp"}, "sweep": {"from": ["cash", "BIL"], "to": {"SHY": 1}}}
    p = {"base": {"SPY": 0.5, "BIL": 0.3}, "floors": {"cash": -0.5}, "tilts": [sweep]}
    w = weights(p, sf)
    # qt: SPY .5, BIL .3, cash .2; rmp: cash .2 and BIL .3 into SHY, no borrowing below 0
    np.testing.assert_allclose(w[["SPY", "BIL", "SHY"]].to_numpy(), [[0.5, 0.3, 0.0], [0.5, 0.0, 0.5]], atol=1e-12)
    half = dict(sweep, sweep={"from": ["BIL"], "to": {"SHY": 1, "IEF": 3}, "fraction": 0.5})
    w = weights({"base": {"SPY": 0.5, "BIL": 0.4}, "tilts": [half]}, sf).iloc[1]
    assert w["BIL"] == pytest.approx(0.2) and w["SHY"] == pytest.approx(0.05) and w["IEF"] == pytest.approx(0.15)


# ------------------------------------------------------------------------------------- caps


def test_single_weight_caps():
    sf = make_frame(1)
    p = {"base": BASE, "tilts": [gold(add={"GLD": 0.3})], "caps": {"max_weight": 0.5, "max_weight_by_asset": {"GLD": 0.2}}}
    w = weights(p, sf).iloc[0]
    # SPY 0.6 -> 0.5, IEF 0.1, GLD 0.3 -> 0.2; the rest (0.2) is cash
    assert (w["SPY"], w["IEF"], w["GLD"]) == pytest.approx((0.5, 0.1, 0.2))


def test_group_cap_on_gross_exposure():
    sf = make_frame(1)
    tilts = [{"name": "svxy", "when": {"regime": "rmp"}, "add": {"SVXY": 0.08}, "fund_from": ["SPY"]},
             {"name": "vixy", "when": {"regime": "rmp"}, "add": {"VIXY": -0.07}}]
    p = {"base": BASE, "tilts": tilts, "caps": {"groups": {"short_vol": {"assets": ["SVXY", "VIXY"], "max": 0.10}}}}
    w = weights(p, sf).iloc[0]
    # |0.08| + |-0.07| = 0.15 > 0.10: both scaled by 2/3
    assert w["SVXY"] == pytest.approx(0.08 * 2 / 3) and w["VIXY"] == pytest.approx(-0.07 * 2 / 3)
    assert w["SPY"] == pytest.approx(0.52)


def test_gross_leverage_cap():
    sf = make_frame(1)
    tilt = {"name": "steep", "when": {"regime": "rmp"}, "add": {"SHY": 1.0, "TLT": -0.5}, "fund_from": ["cash"]}
    p = {"base": BASE, "floors": {"cash": -1}, "tilts": [tilt], "caps": {"max_gross": 1.5}}
    w = weights(p, sf).iloc[0]
    # gross 0.6 + 0.4 + 1.0 + 0.5 = 2.5 -> scaled by 1.5 / 2.5 = 0.6
    np.testing.assert_allclose(w[["SPY", "IEF", "SHY", "TLT"]], [0.36, 0.24, 0.6, -0.3])


# -------------------------------------------------------------------------------- sizing


def test_vol_target_scales_the_tilt_by_hand():
    n, a = 12, 0.02
    r = np.where(np.arange(n) % 2 == 0, a, -a)
    px = 100 * np.cumprod(1 + r)
    sf = make_frame(n, prices={"SVXY": px})
    tilt = {"name": "sv", "when": {"regime": "rmp"}, "add": {"SVXY": 0.1}, "fund_from": ["SPY"],
            "vol_target": {"target": 0.02, "window": 6}}
    w = weights({"base": BASE, "tilts": [tilt]}, sf)["SVXY"]
    # window of 6 returns +-2 % (mean 0): std = 0.02 * sqrt(6/5), annualised x sqrt(252)
    vol = 0.02 * np.sqrt(6 / 5) * np.sqrt(252)
    assert w.iloc[-1] == pytest.approx(0.1 * min(1.0, 0.02 / (0.1 * vol)))
    # before 3 returns (window // 2) the size is unknown: no position
    assert (w.iloc[:3] == 0).all() and w.iloc[3] > 0


def test_late_starting_asset_skips_the_tilt_and_framework_renormalises():
    gld = [np.nan] * 3 + [100.0] * 3
    sf = make_frame(6, prices={"GLD": gld, "TIP": gld})
    # tilt on an unlisted asset: skipped (no funding taken) until GLD has a price
    w = weights({"base": BASE, "tilts": [gold()]}, sf)
    np.testing.assert_allclose(w["GLD"], [0, 0, 0, 0.1, 0.1, 0.1])
    np.testing.assert_allclose(w["IEF"], [0.4, 0.4, 0.4, 0.3, 0.3, 0.3])
    # an unlisted base asset is left to the framework's renormalisation, which does not crash
    w = weights({"base": {"SPY": 0.6, "IEF": 0.3, "TIP": 0.1}}, sf)
    out, n = renormalise(w, sf.available())
    assert n == 3 and out.iloc[0]["TIP"] == 0 and out.iloc[0].sum() == pytest.approx(1.0)


def test_decision_dates_off_the_calendar_use_the_last_known_values():
    sf = make_frame(5, signals={"vix": [15, 15, 35, 35, 35]})
    dates = pd.DatetimeIndex([sf.days[0] - pd.Timedelta(days=3), sf.days[1] + pd.Timedelta(hours=12)])
    w = strat({"base": BASE, "tilts": [gold(when="vix < 25")]}).weights(sf, dates)
    np.testing.assert_allclose(w["GLD"], [0.0, 0.1])  # before the data: unknown -> off


# ------------------------------------------------------------------------------- look-ahead


def test_regime_rules_lookahead_with_hysteresis_hold_and_vol_target():
    sf = random_frame()
    p = {
        "base": {"SPY": 0.5, "IEF": 0.3, "BIL": 0.2},
        "floors": {"cash": -0.3},
        "tilts": [
            gold(when=["regime in [rmp, qe]", "vix < 22 exit 28"], min_hold_days=15),
            {"name": "sv", "when": "vix_term < 0.95 exit 1.0", "add": {"SVXY": 0.1}, "fund_from": ["SPY"],
             "exit_when": {"signal": "vix", "change": "pct", "lookback": 5, "op": ">", "value": 0.2},
             "vol_target": {"target": 0.02, "window": 21}},
            {"name": "steep", "when": {"not": "cpi_yoy_chg_3m > 0.2 exit 0"}, "add": {"SHY": 0.3, "TLT": -0.1},
             "fund_from": ["cash"], "min_hold_periods": 2},
            {"name": "sweep", "when": "curve_2s10s > 0", "sweep": {"from": ["BIL", "cash"], "to": {"SHY": 1}}},
        ],
        "caps": {"max_weight": 0.55, "groups": {"sv": {"assets": ["SVXY"], "max": 0.05}}, "max_gross": 1.4},
    }
    s = strat(p)
    weekly = sf.days[::5]
    assert s.tilt_states(sf, weekly).any().all()  # every rule switches on somewhere
    assert_no_lookahead(s, sf, weekly)
    assert_no_lookahead(s, sf, sf.days)


# ------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("tilt", "needle"),
    [
        (gold(when="vixx < 20"), "tilt 'gold': when: unknown signal 'vixx' (did you mean 'vix'?)"),
        (gold(when={"regime": ["rmp", "qee"]}), "tilt 'gold': when: unknown regime 'qee'"),
        (gold(when={"signal": "vix", "op": "=<", "value": 20}), "tilt 'gold': when: unknown op '=<'"),
        (gold(when="vix == 20"), "unknown op '=='"),
        (gold(when={}), "tilt 'gold': when: condition is empty"),
        (gold(when=[]), "tilt 'gold': when: condition is empty"),
        (gold(when={"all": []}), "tilt 'gold': when: all needs a non-empty list"),
        (gold(when="vix is low"), "tilt 'gold': when: cannot parse condition 'vix is low'"),
        (gold(when={"signal": "vix", "op": "<", "value": 25, "exit": 20}), "exit 20 must be >= value 25"),
        (gold(when={"signal": "vix", "op": "<"}), "signal 'vix' needs a 'value'"),
        (gold(when={"signal": "vix", "op": "<", "value": 1, "change": "pct"}), "needs an integer lookback"),
        (gold(when={"regime": "rmp", "signal_": 1}), "unknown or extra key 'signal_'"),
        (gold(exit_when="vix >> 3"), "tilt 'gold': exit_when: cannot parse"),
        (gold(fund_from=["IEFF"]), "tilt 'gold': fund_from asset 'IEFF' is not held"),
        (gold(fund_from=[]), "tilt 'gold': fund_from is empty"),
        (gold(fund_from=["GLD", "IEF"]), "is not held"),
        (gold(add={"GLD": 0.5}), "tilt 'gold': impossible funding: needs 0.5 from ['IEF'] but only 0.4"),
        (gold(add={"GLD": 0.1}, fund_from=["cash"]), "tilt 'gold': impossible funding"),
        (gold(add={"GLD": 0.0}), "tilt 'gold': add is empty or all zero"),
        (gold(sweep={"from": ["cash"], "to": {"SHY": 1}}), "tilt 'gold': give exactly one of 'add' or 'sweep'"),
        (gold(min_hold_days=3, min_hold_periods=1), "give min_hold_days or min_hold_periods, not both"),
    ],
)
def test_bad_rules_are_one_line_config_errors(tilt, needle):
    msg = config_error({"base": BASE, "tilts": [tilt]})
    assert needle in msg, msg


def test_impossible_funding_of_a_combination_names_the_tilts():
    tips = {"name": "tips", "when": {"regime": "qe"}, "add": {"TIP": 0.3}, "fund_from": ["IEF"]}
    msg = config_error({"base": BASE, "tilts": [tips, gold(add={"GLD": 0.2})]})
    assert "tilt 'gold': impossible funding" in msg and "when tilts ['tips', 'gold'] are active" in msg


def test_bad_caps_floors_optimizer_and_names():
    assert "caps.groups.sv: asset 'SVXYY' is not held" in config_error(
        {"base": BASE, "caps": {"groups": {"sv": {"assets": ["SVXYY"], "max": 0.1}}}})
    assert "caps.max_weight_by_asset: asset 'GLD' is not held" in config_error(
        {"base": BASE, "caps": {"max_weight_by_asset": {"GLD": 0.1}}})
    assert "floors: asset 'TLT' is not held" in config_error({"base": BASE, "floors": {"TLT": 0.1}})
    assert "duplicate tilt name" in config_error({"base": BASE, "tilts": [gold(), gold()]})
    assert "base: cash is implied" in config_error({"base": {"SPY": 0.6, "cash": 0.4}})
    assert "optimizer.objective" in config_error({"base": BASE, "optimizer": {"objective": "magic"}})
    assert "optimizer: asset 'TLT' is not held" in config_error(
        {"base": BASE, "optimizer": {"bounds": {"assets": {"TLT": {"max": 0.1}}}}})
    assert "unknown key 'tilt'" in config_error({"base": BASE, "tilt": []})


def test_runtime_funding_failure_is_a_strategy_error(monkeypatch):
    # the config check makes this unreachable through params; force a size above the checked one
    import strategies.regime_rules as rr

    sf = make_frame(2)
    s = strat({"base": BASE, "tilts": [gold(add={"GLD": 0.4})]})
    real = rr.batch_tilt_activity

    def oversized(rules, bs):
        active, scale = real(rules, bs)
        return active, scale * 1.5

    monkeypatch.setattr(rr, "batch_tilt_activity", oversized)
    with pytest.raises(StrategyError, match=r"strategy my_rules: tilt 'gold' cannot be funded on 2024-01-01 \(short by"):
        s.weights(sf, sf.days)


# ------------------------------------------------------------------------------ optimizer, speed


def test_optimizer_allocates_around_the_rule_weights():
    sf = random_frame(300, seed=3)
    p = {"base": BASE, "tilts": [gold(when={"regime": ["qe", "plateau", "qt", "rmp"]})],
         "optimizer": {"objective": "tracking_error", "te_cap": 0.02, "estimator": {"window": 126, "min_obs": 60}}}
    s = strat(p)
    dates = sf.days[::21]
    w = s.weights(sf, dates)
    assert np.isfinite(w.to_numpy()).all() and (w.sum(axis=1) <= 1 + 1e-6).all()
    assert (w - pd.Series({"SPY": 0.6, "IEF": 0.3, "GLD": 0.1})).abs().max().max() < 0.5
    assert isinstance(s.fallbacks, list)
    assert_no_lookahead(s, sf, dates, cuts=(0.5,))


def test_180_monthly_decisions_with_every_rule_feature():
    """Hysteresis, min hold, exit_when, vol target and caps together (its timing: benchmarks/, not here)."""
    sf = random_frame(180 * 21, seed=5)
    dates = sf.days[20::21]
    p = {"base": BASE, "tilts": [
        gold(when=["regime in [rmp, qe]", "vix < 22 exit 28"], min_hold_days=21),
        {"name": "sv", "when": "vix_term < 0.95 exit 1.0", "add": {"SVXY": 0.1}, "fund_from": ["SPY"],
         "exit_when": "vix > 30", "vol_target": {"target": 0.04, "window": 63}},
        {"name": "st", "when": {"not": "cpi_yoy_chg_3m > 0.25 exit 0"}, "add": {"IWM": 0.1, "QQQ": 0.1},
         "fund_from": ["SPY"]},
    ], "caps": {"max_weight": 0.6, "max_gross": 1.5}}
    s = strat(p)
    w = s.weights(sf, dates)
    assert w.shape == (len(dates), 6) and np.isfinite(w.to_numpy()).all()
    assert (w.abs().sum(axis=1) <= 1.5 + 1e-9).all() and (w.abs().max(axis=1) <= 0.6 + 1e-12).all()
    states = s.tilt_states(sf, dates)
    assert states.any().all() and (~states).any().all()  # every tilt switches on and off
