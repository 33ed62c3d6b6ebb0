"""Scenario scoring: risk-adjusted regret, paired P(beat 60/40), duration estimate, progress lines."""

from __future__ import annotations

import functools
import io

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console

from backtest.commands import scenarios_cmd
from backtest.commands.progress import RichProgress, time_left
from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, config_from_dict
from backtest.data.sample import SampleSource
from backtest.synthetic import runner
from backtest.synthetic.duration import Estimate, WorkMeter, fit
from backtest.synthetic.evaluate.distributions import (
    cvar_penalised,
    mix_beat,
    paired_beat,
    weighted_quantiles,
)
from backtest.synthetic.evaluate.scoring import (
    INTERNAL_6040,
    benchmark_6040,
    mixture_quantiles,
    regret_table,
    summarise,
)
from backtest.synthetic.scenarios import scenarios_from_dict
from tests.helpers import run_cli
from tests.test_scenarios_defs import small

SIXTY = {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}}


# ------------------------------------------------------------------------ P(beat 60/40)


def test_prob_beat_is_the_paired_count_with_its_binomial_error():
    x = np.array([0.10, -0.02, 0.05, 0.00, np.nan, 0.30, -0.10, 0.01])
    ref = np.array([0.05, 0.01, 0.05, -0.01, 0.20, 0.10, np.nan, 0.00])
    # by hand: valid pairs 0,1,2,3,5,7 (6); x > ref strictly on 0, 3, 5, 7 (2 is a tie)
    p, se, n = paired_beat(x, ref)
    assert n == 6 and p == pytest.approx(4 / 6)
    assert se == pytest.approx(np.sqrt((4 / 6) * (2 / 6) / 6))
    # the same count in plain numpy, on a random pairing (paired: not P(x) > P(ref) marginally)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=501), rng.normal(size=501)
    count = sum(1 for i in range(501) if a[i] > b[i])
    assert paired_beat(a, b)[0] == pytest.approx(count / 501)
    # a path-wise shift of the reference: marginals overlap, but x beats on every path
    assert paired_beat(b + 0.01, b)[0] == 1.0 and paired_beat(b, b)[0] == 0.0
    assert np.isnan(paired_beat(np.array([np.nan]), np.array([1.0]))[0])


def test_mix_beat_weights_scenarios_and_stratifies_the_error():
    p, se = mix_beat([(0.5, 100), (0.2, 400)], [0.6, 0.2])  # probabilities renormalised: 0.75 / 0.25
    assert p == pytest.approx(0.75 * 0.5 + 0.25 * 0.2)
    assert se == pytest.approx(np.sqrt(0.75**2 * 0.25 / 100 + 0.25**2 * 0.16 / 400))
    assert np.isnan(mix_beat([(0.5, 0)], [1.0])[0])


def test_benchmark_6040_is_the_configs_60_40_or_an_internal_one():
    spy = {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}}
    other = {"name": "s6040", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4, "GLD": 0.0}}}
    tickers = ["SPY", "IEF", "GLD"]
    assert benchmark_6040([spy, SIXTY], "sixty_forty", tickers) == ("sixty_forty", None)
    assert benchmark_6040([spy, other, SIXTY], "spy", tickers) == ("s6040", None)  # benchmark spy is no 60/40
    name, extra = benchmark_6040([spy], None, tickers)
    assert name == INTERNAL_6040 and extra["params"]["weights"] == {"SPY": 0.6, "IEF": 0.4}
    assert benchmark_6040([spy], None, ["SPY", "GLD"]) == (None, None)  # no IEF on the paths
    drifting = {"name": "bh", "kind": "buy_and_hold", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}}
    assert benchmark_6040([drifting], "bh", tickers)[0] == INTERNAL_6040  # not rebalanced: not the 60/40


# ------------------------------------------------------------------------ risk-adjusted regret


def _stats(hr: list[float]) -> dict[str, np.ndarray]:
    z = np.zeros(len(hr))
    return {"horizon_return": np.asarray(hr, dtype=float), "max_drawdown": z, "sharpe": z, "ann_vol": z}


