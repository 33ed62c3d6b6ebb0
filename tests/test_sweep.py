"""Grids, ``--where``, windows, deflated Sharpe, and ``run_tune`` end to end (in-process)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.config import config_from_dict
from backtest.data.base import MacroSeries, MarketData
from backtest.errors import SweepError
from backtest.executors import DaskExecutor, LocalExecutor, make_executor
from backtest.pipeline import run_backtest
from backtest.tune.folds import Fold, split_folds, walk_forward_folds
from backtest.tune.grid import expand, parse_grid
from backtest.tune.keys import format_key, get_path, parse_key, set_path
from backtest.tune.orchestrate import TuneRequest, run_tune
from backtest.tune.selection import (
    deflated_sharpe,
    expected_max_sharpe,
    parse_metric,
    probabilistic_sharpe,
    spearman,
)
from backtest.tune.where import WhereExpr
from backtest.tune.write import write_tune

TICKERS = ("SPY", "IEF", "GLD", "DBC", "TLT", "QQQ")


# ============================================================================ grids


def test_range_grid_includes_stop_on_grid():
    assert parse_grid("a.b=0.1:0.3:0.1").values == (0.1, 0.2, 0.3)
    assert parse_grid("a.b=0:1:0.3").values == (0.0, 0.3, 0.6, 0.9)  # 1.0 is not on the grid
    assert parse_grid("a=10:40:10").values == (10, 20, 30, 40)
    assert all(isinstance(v, int) for v in parse_grid("a=10:40:10").values)
    assert parse_grid("a=0.3:0.1:-0.1").values == (0.3, 0.2, 0.1)
    assert parse_grid("a=5:5:1").values == (5,)


def test_choice_grid_parses_yaml_scalars():
    ax = parse_grid("rebalance.every=monthly, quarterly")
    assert ax.values == ("monthly", "quarterly") and not ax.numeric
    ax = parse_grid("x=1,2.5,true,null")
    assert ax.values == (1, 2.5, True, None)
    assert parse_grid("strategies.s.params.tilts[0].add.GLD=0,0.05").key == "strategies.s.params.tilts[0].add.GLD"
    assert parse_grid("strategies.s.params.tilts.0.add.GLD=0,0.05").key == "strategies.s.params.tilts[0].add.GLD"


@pytest.mark.parametrize("spec,needle", [
    ("a=", "empty grid"),
    ("a=1:2:0", "step must not be zero"),
    ("a=2:1:1", "empty grid"),
    ("a=0:1:-0.1", "empty grid"),
    ("a=x:2:1", "not a number"),
    ("a=1:2", "START:STOP:STEP"),
    ("a=1,,2", "empty value"),
    ("a=1,1", "duplicate"),
    ("noequals", "expected KEY="),
    ("=1,2", "empty key"),
])
def test_bad_grids(spec, needle):
    with pytest.raises(SweepError, match=needle):
        parse_grid(spec)


def test_key_paths_and_set_with_fallback():
    tree = {"strategies": [{"name": "pb", "params": {"tilts": [{"add": {"GLD": 0.1}}]}}], "costs": {"fee_bps": 1}}
    p = parse_key("strategies.pb.params.tilts[0].add.GLD")
    assert p == ("strategies", "pb", "params", "tilts", 0, "add", "GLD")
    assert format_key(p) == "strategies.pb.params.tilts[0].add.GLD"
    assert get_path(tree, p) == 0.1
    set_path(tree, p, 0.2)
    assert tree["strategies"][0]["params"]["tilts"][0]["add"]["GLD"] == 0.2
    with pytest.raises(KeyError):
        get_path(tree, parse_key("strategies.nope.params.x"))
    # a missing subtree is copied from the fallback (e.g. defaults) before setting
    fb = {"rebalance": {"every": "monthly", "drift_band": None}}
    t2: dict = {}
    set_path(t2, parse_key("rebalance.drift_band"), 0.05, fallback=fb)
    assert t2 == {"rebalance": {"every": "monthly", "drift_band": 0.05}}


# ============================================================================ --where


KEYS = ["strategies.pb.params.add.GLD", "strategies.pb.params.add.DBC", "rebalance.every", "execution.lag_days"]


def env(gld=0.1, dbc=0.05, every="monthly", lag=1):
    return dict(zip(KEYS, [gld, dbc, every, lag], strict=True))


def test_where_arithmetic_precedence_and_logic():
    w = WhereExpr("GLD + DBC * 2 <= 0.2 and not (every == 'weekly' or lag_days > 2)", KEYS)
    assert w(env(0.1, 0.05))
    assert not w(env(0.1, 0.06))
    assert not w(env(every="weekly"))
    assert not w(env(lag=3))
    assert WhereExpr("-GLD < 0 and (GLD - DBC) / 0.05 == 1", KEYS)(env(0.1, 0.05))
    assert WhereExpr("0.05 <= add.GLD < 0.15", KEYS)(env(0.1))  # chained comparison, dotted suffix
    assert not WhereExpr("0.05 <= GLD < 0.1", KEYS)(env(0.1))
    assert WhereExpr("strategies.pb.params.add.GLD == 0.1 or false", KEYS)(env(0.1))
    assert WhereExpr("GLD + DBC == 0.3", KEYS)(env(0.1, 0.2))  # 0.1 + 0.2 == 0.3 within 1e-9
    assert WhereExpr("execution.lag_days != 1", KEYS).names == {"execution.lag_days"}


@pytest.mark.parametrize("text,needle", [
    ("GLD +", "unexpected end"),
    ("(GLD < 1", "missing ')'"),
    ("GLD < 1 )", "unexpected ')'"),
    ("gold < 1", "unknown name 'gold'"),
    ("__import__('os').system('x')", "unexpected character"),
    ("open('f')", "unknown name 'open'"),
    ("GLD ; DBC", "unexpected character"),
    ("GLD ** 2", "unexpected '*'"),
    ("", "empty expression"),
])
def test_where_rejects_bad_expressions(text, needle):
    with pytest.raises(SweepError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        WhereExpr(text, KEYS)


def test_where_ambiguous_name_and_runtime_errors():
    keys = ["strategies.a.params.x.GLD", "strategies.a.params.y.GLD"]
    with pytest.raises(SweepError, match="ambiguous"):
        WhereExpr("GLD < 1", keys)
    with pytest.raises(SweepError, match="division by zero"):
        WhereExpr("1 / x.GLD > 0", keys)({keys[0]: 0.0, keys[1]: 1.0})
    with pytest.raises(SweepError, match="--where"):
        WhereExpr("rebalance.every + 1 > 0", ["rebalance.every"])({"rebalance.every": "monthly"})


def test_expand_full_filtered_and_random():
    axes = [parse_grid("a=0:0.3:0.1"), parse_grid("b=0:0.3:0.1"), parse_grid("c=x,y")]
    full = expand(axes)
    assert len(full) == 32 and full[0] == {"a": 0.0, "b": 0.0, "c": "x"} and full[1]["c"] == "y"
    w = [WhereExpr("a + b <= 0.3", ["a", "b", "c"])]
    filt = expand(axes, w)
    assert len(filt) == 20 and all(v["a"] + v["b"] <= 0.3 + 1e-12 for v in filt)
    r1 = expand(axes, w, n_random=7, seed=3)
    r2 = expand(axes, w, n_random=7, seed=3)
    r3 = expand(axes, w, n_random=7, seed=4)
    assert r1 == r2 and r1 != r3 and len(r1) == 7
    assert [filt.index(v) for v in r1] == sorted(filt.index(v) for v in r1)  # grid order
    assert len(expand(axes, w, n_random=100, seed=0)) == 20
    with pytest.raises(SweepError, match="no variant satisfies --where"):
        expand(axes, [WhereExpr("a > 1", ["a", "b", "c"])])
    with pytest.raises(SweepError, match="given twice"):
        expand([parse_grid("a=1,2"), parse_grid("a=3")])
    big = [parse_grid(f"k{i}=0:9:1") for i in range(7)]  # 10^7 variants
    with pytest.raises(SweepError, match="use --random"):
        expand(big)
    assert len(expand(big, n_random=5, seed=1)) == 5


# ============================================================================ windows and metrics


def test_walk_forward_folds_roll_and_anchor():
    days = pd.bdate_range("2012-01-02", "2019-12-31")
    folds = walk_forward_folds(days, "train=36M,test=12M")
    assert len(folds) == 5
    assert days[folds[0].train[0]] == days[0]
    assert days[folds[0].test[0]] >= pd.Timestamp("2015-01-02")
    assert days[folds[1].train[0]] >= pd.Timestamp("2013-01-02")
    for f in folds:
        assert f.train[-1] + 1 == f.test[0]
    for a, b in zip(folds, folds[1:], strict=False):
        assert a.test[-1] + 1 == b.test[0]  # test windows tile the out-of-sample period
    anch = walk_forward_folds(days, "train=24M,test=6M,anchored")
    assert all(f.train[0] == 0 for f in anch)
    assert len(walk_forward_folds(days, "train=3Y,test=26W,step=1Y")) >= 4


@pytest.mark.parametrize("spec,needle", [
    ("train=7Y,test=2Y", "longer than the data"),
    ("train=36M", "needs both"),
    ("train=36X,test=12M", "expected a positive length"),
    ("train=0M,test=12M", "expected a positive length"),
    ("train=36M,test=12M,foo=1", "unknown part"),
])
def test_walk_forward_errors(spec, needle):
    days = pd.bdate_range("2012-01-02", "2019-12-31")
    with pytest.raises(SweepError, match=needle):
        walk_forward_folds(days, spec)


def test_split_folds():
    days = pd.bdate_range("2012-01-02", "2019-12-31")
    (f,) = split_folds(days, "2016-01-01")
    assert days[f.test[0]] == pd.Timestamp("2016-01-01") and len(f.train) + len(f.test) == len(days)
    with pytest.raises(SweepError, match="at least 20 trading days"):
        split_folds(days, "2030-01-01")
    with pytest.raises(SweepError, match="not a date"):
        split_folds(days, "soon")


def test_parse_metric():
    assert parse_metric("sharpe") == ("sharpe", None)
    assert parse_metric("calmar@rmp") == ("calmar", "rmp")
    with pytest.raises(SweepError, match="did you mean 'sharpe'"):
        parse_metric("sharp")
    with pytest.raises(SweepError, match="missing regime"):
        parse_metric("sharpe@")


# ============================================================================ multiple testing


def test_expected_max_sharpe_matches_monte_carlo():
    rng = np.random.default_rng(0)
    sd, n = 0.05, 200
    mc = rng.normal(0.0, sd, (4000, n)).max(axis=1).mean()
    assert expected_max_sharpe(sd**2, n) == pytest.approx(mc, rel=0.03)
    assert expected_max_sharpe(sd**2, 1) == 0.0
    assert expected_max_sharpe(sd**2, 1000) > expected_max_sharpe(sd**2, 100) > 0


def test_deflated_sharpe_properties():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0005, 0.01, 1500)
    trials = rng.normal(0.0, 0.02, 100)
    d = deflated_sharpe(x, trials)
    sr = x.mean() / x.std(ddof=1)
    assert d.sharpe == pytest.approx(sr)
    assert d.n_trials == 100 and d.n_obs == 1500
    assert d.sr0 == pytest.approx(expected_max_sharpe(np.var(trials, ddof=1), 100))
    assert d.dsr < d.psr
    # one trial: no deflation; normal returns: PSR = Φ(SR sqrt(T-1) / sqrt(1 + SR²/2))
    one = deflated_sharpe(x, trials[:1], n_trials=1)
    assert one.dsr == pytest.approx(one.psr)
    assert probabilistic_sharpe(0.05, 0.0, 1001, 0.0, 3.0) == pytest.approx(
        0.5 * math.erfc(-(0.05 * math.sqrt(1000) / math.sqrt(1 + 0.05**2 / 2)) / math.sqrt(2)))
    # more trials, same best: lower DSR
    assert deflated_sharpe(x, trials, n_trials=10_000).dsr < d.dsr


def test_spearman():
    a = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    assert spearman(a, a * 2) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.ones(5), a))


# ============================================================================ run_tune


def market(seed: int, n: int = 1800, drift: float = 0.0003, late: str | None = "SVXY",
           rate: bool = True) -> MarketData:
    """Seeded random-walk prices (optionally one late-starting ticker) and a DTB3 series."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2012-01-02", periods=n)
    tickers = [*TICKERS, *([late] if late else [])]
    r = rng.normal(drift, 0.01, (n, len(tickers)))
    px = pd.DataFrame(100 * np.cumprod(1 + r, axis=0), index=days, columns=tickers)
    if late:
        px.iloc[:300, -1] = np.nan
    px.index.name = "date"
    macro = {}
    if rate:
        macro["DTB3"] = MacroSeries.from_observations("DTB3", pd.Series(rng.uniform(0.1, 4.0, n).round(2), index=days))
    return MarketData(px, macro, "test market", synthetic=True)


