"""The scenario page: simulated header, no calendar tables, real drawdown ticks, P(beat 60/40), verdict, pace."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtest.report.scenario_page import build_scenario_page, outcome_distribution, verdict

STRATS = ("sixty_forty", "steepener")
SCEN = ("A", "B", "mix")


def _metrics() -> pd.DataFrame:
    rows = []
    for i, s in enumerate(STRATS):
        for j, c in enumerate(SCEN):
            base = 0.01 * (i + 1) + 0.002 * j
            rows.append({"strategy": s, "scenario": c, "statistic": "horizon_return", "mean": base, "median": base,
                         "p5": base - 0.1, "p25": base - 0.03, "p75": base + 0.03, "p95": base + 0.1})
            # small drawdowns: with whole-percent ticks every label would read "0%"
            dd = -0.004 - 0.001 * i
            rows.append({"strategy": s, "scenario": c, "statistic": "max_drawdown", "mean": dd, "median": dd,
                         "p5": dd - 0.002, "p25": dd - 0.001, "p75": dd + 0.001, "p95": dd + 0.002})
            for st, v in (("prob_beat_6040", np.nan if s == "sixty_forty" else 0.8),
                          ("prob_beat_6040_se", np.nan if s == "sixty_forty" else 0.02)):
                rows.append({"strategy": s, "scenario": c, "statistic": st, "mean": v, "median": v,
                             "p5": np.nan, "p25": np.nan, "p75": np.nan, "p95": np.nan})
    return pd.DataFrame(rows)


def _regret(p: float, se: float) -> pd.DataFrame:
    return pd.DataFrame({"strategy": list(STRATS), "statistic": "cvar_penalised", "regret_A": [0.02, 0.0],
                         "regret_B": [0.0, 0.01], "max_regret": [0.02, 0.01], "robust": [False, True],
                         "prob_beat_6040_mix": [np.nan, p], "prob_beat_6040_se_mix": [np.nan, se]})


@pytest.fixture()
def folder(tmp_path):
    prov = {"name": "pg", "paths": 24, "seed": 3, "generator": "bootstrap", "include_forecast_period": False,
            "scenarios": {"A": {"horizon_days": 30, "first_day": "2025-12-15", "probability": 0.6},
                          "B": {"horizon_days": 30, "first_day": "2025-12-15", "probability": 0.4}},
            "states": {"calm": {"kind": "rmp", "pool_days": 120,
                                "pool_ranges": {"A": [["2019-09-17", "2019-12-31"], ["2020-01-02", "2020-03-10"]]},
                                "analogues": [{"label": "rule regime_kind rmp"}]}}}
    (tmp_path / "provenance.json").write_text(json.dumps(prov))
    _metrics().to_csv(tmp_path / "scenario_metrics.csv", index=False)
    _regret(0.8, 0.02).to_csv(tmp_path / "scenario_regret.csv", index=False)
    fan = pd.concat([pd.DataFrame({"strategy": s, "scenario": c, "day": np.arange(31), "p5": 0.9, "p25": 0.95,
                                   "p50": 1.0, "p75": 1.05, "p95": 1.1}) for s in STRATS for c in SCEN])
    fan.to_parquet(tmp_path / "scenario_fan.parquet", index=False)
    edges = np.linspace(-0.2, 0.3, 6)
    pd.DataFrame([{"strategy": s, "scenario": c, "bin_lo": a, "bin_hi": b, "share": 0.2}
                  for s in STRATS for c in SCEN for a, b in zip(edges[:-1], edges[1:], strict=True)]
                 ).to_csv(tmp_path / "scenario_hist.csv", index=False)
    pd.DataFrame({"strategy": ["steepener", "sixty_forty"], "scenario": ["A", "A"], "pace_low": [3.5, 3.5],
                  "pace_high": [45.0, 45.0], "paths": [24, 24], "effect": [0.001, 0.03], "ci_lo": [-0.01, 0.01],
                  "ci_hi": [0.012, 0.05], "distinguishable": [False, True]}).to_csv(tmp_path / "pace_effect.csv",
                                                                                 index=False)
    return tmp_path


def test_page_says_simulated_and_has_no_calendar_tables(folder):
    html = build_scenario_page(folder)
    assert ("SIMULATED — 24 paths, seed 3, horizon 30 trading days, pools (calm: 120 days, "
            "2019-09-17..2020-03-10 (2 ranges))") in html
    for history_only in ("Monthly returns", "Calendar-year", "monthly", "(partial)", '"type":"date"'):
        assert history_only not in html
    assert "not the drawdown of the median wealth line" in html and "paired" in html
    assert "horizon return (per path)" in html  # the outcome histogram
    # P(beat 60/40) with its error; the 60/40 itself has none
    assert 'id="beat-table"' in html and "80.0% ± 2.0%" in html
    # pace effect: the plain sentence where it is not distinguishable
    assert html.count("indistinguishable from zero") == 2  # the lead sentence and the one row
    assert "1 of 2 effects are <b>indistinguishable from zero</b>" in html


def test_drawdown_axis_ticks_are_not_all_zero():
    fig = outcome_distribution(_metrics())
    menu = fig.layout.updatemenus[0]
    (dd,) = [b for b in menu.buttons if b.label == "max_drawdown"]
    fmt = dd.args[1]["yaxis.tickformat"]
    ticks = np.linspace(-0.007, -0.002, 6)  # ticks 0.1 pp apart over the drawdowns drawn: six distinct labels
    labels = {f"{t:{fmt.replace('%', '')}%}" for t in ticks}
    assert fmt.endswith("%") and len(labels) == 6, labels
    assert "max_drawdown" in [b.label for b in menu.buttons]
    assert not any(b.label.startswith("prob_beat") for b in menu.buttons)


@pytest.mark.parametrize(("p", "se", "tone"), [(0.8, 0.02, "good"), (0.52, 0.03, "neutral"), (0.2, 0.02, "bad")])
def test_verdict_is_coloured_by_what_it_says(p, se, tone):
    text, got = verdict(_regret(p, se))
    assert got == tone and text.startswith("Robust choice (minimax regret of cvar_penalised): steepener")
    assert f"{p:.0%} ± {se:.0%}" in text


def test_verdict_colour_reaches_the_page(folder):
    html = build_scenario_page(folder)
    assert 'class="verdict verdict-good"' in html and "more often than not" in html
    _regret(0.2, 0.02).to_csv(folder / "scenario_regret.csv", index=False)
    assert 'class="verdict verdict-bad"' in build_scenario_page(folder)
