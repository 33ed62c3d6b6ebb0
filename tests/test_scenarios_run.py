"""``rmpbt scenarios`` end to end: run folder contents, determinism across workers and chunks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from backtest.results import check_run_dir
from tests.helpers import run_cli
from tests.test_scenarios_defs import small

STRATS = [
    {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
    {"name": "inverse_vol", "kind": "inverse_vol"},
    {"name": "short_vol", "kind": "short_vol"},
    {"name": "playbook", "kind": "rmp_playbook"},
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("scen")
    cfg = {"name": "scen-test", "data": {"source": "sample"}, "cash": {"rate": "DTB3"},
           "costs": {"fee_bps": 1, "slippage_bps": 2}, "report": {"png": False}, "strategies": STRATS}
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    raw = small(horizon_days=30)
    raw["scenarios"]["R"] = {"pace_bn_month": [{"until": "2026-01-15", "bn_month": 40}, {"bn_month": 20}],
                             "start_state": "calm", "durations": {"calm": None}}
    (d / "scen.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return d / "cfg.yaml", d / "scen.yaml"


def _run(files, out: Path, *extra: str):
    cfg, scen = files
    r = run_cli("scenarios", str(cfg), "--scenarios", str(scen), "--paths", "24", "--out", str(out),
                "--channel-effect-paths", "6", *extra)
    assert r.exit_code == 0, r.stdout + r.stderr
    return Path(r.stdout.strip().splitlines()[-1])


def test_scenarios_never_import_vectorbt(files, tmp_path):
    """A scenario run simulates with the batch kernel: vectorbt (the engine's door) is never loaded."""
    cfg, scen = files
    code = ("import sys\nfrom backtest.cli import main\ntry:\n    main()\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nprint('vectorbt' in sys.modules, 'backtest.synthetic.runner' in sys.modules)\n")
    args = ["scenarios", str(cfg), "--scenarios", str(scen), "--paths", "4", "--no-report", "--seed", "1",
            "--pace-effect-paths", "0", "--channel-effect-paths", "0", "--out", str(tmp_path / "res")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "False True"  # the scenario runner ran, vectorbt stayed out


def test_run_folder_has_the_contract_and_scenario_tables(files, tmp_path):
    folder = _run(files, tmp_path / "a", "--seed", "3")
    prov = check_run_dir(folder)
    assert prov["format_version"] == 1 and prov["seed"] == 3 and prov["generator"] == "parametric"
    assert set(prov["betas"]["assets"]) >= {"SPY", "IEF"} and "timings_s" in prov
    assert prov["mix"] == {"A": 0.6, "B": 0.4}
    # the run folders' one settings record (financing included), with the simulated labels
    assert {"borrow_spread_bps", "short_rebate_haircut_bps", "sim_labels", "regime_model"} <= set(prov["settings"])
    rm = pd.read_csv(folder / "regime_metrics.csv")  # empty, with the columns of a run folder's
    assert rm.empty and list(rm.columns) == ["strategy", "regime", "days", "total_return", "cagr", "ann_vol",
                                             "sharpe", "sortino", "max_drawdown", "calmar", "turnover", "hit_rate",
                                             "worst_day", "best_day", "cvar_5", "sharpe_se", "sharpe_lo", "sharpe_hi"]
    sm = pd.read_csv(folder / "scenario_metrics.csv")
    assert list(sm.columns) == ["strategy", "scenario", "statistic", "mean", "median", "p5", "p25", "p75", "p95"]
    assert set(sm["scenario"]) == {"A", "B", "R", "mix"}
    assert set(sm["statistic"]) == {"horizon_return", "max_drawdown", "sharpe", "ann_vol", "prob_loss", "cvar_5",
                                    "cvar_penalised", "prob_beat_6040", "prob_beat_6040_se"}
    assert len(sm) == len(STRATS) * 4 * 9
    pb = sm[sm["statistic"] == "prob_beat_6040"].set_index(["strategy", "scenario"])["mean"]
    is_bench = pb.index.get_level_values(0) == "sixty_forty"
    assert pb[is_bench].isna().all() and pb[~is_bench].between(0, 1).all()
    hr = sm[sm["statistic"] == "horizon_return"]
    assert (hr["p5"] <= hr["p25"]).all() and (hr["p25"] <= hr["median"]).all() and (hr["median"] <= hr["p95"]).all()
    pl = sm[sm["statistic"] == "prob_loss"]
    assert pl["mean"].between(0, 1).all() and pl["p5"].isna().all()
    reg = pd.read_csv(folder / "scenario_regret.csv")
    assert reg["robust"].any() and (reg.filter(like="regret_") >= -1e-12).all().all()
    fan = pd.read_parquet(folder / "scenario_fan.parquet")
    assert list(fan.columns) == ["strategy", "scenario", "day", "p5", "p25", "p50", "p75", "p95"]
    assert set(fan["scenario"]) == {"A", "B", "R", "mix"} and fan["day"].max() == 30
    assert (fan.loc[fan["day"] == 0, ["p5", "p95"]] == 1.0).all().all()
    ret = pd.read_parquet(folder / "returns.parquet")
    assert list(ret.columns) == [s["name"] for s in STRATS] and len(ret) == 31
    w = pd.read_parquet(folder / "weights.parquet")
    assert list(w.columns) == ["date", "strategy", "asset", "weight"]
    html = (folder / "tearsheet.html").read_text()
    assert "SIMULATED scenario paths" in html and "24 paths per scenario, seed 3" in html
    assert "horizon 30 trading days from the start" in html and "no peeking" in html
    assert '"xaxis":{"gridcolor":"#eee","title":{"text":"trading days"}}' in html and '"type":"date"' not in html
    for history_only in ("Monthly returns", "Calendar-year", "monthly", "(partial)"):
        assert history_only not in html
    assert re.search(r"period \d{4}-\d{2}-\d{2} →", html) is None  # no historical-period header
    assert "median of per-path metrics" in html and "not one path" in html
    assert prov["include_forecast_period"] is False
    assert set(prov["states"]) == {"calm", "stress"}
    for st in prov["states"].values():  # exact day ranges of each pool, per scenario, none on/after the start
        ranges = st["pool_ranges"]
        assert set(ranges) == {"A", "B", "R"}
        days = sum(len(pd.bdate_range(a, b)) for a, b in ranges["A"])
        assert ranges["A"] and days >= st["pool_days"]
        assert all(b < "2025-12-12" for _, b in ranges["A"])
    states = pd.read_csv(folder / "scenario_states.csv")
    assert states.loc[states["scenario"] == "R", "share_of_days"].max() == 1.0
    # the model's own checks: files, provenance, page sections (parametric source: no pool sensitivity)
    pools = pd.read_csv(folder / "pool_table.csv")
    assert list(pools["state"]) == ["calm", "stress"] and list(pools["precedence"]) == [1, 2]
    ce = pd.read_csv(folder / "channel_effect.csv")
    assert set(ce["scenario"]) == {"A", "B", "R"} and (ce["paths"] == 6).all()
    assert (folder / "choice_separation.csv").exists() and not (folder / "pool_sensitivity.csv").exists()
    assert prov["pools"]["precedence"] == ["calm", "stress"] and prov["pool_sensitivity"] is None
    assert prov["channels"]["rate_series"] == ["DGS2", "DGS10", "DFEDTARU", "RRPONTSYD"]
    assert set(prov["data_cut"]["scenarios"]) == {"A", "B", "R"}
    assert "Liquidity channel and rate channels" in html and "Pools per state" in html


def test_same_seed_is_byte_identical_across_workers_and_chunks(files, tmp_path):
    a = _run(files, tmp_path / "a", "--seed", "9", "--no-report")
    b = _run(files, tmp_path / "b", "--seed", "9", "--no-report", "--workers", "2", "--chunk-size", "5")
    c = _run(files, tmp_path / "c", "--seed", "9", "--no-report", "--chunk-size", "7")
    d = _run(files, tmp_path / "d", "--seed", "10", "--no-report")
    ref = (a / "scenario_metrics.csv").read_bytes()
    assert (b / "scenario_metrics.csv").read_bytes() == ref
    for side in ("pace_effect.csv", "channel_effect.csv", "choice_separation.csv"):  # the side runs too
        assert (b / side).read_bytes() == (a / side).read_bytes() == (c / side).read_bytes(), side
    assert (c / "scenario_metrics.csv").read_bytes() == ref
    assert (d / "scenario_metrics.csv").read_bytes() != ref
    reg = (a / "scenario_regret.csv").read_bytes()  # choice_share: resamples of the aggregated paths
    assert (b / "scenario_regret.csv").read_bytes() == reg and (c / "scenario_regret.csv").read_bytes() == reg
    assert pd.read_csv(a / "scenario_regret.csv")["choice_share"].sum() == pytest.approx(1.0)
    assert "dask" in json.loads((b / "provenance.json").read_text())["executor"]


@pytest.mark.realdata
def test_bootstrap_run_on_real_data(shared_data, tmp_path):
    repo = Path(__file__).resolve().parents[1]
    r = run_cli("scenarios", str(repo / "configs" / "quickstart.yaml"), "--data-dir", str(shared_data),
                "--paths", "20", "--horizon", "40", "--only", "A,C", "--out", str(tmp_path), "--no-report",
                "--sensitivity-paths", "6", "--channel-effect-paths", "6", "--pace-effect-paths", "6",
                "--strategies", "spy,sixty_forty,short_vol")
    assert r.exit_code == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1])
    prov = check_run_dir(folder)
    assert prov["generator"] == "bootstrap" and prov["betas"]["n_weeks"] > 500
    assert prov["states"]["funding_stress"]["pool_days"] > 20
    for st in prov["states"].values():  # the shipped ex-ante pools never reach the start (2025-12-12)
        assert all(b < "2025-12-12" for ranges in st["pool_ranges"].values() for _, b in ranges)
    # RMP2019 up to the sell-off: 2020-02-24..03-13 are on the stress watch (VIX >= 25 or the stress flag)
    assert prov["states"]["calm_repair"]["pool_ranges"]["A"] == [["2019-10-15", "2020-02-21"]]
    sm = pd.read_csv(folder / "scenario_metrics.csv")
    assert set(sm["scenario"]) == {"A", "C", "mix"}
    sens = pd.read_csv(folder / "pool_sensitivity.csv")
    assert (sens["paths"] == 6).all() and set(sens["state"]) >= {"funding_stress", "hawkish_turn"}
    assert "calm_repair rests on one episode" in r.stdout


