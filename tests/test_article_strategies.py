"""The article's four trades and the RMP playbook, checked by hand on tiny signal frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.config import config_from_dict, load_config
from strategies.rmp_playbook import PROBABILITIES, SCENARIOS, mix
from tests.test_rules_engine import (
    assert_no_lookahead,
    config_error,
    make_frame,
    random_frame,
    strat,
)

REPO = Path(__file__).resolve().parents[1]
CALM = {"vix": 15.0, "vix_term": 0.90, "cpi_yoy_chg_3m": 0.0}


def frame(n: int, regime="rmp", start: str = "2017-01-02", **signals) -> object:
    """Calm signals unless overridden (lists of length n); from 2017 (SVXY still -1x) by default."""
    sig = {k: signals.get(k, [v] * n) for k, v in CALM.items()}
    prices = signals.get("prices")
    return make_frame(n, signals=sig, regime=regime, prices=prices, start=start)


def w_of(kind: str, params: dict, sf) -> pd.DataFrame:
    return strat(params, kind=kind).weights(sf, sf.days)


# ------------------------------------------------------------------------------- short_vol

FIXED = {"vol_target": None}  # exact max_weight, to check the gates by hand


def test_short_vol_term_structure_gate_with_hysteresis():
    sf = frame(6, vix_term=[0.90, 0.97, 1.02, 0.97, 0.93, 0.99])
    w = w_of("short_vol", FIXED, sf)
    # 0.90 on (< 0.95); 0.97 held (< 1.0); 1.02 backwardation -> off; 0.97 stays off
    # (must fall below 0.95 again); 0.93 on; 0.99 held
    np.testing.assert_allclose(w["SVXY"], [0.1, 0.1, 0, 0, 0.1, 0.1])
    # funded pro rata from the 60/40 core: SPY 0.6 - 0.06, IEF 0.4 - 0.04
    np.testing.assert_allclose(w.iloc[0][["SPY", "IEF"]], [0.54, 0.36])
    np.testing.assert_allclose(w.iloc[2][["SPY", "IEF"]], [0.6, 0.4])


def test_short_vol_spike_derisking_overrides_min_hold():
    vix = [15, 15, 15, 15, 15, 15, 16, 20, 17, 31, 17]
    sf = frame(len(vix), vix=vix)
    w = w_of("short_vol", {**FIXED, "min_hold_days": 100}, sf)
    # day 7: 20 / 15 (5 days earlier) - 1 = +33 % > 30 % -> 0; day 8: 17 / 15 = +13 % -> back on;
    # day 9: VIX 31 > 30 -> 0; day 10: 17 / 15.4 ... calm again -> on
    np.testing.assert_allclose(w["SVXY"] / 0.1, [1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1])


def test_short_vol_regime_gate_and_vix_level():
    sf = frame(4, regime=["qt", "rmp", "qe", "plateau"])
    np.testing.assert_allclose(w_of("short_vol", FIXED, sf)["SVXY"], [0, 0.1, 0.1, 0])
    ungated = w_of("short_vol", {**FIXED, "regimes": ["qe", "plateau", "qt", "rmp"]}, sf)
    np.testing.assert_allclose(ungated["SVXY"], [0.1] * 4)


def test_short_vol_vol_targeting_by_hand():
    n = 12
    px = 100 * np.cumprod(1 + np.where(np.arange(n) % 2 == 0, 0.03, -0.03))
    sf = frame(n, prices={"SVXY": px})
    w = w_of("short_vol", {"vol_window": 10, "vol_target": 0.04}, sf)["SVXY"]
    # last 10 daily returns +-3 %: std 0.03 * sqrt(10/9), annualised; weight = 0.04 / vol < 0.10
    vol = 0.03 * np.sqrt(10 / 9) * np.sqrt(252)
    assert w.iloc[-1] == pytest.approx(0.04 / vol)
    assert w.iloc[-1] < 0.1


def test_short_vixy_is_a_short_funded_by_its_proceeds():
    sf = frame(2, regime=["rmp", "qt"])
    w = w_of("short_vol", {**FIXED, "instrument": "short_vixy"}, sf)
    # short VIXY 10 %, core untouched, the proceeds sit in cash (the engine charges borrow)
    np.testing.assert_allclose(w.iloc[0][["SPY", "IEF", "VIXY"]], [0.6, 0.4, -0.1])
    np.testing.assert_allclose(w.iloc[1][["SPY", "IEF", "VIXY"]], [0.6, 0.4, 0.0])
    assert "SVXY" not in w.columns


def test_short_vol_late_start_and_cash_core():
    svxy = [np.nan] * 3 + [100.0] * 3
    sf = frame(6, prices={"SVXY": svxy})
    w = w_of("short_vol", {**FIXED, "core": {}}, sf)
    # no SVXY price yet -> nothing; then 10 % SVXY, the rest cash
    np.testing.assert_allclose(w["SVXY"], [0, 0, 0, 0.1, 0.1, 0.1])


# ----------------------------------------------------------------------------- real_assets


def test_real_assets_in_easing_funded_from_bonds_then_cash():
    sf = frame(2, regime=["rmp", "qt"])
    w = w_of("real_assets", {}, sf)
    # rmp: GLD 8, DBC 4, TIP 4, VNQ 4 (20 %) all from IEF (cash has base weight 0): IEF 0.20
    np.testing.assert_allclose(w.iloc[0][["SPY", "IEF", "GLD", "DBC", "TIP", "VNQ"]], [0.6, 0.2, 0.08, 0.04, 0.04, 0.04])
    np.testing.assert_allclose(w.iloc[1][["SPY", "IEF", "GLD"]], [0.6, 0.4, 0.0])
    # a core with 20 % cash: the 20 % comes 3:2 from IEF (0.3) and cash (0.2)
    w = w_of("real_assets", {"core": {"SPY": 0.5, "IEF": 0.3}}, sf).iloc[0]
    assert w["IEF"] == pytest.approx(0.18) and 1 - w.sum() == pytest.approx(0.12)


def test_real_assets_too_big_is_a_config_error():
    msg = config_error({"tilt": {"GLD": 0.5}}, kind="real_assets")
    assert "tilt 'real_assets': impossible funding: needs 0.5 from ['IEF', 'cash']" in msg


# --------------------------------------------------------------------------- size_tech_tilt


def test_size_tech_cut_when_inflation_reaccelerates():
    cpi = [0.1, 0.3, 0.1, -0.05, 0.1, np.nan]
    sf = frame(len(cpi), cpi_yoy_chg_3m=cpi)
    w = w_of("size_tech_tilt", {}, sf)
    # 0.1 on; 0.3 > 0.25 cut; 0.1 still cut (back only at <= 0); -0.05 on; 0.1 on;
    # CPI missing -> off
    np.testing.assert_allclose(w["IWM"] / 0.1, [1, 0, 0, 1, 1, 0])
    # the cut overrides a minimum holding time (a missing reading does not)
    held = w_of("size_tech_tilt", {"min_hold_days": 50}, sf)
    np.testing.assert_allclose(held["IWM"] / 0.1, [1, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(w.iloc[0][["SPY", "IWM", "QQQ", "IEF"]], [0.4, 0.1, 0.1, 0.4])
    np.testing.assert_allclose(w.iloc[1][["SPY", "IWM", "QQQ", "IEF"]], [0.6, 0, 0, 0.4])


def test_size_tech_regime_gate():
    sf = frame(3, regime=["qt", "qe", "plateau"])
    np.testing.assert_allclose(w_of("size_tech_tilt", {}, sf)["QQQ"], [0, 0.1, 0])


# ------------------------------------------------------------------------------- steepener


def test_steepener_is_dv01_neutral_by_hand():
    sf = frame(2, regime=["rmp", "qt"])
    p = {"sweep_idle": False, "notional": 0.5}
    w = w_of("steepener", p, sf)
    # long 0.5 SHY, short 0.5 x 1.9 / 16.5 = 0.057576 TLT; net cost 0.442424 from BIL
    assert w.iloc[0]["TLT"] == pytest.approx(-0.5 * 1.9 / 16.5)
    assert w.iloc[0]["SHY"] * 1.9 == pytest.approx(-w.iloc[0]["TLT"] * 16.5)  # DV01 long = DV01 short
    assert w.iloc[0]["BIL"] == pytest.approx(1 - 0.5 + 0.5 * 1.9 / 16.5)
    np.testing.assert_allclose(w.iloc[1][["BIL", "SHY", "TLT"]], [1.0, 0, 0])  # off: bills
    w = w_of("steepener", {**p, "short_leg": "IEF"}, sf).iloc[0]
    assert w["IEF"] == pytest.approx(-0.5 * 1.9 / 7.5)
    w = w_of("steepener", {**p, "durations": {"SHY": 2.0, "TLT": 16.0}}, sf).iloc[0]
    assert w["TLT"] == pytest.approx(-0.5 / 8)


def test_steepener_sweeps_idle_bills_into_carry():
    sf = frame(1)
    w = w_of("steepener", {}, sf).iloc[0]
    # notional 1: SHY 1.0 / TLT -0.11515 (cost 0.88485 from BIL), then the last 0.11515 of BIL
    # is swept into SHY: SHY 1.11515, no bills, no cash
    h = 1.9 / 16.5
    np.testing.assert_allclose(w[["BIL", "SHY", "TLT"]], [0.0, 1 + h, -h], atol=1e-12)
    assert w.sum() == pytest.approx(1.0)


def test_steepener_bad_legs_are_config_errors():
    assert "durations: no duration for 'ZROZ'" in config_error({"short_leg": "ZROZ"}, kind="steepener")
    assert "long leg must be shorter" in config_error({"long_leg": "TLT", "short_leg": "SHY"}, kind="steepener")


# ------------------------------------------------------------------------------- playbook


def test_playbook_base_sizes_are_the_probability_mix():
    s = mix(PROBABILITIES)
    assert s.short_vol == pytest.approx(0.4 * 0.08 + 0.35 * 0.05 + 0.25 * 0.0)  # 0.0495
    assert s.real_assets["GLD"] == pytest.approx(0.4 * 0.03 + 0.35 * 0.08 + 0.25 * 0.08)  # 0.06
    assert s.steepener == pytest.approx(0.4 * 0.20 + 0.35 * 0.15 + 0.25 * 0.30)  # 0.2075
    assert set(SCENARIOS) == {"A", "B", "C"} and sum(PROBABILITIES.values()) == pytest.approx(1.0)


def test_playbook_variant_c_weights_by_hand():
    sf = frame(2, regime=["rmp", "qt"])
    w = w_of("rmp_playbook", {"variant": "C"}, sf)
    on = w.iloc[0]
    # GLD 8 + TIP 3 from IEF (0.40 -> 0.29); steepener SHY 0.30 / TLT -0.30 x 1.9 / 16.5 financed
    # by cash (cash = -(0.30 - 0.034545) = -0.265455 >= floor -0.30); no short vol, no size/tech
    np.testing.assert_allclose(on[["SPY", "IEF", "GLD", "TIP", "SHY", "TLT"]],
                               [0.6, 0.29, 0.08, 0.03, 0.3, -0.3 * 1.9 / 16.5])
    assert 1 - on.sum() == pytest.approx(-0.3 + 0.3 * 1.9 / 16.5)
    assert not {"SVXY", "IWM", "QQQ"} & set(w.columns)
    np.testing.assert_allclose(w.iloc[1], pd.Series({"SPY": 0.6, "IEF": 0.4}).reindex(w.columns).fillna(0))


def test_playbook_variant_a_and_overrides():
    sf = frame(40)
    on = w_of("rmp_playbook", {"variant": "A"}, sf).iloc[-1]
    # SVXY 8 + IWM 5 + QQQ 5 from SPY; GLD 3 + TIP 2 + VNQ 3 from IEF (flat prices: vol 0 -> full
    # size once 31 days of the 63-day vol window exist)
    assert on["SVXY"] == pytest.approx(0.08) and on["SPY"] == pytest.approx(0.6 - 0.18)
    assert on["IEF"] == pytest.approx(0.4 - 0.08) and on["SHY"] == pytest.approx(0.2)
    w = w_of("rmp_playbook", {"variant": "A", "overrides": {"short_vol": 0, "real_assets": {"GLD": 0.1}}}, sf)
    assert "SVXY" not in w.columns and w.iloc[-1]["GLD"] == pytest.approx(0.1)


def test_playbook_bad_variant_and_rules_are_config_errors():
    assert "variant" in config_error({"variant": "D"}, kind="rmp_playbook")
    assert "unknown regime 'rmpp'" in config_error({"short_vol": {"regimes": ["rmpp"]}}, kind="rmp_playbook")
    assert "impossible funding" in config_error({"overrides": {"real_assets": {"GLD": 0.5}}}, kind="rmp_playbook")


# ------------------------------------------------------------------------------ look-ahead

CASES = [
    ("short_vol", {}),
    ("short_vol", {"instrument": "short_vixy", "min_hold_days": 30}),
    ("real_assets", {"min_hold_days": 40}),
    ("size_tech_tilt", {}),
    ("steepener", {"min_hold_days": 20}),
    ("rmp_playbook", {}),
    ("rmp_playbook", {"variant": "A"}),
    ("rmp_playbook", {"variant": "B"}),
    ("rmp_playbook", {"variant": "C"}),
]


@pytest.mark.parametrize(("kind", "params"), CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_article_strategies_have_no_lookahead(kind, params):
    sf = random_frame(400, seed=7)
    s = strat(params, kind=kind)
    dates = sf.days[::5]
    states = s.tilt_states(sf, dates)
    assert states.any().all() and not states.all().all()  # every rule switches on and off
    assert_no_lookahead(s, sf, dates)


# ---------------------------------------------------------------------- configs, real data


@pytest.mark.parametrize("name", ["historical.yaml", "quickstart.yaml"])
def test_configs_validate(name):
    cfg = load_config(REPO / "configs" / name)
    kinds = {s.kind for s in cfg.strategies}
    assert {"short_vol", "real_assets", "size_tech_tilt", "steepener", "rmp_playbook"} <= kinds


@pytest.mark.realdata
def test_svxy_collapse_of_2018_is_not_hidden(shared_data):
    from backtest.pipeline import run_backtest

    raw = {
        "name": "svxy2018",
        "data": {"source": "csv", "dir": str(shared_data), "start": "2017-10-02", "end": "2018-03-30",
                 "universe": ["SPY", "IEF", "SVXY"], "macro": ["VIX", "VIX3M", "DTB3"]},
        "costs": {"fee_bps": 1, "slippage_bps": 2},
        "strategies": [{"name": "ungated", "kind": "short_vol", "params": {"regimes": ["qe", "plateau", "qt", "rmp"]}},
                       {"name": "gated", "kind": "short_vol"}],
    }
    out = run_backtest(config_from_dict(raw, "svxy2018"))
    w = out.targets["ungated"]
    assert w.loc["2018-01-31", "SVXY"] > 0.05  # exposed at the January decision (calm VIX, contango)
    r = out.returns.loc["2018-02-05":"2018-02-06"]
    assert r["ungated"].sum() < -0.05  # two days, SVXY -32 % then -83 %: no gate could react
    assert (out.targets["gated"]["SVXY"] == 0).all()  # QT regime: the default gate was off