def config(tuned_params: dict | None = None, **over) -> dict:
    raw = {
        "name": "t",
        # every asset a strategy holds is in the universe (issue 25: refused otherwise)
        "data": {"source": "csv", "dir": "unused", "universe": [*TICKERS, "SVXY"], "macro": []},
        "costs": {"fee_bps": 2, "slippage_bps": 3, "borrow_bps": 80},
        "cash": {"rate": "DTB3"},
        "execution": {"lag_days": 1, "max_gross_leverage": 1.5},
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
            {"name": "mix", "kind": "fixed_weights", "params": tuned_params or {
                "weights": {"SPY": 0.5, "IEF": 0.3, "GLD": 0.1, "SVXY": 0.1, "TLT": -0.2}, "allow_cash": True}},
        ],
    }
    raw.update(over)
    return raw


W = "strategies.mix.params.weights."


def test_tuned_variant_matches_run_backtest_exactly():
    """A variant equal to the configured strategy reproduces the vectorbt pipeline to 1e-10."""
    md = market(1)
    cfg = config_from_dict(config())
    res = run_tune(cfg, TuneRequest(grid=[W + "SPY=0.5", W + "GLD=0.1"], split="2016-01-04", strategy="mix"), md=md)
    oos = res.oos_returns
    diff = (oos["mix (tuned)"] - oos["mix (as configured)"]).abs().max()
    assert diff < 1e-10
    full = res.variant_returns([0])[0]
    ref = run_backtest(cfg, md=md).returns["mix"]
    assert (full - ref).abs().max() < 1e-10


