"""Bad input: one clear line on stderr, exit code 2, no traceback, no run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from backtest.data import yahoo
from tests.helpers import assert_clean_error, make_data_dir, run_cli, trading_days, write_config


@pytest.fixture
def data(tmp_path):
    return make_data_dir(tmp_path / "data")


def test_malformed_yaml(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: x\nstrategies: [\n  - {name: a\n")
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "bad.yaml", "malformed YAML", "line")


def test_unknown_key_with_suggestion(tmp_path, data):
    cfg = write_config(tmp_path / "c.yaml", data, rebalance={"evry": "monthly"})
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "c.yaml", "rebalance.evry", "did you mean 'every'")


def test_unknown_param_key_names_strategy(tmp_path, data):
    cfg = write_config(tmp_path / "c.yaml", data, strategies=[
        {"name": "s", "kind": "fixed_weights", "params": {"weigths": {"SPY": 1.0}}}])
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "strategies.s.params.weigths", "did you mean 'weights'")


def test_wrong_type(tmp_path, data):
    cfg = write_config(tmp_path / "c.yaml", data, execution={"lag_days": "soon"})
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "execution.lag_days", "integer")


def test_unknown_strategy_kind(tmp_path, data):
    cfg = write_config(tmp_path / "c.yaml", data, strategies=[{"name": "s", "kind": "fixed_weight", "params": {}}])
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "strategies.s.kind", "unknown strategy kind 'fixed_weight'", "fixed_weights")


def test_weights_not_summing(tmp_path, data):
    cfg = write_config(tmp_path / "c.yaml", data, strategies=[
        {"name": "s", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.6}}}])
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "strategies.s.params", "sum to 1.2")


def test_end_before_start(tmp_path, data):
    cfg = write_config(tmp_path / "c.yaml", data)
    r = run_cli("run", str(cfg), "--start", "2021-01-01", "--end", "2020-06-01", "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "data", "before start")


def test_unknown_ticker(tmp_path, data):
    cfg = write_config(tmp_path / "c.yaml", data, strategies=[
        {"name": "s", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.5, "NOPE": 0.5}}}])
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "unknown ticker NOPE")


def test_unknown_set_strategy(tmp_path, data):
    cfg = write_config(tmp_path / "c.yaml", data)
    r = run_cli("run", str(cfg), "--set", "strategies.sixty_fourty.params.weights.SPY=0.5", "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "no strategy named 'sixty_fourty'", "sixty_forty")


def _corrupt(data: Path, ticker: str, fn) -> None:
    p = data / "prices" / f"{ticker}.csv"
    df = pd.read_csv(p)
    fn(df).to_csv(p, index=False)


def test_csv_duplicate_dates(tmp_path, data):
    _corrupt(data, "SPY", lambda d: pd.concat([d.iloc[:50], d.iloc[49:]]))
    cfg = write_config(tmp_path / "c.yaml", data)
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "SPY.csv", "duplicate date", d_date(data, "SPY", 49))


def d_date(data: Path, t: str, i: int) -> str:
    return str(pd.read_csv(data / "prices" / f"{t}.csv")["date"].iloc[i])


def test_csv_nan_run(tmp_path, data):
    def blank(d):
        d.loc[100:110, "adj_close"] = None
        return d
    _corrupt(data, "IEF", blank)
    cfg = write_config(tmp_path / "c.yaml", data)
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "IEF", "11 consecutive missing prices", d_date(data, "IEF", 100))


def test_csv_negative_price(tmp_path, data):
    def neg(d):
        d.loc[42, "adj_close"] = -3.0
        return d
    _corrupt(data, "SPY", neg)
    cfg = write_config(tmp_path / "c.yaml", data)
    r = run_cli("run", str(cfg), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "SPY.csv", "non-positive price", d_date(data, "SPY", 42))


def _yahoo_cfg(tmp_path, data):
    return write_config(tmp_path / "y.yaml", None,
                        data={"source": "yahoo", "macro_source": "csv", "dir": str(data), "universe": ["SPY", "IEF"], "macro": []})


def test_empty_yfinance_frame(tmp_path, data, monkeypatch):
    monkeypatch.setattr(yahoo, "_yf_download", lambda *a, **k: pd.DataFrame())
    r = run_cli("run", str(_yahoo_cfg(tmp_path, data)), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "yahoo returned no data", "SPY", "IEF")


def test_network_error_without_cache(tmp_path, data, monkeypatch):
    def boom(*a, **k):
        raise OSError("Network is unreachable")
    monkeypatch.setattr(yahoo, "_yf_download", boom)
    monkeypatch.setattr(yahoo.time, "sleep", lambda s: None)
    r = run_cli("run", str(_yahoo_cfg(tmp_path, data)), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "SPY", "no cached copy")


def test_network_error_with_cache_uses_it(tmp_path, data, monkeypatch):
    days = trading_days("2020-01-01", 300)  # no exchange holiday (refused by the data layer)
    good = pd.concat({"Close": pd.DataFrame({"SPY": range(100, 400), "IEF": range(200, 500)}, index=days, dtype=float)}, axis=1)
    monkeypatch.setattr(yahoo, "_yf_download", lambda *a, **k: good)
    out = tmp_path / "res"
    r = run_cli("run", str(_yahoo_cfg(tmp_path, data)), "--out", str(out))
    assert r.exit_code == 0, r.stderr

    def boom(*a, **k):
        raise OSError("Network is unreachable")
    monkeypatch.setattr(yahoo, "_yf_download", boom)
    monkeypatch.setattr(yahoo.time, "sleep", lambda s: None)
    r2 = run_cli("run", str(_yahoo_cfg(tmp_path, data)), "--set", "data.refresh=true", "--out", str(out))
    assert r2.exit_code == 0, r2.stderr
    assert "cached copy" in r2.stdout
    assert len(list(out.iterdir())) == 2


def test_missing_config_file(tmp_path):
    r = run_cli("run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "nope.yaml", "not found")


def test_top_level_not_mapping(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text(yaml.safe_dump([1, 2]))
    r = run_cli("run", str(p), "--out", str(tmp_path / "res"))
    assert_clean_error(r, tmp_path / "res", "expected a mapping")
