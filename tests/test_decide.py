"""``rmpbt decide``: re-scoring a saved scenario run (docs/decide.md).

Small saved runs are written by hand (``scenario_paths.parquet`` + the provenance record)
with outcomes whose medians, CVaRs and crossings are known in closed form; entropy
pooling is checked by hand and against a generic convex solve (cvxpy); one end-to-end run
on the sample market checks that decide reproduces the run's own regret table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.errors import ResultsError, ScenarioError
from backtest.synthetic.decide.core import decide
from backtest.synthetic.decide.outcomes import (
    ASSET_PREFIX,
    PATHS_FILE,
    load_outcomes,
    write_outcomes_folder,
)
from backtest.synthetic.decide.pooling import effective_paths, entropy_pool
from backtest.synthetic.evaluate.distributions import tail_mean, tail_means, weighted_quantiles
from tests.helpers import run_cli
from tests.test_scenarios_defs import small


def make_run(folder: Path, hr: dict[str, np.ndarray], names: list[str], probs: dict[str, float] | None,
             *, assets: dict[str, np.ndarray] | None = None, statistic: str = "cvar_penalised",
             summary: str = "mean", lam: float = 1.0, bench: str | None = None) -> Path:
    """A saved run: ``hr[scenario]`` is (paths, strategies); ``assets[scenario]`` (paths, 1) of asset X."""
    parts = []
    for sc, mat in hr.items():
        p, k = mat.shape
        frame = pd.DataFrame({"scenario": sc, "path": np.repeat(np.arange(p), k), "strategy": np.tile(names, p),
                              "weight": (probs or {}).get(sc, 0.0) / p, "horizon_return": mat.ravel(),
                              "max_drawdown": -np.abs(mat).ravel(), "ann_vol": np.abs(mat).ravel(),
                              "sharpe": mat.ravel() * 3})
        if assets is not None:
            frame[f"{ASSET_PREFIX}X"] = np.repeat(assets[sc][:, 0], k)
        parts.append(frame)
    record = {"scenarios": list(hr), "probabilities": probs or {}, "strategies": names, "benchmark": bench,
              "benchmark_internal": False, "assets": ["X"] if assets is not None else [], "statistic": statistic,
              "summary": summary, "cvar_lambda": lam, "seed": 7}
    return write_outcomes_folder(folder, pd.concat(parts, ignore_index=True), record)


def planted_lambda(n: int = 100) -> dict[str, np.ndarray]:
    """``safe`` returns 2 % on every path; ``risky`` 10 % (A) / 6 % (B) with its worst 5 % at −40 % / −20 %.

    Medians 0.10 / 0.06, CVaR5 exactly −0.40 / −0.20 (5 of 100 equally weighted paths), so with
    probabilities 0.5 / 0.5 risky scores 0.08 − 0.30 λ against 0.02: they cross at λ = 0.2.
    """
    a = np.column_stack([np.full(n, 0.02), np.r_[np.full(5, -0.40), np.full(n - 5, 0.10)]])
    b = np.column_stack([np.full(n, 0.02), np.r_[np.full(5, -0.20), np.full(n - 5, 0.06)]])
    return {"A": a, "B": b}


def brute_choice(values: np.ndarray, probs: np.ndarray) -> int:
    """argmax of Σ_s p_s v_sk by a plain loop (no numpy reductions over strategies)."""
    best, arg = -np.inf, -1
    for k in range(values.shape[1]):
        s = sum(float(probs[j]) * float(values[j, k]) for j in range(values.shape[0]))
        if s > best + 1e-12:
            best, arg = s, k
    return arg


# --------------------------------------------------------------------------- null and planted


def test_null_identical_strategies_tie_everywhere_and_no_flip_is_claimed(tmp_path):
    rng = np.random.default_rng(0)
    hr = {sc: np.repeat(rng.normal(0.05, 0.2, (40, 1)), 3, axis=1) for sc in ("A", "B", "C")}
    run = make_run(tmp_path / "run", hr, ["a", "b", "c"], {"A": 0.4, "B": 0.35, "C": 0.25})
    dec = decide(run)
    assert dec.choice == "a|b|c" and dec.runner_up == "" and np.isnan(dec.margin)
    assert dec.flips["threshold"].isna().all() and (dec.flips["new_choice"] == "").all()
    assert (dec.map["choice"] == "a|b|c").all() and dec.map["margin"].isna().all()
    assert "tie exactly" in dec.lines[0] and "no flip is claimed" in dec.lines[0] and dec.tone == "neutral"
    assert [name for lm in dec.regions for name, _ in dec.regions[lm]] == ["a|b|c"] * len(dec.regions)


def test_planted_lambda_flip_is_found_exactly_with_its_segments_and_map(tmp_path):
    run = make_run(tmp_path / "run", planted_lambda(), ["safe", "risky"], {"A": 0.5, "B": 0.5})
    dec = decide(run)  # the run's λ = 1: safe
    assert dec.choice == "safe" and dec.runner_up == "risky"
    assert dec.margin == pytest.approx(0.02 - (0.08 - 0.30), abs=1e-12)
    down = dec.flips.set_index(["parameter", "direction"]).loc[("cvar_lambda", "down")]
    assert down["threshold"] == pytest.approx(0.2, abs=1e-6) and down["new_choice"] == "risky"
    assert np.isnan(dec.flips.set_index(["parameter", "direction"]).loc[("cvar_lambda", "up"), "threshold"])
    assert [s["choice"] for s in dec.segments] == ["risky", "safe"]
    assert dec.segments[0]["to"] == pytest.approx(0.2, abs=1e-6)
    low = decide(run, cvar_lambda=0.1999)
    assert low.choice == "risky"
    up = low.flips.set_index(["parameter", "direction"]).loc[("cvar_lambda", "up")]
    assert up["threshold"] == pytest.approx(0.2, abs=1e-6) and up["new_choice"] == "safe"
    m = dec.map[dec.map["p_A"] == 0.5]
    assert (m.loc[m["cvar_lambda"] < 0.2, "choice"] == "risky").all()
    assert (m.loc[m["cvar_lambda"] > 0.2, "choice"] == "safe").all()
    assert any("set by λ" in line for line in dec.lines)
    assert any("not by the scenarios" in line for line in dec.lines)  # both scenarios agree on the crossing side


def test_planted_probability_flip_is_found_exactly_and_agrees_with_a_brute_force_scan(tmp_path):
    # means (horizon_return, summary mean): A: x 0.10, y 0.00; B: x −0.10, y 0.05 -> x wins above p_A = 0.6
    hr = {"A": np.tile([0.10, 0.00], (10, 1)), "B": np.tile([-0.10, 0.05], (10, 1))}
    run = make_run(tmp_path / "run", hr, ["x", "y"], {"A": 0.4, "B": 0.6}, statistic="horizon_return")
    dec = decide(run)
    assert dec.choice == "y"
    fl = dec.flips.set_index(["parameter", "direction"])
    assert fl.loc[("p_A", "up"), "threshold"] == pytest.approx(0.6, abs=1e-6)
    assert fl.loc[("p_A", "up"), "new_choice"] == "x"
    assert fl.loc[("p_B", "down"), "threshold"] == pytest.approx(0.4, abs=1e-6)
    assert np.isnan(fl.loc[("cvar_lambda", "up"), "threshold"])  # λ does not enter horizon_return
    # three scenarios, the others rescaled: every reported flip against a plain scan of the simplex line
    rng = np.random.default_rng(3)
    vals = rng.normal(0.05, 0.05, (3, 6))
    hr3 = {sc: np.tile(vals[j], (4, 1)) for j, sc in enumerate(("A", "B", "C"))}
    probs = np.array([0.4, 0.35, 0.25])
    run3 = make_run(tmp_path / "run3", hr3, [f"s{i}" for i in range(6)], dict(zip("ABC", probs, strict=True)),
                    statistic="horizon_return")
    dec3 = decide(run3)
    assert dec3.choice == f"s{brute_choice(vals, probs)}"
    for r in dec3.flips.loc[dec3.flips["parameter"] != "cvar_lambda"].itertuples():
        j = "ABC".index(r.parameter[-1])
        end = r.threshold if np.isfinite(r.threshold) else (1.0 if r.direction == "up" else 0.0)
        ts = np.linspace(r.value, end, 400)[1:-1]
        for t in ts:  # no change of choice before the flip
            p = probs * (1 - t) / (1 - probs[j])
            p[j] = t
            assert f"s{brute_choice(vals, p)}" == dec3.choice
        if np.isfinite(r.threshold):  # and the new choice just beyond it
            t = r.threshold + (1e-7 if r.direction == "up" else -1e-7)
            p = probs * (1 - t) / (1 - probs[j])
            p[j] = t
            assert f"s{brute_choice(vals, p)}" == r.new_choice


def test_one_scenario_has_no_probability_flips_and_says_so(tmp_path):
    run = make_run(tmp_path / "run", {"A": planted_lambda()["A"]}, ["safe", "risky"], {"A": 1.0})
    dec = decide(run, cvar_lambda=0.1)  # risky: 0.10 − 0.1·0.40 = 0.06 > 0.02
    assert dec.choice == "risky" and len(dec.map) == len(dec.map["cvar_lambda"].unique())
    assert dec.flips.loc[dec.flips["parameter"] == "p_A", "note"].tolist() == ["only one scenario"]
    assert any("Only one scenario (A)" in line for line in dec.lines) and not dec.regions


def test_simplex_regions_are_exact(tmp_path):
    rng = np.random.default_rng(5)
    vals = rng.normal(0.05, 0.05, (3, 5))
    run = make_run(tmp_path / "run", {sc: np.tile(vals[j], (4, 1)) for j, sc in enumerate("ABC")},
                   [f"s{i}" for i in range(5)], {"A": 0.3, "B": 0.3, "C": 0.4}, statistic="horizon_return")
    dec = decide(run)
    (regions,) = dec.regions.values()
    for name, poly in regions:  # random points inside each polygon: that strategy by a plain loop
        for _ in range(20):
            lam = rng.dirichlet(np.ones(len(poly)))
            p = lam @ poly
            assert f"s{brute_choice(vals, p)}" == name
    for r in dec.map.itertuples():  # and the grid agrees with the plain loop
        p = np.array([r.p_A, r.p_B, r.p_C])
        assert r.choice == f"s{brute_choice(vals, p)}"


# --------------------------------------------------------------------------- entropy pooling


def test_entropy_pooling_hand_cases(tmp_path):
    # one view on P(B): the posterior is the view, weights within each scenario unchanged
    rng = np.random.default_rng(1)
    hr = {sc: rng.normal(0.05, 0.1, (10, 2)) for sc in ("A", "B")}
    run = make_run(tmp_path / "run", hr, ["x", "y"], {"A": 0.5, "B": 0.5})
    dec = decide(run, views=["P(B) = 0.6"])
    assert dec.probs["B"] == pytest.approx(0.6, abs=1e-9)
    plain = decide(run, probs="A=0.4,B=0.6")  # the same as giving the probabilities
    assert dec.table["score"].to_numpy() == pytest.approx(plain.table["score"].to_numpy(), abs=1e-9)
    hand = -(10 * 0.04 * np.log(0.04) + 10 * 0.06 * np.log(0.06))
    assert dec.effective_paths == pytest.approx(np.exp(hand), rel=1e-8)
    assert dec.effective_paths_prior == pytest.approx(20.0, rel=1e-12)
    # two paths, values 0 and 1, E = 0.8: the only distribution is (0.2, 0.8)
    pooled = entropy_pool(np.array([0.5, 0.5]), np.array([[0.0, 1.0]]), np.array([0.8]), np.zeros((0, 2)),
                          np.zeros(0))
    assert pooled.weights == pytest.approx([0.2, 0.8], abs=1e-9)
    assert pooled.relative_entropy == pytest.approx(0.2 * np.log(0.4) + 0.8 * np.log(1.6), abs=1e-9)
    assert effective_paths(np.full(7, 1 / 7)) == pytest.approx(7.0)


def test_entropy_pooling_agrees_with_a_generic_convex_solve():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(2)
    n = 30
    w0 = rng.dirichlet(np.ones(n))
    x, y = rng.normal(0.05, 0.2, n), rng.normal(0.0, 0.1, n)
    eq_rows, eq_vals = np.array([x]), np.array([float(x @ w0) + 0.03])
    le_rows, le_vals = np.array([-y]), np.array([-(float(y @ w0) + 0.02)])  # E[y] >= prior + 0.02
    mine = entropy_pool(w0, eq_rows, eq_vals, le_rows, le_vals)
    w = cp.Variable(n)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.rel_entr(w, w0))),
                      [cp.sum(w) == 1, eq_rows @ w == eq_vals, le_rows @ w <= le_vals, w >= 0])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    assert prob.status == "optimal"
    assert mine.weights == pytest.approx(w.value, abs=1e-6)
    assert mine.relative_entropy == pytest.approx(prob.value, abs=1e-7)


def test_views_on_an_asset_and_a_strategy_move_the_posterior_means(tmp_path):
    rng = np.random.default_rng(4)
    hr = {sc: rng.normal(0.05, 0.1, (50, 2)) for sc in ("A", "B")}
    assets = {sc: rng.normal(0.07, 0.15, (50, 1)) for sc in ("A", "B")}
    run = make_run(tmp_path / "run", hr, ["x", "y"], {"A": 0.5, "B": 0.5}, assets=assets)
    dec = decide(run, views=["E[x] >= 0.09", "E[X] = 8%", "P(A) <= 0.45"])
    met = {v["view"]: v["achieved"] for v in dec.views}
    assert met["E[x] >= 0.09"] >= 0.09 - 1e-7 and met["E[X] = 8%"] == pytest.approx(0.08, abs=1e-7)
    assert met["P(A) <= 0.45"] <= 0.45 + 1e-7 and dec.probs["A"] == pytest.approx(met["P(A) <= 0.45"])
    assert dec.effective_paths < dec.effective_paths_prior
    only_b = decide(run, views=["P(B)=1"])  # a pinned scenario: the other's paths get no weight
    assert only_b.probs == {"A": 0.0, "B": 1.0}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("kw", "needle"), [
    ({"probs": "A=0.5,Z=0.5"}, "no scenario 'Z'"),
    ({"probs": "A=0.5,B=0.6"}, "sum to 1.1"),
    ({"probs": "A=-0.2,B=1.2"}, "finite and in [0, 1]"),
    ({"probs": "A=0.5,A=0.5"}, "given twice"),
    ({"probs": "A=nan,B=0.5"}, "finite and in [0, 1]"),
    ({"cvar_lambda": float("inf")}, "--cvar-lambda"),
    ({"cvar_lambda": 101}, "[0, 100]"),
    ({"statistic": "calmar"}, "--statistic"),
    ({"views": ["P(B) > 0.5"]}, "expected P(SCENARIO)"),
    ({"views": ["E[nothing]=0.1"]}, "no strategy or asset named 'nothing'"),
    ({"views": ["E[risky]=2"]}, "cannot be met: risky ranges over"),
    ({"views": ["P(A)>=0.7", "P(B)>=0.7"]}, "cannot be met together"),
])
def test_bad_input_is_a_one_line_scenario_error(tmp_path, kw, needle):
    run = make_run(tmp_path / "run", planted_lambda(20), ["safe", "risky"], {"A": 0.5, "B": 0.5})
    with pytest.raises(ScenarioError) as err:
        decide(run, **kw)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_cli_errors_exit_2_with_one_line_and_nothing_written(tmp_path):
    run = make_run(tmp_path / "run", planted_lambda(20), ["safe", "risky"], {"A": 0.5, "B": 0.5})
    r = run_cli("decide", str(run), "--view", "E[risky]=5")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1 and "cannot be met" in r.stderr
    assert not (run / "decisions").exists() or not any((run / "decisions").iterdir())
    old = make_run(tmp_path / "old", planted_lambda(20), ["safe", "risky"], {"A": 0.5, "B": 0.5})
    (old / PATHS_FILE).unlink()
    r = run_cli("decide", str(old))
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "re-run `rmpbt scenarios`" in r.stderr
    with pytest.raises(ResultsError, match="not a run folder"):
        load_outcomes(tmp_path)


# --------------------------------------------------------------------------- the batch forms it relies on


def test_tail_means_and_per_value_weights_equal_the_one_distribution_forms():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5, 37))
    x[2, 4] = np.nan
    w = rng.uniform(0.0, 1.0, (5, 37))
    w[1, :10] = 0.0
    for i in range(5):
        assert tail_means(x, 0.05, w)[i] == pytest.approx(tail_mean(x[i], 0.05, w[i]), abs=1e-14)
        assert tail_means(x)[i] == pytest.approx(tail_mean(x[i]), abs=1e-14)
        keep = w[i] > 0
        one = weighted_quantiles(x[i][keep], (0.5, 0.9), w[i][keep])
        assert weighted_quantiles(x, (0.5, 0.9), w, axis=1)[:, i] == pytest.approx(one, abs=1e-14)


# --------------------------------------------------------------------------- end to end on the sample market


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("decide")
    strats = [{"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
              {"name": "inverse_vol", "kind": "inverse_vol"},
              {"name": "bills", "kind": "fixed_weights", "params": {"weights": {"BIL": 1.0}}}]
    cfg = {"name": "decide-test", "data": {"source": "sample"}, "cash": {"rate": "DTB3"}, "report": {"png": False},
           "strategies": strats}
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    raw = small(horizon_days=25)
    raw["scenarios"]["A"]["probability"], raw["scenarios"]["B"]["probability"] = 0.4, 0.35
    raw["scenarios"]["C"] = {**raw["scenarios"]["B"], "probability": 0.25}
    (d / "scen.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    r = run_cli("scenarios", str(d / "cfg.yaml"), "--scenarios", str(d / "scen.yaml"), "--paths", "12", "--seed", "2",
                "--out", str(d / "out"), "--no-report", "--pace-effect-paths", "0")
    assert r.exit_code == 0, r.stdout + r.stderr
    return Path(r.stdout.strip().splitlines()[-1]), r.stdout


def test_decide_reproduces_the_runs_own_regret_table_and_choice(sample_run):
    folder, stdout = sample_run
    paths = pd.read_parquet(folder / PATHS_FILE)
    assert {"scenario", "path", "strategy", "weight", "horizon_return", "max_drawdown", "ann_vol", "sharpe",
            f"{ASSET_PREFIX}SPY"} <= set(paths.columns)
    assert len(paths) == 3 * 12 * 3
    sm = pd.read_csv(folder / "scenario_metrics.csv")  # the file's medians are the scorecard's
    med = sm[(sm["statistic"] == "horizon_return") & (sm["scenario"] == "A")].set_index("strategy")["median"]
    mine = paths[paths["scenario"] == "A"].groupby("strategy")["horizon_return"].median()
    assert mine.reindex(med.index).to_numpy() == pytest.approx(med.to_numpy(), abs=1e-9)
    dec = decide(folder)
    assert dec.matches_run is True
    assert "SIMULATED paths 2025-12-12" in dec.run_line() and "SYNTHETIC sample market" in dec.run_line()
    reg = pd.read_csv(folder / "scenario_regret.csv").set_index("strategy")
    t = dec.table.set_index("strategy")
    for c in ("regret_A", "regret_B", "regret_C", "max_regret", "expected_regret"):
        assert t[c].to_numpy() == pytest.approx(reg.loc[t.index, c].to_numpy(), abs=1e-9)
    assert set(t.index[t["minimax"]]) == set(reg.index[reg["robust"]])
    assert dec.choice == t["expected_regret"].idxmin()
    assert "Flips of the choice" in stdout  # rmpbt scenarios prints them under its verdict


def test_cli_writes_the_decision_folder_and_prints_its_path_last(sample_run, tmp_path):
    folder, _ = sample_run
    r = run_cli("decide", str(folder), "--probs", "A=0.2,B=0.3,C=0.5", "--cvar-lambda", "0.5", "--view",
                "E[SPY]>=0.0", "--out", str(tmp_path / "d"), "--resamples", "50")
    assert r.exit_code == 0, r.stdout + r.stderr
    out = Path(r.stdout.strip().splitlines()[-1])
    assert out.parent == tmp_path / "d"
    rec = json.loads((out / "decision.json").read_text())
    assert {"choice", "runner_up", "probs", "cvar_lambda", "statistic", "views", "effective_paths", "flips"} <= set(rec)
    assert rec["cvar_lambda"] == 0.5 and rec["views"][0]["achieved"] >= -1e-7
    dmap = pd.read_csv(out / "decision_map.csv")
    assert list(dmap.columns[:7]) == ["cvar_lambda", "p_A", "p_B", "p_C", "choice", "runner_up", "margin"]
    flips = pd.read_csv(out / "decision_flips.csv")
    assert set(flips["parameter"]) == {"cvar_lambda", "p_A", "p_B", "p_C"}
    assert (out / "decision.html").stat().st_size > 0
    again = decide(folder, probs="A=0.2,B=0.3,C=0.5", cvar_lambda=0.5, views=["E[SPY]>=0.0"], resamples=50)
    assert again.choice == rec["choice"] and again.margin_se == pytest.approx(rec["margin_se"])  # seeded


def test_api_decide_and_save(sample_run, tmp_path):
    import rmpbt

    folder, _ = sample_run
    dec = rmpbt.decide(folder, {"A": 0.5, "B": 0.25, "C": 0.25}, cvar_lambda=0.0)
    assert dec.probs == pytest.approx({"A": 0.5, "B": 0.25, "C": 0.25}) and dec.cvar_lambda == 0.0
    saved = dec.save(tmp_path / "api")
    assert (saved / "decision.json").is_file() and saved.parent == tmp_path / "api"