def test_path_groups_each_match_run_backtest():
    """Keys that change the data path are batched per path; every path reproduces run_backtest."""
    md = market(2)
    raw = config()
    cfg = config_from_dict(raw)
    req = TuneRequest(grid=["rebalance.every=monthly,weekly", "execution.lag_days=0,2", W + "GLD=0,0.2",
                            "rebalance.drift_band=null,0.02"], split="2016-01-04", strategy="mix")
    res = run_tune(cfg, req, md=md, benchmarks=False)
    assert res.n_paths == 8 and len(res.table) == 16
    rets = res.variant_returns(list(range(16)))
    for i in (0, 5, 10, 15):
        row = res.table.loc[i]
        r2 = config()
        band = row["rebalance.drift_band"]
        r2["rebalance"] = {"every": row["rebalance.every"], "drift_band": None if pd.isna(band) else float(band)}
        r2["execution"]["lag_days"] = int(row["execution.lag_days"])
        r2["strategies"][1]["params"]["weights"]["GLD"] = row[W + "GLD"]
        ref = run_backtest(config_from_dict(r2), md=md).returns["mix"]
        assert (rets[i] - ref).abs().max() < 1e-10, i


def test_variants_weighted_as_a_batch_equal_run_backtest():
    """Variants are one more batch axis of the kind's batch form; each equals its own run."""
    md = market(3)
    cfg = config_from_dict(config())
    req = TuneRequest(grid=[W + "SPY=0.2:0.5:0.1", W + "GLD=0:0.2:0.05", W + "TLT=-0.2,0"],
                      where=["SPY + GLD + TLT <= 0.6"], walk_forward="train=24M,test=12M", strategy="mix",
                      chunk_size=7)
    res = run_tune(cfg, req, md=md, benchmarks=False)
    n = len(res.table)
    assert n > 20
    assert res.weight_modes == {"batch": n, "per-variant": 0}
    rets = res.variant_returns([0, n - 1])
    for i in (0, n - 1):
        r2 = config()
        for k in ("SPY", "GLD", "TLT"):
            r2["strategies"][1]["params"]["weights"][k] = res.table.loc[i, W + k]
        ref = run_backtest(config_from_dict(r2), md=md).returns["mix"]
        assert (rets[i] - ref).abs().max() < 1e-10, i


