"""Fault injection, part 3 (issue 25): inputs that used to pass silently and change the numbers.

Each case of the issue's list is a regression test here: the real entry point in-process
(``backtest.cli.main``, see ``tests/faults_harness.py``), asserting exit code 2, one stderr
line naming the culprit and an empty results root; or, for the over-refusals and the
endings, the new accepted behaviour. Only the terminal endings (closed pipe, full disk, a
narrow encoding) run a subprocess.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from backtest.errors import ConfigError, Interrupted, ResourceError, ScenarioError
from tests.faults_harness import (
    REPO,
    assert_fault,
    base_raw,
    dset,
    leftovers,
    make_world,
    run_main,
    write_one_run,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    return make_world(tmp_path_factory.mktemp("strict"))


def _cfg(tmp: Path, raw: dict[str, Any]) -> Path:
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    return cfg


def _run(tmp: Path, raw: dict[str, Any], *extra: str):
    root = tmp / "res"
    return run_main("run", str(_cfg(tmp, raw)), *extra, "--out", str(root), "--no-report"), root


# ---------------------------------------------------------------- booleans, strings, nulls are not numbers

TYPE_CASES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("strategies.spy.params.weights.SPY", True, ("strategies.spy.params.weights.SPY", "a number", "boolean true")),
    ("costs.fee_bps", True, ("costs.fee_bps", "a number", "boolean true")),
    ("costs.fee_bps", "5", ("costs.fee_bps", "a number", "the text '5'")),
    ("costs.slippage_bps", None, ("costs.slippage_bps", "a number", "null")),
    ("execution.lag_days", True, ("execution.lag_days", "an integer", "boolean true")),
    ("execution.lag_days", 1.0, ("execution.lag_days", "an integer")),
    ("seed", False, ("seed", "an integer")),
    ("rebalance.drift_band", "0.1", ("rebalance.drift_band", "a number")),
    ("data.universe", ["SPY", False], ("data.universe.1", "text", "boolean false")),
    ("report.html", 1, ("report.html", "true or false")),
    ("regimes.params", {"confirm_days": True}, ("confirm_days",)),
]


@pytest.mark.parametrize(("key", "value", "needles"), TYPE_CASES, ids=[f"{k}={v!r}" for k, v, _ in TYPE_CASES])
def test_scalar_types_are_strict_in_yaml(world, tmp_path, key, value, needles):
    raw = dset(base_raw(world["data"]), key, value)
    if key.startswith("regimes"):  # regime params are checked when the model is built: key only
        raw["regimes"]["model"] = "rules"
    r, root = _run(tmp_path, raw)
    assert_fault(r, root, 2, (*(() if key.startswith("regimes") else ("c.yaml",)), *needles))


SET_TYPE_CASES = [
    ("execution.lag_days=true", ("execution.lag_days", "an integer")),
    ("costs.fee_bps=true", ("costs.fee_bps", "a number")),
    ("strategies.spy.params.weights.SPY=yes", ("weights.SPY", "a number", "the text 'yes'")),
    ("costs.fee_bps=010", ("costs.fee_bps", "a number", "the text '010'")),  # never read as octal 8
]


@pytest.mark.parametrize(("item", "needles"), SET_TYPE_CASES, ids=[c[0] for c in SET_TYPE_CASES])
def test_scalar_types_are_strict_in_set(world, tmp_path, item, needles):
    r, root = _run(tmp_path, base_raw(world["data"]), "--set", item)
    assert_fault(r, root, 2, needles)


# ---------------------------------------------------------------- YAML 1.1 forms, merge keys

@pytest.mark.parametrize(("text", "needles"), [
    ("010", ("ambiguous number '010'", "octal", "line")),
    ("1:30", ("ambiguous number '1:30'", "base-60")),
    ("0b11", ("ambiguous number '0b11'",)),
])
def test_yaml11_numbers_refused(world, tmp_path, text, needles):
    body = yaml.safe_dump(base_raw(world["data"]), sort_keys=False) + f"costs: {{fee_bps: {text}}}\n"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(body)
    root = tmp_path / "res"
    assert_fault(run_main("run", str(cfg), "--out", str(root), "--no-report"), root, 2, ("c.yaml", *needles))


def test_yaml_merge_key_override_is_not_a_duplicate(world, tmp_path):
    from backtest.config import load_config
    from backtest.safe_io import load_yaml_text

    raw = base_raw(world["data"])
    text = yaml.safe_dump({k: v for k, v in raw.items() if k != "strategies"}, sort_keys=False) + (
        "strategies:\n"
        "  - &base {name: spy, kind: buy_and_hold, params: {weights: {SPY: 1.0}}}\n"
        "  - <<: *base\n"
        "    name: ief\n"
        "    params: {weights: {IEF: 1.0}}\n")
    path = tmp_path / "merge.yaml"
    path.write_text(text)
    cfg = load_config(path)  # `<<: *base` then an override: standard YAML, not a duplicate key
    assert [(s.name, s.kind, s.params) for s in cfg.strategies] == [
        ("spy", "buy_and_hold", {"weights": {"SPY": 1.0}}), ("ief", "buy_and_hold", {"weights": {"IEF": 1.0}})]
    with pytest.raises(ConfigError, match="duplicate key 'name'"):  # an own key twice still is an error
        load_yaml_text("a: {name: x, name: y}\n", "f")


def test_yaml_no_is_a_ticker_not_false():
    from backtest.safe_io import load_yaml_text

    assert load_yaml_text("universe: [NO, ON, yes]\nflag: true\n", "f") == {
        "universe": ["NO", "ON", "yes"], "flag": True}


# ---------------------------------------------------------------- series roles and units

@pytest.mark.parametrize(("rate", "units", "needles"), [
    ("VIX", {}, ("cash.rate", "VIX is a volatility index", "not a rate")),
    ("WALCL", {}, ("cash.rate", "WALCL is an amount (usd millions)", "not a rate")),
    ("MYRATE", {}, ("cash.rate", "'MYRATE' has no known unit", "data.units")),
    ("MYRATE", {"MYRATE": "index points"}, ("cash.rate", "MYRATE is a volatility index")),
])
def test_cash_rate_role_needs_a_rate(world, tmp_path, rate, units, needles):
    raw = base_raw(world["data"])
    raw["cash"] = {"rate": rate}
    raw["data"]["units"] = units
    r, root = _run(tmp_path, raw)
    assert_fault(r, root, 2, ("c.yaml", *needles))


def test_declared_unit_fills_the_role(world):
    from backtest.config import config_from_dict

    raw = base_raw(world["data"])
    raw["cash"] = {"rate": "MYRATE"}
    raw["data"]["units"] = {"MYRATE": "percent"}
    assert config_from_dict(raw).cash.rate == "MYRATE"


def test_stale_cash_rate_is_refused_or_warned(world, tmp_path):
    data = _copy_data(world, tmp_path)
    dtb3 = pd.read_csv(data / "fred" / "DTB3.csv")
    dtb3.iloc[:100].to_csv(data / "fred" / "DTB3.csv", index=False)  # ends ~8 months before the prices
    raw = base_raw(data)
    raw["cash"] = {"rate": "DTB3"}
    r, root = _run(tmp_path, raw)
    last = dtb3["date"].iloc[99]
    assert_fault(r, root, 2, ("cash.rate series DTB3", f"ends on {last}", "data.stale: warn"))
    raw["data"]["stale"] = "warn"
    r, root = _run(tmp_path, raw)
    assert r.code == 0, r.stderr
    assert f"warning: cash.rate series DTB3 ends on {last}" in r.stdout


# ---------------------------------------------------------------- price sanity

def _copy_data(world, tmp: Path) -> Path:
    dst = tmp / "data"
    shutil.copytree(world["data"], dst)
    return dst


def _edit_prices(data: Path, ticker: str, fn) -> None:
    p = data / "prices" / f"{ticker}.csv"
    df = pd.read_csv(p)
    fn(df).to_csv(p, index=False)


def _spike(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[100, "adj_close"] *= 1000
    return df


def _split(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[150:, "adj_close"] /= 2
    return df


def _reverse_split(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[150:, "adj_close"] *= 10
    return df


def _set(row: int, value: float):
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row, "adj_close"] = value
        return df
    return fn


def _add_row(day: str):
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        extra = pd.DataFrame({"date": [day], "adj_close": [float(df["adj_close"].iloc[0])]})
        return pd.concat([df, extra]).sort_values("date").reset_index(drop=True)
    return fn


def _date_at(data: Path, row: int) -> str:
    return str(pd.read_csv(data / "prices" / "SPY.csv")["date"].iloc[row])


PRICE_CASES = [
    ("spike x1000", _spike, 100, ("SPY.csv", "one-day spike x1", "reverted on", "kind: spike")),
    ("unadjusted 2:1 split", _split, 150, ("SPY.csv", "level shift /2", "2:1 split", "kind: split")),
    ("reverse split 1:10", _reverse_split, 150, ("SPY.csv", "reverse split", "kind: split")),
    ("price 1e308", _set(80, 1e308), 80, ("SPY.csv", "price 1e+308", "outside", "kind: price")),
    ("price 1e-300", _set(80, 1e-300), 80, ("SPY.csv", "price 1e-300", "outside")),
    ("saturday row", _add_row("2020-02-08"), None, ("SPY.csv", "2020-02-08", "a weekend", "kind: closed_day")),
    ("christmas row", _add_row("2020-12-25"), None, ("SPY.csv", "2020-12-25", "NYSE holiday")),
    ("row in 2099", _add_row("2099-01-05"), None, ("SPY.csv", "2099-01-05", "after today")),
]


@pytest.mark.parametrize(("label", "corrupt", "row", "needles"), PRICE_CASES, ids=[c[0] for c in PRICE_CASES])
def test_bad_prices_refused(world, tmp_path, label, corrupt, row, needles):
    data = _copy_data(world, tmp_path)
    _edit_prices(data, "SPY", corrupt)
    extra = () if row is None else (_date_at(data, row),)
    r, root = _run(tmp_path, base_raw(data))
    assert_fault(r, root, 2, (*needles, *extra))


def test_allow_list_accepts_a_known_event(world, tmp_path):
    data = _copy_data(world, tmp_path)
    _edit_prices(data, "SPY", _split)
    day = _date_at(data, 150)
    raw = base_raw(data)
    raw["data"]["allow"] = [{"series": "SPY", "date": day, "kind": "split"}]
    r, root = _run(tmp_path, raw)
    assert r.code == 0, r.stderr
    assert "accepted (data.allow)" in r.stdout


@pytest.mark.realdata
def test_real_data_and_sample_pass_sanity_without_allow(shared_data):
    from backtest.data.sample import SampleSource
    from backtest.data.sanity import check_price_sanity

    frames, origin = {}, {}
    for f in sorted((shared_data / "prices").glob("*.csv")):
        df = pd.read_csv(f)
        frames[f.stem] = pd.Series(df["adj_close"].to_numpy(dtype=float), index=pd.to_datetime(df["date"]))
        origin[f.stem] = str(f)
    assert {"SVXY", "VIXY"} <= set(frames)  # SVXY's 2018 fall (/5.9) and VIXY's adjusted reverse splits
    assert check_price_sanity(frames, origin) == []
    md = SampleSource(7).load(["SPY", "SVXY", "VIXY"], [], None, None)
    assert not [n for n in md.notes if "data.allow" in n]


def test_no_prices_message_names_the_bounds(world):
    from backtest.data.csv_source import CsvSource
    from backtest.errors import DataError

    with pytest.raises(DataError, match=r"no prices from 2030-01-01 \(data.start"):
        CsvSource(world["data"]).load(["SPY"], [], pd.Timestamp("2030-01-01"), None)


# ---------------------------------------------------------------- consistency

def test_strategy_outside_the_universe(world, tmp_path):
    r, root = _run(tmp_path, base_raw(world["data"]), "--set", "data.universe=[SPY]")
    assert_fault(r, root, 2, ("unknown ticker IEF", "strategies.sixty_forty holds it", "not in data.universe"))


def test_estimation_window_longer_than_history(world, tmp_path):
    raw = base_raw(world["data"])
    raw["strategies"].append({"name": "opt", "kind": "optimized",
                              "params": {"assets": ["SPY", "IEF"], "optimizer": {"estimator": {"window": 2000}}}})
    r, root = _run(tmp_path, raw)
    assert_fault(r, root, 2, ("strategies.opt.params.optimizer.estimator.window", "2,000 trading days",
                              "longer than the 260 days"))


@pytest.mark.parametrize(("key", "value", "needles"), [
    ("strategies.opt.params.optimizer.estimator.window", 1_000_000, ("estimator.window",)),
    ("regimes.params.confirm_days", 1_000_000_000, ("regimes.params.confirm_days",)),
])
def test_parameters_have_ceilings(world, tmp_path, key, value, needles):
    raw = base_raw(world["data"])
    raw["strategies"].append({"name": "opt", "kind": "optimized", "params": {"assets": ["SPY", "IEF"]}})
    raw["regimes"] = {"model": "rules"}
    r, root = _run(tmp_path, dset(raw, key, value))
    assert_fault(r, root, 2, needles)


def test_playbook_override_outside_bounds(world, tmp_path):
    raw = base_raw(world["data"])
    raw["strategies"].append({"name": "pb", "kind": "rmp_playbook",
                              "params": {"overrides": {"real_assets": {"GLD": -5}}}})
    r, root = _run(tmp_path, raw)
    assert_fault(r, root, 2, ("strategies.pb.params.overrides.real_assets", "GLD: size -5", "0..1"))


# ---------------------------------------------------------------- paths and compare

@pytest.fixture(scope="module")
def one_run(world) -> Path:
    return write_one_run(world)


def test_empty_out_is_a_usage_error(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run_main("run", str(_cfg(tmp_path, base_raw(world["data"]))), "--out", "", "--no-report")
    assert_fault(r, None, 2, ("--out", "empty path"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


@pytest.mark.parametrize("command", ["now", "decide"])
def test_empty_out_is_a_usage_error_for_now_and_decide(world, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    target = str(_cfg(tmp_path, base_raw(world["data"]))) if command == "now" else str(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = run_main(command, target, "--out", "")
    assert_fault(r, None, 2, ("--out", "empty path"))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_unwritable_out(world, tmp_path, monkeypatch):
    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro"))
    monkeypatch.setattr("backtest.results.os.mkdir", denied)
    r, root = _run(tmp_path, base_raw(world["data"]))
    monkeypatch.undo()
    assert_fault(r, root, 2, ("Permission denied",))


def test_compare_default_is_a_new_page_each_time(one_run, tmp_path):
    run = tmp_path / "res" / "r1"
    shutil.copytree(one_run, run)
    pages = []
    for _ in range(2):
        r = run_main("compare", str(run))
        assert r.code == 0, r.stderr
        pages.append(Path(r.stdout.strip().splitlines()[-1]))
    assert pages[0] != pages[1] and all(p.exists() for p in pages)
    assert pages[0].parent == run.parent and pages[0].name.startswith("compare-")


def test_compare_out_never_writes_into_an_existing_folder(one_run, tmp_path):
    (tmp_path / "mine").mkdir()
    r = run_main("compare", str(one_run), "--out", str(tmp_path / "mine"))
    assert_fault(r, tmp_path / "mine", 2, ("--out", "existing folder"))


def test_compare_refuses_a_scenarios_folder(one_run, tmp_path):
    import json

    fake = tmp_path / "scen"
    shutil.copytree(one_run, fake)
    prov = json.loads((fake / "provenance.json").read_text())
    (fake / "provenance.json").write_text(json.dumps({**prov, "kind": "scenarios"}))
    out = tmp_path / "out"
    out.mkdir()
    assert_fault(run_main("compare", str(fake), "--out", str(out / "c.html")), out, 2,
                 ("scen", "a scenarios folder", "not a backtest run folder"))


def test_compare_empty_strategy_list(one_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert_fault(run_main("compare", str(one_run), "--strategies", ",,,", "--out", str(out / "c.html")), out, 2,
                 ("--strategies ',,,'", "names no strategy"))


def test_compare_flags_non_finite_returns(one_run, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(one_run, bad)
    r = pd.read_parquet(bad / "returns.parquet")
    r.iloc[5, 0] = np.inf
    r.to_parquet(bad / "returns.parquet")
    out = tmp_path / "out"
    out.mkdir()
    assert_fault(run_main("compare", str(bad), "--out", str(out / "c.html")), out, 2,
                 ("returns.parquet", "non-finite return", str(r.index[5].date())))


# ---------------------------------------------------------------- scenario files and flags

def _scen_file(tmp: Path, edit) -> Path:
    raw = yaml.safe_load((REPO / "configs" / "scenarios.yaml").read_text())
    edit(raw)
    p = tmp / "sc.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


SCEN_FILE_CASES = [
    ("probability true", lambda r: r["scenarios"]["A"].__setitem__("probability", True),
     ("scenarios.A.probability", "a number", "boolean true")),
    ("pace 1e6", lambda r: r["scenarios"]["A"].__setitem__("pace_bn_month", 1e6), ("pace_bn_month", "0..2000")),
    ("beta 1e6", lambda r: r["liquidity"]["sample_betas"].__setitem__("SPY", 1e6), ("sample_betas", "SPY: beta")),
    ("negative se", lambda r: r["liquidity"]["sample_ses"].__setitem__("SPY", -0.1),
     ("sample_ses", "SPY: standard error -0.1 must be positive")),
    ("unequal horizons", lambda r: r["scenarios"]["B"].__setitem__("horizon_days", 126), ("horizon_days differ",)),
]


@pytest.mark.parametrize(("label", "edit", "needles"), SCEN_FILE_CASES, ids=[c[0] for c in SCEN_FILE_CASES])
def test_bad_scenario_numbers(world, tmp_path, label, edit, needles):
    sc = _scen_file(tmp_path, edit)
    cfg = _cfg(tmp_path, base_raw(world["data"]))
    root = tmp_path / "res"
    r = run_main("scenarios", str(cfg), "--scenarios", str(sc), "--out", str(root), "--no-report")
    assert_fault(r, root, 2, ("sc.yaml", *needles))


SCEN_FLAG_CASES = [
    (["--pace", "A=25,A=30"], ("--pace", "'A' is given twice")),
    (["--only", "A,A"], ("--only A,A", "named twice")),
    (["--calibrate", "--chunk-size", "0"], ("--chunk-size 0",)),
    (["--calibrate", "--paths", "1000000000"], ("--paths 1000000000",)),
    (["--calibrate", "--paths", "100000"], ("--calibrate", "starts", "--force")),
    (["--workers", "100"], ("--workers 100", "more than 4 per core", "--force")),
    (["--workers", "2000", "--force"], ("--workers 2,000", "at most 1,024")),
]


@pytest.mark.parametrize(("extra", "needles"), SCEN_FLAG_CASES, ids=[" ".join(e) for e, _ in SCEN_FLAG_CASES])
def test_bad_scenario_flags(world, tmp_path, extra, needles, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)  # 8 local workers without --force, 1,024 with it
    cfg = _cfg(tmp_path, base_raw(world["data"]))
    root = tmp_path / "res"
    assert_fault(run_main("scenarios", str(cfg), *extra, "--out", str(root), "--no-report"), root, 2, needles)


def test_guards_default_chunk_is_the_runners():
    from backtest import guards
    from backtest.synthetic import runner

    assert guards.DEFAULT_CHUNK == runner.DEFAULT_CHUNK


# ---------------------------------------------------------------- tune

def _tune(world, tmp: Path, extra: list[str]):
    cfg = _cfg(tmp, base_raw(world["data"]))
    grid = [] if "--grid" in extra else ["--grid", "strategies.sixty_forty.params.weights.SPY=0.5,0.6"]
    split = [] if "--walk-forward" in extra else ["--split", "2020-09-01"]
    return run_main("tune", str(cfg), "--strategy", "sixty_forty", *grid, *extra, "--out", str(tmp / "res"),
                    "--no-report", "--no-benchmarks", *split)


TUNE_CASES = [
    (["--grid", "strategies.sixty_forty.params.weights.SPY=.nan,0.1"], ("--grid", "not a finite number")),
    (["--grid", "strategies.sixty_forty.params.weights.SPY=1e308:2e308:1e308"], ("--grid", "overflows")),
    (["--top", "-1"], ("--top -1", "at least 1")),
    (["--top", "0"], ("--top 0",)),
    (["--walk-forward", "train=99999999999999999999M,test=12M"], ("--walk-forward", "longer than 100 years")),
    (["--workers", "100000"], ("--workers 100,000",)),
]


@pytest.mark.parametrize(("extra", "needles"), TUNE_CASES, ids=[" ".join(e)[:50] for e, _ in TUNE_CASES])
def test_bad_tune_input(world, tmp_path, extra, needles):
    assert_fault(_tune(world, tmp_path, extra), tmp_path / "res", 2, needles)


def test_tune_walk_forward_must_fit_the_data(world, tmp_path):
    cfg = _cfg(tmp_path, base_raw(world["data"]))
    r = run_main("tune", str(cfg), "--strategy", "sixty_forty", "--grid",
                 "strategies.sixty_forty.params.weights.SPY=0.5,0.6", "--walk-forward", "train=36M,test=12M",
                 "--out", str(tmp_path / "res"), "--no-report", "--no-benchmarks")
    assert_fault(r, tmp_path / "res", 2, ("--walk-forward", "longer than the data"))


def test_tune_keys_naming_the_tuned_strategy(world, tmp_path):
    from backtest.tune.grid import parse_grid
    from backtest.tune.paths import canonical_axis

    class S:
        name = "sixty_forty"

    for spec in ("sixty_forty.params.weights.SPY=0.5,0.6", "params.weights.SPY=0.5,0.6",
                 "strategies.sixty_forty.params.weights.SPY=0.5,0.6"):
        assert canonical_axis(parse_grid(spec), S()).key == "strategies.sixty_forty.params.weights.SPY"


# ---------------------------------------------------------------- API

def test_api_checks_argument_types_and_guards(world):
    import rmpbt

    raw = base_raw(world["data"])
    with pytest.raises(ConfigError, match=r"rmpbt.run: config: expected .*got 123"):
        rmpbt.run(123)
    with pytest.raises(ConfigError, match=r"rmpbt.scenarios: paths: expected an integer, got the boolean true"):
        rmpbt.scenarios(raw, paths=True)
    with pytest.raises(ScenarioError, match=r"--paths 1000000000"):
        rmpbt.scenarios(raw, paths=10**9)
    with pytest.raises(ScenarioError, match=r"--paths 1000000000"):
        rmpbt.calibrate(raw, paths=10**9)
    with pytest.raises(ResourceError, match=r"--calibrate"):
        rmpbt.calibrate(raw, paths=200_000)
    with pytest.raises(ConfigError, match=r"rmpbt.tune: random: expected an integer"):
        rmpbt.tune(raw, ["strategies.spy.params.weights.SPY=1"], random="5")
    with pytest.raises(ConfigError, match=r"costs.fee_bps: expected a number, got the boolean true"):
        rmpbt.run(raw, **{"costs.fee_bps": True})


def test_api_tune_takes_the_cli_arguments():
    import inspect

    import rmpbt

    params = inspect.signature(rmpbt.tune).parameters
    assert "request" not in params
    for name in ("where", "random", "seed", "metric", "walk_forward", "split", "strategy", "chunk_size",
                 "exact_weights", "heatmap", "benchmark", "force"):
        assert name in params and name in (rmpbt.tune.__doc__ or ""), name


# ---------------------------------------------------------------- statistics

def test_sharpe_standard_error_of_a_near_constant_series_is_nan():
    from backtest.stats import degenerate_note, sharpe_interval, sharpe_standard_error

    x = np.full(500, 1e-4) + np.random.default_rng(0).normal(0, 1e-16, 500)
    assert np.isnan(sharpe_standard_error(x))
    assert all(np.isnan(v) for v in sharpe_interval(x).values())
    assert "constant up to rounding" in degenerate_note("cash", x)
    y = np.random.default_rng(1).normal(5e-4, 1e-2, 500)  # an ordinary series keeps its SE
    assert 0.04 < sharpe_standard_error(y) < 0.05 and degenerate_note("y", y) is None


# ---------------------------------------------------------------- endings

def test_signal_after_the_folder_is_complete(world, tmp_path, monkeypatch):
    import backtest.commands.run_cmd as run_cmd

    def interrupted(*_a, **_k):
        raise Interrupted(signal.SIGTERM)
    monkeypatch.setattr(run_cmd, "summary_table", interrupted)  # the signal arrives while the table prints
    r, root = _run(tmp_path, base_raw(world["data"]))
    folder = [p for p in leftovers(root)]
    assert r.code == 0, r.stderr
    assert len(folder) == 1 and not folder[0].startswith(".")
    assert r.stderr.strip() == f"interrupted after writing {root / folder[0]}"
    assert r.stdout.strip().splitlines()[-1] == str(root / folder[0])


def test_numba_cache_fallback(monkeypatch, capsys):
    import backtest.cli as cli

    monkeypatch.delitem(sys.modules, "numba", raising=False)
    monkeypatch.delenv("RMPBT_NUMBA_FALLBACK", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/nonexistent/ro")
    monkeypatch.setattr(cli, "cache_writable", lambda _folder: False)
    try:
        cli.numba_cache_fallback()
        tmp = os.environ["NUMBA_CACHE_DIR"]
        assert tmp != "/nonexistent/ro" and os.path.isdir(tmp)
        cli.numba_cache_fallback()  # once only
        err = capsys.readouterr().err
        assert err.count("warning: numba's cache is not writable") == 1
    finally:
        import numba  # noqa: F401 - put it back for the other tests
        shutil.rmtree(os.environ.get("NUMBA_CACHE_DIR", ""), ignore_errors=True)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}


def test_narrow_encoding_prints_plain_ascii(world, tmp_path):
    import io

    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="latin-1")  # PYTHONIOENCODING=latin-1
    root = tmp_path / "res"
    r = run_main("run", str(_cfg(tmp_path, base_raw(world["data"]))), "--out", str(root), "--no-report", stdout=out)
    code, err = r.code, r.stderr
    out.flush()
    assert code == 0 and err == "", err
    text = raw.getvalue().decode("latin-1")
    assert " -> " in text and "\u2192" not in text  # the header's arrow, in ASCII
    assert text.strip().splitlines()[-1] == str(root / leftovers(root)[0])


def test_full_stdout_does_not_fail_a_written_run(world, tmp_path):
    root = tmp_path / "res"
    full = open("/dev/full", "w")  # noqa: SIM115 - > /dev/full
    r = run_main("run", str(_cfg(tmp_path, base_raw(world["data"]))), "--out", str(root), "--no-report", stdout=full)
    code, err = r.code, r.stderr
    try:
        full.close()  # what was left in its buffer cannot be written either
    except OSError:
        pass
    assert code == 0, err
    assert err.strip().splitlines() == [
        f"warning: could not write to standard output (No space left on device); written: {root / leftovers(root)[0]}"]


def test_closed_pipe_ends_quietly(one_run, tmp_path):
    """A real process whose reader goes away (``| head -c 20``): exit 0, nothing on stderr, page written."""
    out = tmp_path / "c.html"
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "-m", "backtest.cli", "compare", str(one_run), "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(20)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert err == b"" and out.exists()
