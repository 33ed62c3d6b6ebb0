"""Stability of the robust choice (``choice_share``): by hand, null, planted, off, config errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.report.scenario_page import verdict
from backtest.synthetic.evaluate.choice import (
    CHOICE_STREAM,
    choice_shares,
    resampled_statistic,
    shares_from_values,
)
from backtest.synthetic.evaluate.scoring import regret_table, summarise
from tests.faults_harness import assert_fault, run_main
from tests.helpers import run_cli
from tests.test_scenarios_defs import small

SIXTY = {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}}


def _stats(hr: np.ndarray) -> dict[str, np.ndarray]:
    """Per-path statistics of one strategy in one scenario (only the horizon return varies)."""
    hr = np.asarray(hr, dtype=float)
    return {"horizon_return": hr, "sharpe": hr * 10.0, "max_drawdown": -np.abs(hr), "ann_vol": np.abs(hr) + 0.1}


def _table(hr: dict[str, dict[str, np.ndarray]], resamples: int, seed: int = 0,
           statistic: str = "cvar_penalised") -> pd.DataFrame:
    """The regret table with ``choice_share``, as the aggregation builds it (no mix: max over all scenarios)."""
    scen = list(hr)
    strategies = list(hr[scen[0]])
    stats = {n: {s: _stats(hr[n][s]) for s in strategies} for n in scen}
    vals = pd.DataFrame({n: {s: summarise(stats[n][s])[statistic]["mean"] for s in strategies} for n in scen})
    out = regret_table(vals.loc[strategies], {}, statistic)
    out["choice_share"] = choice_shares(stats, strategies, scen, statistic=statistic, resamples=resamples, seed=seed)
    return out


# ------------------------------------------------------------------------ by hand


def _loop_shares(hr: dict[str, dict[str, np.ndarray]], resamples: int, seed: int, lam: float = 1.0) -> np.ndarray:
    """A second implementation with plain loops: median and, for 8 paths, CVaR5 = the worst path.

    With 8 equally weighted paths the worst 5 % of the mass lies inside the worst path (1/8),
    so CVaR5 is the minimum; the Hazen median of 8 values is the mean of the 4th and 5th.
    """
    scen = list(hr)
    strategies = list(hr[scen[0]])
    rng = np.random.default_rng([seed, CHOICE_STREAM])
    draws = {n: rng.integers(0, len(hr[n][strategies[0]]), size=(resamples, len(hr[n][strategies[0]])))
             for n in scen}
    shares = np.zeros(len(strategies))
    for b in range(resamples):
        val = {}
        for n in scen:
            for s in strategies:
                x = sorted(float(hr[n][s][i]) for i in draws[n][b])
                med = (x[3] + x[4]) / 2.0
                val[(n, s)] = med - lam * max(0.0, -x[0])
        mx = []
        for s in strategies:
            mx.append(max(max(val[(n, t)] for t in strategies) - val[(n, s)] for n in scen))
        best = min(mx)
        tied = [i for i, m in enumerate(mx) if abs(m - best) <= 1e-12]
        for i in tied:
            shares[i] += 1.0 / len(tied) / resamples
    return shares


def test_shares_agree_with_a_plain_loop_on_three_strategies_two_scenarios_eight_paths():
    rng = np.random.default_rng(5)
    hr = {n: {s: rng.normal(0.02, 0.08, 8) for s in ("a", "b", "c")} for n in ("X", "Y")}
    got = choice_shares({n: {s: _stats(v) for s, v in d.items()} for n, d in hr.items()}, ["a", "b", "c"],
                        ["X", "Y"], statistic="cvar_penalised", resamples=50, seed=3)
    want = _loop_shares(hr, 50, 3)
    assert got == pytest.approx(want, abs=1e-12)
    assert got.sum() == pytest.approx(1.0)
    assert (got > 0).sum() >= 2  # the case is not trivially one-sided


def test_identical_strategies_share_every_resample_exactly_and_a_dominant_one_takes_all():
    base = np.linspace(-0.2, 0.3, 8)
    # b is a copy of a: every resample ties them (1/2 each); c loses on every path
    tab = _table({"X": {"a": base, "b": base.copy(), "c": base - 0.1},
                  "Y": {"a": base[::-1].copy(), "b": base[::-1].copy(), "c": base[::-1] - 0.1}}, 40)
    assert tab["choice_share"].tolist() == [0.5, 0.5, 0.0]
    # a above b and c on every path of every scenario: chosen in every resample
    tab = _table({"X": {"a": base + 0.05, "b": base, "c": base - 0.1},
                  "Y": {"a": base + 0.05, "b": base, "c": base - 0.1}}, 40)
    assert tab["choice_share"].tolist() == [1.0, 0.0, 0.0]


def test_resampled_statistic_on_the_identity_resample_is_the_scorecard_value():
    rng = np.random.default_rng(1)
    st = _stats(rng.normal(0.03, 0.1, 37))
    idx = np.arange(37)[None, :]
    for stat, summary in (("cvar_penalised", "mean"), ("cvar_5", "mean"), ("sharpe", "mean"),
                          ("horizon_return", "median"), ("max_drawdown", "mean")):
        assert resampled_statistic(st, idx, stat, summary, 2.0)[0] == pytest.approx(
            summarise(st, cvar_lambda=2.0)[stat][summary], abs=1e-15)


def test_a_resample_without_finite_values_counts_for_nobody_and_nan_is_never_chosen():
    v = np.array([[[1.0], [0.5]], [[np.nan], [np.nan]], [[np.nan], [2.0]]])  # (B=3, 2 strategies, 1 scenario)
    assert shares_from_values(v).tolist() == pytest.approx([1 / 3, 1 / 3])


# ------------------------------------------------------------------------ null and planted


def test_null_two_equally_good_strategies_split_the_choice_and_the_verdict_says_not_stable():
    rng = np.random.default_rng(11)
    hr = {}
    for n in ("X", "Y"):
        a = rng.normal(0.05, 0.1, 300)
        b = a[rng.permutation(300)]  # the same i.i.d. draws in another order: same distribution, different paths
        hr[n] = {"a": a, "b": b, "worse": a - 0.3}
    tab = _table(hr, 400, seed=2)
    share = dict(zip(tab["strategy"], tab["choice_share"], strict=True))
    assert 0.2 <= share["a"] <= 0.8 and 0.2 <= share["b"] <= 0.8
    assert share["worse"] == 0.0
    text, tone = verdict(tab, 400)
    assert "the choice is not stable: another strategy is chosen in" in text
    assert "of 400 path resamples" in text and tone == "neutral"


def test_planted_a_clearly_better_strategy_is_chosen_in_almost_every_resample_and_called_stable():
    rng = np.random.default_rng(12)
    n_paths, margin = 300, 0.1  # shifts median and CVaR by 0.1: about 10 standard errors of the difference
    hr = {n: {"good": rng.normal(0.05, 0.1, n_paths) + margin, "plain": rng.normal(0.05, 0.1, n_paths),
              "other": rng.normal(0.04, 0.1, n_paths)} for n in ("X", "Y", "Z")}
    tab = _table(hr, 200, seed=4)
    share = dict(zip(tab["strategy"], tab["choice_share"], strict=True))
    assert share["good"] >= 0.95
    assert bool(tab.set_index("strategy").loc["good", "robust"])
    text, _ = verdict(tab, 200)
    assert "good, chosen in" in text and "of 200 path resamples (stable)" in text and "not stable" not in text


def test_same_seed_same_shares_and_another_seed_other_draws():
    rng = np.random.default_rng(13)
    hr = {n: {s: rng.normal(0.03, 0.1, 60) for s in "abc"} for n in ("X", "Y")}
    t1, t2, t3 = _table(hr, 100, seed=7), _table(hr, 100, seed=7), _table(hr, 100, seed=8)
    assert t1["choice_share"].tolist() == t2["choice_share"].tolist()
    assert t1["choice_share"].tolist() != t3["choice_share"].tolist()


# ------------------------------------------------------------------------ off


def test_zero_resamples_give_nan_and_a_verdict_without_stability_words():
    rng = np.random.default_rng(14)
    tab = _table({n: {s: rng.normal(0.03, 0.1, 20) for s in "ab"} for n in ("X",)}, 0)
    assert tab["choice_share"].isna().all()
    text, _ = verdict(tab, 0)
    assert "resample" not in text and "stable" not in text and "Robust choice" in text


def test_scenario_file_with_choice_resamples_zero_writes_a_nan_column(tmp_path):
    cfg = {"name": "z", "data": {"source": "sample"}, "cash": {"rate": "DTB3"}, "report": {"png": False},
           "strategies": [SIXTY, {"name": "inverse_vol", "kind": "inverse_vol"}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    raw = small(horizon_days=15)
    raw["scoring"] = {"choice_resamples": 0}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    r = run_cli("scenarios", str(tmp_path / "c.yaml"), "--scenarios", str(tmp_path / "s.yaml"), "--paths", "8",
                "--out", str(tmp_path / "out"), "--no-report")
    assert r.exit_code == 0, r.stdout + r.stderr
    reg = pd.read_csv(Path(r.stdout.strip().splitlines()[-1]) / "scenario_regret.csv")
    assert "choice_share" in reg and reg["choice_share"].isna().all()
    assert "Robust choice" in r.stdout and "resamples" not in r.stdout


# ------------------------------------------------------------------------ config


@pytest.mark.parametrize("value", [-1, 2001, "many"])
def test_out_of_range_choice_resamples_is_a_one_line_error_naming_the_key(tmp_path, value):
    cfg = {"name": "z", "data": {"source": "sample"}, "cash": {"rate": "DTB3"}, "report": {"png": False},
           "strategies": [SIXTY]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    raw = small(horizon_days=15)
    raw["scoring"] = {"choice_resamples": value}
    (tmp_path / "sc.yaml").write_text(yaml.safe_dump(raw))
    root = tmp_path / "res"
    r = run_main("scenarios", str(tmp_path / "c.yaml"), "--scenarios", str(tmp_path / "sc.yaml"), "--paths", "8",
                 "--out", str(root), "--no-report")
    assert_fault(r, root, 2, ("sc.yaml", "choice_resamples"))