def test_a_kind_without_a_batch_form_is_tuned_per_variant():
    """A user's kind with only ``weights()`` is called per variant and gives the same scores."""
    from strategies.base import REGISTRY, register
    from strategies.benchmarks import WeightsParams

    @register("one_history_only_test", WeightsParams)
    class OneHistory:
        def __init__(self, name, params):
            self.name, self.params = name, params

        def assets(self):
            return list(self.params.weights)

        def weights(self, sf, dates):
            return pd.DataFrame([list(self.params.weights.values())] * len(dates), index=dates,
                                columns=self.assets())

    try:
        md = market(3)
        raw = config()
        req = TuneRequest(grid=[W + "SPY=0.2:0.4:0.1", W + "GLD=0,0.1"], split="2016-01-04", strategy="mix")
        batch = run_tune(config_from_dict(raw), req, md=md, benchmarks=False)
        raw["strategies"][1]["kind"] = "one_history_only_test"
        one = run_tune(config_from_dict(raw), req, md=md, benchmarks=False)
    finally:
        REGISTRY.pop("one_history_only_test", None)
    assert batch.weight_modes == {"batch": 6, "per-variant": 0}
    assert one.weight_modes == {"batch": 0, "per-variant": 6}
    num = batch.table.select_dtypes("number").columns
    np.testing.assert_array_equal(batch.table[num].to_numpy(), one.table[num].to_numpy())