def test_regret_on_cvar_penalised_by_hand_changes_the_robust_choice():
    # 20 equally weighted paths: the median is the mean of the 10th and 11th values; CVaR-5 = the worst path
    paths = {("x", "A"): [-0.30] + [0.10] * 19, ("y", "A"): [0.02] * 20,
             ("x", "B"): [0.05] * 20, ("y", "B"): [-0.10] + [0.0] * 19}
    hand = {("x", "A"): 0.10 - 0.30, ("y", "A"): 0.02, ("x", "B"): 0.05, ("y", "B"): 0.0 - 0.10}
    rows = {k: summarise(_stats(v)) for k, v in paths.items()}
    for k, v in hand.items():
        assert rows[k]["cvar_penalised"]["median"] == pytest.approx(v)
        assert np.isnan(rows[k]["cvar_penalised"]["p5"])
    assert summarise(_stats(paths[("x", "A")]), cvar_lambda=2.0)["cvar_penalised"]["mean"] == pytest.approx(-0.5)
    assert cvar_penalised(0.05, 0.01, 3.0) == 0.05  # a tail that gains costs nothing

    def table(stat: str, summary: str) -> pd.DataFrame:
        piv = pd.DataFrame({sc: {s: rows[(s, sc)][stat][summary] for s in "xy"} for sc in "AB"})
        return regret_table(piv, {"A": 0.5, "B": 0.5}, stat).set_index("strategy")

    risk = table("cvar_penalised", "mean")
    # A: best y 0.02 -> x regret 0.22; B: best x 0.05 -> y regret 0.15; minimax: y
    assert risk.loc["x", "max_regret"] == pytest.approx(0.22) and risk.loc["y", "max_regret"] == pytest.approx(0.15)
    assert risk["robust"].tolist() == [False, True]
    raw = table("horizon_return", "mean")  # mean returns: x 0.08 / 0.05 beats y 0.02 / -0.005 in both
    assert raw["robust"].tolist() == [True, False] and raw.loc["x", "max_regret"] == pytest.approx(0.0)


# ------------------------------------------------------------------------ a run: internal 60/40, pilots


@pytest.fixture(scope="module")
def md():
    return SampleSource(seed=5).load(list(DEFAULT_UNIVERSE), list(DEFAULT_MACRO), None, None)


def _cfg(strategies: list[dict]):
    return config_from_dict({"name": "t", "data": {"source": "sample"}, "cash": {"rate": "DTB3"},
                             "strategies": strategies})


