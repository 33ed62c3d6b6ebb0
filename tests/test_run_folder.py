"""End to end: a run writes a complete folder atomically; runs are reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from backtest.config import load_config
from backtest.execution.spec import decision_dates
from backtest.pipeline import run_backtest, write_run
from backtest.results import REQUIRED_FILES, check_run_dir
from tests.helpers import make_data_dir, run_cli, write_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(tmp_path):
    data = make_data_dir(tmp_path / "data", tickers=("SPY", "IEF", "GLD"), n=400)
    return write_config(tmp_path / "c.yaml", data)


def test_cli_run_writes_complete_folder(tiny, tmp_path):
    out = tmp_path / "res"
    r = run_cli("run", str(tiny), "--out", str(out), "--no-report")
    assert r.exit_code == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    folder = Path(last)
    assert folder.parent == out and folder.is_dir()
    for f in REQUIRED_FILES:
        assert (folder / f).exists(), f
    assert [p.name for p in out.iterdir()] == [folder.name]  # no temp folder left
    prov = check_run_dir(folder)
    for key in ("run_id", "config_hash", "data", "packages", "git_commit", "seed", "timings_s"):
        assert key in prov
    assert prov["settings"] == load_config(tiny).settings_record()
    assert prov["settings"]["borrow_spread_bps"] == 50 and prov["settings"]["rebalance"] == "monthly"
    assert set(prov["data"]["fingerprint"]) == {"price:SPY", "price:IEF"}  # the universe, not the folder
    m = pd.read_csv(folder / "metrics.csv", index_col="strategy")
    for col in ("total_return", "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar", "turnover"):
        assert col in m.columns
    assert m.loc["sixty_forty", "max_drawdown"] < 0
    w = pd.read_parquet(folder / "weights.parquet")
    assert list(w.columns) == ["date", "strategy", "asset", "weight"]
    rm = pd.read_csv(folder / "regime_metrics.csv")
    assert {"strategy", "regime", "days"} <= set(rm.columns)
    rets = pd.read_parquet(folder / "returns.parquet")
    assert rm.groupby("strategy")["days"].sum()["sixty_forty"] == rets["sixty_forty"].notna().sum()


def test_same_config_gives_byte_identical_metrics(tiny, tmp_path):
    folders = []
    for i in range(2):
        r = run_cli("run", str(tiny), "--out", str(tmp_path / f"r{i}"), "--no-report")
        assert r.exit_code == 0
        folders.append(Path(r.stdout.strip().splitlines()[-1]))
    for f in ("metrics.csv", "regime_metrics.csv"):
        assert (folders[0] / f).read_bytes() == (folders[1] / f).read_bytes()
    p0 = json.loads((folders[0] / "provenance.json").read_text())
    p1 = json.loads((folders[1] / "provenance.json").read_text())
    assert p0["config_hash"] == p1["config_hash"] and p0["data"]["fingerprint"] == p1["data"]["fingerprint"]


def test_set_override_is_resolved(tiny, tmp_path):
    r = run_cli("run", str(tiny), "--out", str(tmp_path / "r"), "--no-report",
                "--set", "strategies.sixty_forty.params.weights.SPY=0.5",
                "--set", "strategies.sixty_forty.params.weights.IEF=0.5", "--set", "costs.fee_bps=3")
    assert r.exit_code == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1])
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    assert cfg["strategies"][0]["params"]["weights"] == {"SPY": 0.5, "IEF": 0.5}
    assert cfg["costs"]["fee_bps"] == 3


def test_failure_leaves_nothing(tiny, tmp_path, monkeypatch):
    import backtest.pipeline as pl

    cfg = load_config(tiny)
    out = run_backtest(cfg, str(tiny))

    def broken(folder, html=True, png=True):
        (folder / "tearsheet.html").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(pl, "render_report", broken)
    with pytest.raises(KeyboardInterrupt):
        write_run(out, tmp_path / "res")
    assert list((tmp_path / "res").iterdir()) == []


def test_decision_date_convention():
    days = pd.bdate_range("2024-01-02", "2024-04-30")
    m = decision_dates(days, "monthly")
    assert list(m.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-31", "2024-02-29", "2024-03-29", "2024-04-30"]
    q = decision_dates(days, "quarterly")
    assert list(q.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-03-29"]
    w = decision_dates(days[:10], "weekly")
    # the data end on Monday 2024-01-15: that week is not over, so it is no decision day
    assert list(w.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-05", "2024-01-12"]
    assert decision_dates(days[:5], "daily").equals(days[:5])


def test_every_config_validates():
    from strategies.base import build_strategy

    paths = sorted((REPO / "configs").glob("*.yaml"))
    assert paths
    for p in paths:
        raw = yaml.safe_load(p.read_text())
        if "strategies" not in raw:
            continue  # scenario/tune side files
        cfg = load_config(p)
        for s in cfg.strategies:
            assert build_strategy(s, str(p)).name == s.name


def test_quickstart_runs_offline_on_sample(tmp_path):
    r = run_cli("run", str(REPO / "configs" / "quickstart.yaml"), "--out", str(tmp_path / "q"), "--no-report",
                "--start", "2019-01-01", "--end", "2020-12-31")
    assert r.exit_code == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1])
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["data"]["synthetic"] is True and "sample" in prov["data"]["source"]
    assert "SYNTHETIC" in r.stdout