def test_nonlinear_strategy_falls_back_to_per_variant():
    md = market(4, late=None)
    raw = config()
    raw["strategies"][1] = {"name": "iv", "kind": "inverse_vol", "params": {"assets": list(TICKERS), "window": 63}}
    cfg = config_from_dict(raw)
    res = run_tune(cfg, TuneRequest(grid=["strategies.iv.params.window=20:200:10"], split="2016-01-04",
                                    strategy="iv"), md=md, benchmarks=False)
    assert res.weight_modes == {"batch": 19, "per-variant": 0}
    r2 = config()
    r2["strategies"][1] = {"name": "iv", "kind": "inverse_vol", "params": {"assets": list(TICKERS), "window": 110}}
    ref = run_backtest(config_from_dict(r2), md=md).returns["iv"]
    assert (res.variant_returns([9])[9] - ref).abs().max() < 1e-10


def test_results_do_not_depend_on_chunking_or_runs(tmp_path):
    md = market(5)
    cfg = config_from_dict(config())
    req = TuneRequest(grid=[W + "SPY=0.2:0.5:0.05", W + "GLD=0:0.2:0.05", "rebalance.every=monthly,quarterly"],
                      random=40, seed=11, walk_forward="train=24M,test=12M", strategy="mix")
    a = run_tune(cfg, req, md=md, benchmarks=False)
    b = run_tune(cfg, req, md=md, benchmarks=False)
    req.chunk_size = 3
    c = run_tune(cfg, req, md=md, benchmarks=False)
    pa, pb = write_tune(a, tmp_path / "a", html=False), write_tune(b, tmp_path / "b", html=False)
    assert (pa / "tune.csv").read_bytes() == (pb / "tune.csv").read_bytes()
    pd.testing.assert_frame_equal(a.table, c.table)


