"""The Python API, the README's example, and small everyday rough edges (paths, errors, terminal)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import make_data_dir, run_cli  # noqa: E402

from backtest.errors import ScenarioError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "name": "apitest",
    "data": {"source": "sample", "start": "2025-06-01"},
    "rebalance": {"every": "monthly"},
    "costs": {"fee_bps": 1.0},
    "strategies": [
        {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
        {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}},
    ],
}


def test_import_backtest_and_rmpbt_stay_light():
    code = ("import sys, backtest, rmpbt; heavy = [m for m in ('vectorbt', 'pandas', 'numba', 'cvxpy', "
            "'backtest.api') if m in sys.modules]; print(heavy); print(callable(rmpbt.run), rmpbt.run is backtest.run)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["[]", "True True"]


def test_overrides_work_like_set(tmp_path):
    import rmpbt

    cfg = rmpbt.load_config(TINY, **{"costs.fee_bps": 5}, overrides={"strategies.sixty_forty.params.weights.SPY": 0.5,
                                                                       "strategies.sixty_forty.params.weights.IEF": 0.5})
    assert cfg.costs.fee_bps == 5
    assert cfg.strategies[0].params["weights"] == {"SPY": 0.5, "IEF": 0.5}
    again = rmpbt.load_config(cfg, name="other")
    assert again.name == "other" and again.costs.fee_bps == 5
    from backtest.errors import ConfigError

    with pytest.raises(ConfigError, match="sixty_fourty|did you mean"):
        rmpbt.load_config(TINY, **{"strategies.sixty_fourty.params.weights.SPY": 0.5})


def test_run_result_equals_cli_run(tmp_path):
    import rmpbt

    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(TINY))
    res = rmpbt.run(p, **{"costs.fee_bps": 5})
    cli = run_cli("run", str(p), "--set", "costs.fee_bps=5", "--no-report", "--out", str(tmp_path / "cli"))
    assert cli.exit_code == 0, cli.output
    folder = Path(cli.output.strip().splitlines()[-1])
    m = pd.read_csv(folder / "metrics.csv", index_col="strategy")
    pd.testing.assert_frame_equal(res.metrics[m.columns], m, check_names=False, check_dtype=False, rtol=1e-8)
    w = pd.read_parquet(folder / "weights.parquet")
    pd.testing.assert_frame_equal(res.weights, w, check_dtype=False)
    saved = res.save(tmp_path / "api")
    pd.testing.assert_frame_equal(pd.read_csv(saved / "metrics.csv", index_col="strategy"), m)
    assert set(res.returns.columns) == {"sixty_forty", "spy"}
    assert len(res.regime_metrics)


def test_now_via_api(tmp_path):
    import rmpbt

    rep = rmpbt.now(TINY, capital=10_000, today="2026-07-14")
    assert rep.as_of == "2026-07-13" and not rep.warnings
    assert set(rep.trades) == {"sixty_forty", "spy"}
    folder = rep.save(tmp_path)
    assert (folder / "now.json").exists() and (folder / "now.html").exists()


def _python_blocks(text: str, section: str) -> list[str]:
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


@pytest.mark.slow
def test_readme_api_example_matches_cli(tmp_path, monkeypatch, capsys):
    blocks = _python_blocks((REPO / "README.md").read_text(), "Python API")
    assert len(blocks) == 1
    (tmp_path / "configs").symlink_to(REPO / "configs")
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), ns)  # noqa: S102 - the documented example itself
    assert "sharpe" in capsys.readouterr().out
    assert (tmp_path / "results" / ns["folder"].name / "metrics.csv").exists()
    cli = run_cli("run", "configs/quickstart.yaml", "--set", "costs.fee_bps=5", "--no-report", "--out", "cli")
    assert cli.exit_code == 0, cli.output
    m = pd.read_csv(Path(cli.output.strip().splitlines()[-1]) / "metrics.csv", index_col="strategy")
    pd.testing.assert_frame_equal(ns["res"].metrics[m.columns], m, check_names=False, check_dtype=False, rtol=1e-8)
    assert ns["today"].strategies["sixty_forty"]["target"] == pytest.approx({"SPY": 0.5, "IEF": 0.5})


# ---------------------------------------------------------------------------- rough edges


def test_data_dir_relative_to_config_file(tmp_path, monkeypatch):
    from backtest.config import load_config

    data = make_data_dir(tmp_path / "shared" / "data", n=300)
    cfgdir = tmp_path / "repo" / "configs"
    cfgdir.mkdir(parents=True)
    raw = {**TINY, "data": {"source": "csv", "dir": "../../shared/data", "universe": ["SPY", "IEF"], "macro": []},
           "cash": {"rate": "none"}}
    (cfgdir / "c.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path / "repo")  # run from the repo root
    cfg = load_config("configs/c.yaml")
    assert Path(cfg.data.dir).resolve() == data.resolve()
    r = run_cli("run", "configs/c.yaml", "--no-report", "--out", "res")
    assert r.exit_code == 0, r.output
    # the run folder's config.yaml holds the resolved folder, so it re-runs from anywhere
    saved = load_config(Path(r.output.strip().splitlines()[-1]) / "config.yaml")
    assert Path(saved.data.dir) == data.resolve()
    # --data-dir stays relative to the current folder
    monkeypatch.chdir(tmp_path)
    assert load_config("repo/configs/c.yaml", data_dir="shared/data").data.dir == str(data.resolve())


def test_historical_config_points_at_shared_data():
    from backtest.config import load_config

    cfg = load_config(REPO / "configs" / "historical.yaml", validate_strategies=False)
    assert Path(cfg.data.dir).resolve() == (REPO.parent / "shared" / "data").resolve()


@pytest.mark.parametrize("start", ["2030-01-01", "2026-12-01"])
def test_start_after_the_data_says_so(tmp_path, start):
    r = run_cli("run", str(REPO / "configs" / "quickstart.yaml"), "--start", start, "--out", str(tmp_path / "res"))
    assert r.exit_code == 2
    assert f"data ends 2026-07-13; start {start}" in r.output
    assert "None" not in r.output and not (tmp_path / "res").exists()


def test_summary_table_total_return_for_short_window():
    from rich.console import Console

    from backtest.commands.common import summary_table

    m = pd.DataFrame({"total_return": [0.05], "cagr": [0.9], "ann_vol": [0.1], "sharpe": [1.0], "sortino": [1.0],
                      "max_drawdown": [-0.1], "calmar": [1.0], "turnover": [0.5]}, index=["s"])

    def text(n_days):
        con = Console(width=200, record=True)
        con.print(summary_table(m, None, n_days=n_days))
        return con.export_text()

    short, long = text(100), text(600)
    assert "total" in short and "5.0%" in short and "90.0%" not in short
    assert "CAGR" in long and "90.0%" in long
    assert "including the initial purchase" in long


def test_regimes_timeline_merges_same_kind_and_lists_ids():
    from backtest.commands.regimes_cmd import timeline

    idx = pd.bdate_range("2024-01-01", periods=6)
    labels = pd.DataFrame({"regime": ["plateau", "plateau", "plateau", "qe", "qe", "plateau"],
                           "regime_id": ["GAP", "GAP", "TWIST", "QE3", "QE3", "GAP2"]}, index=idx)
    sig = pd.DataFrame({"vix": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]}, index=idx)
    tl = timeline(labels, sig)
    assert list(tl["label"]) == ["plateau", "qe", "plateau"]
    assert list(tl["regime_id"]) == ["GAP, TWIST", "QE3", "GAP2"]
    assert list(tl["days"]) == [3, 2, 1]
    assert list(tl["vix"]) == [20.0, 45.0, 60.0]


def test_cli_regimes_legend_and_out(tmp_path):
    r = run_cli("regimes", "--model", "rules", "--out", str(tmp_path / "r"))
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "W13 / T13: 13-week change" in text and "NL13: 13-week change of net liquidity" in text
    assert "regime ids" in text and "agreement rules vs calendar" in text
    assert Path(r.output.strip().splitlines()[-1]).parent == tmp_path / "r"


def test_start_after_csv_data_says_so(tmp_path):
    from helpers import write_config

    data = make_data_dir(tmp_path / "data", n=300)
    last = pd.read_csv(data / "prices" / "SPY.csv")["date"].iloc[-1]
    cfg = write_config(tmp_path / "c.yaml", data)
    r = run_cli("run", str(cfg), "--start", "2030-01-01", "--out", str(tmp_path / "res"))
    assert r.exit_code == 2
    assert f"data ends {last}; start 2030-01-01" in r.output and not (tmp_path / "res").exists()


def test_scenarios_and_calibrate_via_api_equal_the_cli(tmp_path):
    import rmpbt

    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({**TINY, "data": {"source": "sample"}}))
    res = rmpbt.scenarios(p, paths=6, seed=3, drift="raw", pace="A=10,B=50,C=0", pace_effect_paths=6,
                          channel_effect_paths=3)
    cli = run_cli("scenarios", str(p), "--paths", "6", "--seed", "3", "--drift", "raw", "--pace", "A=10,B=50,C=0",
                  "--pace-effect-paths", "6", "--channel-effect-paths", "3", "--no-report", "--out", str(tmp_path / "cli"))
    assert cli.exit_code == 0, cli.output
    folder = Path(cli.output.strip().splitlines()[-1])
    sm = pd.read_csv(folder / "scenario_metrics.csv")
    pd.testing.assert_frame_equal(res.scenario_metrics.reset_index(drop=True), sm, check_dtype=False, rtol=1e-9)
    pd.testing.assert_frame_equal(res.channel_effect.reset_index(drop=True), pd.read_csv(folder / "channel_effect.csv"),
                                  check_dtype=False, rtol=1e-9)
    pe = pd.read_csv(folder / "pace_effect.csv")
    assert list(res.pace_effect["strategy"]) == list(pe["strategy"]) == ["sixty_forty", "spy"]
    assert (res.pace_effect["pace_low"] == 0.0).all() and (res.pace_effect["pace_high"] == 50.0).all()
    with pytest.raises(ScenarioError, match="--pace"):
        rmpbt.scenarios(p, paths=2, pace="A=-1")
    for name, flag, bad in (("sensitivity_paths", "--sensitivity-paths", -1),
                            ("channel_effect_paths", "--channel-effect-paths", 100_001),
                            ("pace_effect_paths", "--pace-effect-paths", -1)):
        with pytest.raises(ScenarioError, match=f"^{flag} {bad}: must be between 0 and 100000$"):
            rmpbt.scenarios(p, paths=2, **{name: bad})
    cal = rmpbt.calibrate(p, paths=4, seed=0, every="year", start_from="2023-01-01")
    assert set(cal.summary["strategy"]) == {"sixty_forty", "spy", "all strategies"}
    assert cal.table["pit"].between(0, 1).all() and len(cal.table) == 2 * cal.table["start"].nunique()