def test_unknown_strategy_selection_is_a_one_line_error(files, tmp_path):
    cfg, scen = files
    r = run_cli("scenarios", str(cfg), "--scenarios", str(scen), "--strategies", "playbok", "--out", str(tmp_path))
    assert r.exit_code == 2
    assert "no strategy named 'playbok' (did you mean 'playbook'?)" in r.stderr


@pytest.mark.realdata
def test_analogue_without_usable_days_names_the_missing_asset(shared_data):
    from backtest.config import load_config
    from backtest.errors import ScenarioError
    from backtest.synthetic import runner
    from backtest.synthetic.scenarios import scenarios_from_dict

    repo = Path(__file__).resolve().parents[1]
    cfg = load_config(repo / "configs" / "quickstart.yaml", data_dir=str(shared_data))
    raw = small(states__stress__analogues=[{"start": "2009-03-01", "end": "2009-06-30"}])
    with pytest.raises(ScenarioError, match=r"stress.analogues\[0\].*no usable day in 2009-03-01..2009-06-30: "
                                            r"(SVXY|VIXY) has no data there"):
        runner.prepare(cfg, scenarios_from_dict(raw, "s.yaml"))


def test_include_forecast_period_lets_pools_reach_past_the_start(files, tmp_path):
    folder = _run(files, tmp_path / "p", "--seed", "3", "--no-report", "--include-forecast-period")
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["include_forecast_period"] is True
    assert any(w.endswith("(include_forecast_period)") for w in prov["pool_warnings"])
    calm = prov["states"]["calm"]["pool_ranges"]["A"]
    assert any(b >= "2025-12-12" for _, b in calm)  # RMP2025 (open) is in the pool again
    cfg, scen = files
    r = run_cli("scenarios", str(cfg), "--scenarios", str(scen), "--paths", "4", "--out", str(tmp_path / "q"),
                "--no-report")
    warn = [x for x in r.stderr.splitlines() if x.startswith("warning:")]
    assert len(warn) == 1 and "hand-written analogue dates" in warn[0]


def test_shipped_scenario_file_runs_on_the_sample_market(files, tmp_path):
    """The README's offline example: configs/scenarios.yaml on the sample market.

    Its pool rules (e.g. QE announced on a funding-stress day) need not be met by the
    synthetic signals; the parametric generator does not draw from pools, so an empty rule
    pool is a note, not an error.
    """
    cfg, _ = files
    out = tmp_path / "shipped"
    r = run_cli("scenarios", str(cfg), "--paths", "8", "--horizon", "20", "--seed", "1", "--no-report",
                "--channel-effect-paths", "4", "--out", str(out))
    assert r.exit_code == 0, r.stdout + r.stderr
    prov = json.loads((Path(r.stdout.strip().splitlines()[-1]) / "provenance.json").read_text())
    assert prov["generator"] == "parametric"