@pytest.mark.slow
def test_dask_two_workers_give_the_same_tune_csv(tmp_path):
    """Same tune.csv from the in-process executor and a 2-worker Dask LocalCluster.

    The cluster uses worker *processes* (as ``--workers``); start-up is ~1 s here.
    """
    md = market(6)
    cfg = config_from_dict(config())
    req = TuneRequest(grid=[W + "SPY=0.2:0.5:0.05", W + "GLD=0:0.2:0.05", "execution.lag_days=1,2"],
                      random=30, seed=2, split="2016-01-04", strategy="mix", chunk_size=5)
    local = run_tune(cfg, req, md=md, executor=LocalExecutor(), benchmarks=False)
    with DaskExecutor(workers=2) as ex:
        dask = run_tune(cfg, req, md=md, executor=ex, benchmarks=False)
        assert ex.describe().startswith("dask LocalCluster (2 process")
    pa = write_tune(local, tmp_path / "a", html=False)
    pb = write_tune(dask, tmp_path / "b", html=False)
    assert (pa / "tune.csv").read_bytes() == (pb / "tune.csv").read_bytes()


def test_make_executor_validation():
    assert isinstance(make_executor(), LocalExecutor)
    assert isinstance(make_executor(workers=1), LocalExecutor)
    with pytest.raises(SweepError, match="exclusive"):
        make_executor(workers=2, scheduler="127.0.0.1:1")
    with pytest.raises(SweepError, match="at least 1"):
        make_executor(workers=0)


def test_noise_best_variant_is_flagged():
    """Pure noise: the in-sample best looks good, its out-of-sample Sharpe is ~0 and the DSR is low.

    Zero-drift random walks, no costs, cash earns nothing; 300 random tilt vectors in
    [-0.3, 0.3]^4, ranked on 2012-2016, reported on 2017-2021, in 20 seeded markets.
    """
    raw = config({"weights": {"SPY": 0.2, "IEF": 0.2, "GLD": 0.2, "DBC": 0.2}, "allow_cash": True},
                 cash={"rate": "none", "borrow_spread_bps": 0, "short_rebate_haircut_bps": 0}, costs={"fee_bps": 0, "slippage_bps": 0, "borrow_bps": 0})
    cfg = config_from_dict(raw)
    req = TuneRequest(grid=[W + a + "=-0.3:0.3:0.1" for a in ("SPY", "IEF", "GLD", "DBC")], random=300, seed=1,
                      split="2017-01-02", strategy="mix")
    is_sr, oos_sr = [], []
    for seed in range(20):
        res = run_tune(cfg, req, md=market(100 + seed, n=2520, drift=0.0, late=None, rate=False), benchmarks=False)
        best = res.table.loc[res.best]
        is_sr.append(best["is_sharpe"])
        oos_sr.append(best["oos_sharpe"])
        assert res.dsr.dsr < 0.5, res.dsr  # not significant once deflated ...
        assert res.dsr.psr > 0.8, res.dsr  # ... although the undeflated PSR says it is
        assert res.oos_metrics.loc["mix (tuned)", "sharpe"] == pytest.approx(best["oos_sharpe"], abs=1e-9)
    # over 20 markets: selected in-sample Sharpe ~0.8, out-of-sample ~0 (standard error ~0.1)
    assert np.mean(is_sr) > 0.5
    assert abs(np.mean(oos_sr)) < 0.3 < np.mean(is_sr) - np.mean(oos_sr)