def test_run_without_a_60_40_pairs_against_an_internal_one_and_pilots_change_nothing(md):
    strategies = [{"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}},
                  {"name": "inverse_vol", "kind": "inverse_vol"}]
    sset = scenarios_from_dict(small(horizon_days=25))
    seen: list[Estimate] = []
    done: list[tuple[float, float]] = []
    a = runner.run_scenarios(_cfg(strategies), sset, paths=9, seed=2, md=md, chunk_size=3,
                             on_estimate=seen.append, progress=lambda d, t: done.append((d, t)))
    b = runner.run_scenarios(_cfg(strategies), sset, paths=9, seed=2, md=md, chunk_size=4)
    pd.testing.assert_frame_equal(a.scenario_metrics, b.scenario_metrics)  # pilots are kept chunks
    pd.testing.assert_frame_equal(a.regret, b.regret)
    sm = a.scenario_metrics
    assert INTERNAL_6040 not in set(sm["strategy"]) and INTERNAL_6040 not in set(a.regret["strategy"])
    assert INTERNAL_6040 not in set(a.metrics.index) and INTERNAL_6040 not in set(a.weights["strategy"])
    pb = sm[sm["statistic"] == "prob_beat_6040"]
    assert len(pb) == 2 * 3 and pb["mean"].between(0, 1).all()
    assert {"prob_beat_6040_A", "prob_beat_6040_B", "prob_beat_6040_mix", "prob_beat_6040_se_mix"} <= set(a.regret)
    # the estimate: pilots of 1 + 4 paths per scenario, the remaining 4 paths, every strategy named
    (est,) = seen
    assert est.pilot_paths == 5 and est.total > 0
    assert set(est.by_name) == {"spy", "inverse_vol", INTERNAL_6040, "path generation"}
    assert "estimated ~" in est.message() and "dominated by" in est.message()
    # progress: within chunks (more reports than chunks), increasing, ends at the total
    assert len(done) > 4 and all(d2 >= d1 for (d1, _), (d2, _) in zip(done, done[1:], strict=False))
    assert done[-1][0] == pytest.approx(done[-1][1])


def test_fit_and_work_meter_by_hand():
    coef = fit({"s": 2.0, "g": 1.0}, 1, {"s": 5.0, "g": 0.5}, 4)
    assert coef["s"] == pytest.approx((1.0, 1.0))  # 2 = a + b, 5 = a + 4 b
    assert coef["g"] == pytest.approx((0.5, 0.0))  # a falling time: no negative slope
    est = Estimate({"A": coef}, 5, 1.0, workers=2)
    est.add_chunks([("A", 10), ("A", 10)])
    assert est.total == pytest.approx(2 * (11.0 + 0.5)) and est.seconds() == pytest.approx(11.5)
    assert est.dominant()[0] == ("s", pytest.approx(22 / 23))
    got = []
    meter = WorkMeter([3.0, 1.0], lambda i, k, n: {"g": 1.0, "s": 2.0}[k], lambda d, t: got.append((d, t)))
    meter.step("g", 10)
    meter.step("s", 10)
    meter.chunk_done(0)
    meter.step("s", 10)  # capped at the chunk's cost
    meter.chunk_done(1)
    assert got == [(1.0, 4.0), (3.0, 4.0), (3.0, 4.0), (4.0, 4.0), (4.0, 4.0)]


# ------------------------------------------------------------------------ progress lines


def test_plain_progress_lines_on_a_fake_clock():
    t = [0.0]
    buf = io.StringIO()
    bar = RichProgress(Console(file=buf, force_terminal=False, width=200), "scenarios", "of the estimated work",
                       percent=True, clock=lambda: t[0], heartbeat=False)
    assert bar.plain
    bar.start(10.0)
    t[0] = 1.0
    bar.update(1.0)
    assert buf.getvalue() == ""  # under 2 s: nothing yet
    t[0] = 4.0
    bar.update(2.0)
    t[0] = 5.0
    bar.poll()  # 1 s after the last line: nothing
    t[0] = 6.0
    bar.poll()  # no progress, still a line every 2 s; time left falls with the clock
    t[0] = 7.0
    bar.update(10.0)
    bar.stop()
    lines = buf.getvalue().splitlines()
    assert lines == ["scenarios 20% of the estimated work  elapsed 0:00:04  left 0:00:16",  # 4 s * 8 / 2
                     "scenarios 20% of the estimated work  elapsed 0:00:06  left 0:00:14",  # counted down
                     "scenarios 100% of the estimated work  elapsed 0:00:07  left 0:00:00"]


def test_time_left_shrinks_toward_the_estimate():
    assert time_left(0.0, 0.0, 10.0, prior_rate=1.0) == pytest.approx(10.0)  # the estimate before any work
    assert time_left(4.0, 2.0, 10.0, prior_rate=1.0) == pytest.approx(8 * 4.5 / 2.5)
    assert time_left(4.0, 2.0, 10.0) == pytest.approx(16.0)


def test_scenarios_command_prints_the_estimate_and_plain_progress_when_piped(tmp_path, monkeypatch):
    cfg = {"name": "p", "data": {"source": "sample"}, "cash": {"rate": "DTB3"}, "report": {"png": False},
           "strategies": [SIXTY, {"name": "inverse_vol", "kind": "inverse_vol"}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(small(horizon_days=20)))
    # interval 0 and no heartbeat thread: every progress report is a line (no sleeps)
    monkeypatch.setattr(scenarios_cmd, "RichProgress", functools.partial(RichProgress, interval=0.0, heartbeat=False))
    r = run_cli("scenarios", str(tmp_path / "c.yaml"), "--scenarios", str(tmp_path / "s.yaml"), "--paths", "12",
                "--out", str(tmp_path / "out"), "--no-report")
    assert r.exit_code == 0, r.stdout + r.stderr
    err = [x for x in r.stderr.splitlines() if not x.startswith("warning:")]
    assert err[0].startswith("estimated ~") and "dominated by" in err[0]
    prog = [x for x in err if x.startswith("scenarios ")]
    assert len(prog) >= 4 and prog[-1].startswith("scenarios 100% of the estimated work")
    assert "\x1b" not in r.stderr
    assert "P(beat 60/40) mix" in r.stdout and "Robust choice (minimax regret of cvar_penalised" in r.stdout


# ------------------------------------------------------------------------ fan quantiles


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101])
def test_single_group_fan_quantiles_equal_the_merge_and_the_sorted_definition(n):
    rng = np.random.default_rng(n)
    g = np.round(rng.standard_normal((n, 6)), 1)  # ties
    g[:, 2] = 1.0
    q = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
    fast = mixture_quantiles([g], [0.4 / n], q)  # one group: partial sorting
    assert np.allclose(fast, weighted_quantiles(g, q), rtol=0, atol=1e-12)
    if n > 1:  # the same paths as two groups of equal weight: the merge route
        merged = mixture_quantiles([g[: n // 2], g[n // 2:]], [1.0, 1.0], q)
        assert np.allclose(fast, merged, rtol=0, atol=1e-12)
    # by hand for n = 2: positions 0.25 and 0.75, the median halfway
    if n == 2:
        lo, hi = np.sort(g, axis=0)
        assert np.allclose(fast[3], (lo + hi) / 2) and np.allclose(fast[1], lo) and np.allclose(fast[-2], hi)
