"""``rmpbt now``: targets equal the run's last decision, staleness, trades, dates, returns."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import run_cli  # noqa: E402

from backtest.config import config_from_dict  # noqa: E402
from backtest.data.base import MacroSeries  # noqa: E402
from backtest.errors import DataError  # noqa: E402
from backtest.now import (  # noqa: E402
    bdays_between,
    compute_now,
    next_decision,
    period_return,
    plan_trades,
    read_holdings,
    regime_since,
    staleness,
    trade_cost,
    write_now,
)
from backtest.pipeline import load_market, run_backtest, write_run  # noqa: E402

RAW = {
    "name": "nowtest",
    "data": {"source": "sample", "start": "2024-06-01"},
    "rebalance": {"every": "monthly"},
    "execution": {"lag_days": 1},
    "costs": {"fee_bps": 1.0, "slippage_bps": 2.0, "borrow_bps": 50},
    "strategies": [
        {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
        {"name": "steepener", "kind": "steepener"},
        {"name": "real_assets", "kind": "real_assets"},
    ],
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cfg = config_from_dict(RAW, "nowtest")
    md = load_market(cfg)
    folder = write_run(run_backtest(cfg, "nowtest", md), tmp_path_factory.mktemp("res"), report=False)
    as_of = md.calendar[-1]
    hold = pd.DataFrame({"asset": ["SPY", "TLT", "CASH"], "shares": [100.0, 50.0, 1000.0]})
    rep = compute_now(cfg, "nowtest", today=as_of + pd.offsets.BDay(2), capital=1_000_000, holdings=hold, md=md)
    return cfg, md, folder, rep


def test_targets_equal_last_decision_of_run(setup):
    _, _, folder, rep = setup
    w = pd.read_parquet(folder / "weights.parquet").dropna(subset=["weight"])
    for name, st in rep.strategies.items():
        sub = w[w["strategy"] == name]
        last = sub[sub["date"] == sub["date"].max()]
        expected = {a: x for a, x in zip(last["asset"], last["weight"], strict=True) if abs(x) > 1e-12}
        assert st["decided_on"] == str(pd.Timestamp(sub["date"].max()).date())
        assert st["target"].keys() == expected.keys()
        for a, x in expected.items():
            assert st["target"][a] == pytest.approx(x, abs=1e-12)


def test_drifted_weights_are_last_holdings(setup):
    _, _, folder, rep = setup
    prov = json.loads((folder / "provenance.json").read_text())
    assert rep.as_of == prov["data"]["last_date"]
    for st in rep.strategies.values():
        assert sum(st["drifted"].values()) == pytest.approx(1.0, abs=1e-9)


def test_trades_reach_target_within_one_share(setup):
    _, md, _, rep = setup
    px = md.prices.ffill().iloc[-1]
    held = {"SPY": 100.0, "TLT": 50.0}
    for name, st in rep.strategies.items():
        after = dict(held)
        for t in rep.trades[name]:
            after[t["asset"]] = after.get(t["asset"], 0.0) + t["shares"]
            assert t["notional"] == pytest.approx(t["shares"] * px[t["asset"]])
        for a in set(after) | set(st["target"]):
            want = st["target"].get(a, 0.0) * 1_000_000 / px[a]
            assert abs(after.get(a, 0.0) - want) <= 1.0, (name, a)
    # a short target (steepener sells TLT) gives a sell
    assert any(t["asset"] == "TLT" and t["shares"] < 0 for t in rep.trades["steepener"])


def test_trade_cost_by_hand():
    from backtest.engine import Costs

    trades = [{"asset": "SPY", "shares": 10, "price": 100.0, "notional": 1000.0},
              {"asset": "TLT", "shares": -5, "price": 80.0, "notional": -400.0}]
    c = trade_cost(trades, {"SPY": 0.9, "TLT": -0.1}, 10_000.0, Costs(1.0, 2.0, 50.0, {"TLT": 40.0}))
    assert c["traded_notional"] == pytest.approx(1400.0)
    assert c["fees_and_slippage"] == pytest.approx(1400.0 * 3 / 1e4)
    assert c["borrow_per_year"] == pytest.approx(1000.0 * 40 / 1e4)
    # the short-rebate haircut accrues on the short leg, as in the engine
    c = trade_cost(trades, {"SPY": 0.9, "TLT": -0.1}, 10_000.0,
                   Costs(1.0, 2.0, 50.0, {"TLT": 40.0}, borrow_spread_bps=50.0, short_rebate_haircut_bps=25.0))
    assert c["borrow_per_year"] == pytest.approx(1000.0 * (40 + 25) / 1e4)


def test_plan_trades_from_weights():
    px = pd.Series({"A": 10.0, "B": 40.0})
    tr = plan_trades({"A": 0.5, "B": 0.25}, pd.Series({"A": 20.0}), px, 1000.0)
    assert {t["asset"]: t["shares"] for t in tr} == {"A": 30, "B": 6}  # 50-20, round(6.25)


def test_stale_warning_when_old_not_when_fresh(setup):
    _, md, _, _ = setup
    as_of = md.calendar[-1]
    stale, warn = staleness(md, as_of, as_of + pd.offsets.BDay(3))
    assert stale == [] and warn == []
    stale, warn = staleness(md, as_of, pd.Timestamp("2026-12-01"))
    assert stale == []
    assert any(f"data ends {as_of.date()}" in w and "2026-12-01" in w for w in warn)
    # one daily macro series cut 20 business days early is named
    vix = md.macro["VIX"]
    keep = vix.values.index <= as_of - pd.offsets.BDay(20)
    cut = MacroSeries("VIX", vix.values[keep], vix.released[keep])
    md2 = replace(md, macro={**md.macro, "VIX": cut})
    stale, warn = staleness(md2, as_of, as_of)
    assert [s["series"] for s in stale] == ["VIX"]
    assert stale[0]["business_days"] == 20
    assert any("VIX" in w for w in warn)


def test_report_warns_with_fixed_today(setup):
    cfg, md, _, rep = setup
    assert not any("data ends" in w for w in rep.warnings)
    old = compute_now(cfg, "nowtest", today="2030-01-02", md=md)
    assert any("data ends" in w for w in old.warnings)


def test_dates_by_hand():
    assert bdays_between(pd.Timestamp("2026-07-10"), pd.Timestamp("2026-07-13")) == 1  # Fri -> Mon
    assert bdays_between(pd.Timestamp("2026-07-13"), pd.Timestamp("2026-07-20")) == 5
    assert next_decision(pd.Timestamp("2026-07-13"), "monthly") == pd.Timestamp("2026-07-31")
    assert next_decision(pd.Timestamp("2026-07-31"), "monthly") == pd.Timestamp("2026-08-31")
    assert next_decision(pd.Timestamp("2026-07-13"), "weekly") == pd.Timestamp("2026-07-17")
    assert next_decision(pd.Timestamp("2026-07-13"), "quarterly") == pd.Timestamp("2026-09-30")
    assert next_decision(pd.Timestamp("2026-07-17"), "daily") == pd.Timestamp("2026-07-20")
    # 2026-10-31 is a Saturday: the month's last business day is Friday the 30th
    assert next_decision(pd.Timestamp("2026-10-05"), "monthly") == pd.Timestamp("2026-10-30")


def test_regime_since_and_period_return():
    idx = pd.bdate_range("2026-01-05", periods=6)
    lab = pd.Series(["qt", "qt", "rmp", "qt", "qt", "qt"], index=idx)
    assert regime_since(lab) == idx[3]
    assert regime_since(pd.Series(["rmp"] * 3, index=idx[:3])) == idx[0]
    value = pd.Series([1.0, 1.1, 1.21, 1.0, 1.2, 1.5], index=idx)
    r, frm = period_return(value, idx[3])
    assert r == pytest.approx(0.5) and frm is None
    r, frm = period_return(value, pd.Timestamp("2025-12-12"))
    assert r == pytest.approx(0.5) and frm == str(idx[0].date())


def test_returns_since_regime_start_match_value_path(setup):
    cfg, md, _, rep = setup
    out = run_backtest(cfg, "nowtest", md)
    since = pd.Timestamp(rep.strategies["sixty_forty"]["regime_start"])
    r = out.returns["sixty_forty"]
    expected = float(np.prod(1.0 + r[r.index > since]) - 1.0)
    assert rep.strategies["sixty_forty"]["return_since_regime_start"] == pytest.approx(expected, rel=1e-9)
    assert rep.regimes["calendar"]["label"] in ("qe", "plateau", "qt", "rmp")
    assert "probabilities" in rep.regimes["markov"] and "signals" in rep.regimes["rules"]


def test_read_holdings(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("asset,weight\nSPY,0.5\nCASH,0.5\n")
    assert list(read_holdings(p).columns) == ["asset", "weight"]
    p.write_text("asset,qty\nSPY,1\n")
    with pytest.raises(DataError, match="asset,shares or asset,weight"):
        read_holdings(p)
    p.write_text("asset,shares\nSPY,x\n")
    with pytest.raises(DataError, match="SPY"):
        read_holdings(p)


def test_write_now_files(setup, tmp_path):
    _, _, _, rep = setup
    folder = write_now(rep, tmp_path)
    rec = json.loads((folder / "now.json").read_text())
    for key in ("as_of", "series_end", "stale", "regimes", "strategies", "trades"):
        assert key in rec
    for st in rec["strategies"].values():
        assert {"target", "drifted", "decided_on", "next_decision", "return_since_regime_start"} <= set(st)
    html = (folder / "now.html").read_text()
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_cli_now(tmp_path):
    import yaml

    cfgp = tmp_path / "c.yaml"
    cfgp.write_text(yaml.safe_dump({**RAW, "strategies": RAW["strategies"][:1]}))
    hold = tmp_path / "h.csv"
    hold.write_text("asset,weight\nSPY,1.0\n")
    res = run_cli("now", str(cfgp), "--capital", "100000", "--holdings", str(hold), "--today", "2026-12-01",
                  "--out", str(tmp_path / "res"))
    assert res.exit_code == 0, res.output
    assert "WARNING: data ends" in res.output
    text = " ".join(res.output.split())
    assert "series end: 2026-07-13: SPY" in text and "WALCL" in text.split("series end:")[1]
    assert "note: synthetic market" in text
    folder = Path(res.output.strip().splitlines()[-1])
    rec = json.loads((folder / "now.json").read_text())
    assert rec["today"] == "2026-12-01"
    sides = {t["asset"]: t["shares"] for t in rec["trades"]["sixty_forty"]}
    assert sides["SPY"] < 0 < sides["IEF"]  # from 100 % SPY to 60/40
    bad = run_cli("now", str(cfgp), "--holdings", str(hold), "--out", str(tmp_path / "res2"))
    assert bad.exit_code == 2 and not (tmp_path / "res2").exists()


@pytest.mark.realdata
def test_now_on_real_data(shared_data, tmp_path):
    raw = {**RAW, "data": {"source": "csv", "dir": str(shared_data), "start": "2025-01-01"}}
    cfg = config_from_dict(raw, "real")
    md = load_market(cfg)
    folder = write_run(run_backtest(cfg, "real", md), tmp_path, report=False)
    rep = compute_now(cfg, "real", today="2026-12-01", md=md)
    assert rep.as_of == "2026-07-13"
    assert any("data ends 2026-07-13" in w for w in rep.warnings)
    w = pd.read_parquet(folder / "weights.parquet").dropna(subset=["weight"])
    sub = w[(w["strategy"] == "real_assets") & (w["date"] == w["date"].max())]
    for a, x in zip(sub["asset"], sub["weight"], strict=True):
        assert rep.strategies["real_assets"]["target"].get(a, 0.0) == pytest.approx(x, abs=1e-12)


def test_yahoo_source_refreshes_first(monkeypatch):
    import backtest.pipeline as pl

    seen = {}

    class Stop(Exception):
        pass

    def fake_run(cfg, origin, md=None, parallel=False):
        seen["refresh"] = cfg.data.refresh
        raise Stop

    monkeypatch.setattr(pl, "run_backtest", fake_run)
    cfg = config_from_dict({**RAW, "data": {"source": "yahoo", "macro_source": "fred"}}, "y")
    assert cfg.data.refresh is False
    with pytest.raises(Stop):
        compute_now(cfg, "y")
    assert seen["refresh"] is True and cfg.data.refresh is False


def test_bad_capital_and_unknown_holding(setup, tmp_path):
    cfg, md, _, _ = setup
    with pytest.raises(DataError, match="--capital -5"):
        compute_now(cfg, "nowtest", capital=-5, md=md)
    p = tmp_path / "h.csv"
    p.write_text("asset,shares\nZZZZ,3\n")
    with pytest.raises(DataError, match=r"h\.csv: unknown ticker ZZZZ"):
        compute_now(cfg, "nowtest", capital=1000, holdings=p, md=md)
