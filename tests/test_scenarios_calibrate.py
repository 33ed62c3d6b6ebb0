"""Calibration backtest of the scenario model: PIT, coverage, verdicts, no peeking, the command."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import binomtest

from backtest.calibration_stats import (
    CALIBRATED,
    INCONCLUSIVE,
    NOT_UNIFORM,
    OVERCONFIDENT,
    TOO_HIGH,
    UNDERCONFIDENT,
    VERDICTS,
    pit,
    pit_histogram,
)
from backtest.commands.loading import load_run_config
from backtest.data.base import MacroSeries
from backtest.synthetic.calibrate.run import (
    ALL,
    ALL_STARTS,
    NO_FALLBACK,
    SUMMARY_COLUMNS,
    StartOutcome,
    calibration_table,
    coverage_summary,
    effective_overlap,
    realised_outcomes,
    simulate_start,
    start_dates,
)
from backtest.synthetic.model.release_cut import cut_market
from backtest.synthetic.runner import load_history
from backtest.synthetic.scenarios import scenarios_from_dict
from tests.helpers import assert_clean_error, run_cli

SCEN = {
    "start": "2025-12-12",
    "horizon_days": 40,
    "mean_block_days": 5,
    "states": {
        "calm": {"kind": "rmp", "paced": True, "analogues": [{"rule": {"regime_kind": ["rmp"]}}]},
        "other": {"kind": "qt", "analogues": [{"rule": {"regime_kind": ["qt", "plateau"]}}]},
    },
    "scenarios": {
        "A": {"probability": 0.6, "pace_bn_month": 25, "start_state": "calm",
              "durations": {"calm": 30, "other": 10}, "exits": {"calm": {"other": 1.0}, "other": {"calm": 1.0}}},
        "B": {"probability": 0.4, "pace_bn_month": 45, "start_state": "other",
              "durations": {"calm": 20, "other": 20}, "exits": {"calm": {"other": 1.0}, "other": {"calm": 1.0}}},
    },
}
CFG = {"name": "calib-test", "data": {"source": "sample"}, "cash": {"rate": "DTB3"},
       "costs": {"fee_bps": 1, "slippage_bps": 2}, "report": {"png": False},
       "strategies": [{"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
                      {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}}]}


# ------------------------------------------------------------------------ statistics by hand


def test_pit_matches_a_hand_worked_case():
    sim = np.array([0.1, 0.2, 0.3, 0.4])
    w = np.array([0.1, 0.2, 0.3, 0.4])
    assert pit(sim, 0.25, w) == pytest.approx(0.1 + 0.2)  # weights of 0.1 and 0.2 below
    assert pit(sim, 0.3, w) == pytest.approx(0.1 + 0.2 + 0.5 * 0.3)  # a tie counts half
    assert pit(sim, 0.25) == pytest.approx(0.5)  # equal weights: 2 of 4
    assert pit(sim, -1.0, w) == 0.0 and pit(sim, 9.0, w) == 1.0
    assert pit(np.array([0.1, np.nan, 0.3]), 0.2) == pytest.approx(0.5)  # NaN outcomes dropped
    assert math.isnan(pit(sim, float("nan")))


def test_pit_histogram_and_band_edges():
    counts = pit_histogram(np.array([0.0, 0.05, 0.1, 0.55, 0.999, 1.0, np.nan]))
    assert counts.tolist() == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    table = pd.DataFrame({"start": ["a", "b", "c", "d"], "strategy": "x", "pit": [0.05, 0.25, 0.8, 0.97]})
    s = coverage_summary(table, overlap=1.0)[0].set_index("strategy")
    assert s.loc["x", "cover90"] == pytest.approx(3 / 4)  # 0.05 is inside [0.05, 0.95]
    assert s.loc["x", "cover50"] == pytest.approx(1 / 4)  # only 0.25
    assert s.loc["x", "below_p5"] == 0.0 and s.loc["x", "above_p95"] == pytest.approx(0.25)


def test_effective_overlap_of_quarterly_one_year_windows():
    cal = pd.bdate_range("2010-01-01", "2020-12-31")
    starts = start_dates(cal, pd.Timestamp("2012-01-01"), "quarter", 252)
    assert effective_overlap(starts, cal, 252) == 4.0
    assert effective_overlap(start_dates(cal, pd.Timestamp("2012-01-01"), "year", 252), cal, 252) == 1.0


def test_start_dates_are_first_trading_days_with_a_whole_horizon():
    cal = pd.bdate_range("2019-01-01", "2021-12-31").difference(pd.DatetimeIndex(["2020-01-01", "2020-04-01"]))
    s = start_dates(cal, pd.Timestamp("2020-01-01"), "quarter", 252)
    assert s[0] == pd.Timestamp("2020-01-02") and s[1] == pd.Timestamp("2020-04-02")  # holidays skipped
    last = cal.get_loc(s[-1])
    assert last + 252 <= len(cal) and cal.get_loc(s[-1]) + 63 + 252 > len(cal)


def test_realised_outcome_compounds_the_window():
    idx = pd.bdate_range("2020-01-01", periods=10)
    r = pd.DataFrame({"a": [0.0, 0.1, -0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]}, index=idx)
    out = realised_outcomes(r, pd.DatetimeIndex([idx[1], idx[8]]), 3)
    assert out.iloc[0, 0] == pytest.approx(1.1 * 0.9 * 1.2 - 1)  # days 1, 2, 3
    assert np.isnan(out.iloc[1, 0])  # window leaves the data


def test_cut_market_keeps_only_what_was_released():
    from backtest.data.base import MarketData

    idx = pd.bdate_range("2020-01-01", periods=6)
    vals = pd.Series([1.0, 2.0, 3.0], index=idx[[0, 2, 4]])
    rel = pd.Series(idx[[1, 4, 5]], index=vals.index)  # the second value is published 2 days late
    md = MarketData(pd.DataFrame({"X": np.arange(6.0)}, index=idx), {"M": MacroSeries("M", vals, rel)}, "t")
    cut = cut_market(md, idx[3])
    assert cut.prices.index[-1] == idx[3]
    assert cut.macro["M"].values.tolist() == [1.0]  # observed on idx[2] but released on idx[4]


# ------------------------------------------------------------------------ planted models


def _planted(n_starts: int, spread: float, seed: int = 7) -> pd.DataFrame:
    """Starts whose realised outcome is N(mu, 0.1) and whose simulation is N(mu, 0.1 * spread)."""
    rng = np.random.default_rng(seed)
    sims, real = [], {}
    starts = pd.bdate_range("2000-01-03", periods=n_starts, freq="7D")
    for s in starts:
        mu = rng.normal(0.05, 0.05)
        sims.append(StartOutcome(s, s, "calm", True, (), {"x": rng.normal(mu, 0.1 * spread, 1000)},
                                 np.full(1000, 1e-3)))
        real[s] = rng.normal(mu, 0.1)
    return calibration_table(sims, pd.DataFrame({"x": real}))


def test_planted_calibrated_model_covers_at_nominal_rates():
    table = _planted(400, spread=1.0)
    s = coverage_summary(table, overlap=1.0)[0].set_index("strategy")
    assert abs(s.loc["x", "cover90"] - 0.90) < 0.05  # binomial sd on 400: 0.015
    assert abs(s.loc["x", "cover50"] - 0.50) < 0.08
    assert s.loc["x", "verdict"] == CALIBRATED
    h = pit_histogram(table["pit"].to_numpy())
    assert h.min() > 20 and h.max() < 60  # about flat (40 per bin)


def test_planted_overconfident_model_is_flagged():
    table = _planted(80, spread=0.2)  # simulated spread a fifth of the real one
    s, hist = coverage_summary(table, overlap=4.0)
    row = s.set_index("strategy").loc["x"]
    assert row["cover90"] < 0.5 and row["verdict"] == OVERCONFIDENT
    h = hist.loc[hist["strategy"] == "x", "count"].to_numpy()
    assert h[0] + h[-1] > h[1:-1].sum()  # U-shaped
    assert s.iloc[-1]["strategy"] == ALL and s.iloc[-1]["verdict"] == OVERCONFIDENT


def test_planted_underconfident_model_is_flagged():
    table = _planted(400, spread=5.0)  # independent starts: overlap 1
    row = coverage_summary(table, overlap=1.0)[0].set_index("strategy").loc["x"]
    assert row["cover90"] == 1.0 and row["verdict"] == UNDERCONFIDENT
    # 80 of them as overlapping windows (20 effective): the empty tails are within sampling error there,
    # but the hump of the PITs is not
    row = coverage_summary(table.iloc[:80], overlap=4.0)[0].set_index("strategy").loc["x"]
    assert row["p_lower_tail"] > 0.05 / 3 and row["p_upper_tail"] > 0.05 / 3
    assert row["p_pit_uniform"] < 0.05 / 3 and row["verdict"] == NOT_UNIFORM


# ------------------------------------------------------------------------ no peeking (real pipeline)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("calib")
    (d / "cfg.yaml").write_text(yaml.safe_dump(CFG, sort_keys=False))
    (d / "scen.yaml").write_text(yaml.safe_dump(SCEN, sort_keys=False))
    cfg = load_run_config(d / "cfg.yaml", [])
    md = load_history(cfg)
    md = dataclasses.replace(md, synthetic=False)  # the bootstrap source: pools drawn from the history
    return d, cfg, scenarios_from_dict(SCEN), md


def _perturb_prices(md, mask: np.ndarray):
    """Prices on the ``mask`` days scaled by a wavy factor (other rows untouched, bit for bit)."""
    px = md.prices.copy()
    f = 1.0 + 0.3 * np.sin(np.arange(int(mask.sum())) / 3.0)
    px.loc[mask] = px.loc[mask].mul(f, axis=0)
    return dataclasses.replace(md, prices=px)


def test_no_peeking_data_after_the_start_do_not_move_the_simulation(setup):
    _, cfg, sset, md = setup
    start = pd.Timestamp("2024-04-01")
    base = simulate_start(cfg, sset, md, start, paths=12, seed=3)
    t0 = base.t0
    after = np.asarray(md.prices.index > t0)
    md2 = _perturb_prices(md, after)
    macro = {}
    for k, ms in md2.macro.items():  # values released after t0 change too (including ones observed before)
        late = np.asarray(ms.released > t0)
        macro[k] = MacroSeries(ms.name, ms.values.where(~late, ms.values * 1.5 + 1.0), ms.released)
    md2 = dataclasses.replace(md2, macro=macro)
    assert not md2.prices.loc[after].equals(md.prices.loc[after])
    moved = simulate_start(cfg, sset, md2, start, paths=12, seed=3)
    for s in base.outcomes:
        np.testing.assert_array_equal(base.outcomes[s], moved.outcomes[s])
    np.testing.assert_array_equal(base.weights, moved.weights)
    np.testing.assert_allclose(base.weights.sum(), 1.0)
    # control: the same perturbation before the start does move it (the test can fail)
    before = np.asarray((md.prices.index <= t0) & (md.prices.index > t0 - pd.Timedelta(days=900)))
    moved_before = simulate_start(cfg, sset, _perturb_prices(md, before), start, paths=12, seed=3)
    assert not np.array_equal(base.outcomes["spy"], moved_before.outcomes["spy"])


def test_start_state_follows_the_rule_the_day_meets(setup):
    _, cfg, sset, md = setup
    so = simulate_start(cfg, sset, md, pd.Timestamp("2020-01-02"), paths=4, seed=1)  # RMP2019 in force
    assert so.start_state == "calm" and so.state_rule and so.fallback_states == ()
    so = simulate_start(cfg, sset, md, pd.Timestamp("2016-01-04"), paths=4, seed=1)  # plateau, before any RMP
    assert so.start_state == "other" and so.fallback_states == ("calm",)


# ------------------------------------------------------------------------ the command


CALIBRATE = ("--calibrate", "--paths", "6", "--calibrate-from", "2019-01-01", "--calibrate-every", "year")
CSVS = ("calibration.csv", "calibration_summary.csv", "calibration_pit.csv")


def _calibrate(d: Path, out: Path, *more: str) -> tuple[Path, str]:
    r = run_cli("scenarios", str(d / "cfg.yaml"), "--scenarios", str(d / "scen.yaml"), *CALIBRATE, *more,
                "--out", str(out))
    assert r.exit_code == 0, r.stdout + r.stderr
    return Path(r.stdout.strip().splitlines()[-1]), r.stdout


@pytest.fixture(scope="module")
def serial(setup, tmp_path_factory):
    """The command in process: 8 yearly starts 2019..2026, the first with a fallback pool (calm before RMP2019)."""
    return _calibrate(setup[0], tmp_path_factory.mktemp("serial"))


def test_calibrate_command_writes_the_run_folder(serial):
    folder, stdout = serial
    assert "verdict (pooled, all 8 starts, 1 with fallback pools)" in stdout
    assert "verdict (pooled, 7 starts without fallback pools)" in stdout
    t = pd.read_csv(folder / "calibration.csv")
    assert list(t.columns[:7]) == ["start", "strategy", "realised", "pit", "p5", "p50", "p95"]
    assert set(t["strategy"]) == {"sixty_forty", "spy"} and t["pit"].between(0, 1).all()
    assert (t["p5"] <= t["p50"]).all() and (t["p50"] <= t["p95"]).all()
    assert (t["fallback_states"].fillna("") != "").sum() == 2  # one start, two strategies
    s = pd.read_csv(folder / "calibration_summary.csv")
    assert list(s.columns) == SUMMARY_COLUMNS
    assert s["strategy"].tolist() == ["sixty_forty", "spy", ALL] * 2
    assert s["subset"].tolist() == [ALL_STARTS] * 3 + [NO_FALLBACK] * 3
    assert s["n_fallback_starts"].tolist() == [1] * 3 + [0] * 3 and s["n"].tolist() == [8, 8, 16, 7, 7, 14]
    assert set(s["verdict"]) <= set(VERDICTS)
    for c in ("p_lower_tail", "p_upper_tail", "p_pit_uniform"):
        assert s[c].between(0, 1).all(), c
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["kind"] == "calibration" and prov["n_starts"] == t["start"].nunique() == 8
    assert prov["n_fallback_starts"] == 1 and set(prov["verdicts"]) == {ALL_STARTS, NO_FALLBACK}
    html = (folder / "calibration.html").read_text()
    assert "PIT histogram" in html and "Coverage of the simulated bands" in html
    assert "Starts without fallback pools (1 left out)" in html and "p upper tail" in html


def test_calibrate_on_two_workers_writes_the_same_bytes(setup, serial, tmp_path):
    folder, _ = serial
    par, stdout = _calibrate(setup[0], tmp_path, "--workers", "2")
    assert "executor: dask LocalCluster (2 process workers)" in " ".join(stdout.split())
    for f in CSVS:
        assert (par / f).read_bytes() == (folder / f).read_bytes(), f


def test_fallback_starts_get_their_own_verdict_on_a_hand_built_frame():
    # 6 starts x 2 strategies; starts c and d used fallback pools
    pits = {"a": (0.50, 0.40), "b": (0.97, 0.99), "c": (0.01, 0.02), "d": (0.03, 0.30), "e": (0.60, 0.70),
            "f": (0.20, 0.96)}
    rows = [{"start": k, "strategy": s, "pit": v[i], "fallback_states": "calm" if k in "cd" else ""}
            for k, v in pits.items() for i, s in enumerate(("x", "y"))]
    summary, hist = coverage_summary(pd.DataFrame(rows), overlap=1.0)
    s = summary.set_index(["subset", "strategy"])
    assert summary["subset"].tolist() == [ALL_STARTS] * 3 + [NO_FALLBACK] * 3
    assert (summary["n_fallback_starts"] == [2, 2, 2, 0, 0, 0]).all()
    # by hand: x on all starts has PITs .5 .97 .01 .03 .6 .2 -> 2 of 6 below p5, 1 above p95
    assert s.loc[(ALL_STARTS, "x"), "n"] == 6
    assert s.loc[(ALL_STARTS, "x"), "below_p5"] == pytest.approx(2 / 6)
    assert s.loc[(ALL_STARTS, "x"), "above_p95"] == pytest.approx(1 / 6)
    # without c and d: .5 .97 .6 .2 -> none below p5, 1 of 4 above
    assert s.loc[(NO_FALLBACK, "x"), "n"] == 4 and s.loc[(NO_FALLBACK, "x"), "below_p5"] == 0.0
    assert s.loc[(NO_FALLBACK, "x"), "above_p95"] == pytest.approx(0.25)
    assert s.loc[(NO_FALLBACK, "x"), "p_upper_tail"] == pytest.approx(binomtest(1, 4, 0.05).pvalue)
    # pooled: y without c, d has .4 .99 .7 .96 -> 3 of 8 pooled PITs above p95, on 4 starts
    assert s.loc[(NO_FALLBACK, ALL), "n"] == 8 and s.loc[(NO_FALLBACK, ALL), "n_eff"] == 4.0
    assert s.loc[(NO_FALLBACK, ALL), "above_p95"] == pytest.approx(3 / 8)
    assert s.loc[(NO_FALLBACK, ALL), "p_upper_tail"] == pytest.approx(binomtest(2, 4, 0.05).pvalue)  # round(1.5)
    assert hist["count"].sum() == 6 + 6 + 12  # the histogram: all starts only
    # no fallback start: one verdict per strategy, no second block
    again, _ = coverage_summary(pd.DataFrame(rows).assign(fallback_states=""), overlap=1.0)
    assert again["subset"].tolist() == [ALL_STARTS] * 3 and (again["n_fallback_starts"] == 0).all()


def test_verdicts_are_coloured_by_what_they_say():
    from backtest.commands.calibrate_cmd import verdict_markup
    from backtest.report.calibration_page import verdict_html

    assert verdict_markup(CALIBRATED).startswith("[bold green]")
    assert verdict_markup(INCONCLUSIVE).startswith("[bold yellow]")
    assert verdict_markup(TOO_HIGH).startswith("[bold red]") and verdict_markup(OVERCONFIDENT).startswith("[bold red]")
    assert "#2b8a3e" in verdict_html(CALIBRATED) and "#b7791f" in verdict_html(INCONCLUSIVE)
    assert "#c62828" in verdict_html(NOT_UNIFORM)


def test_calibrate_bad_every_is_one_line(setup, tmp_path):
    d = setup[0]
    out = tmp_path / "o"
    r = run_cli("scenarios", str(d / "cfg.yaml"), "--scenarios", str(d / "scen.yaml"), "--calibrate",
                "--calibrate-every", "weekly", "--out", str(out))
    assert_clean_error(r, out, "--calibrate-every", "weekly")


def test_an_analogue_after_a_start_is_a_one_line_error_naming_the_start(setup, tmp_path):
    d = setup[0]
    raw = {**SCEN, "states": {**SCEN["states"], "other": {"kind": "qt", "analogues": [
        {"start": "2025-01-02", "end": "2025-06-30"}]}}}
    (tmp_path / "late.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "o"
    r = run_cli("scenarios", str(d / "cfg.yaml"), "--scenarios", str(tmp_path / "late.yaml"), "--calibrate",
                "--paths", "4", "--calibrate-from", "2024-10-01", "--out", str(out))
    assert_clean_error(r, out, "calibration start 2024-10-01", "2025-01-02")


def test_calibrate_with_workers_and_scheduler_is_a_one_line_error(setup, tmp_path):
    d = setup[0]
    out = tmp_path / "o"
    r = run_cli("scenarios", str(d / "cfg.yaml"), "--scenarios", str(d / "scen.yaml"), "--calibrate",
                "--workers", "2", "--scheduler", "127.0.0.1:1", "--out", str(out))
    assert_clean_error(r, out, "--workers", "--scheduler")