def test_regime_metric_and_unknown_regime():
    md = market(7)
    cfg = config_from_dict(config())
    res = run_tune(cfg, TuneRequest(grid=[W + "GLD=0:0.2:0.1"], metric="sharpe@qe", split="2016-01-04",
                                    strategy="mix"), md=md, benchmarks=False)
    assert "is_sharpe@qe" in res.table.columns and np.isfinite(res.table["is_sharpe@qe"]).all()
    assert not np.allclose(res.table["is_sharpe@qe"], res.table["is_sharpe"])
    with pytest.raises(SweepError, match="no regime 'boom'"):
        run_tune(cfg, TuneRequest(grid=[W + "GLD=0,0.1"], metric="sharpe@boom", split="2016-01-04",
                                  strategy="mix"), md=md, benchmarks=False)


@pytest.mark.parametrize("grid,needle", [
    (["strategies.mix.params.weigths.SPY=0,0.1"], "unknown key 'weigths'"),
    (["rebalance.evry=monthly"], "did you mean 'every'"),
    (["data.start=2012-01-01,2013-01-01"], "cannot be tuned"),
    (["strategies.sixty_forty.params.weights.SPY=0.5,0.6"], "not the tuned strategy"),
    (["strategies.nope.params.x=1,2"], "no strategy named 'nope'"),
    (["strategies.mix.kind=a,b"], "only strategies.<name>.params"),
    (["rebalance.every=monthly,yearly"], "variant 1"),
    ([W + "SPY=0.5:0.9:0.2"], "exclude such variants with --where"),
])
def test_bad_keys_and_values(grid, needle):
    cfg = config_from_dict(config())
    with pytest.raises(SweepError, match=needle.replace(".", r"\.").replace("(", r"\(")):
        run_tune(cfg, TuneRequest(grid=grid, split="2016-01-04", strategy="mix"), md=market(8), benchmarks=False)


def test_walk_forward_longer_than_data_and_strategy_choice():
    cfg = config_from_dict(config())
    with pytest.raises(SweepError, match="longer than the data"):
        run_tune(cfg, TuneRequest(grid=[W + "GLD=0,0.1"], walk_forward="train=10Y,test=1Y", strategy="mix"),
                 md=market(9), benchmarks=False)
    with pytest.raises(SweepError, match="did you mean 'mix'"):
        run_tune(cfg, TuneRequest(grid=[W + "GLD=0,0.1"], strategy="mixx"), md=market(9), benchmarks=False)
    only_bench = config_from_dict(config(strategies=[config()["strategies"][0]]))
    with pytest.raises(SweepError, match="every strategy of the config is a benchmark"):
        run_tune(only_bench, TuneRequest(grid=["costs.fee_bps=1,2"]), md=market(9), benchmarks=False)


def test_fold_dataclass_is_plain():
    f = Fold(np.arange(3), np.arange(3, 5))
    assert f.train.tolist() == [0, 1, 2] and f.test.tolist() == [3, 4]


def test_dask_executor_on_an_existing_scheduler():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        with make_executor(scheduler=cluster.scheduler_address) as ex:
            assert ex.workers == 1 and ex.describe().startswith("dask scheduler")
            assert ex.map(abs, [-3, 4, -5]) == [3, 4, 5]


def test_the_first_invalid_variant_is_reported():
    cfg = config_from_dict(config())
    req = TuneRequest(grid=[W + "SPY=0.2:0.51:0.01", W + "GLD=0,0.3"], split="2016-01-04", strategy="mix",
                      chunk_size=40)
    with pytest.raises(SweepError, match=r"variant 63 \(.*SPY=0\.51.*GLD=0\.3\).*sum to 1\.01.*--where"):
        run_tune(cfg, req, md=market(10), benchmarks=False)
