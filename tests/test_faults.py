"""Fault injection, part 1: hostile inputs (configs, flags, files, data), table-driven.

Every case runs the real entry point (``backtest.cli.main`` with ``sys.argv`` patched,
in-process) and asserts the exit code (2), a SINGLE line on stderr naming the culprit,
and an empty results root. Environment faults (full and read-only disks, signals,
concurrency, broken run folders, caches) are in ``test_faults_env.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.faults_harness import REPO, assert_fault, base_raw, dset, make_world, run_main


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A tiny csv data folder shared by the cases (they copy it before corrupting it)."""
    return make_world(tmp_path_factory.mktemp("faults"))


# ---------------------------------------------------------------- 1. config values
# (dotted key, value, needles): each value is written into YAML and must be refused.

NAN, INF = float("nan"), float("inf")
VALUE_CASES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("strategies.sixty_forty.params.weights.SPY", NAN, ("strategies.sixty_forty.params.weights.SPY", "finite")),
    ("strategies.sixty_forty.params.weights.IEF", INF, ("weights.IEF", "finite")),
    ("strategies.sixty_forty.params.weights.SPY", -INF, ("weights.SPY", "finite")),
    ("strategies.spy.params.weights.SPY", NAN, ("strategies.spy.params.weights.SPY", "finite")),
    ("costs.fee_bps", NAN, ("costs.fee_bps", "finite")),
    ("costs.fee_bps", INF, ("costs.fee_bps", "finite")),
    ("costs.fee_bps", -1, ("costs.fee_bps",)),
    ("costs.fee_bps", 1e6, ("costs.fee_bps",)),
    ("costs.slippage_bps", INF, ("costs.slippage_bps", "finite")),
    ("costs.slippage_bps", -0.5, ("costs.slippage_bps",)),
    ("costs.slippage_bps", 10_001, ("costs.slippage_bps",)),
    ("costs.borrow_bps", NAN, ("costs.borrow_bps", "finite")),
    ("costs.borrow_bps", -10_000, ("costs.borrow_bps",)),
    ("costs.borrow_bps", 1e9, ("costs.borrow_bps",)),
    ("costs.borrow_bps_by_asset", {"SPY": NAN}, ("costs.borrow_bps_by_asset.SPY", "finite")),
    ("costs.borrow_bps_by_asset", {"IEF": INF}, ("costs.borrow_bps_by_asset.IEF", "finite")),
    ("costs.borrow_bps_by_asset", {"SPY": -10_000}, ("costs.borrow_bps_by_asset", "SPY", "outside")),
    ("costs.borrow_bps_by_asset", {"SPY": 20_000}, ("costs.borrow_bps_by_asset", "SPY", "outside")),
    ("costs.borrow_bps_by_asset", {"NOPE": 10}, ("costs.borrow_bps_by_asset.NOPE", "unknown ticker")),
    ("costs.borrow_bps_by_asset", {"SPY": "lots"}, ("costs.borrow_bps_by_asset.SPY",)),
    ("rebalance.drift_band", NAN, ("rebalance.drift_band", "finite")),
    ("rebalance.drift_band", 2.0, ("rebalance.drift_band",)),
    ("rebalance.drift_band", -0.1, ("rebalance.drift_band",)),
    ("rebalance.every", "hourly", ("rebalance.every",)),
    ("execution.lag_days", NAN, ("execution.lag_days", "finite")),
    ("execution.lag_days", -1, ("execution.lag_days",)),
    ("execution.lag_days", 21, ("execution.lag_days",)),
    ("execution.lag_days", 1.5, ("execution.lag_days",)),
    ("execution.max_gross_leverage", INF, ("execution.max_gross_leverage", "finite")),
    ("execution.max_gross_leverage", 0, ("execution.max_gross_leverage",)),
    ("execution.max_gross_leverage", 1000, ("execution.max_gross_leverage",)),
    ("seed", -1, ("seed",)),
    ("seed", 2**40, ("seed",)),
    ("seed", NAN, ("seed", "finite")),
    ("data.seed", -5, ("data.seed",)),
    ("data.start", 0, ("data.start", "date")),
    ("data.start", 20150101, ("data.start", "date")),
    ("data.start", "yesterday", ("data.start", "date")),
    ("data.start", "1800-01-01", ("data.start", "1900")),
    ("data.end", "2300-01-01", ("data.end", "2100")),
    ("data.universe", [], ("data.universe",)),
    ("data.universe", ["SPY", "SPY"], ("data.universe", "twice")),
    ("data.universe", ["SPY", "../etc"], ("data.universe", "bad ticker")),
    ("data.source", "bloomberg", ("data.source",)),
    ("benchmark", "sixty_fourty", ("benchmark", "not a strategy name", "sixty_forty")),
    ("benchmark", "nope", ("benchmark", "nope")),
    ("strategies.sixty_forty.kind", "fixed_weight", ("strategies.sixty_forty.kind", "unknown strategy kind")),
    ("strategies.sixty_forty.params.weights", {"SPY": 0.6, "IEF": 0.6}, ("sum to 1.2",)),
    ("strategies.sixty_forty.params.weigths", {"SPY": 1.0}, ("weigths", "did you mean")),
    ("regimes.model", "crystal_ball", ("regimes.model",)),
    ("regimes.params", {"x": NAN}, ("regimes.params.x", "finite")),
    ("report.html", "maybe", ("report.html",)),
    ("name", "", ("name",)),
    ("cash", {"rate": "DTB3", "extra": 1}, ("cash.extra", "unknown key")),
]


@pytest.mark.parametrize(("key", "value", "needles"), VALUE_CASES,
                         ids=[f"{k}={v!r}" for k, v, _ in VALUE_CASES])
def test_bad_config_value(world, tmp_path, key, value, needles):
    raw = dset(base_raw(world["data"]), key, value)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    root = tmp_path / "res"
    assert_fault(run_main("run", str(cfg), "--out", str(root), "--no-report"), root, 2, ("c.yaml", *needles))


# ---------------------------------------------------------------- 2. --set / flags

SET_CASES: list[tuple[list[str], tuple[str, ...]]] = [
    (["--set", "strategies.sixty_forty.params.weights.SPY=.nan"], ("weights.SPY", "finite")),
    (["--set", "strategies.sixty_forty.params.weights.SPY=.inf"], ("weights.SPY", "finite")),
    (["--set", "costs.fee_bps=.inf"], ("costs.fee_bps", "finite")),
    (["--set", "costs.borrow_bps_by_asset.SPY=.nan"], ("borrow_bps_by_asset.SPY", "finite")),
    (["--set", "costs.borrow_bps_by_asset.SPY=-10000"], ("borrow_bps_by_asset", "SPY")),
    (["--set", "seed=-1"], ("seed",)),
    (["--set", "data.start=0"], ("data.start", "date")),
    (["--set", "data.start=2015-02-30"], ("data.start",)),
    (["--set", "benchmark=nope"], ("benchmark", "nope")),
    (["--set", "strategies.sixty_fourty.params.weights.SPY=0.5"], ("no strategy named",)),
    (["--set", "nokeyvalue"], ("--set nokeyvalue", "KEY=VALUE")),
    (["--set", "a..b=1"], ("empty key",)),
    (["--set", "name.x=1"], ("not a mapping",)),
    (["--start", "2015-02-30"], ("data.start",)),
    (["--start", "0"], ("data.start", "date")),
    (["--end", "tomorrow"], ("data.end", "date")),
    (["--start", "2021-01-01", "--end", "2020-01-01"], ("before start",)),
    (["--start", "2030-01-01"], ("2030-01-01", "is after it")),
]


@pytest.mark.parametrize(("extra", "needles"), SET_CASES, ids=[" ".join(e) for e, _ in SET_CASES])
def test_bad_override(world, tmp_path, extra, needles):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    root = tmp_path / "res"
    assert_fault(run_main("run", str(cfg), *extra, "--out", str(root), "--no-report"), root, 2, needles)


# ---------------------------------------------------------------- 3. config files

def _yaml_text(data: Path) -> str:
    return yaml.safe_dump(base_raw(data), sort_keys=False)


def _bomb(_data: Path) -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefg"):
        prev = "abcdefg"[i]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


FILE_CASES: list[tuple[str, Callable[[Path], str | bytes], tuple[str, ...]]] = [
    ("duplicate top key", lambda d: _yaml_text(d) + "name: again\n", ("duplicate key 'name'", "line")),
    ("duplicate nested key", lambda d: _yaml_text(d).replace("  every: monthly", "  every: monthly\n  every: weekly"),
     ("duplicate key 'every'",)),
    ("impossible date", lambda d: _yaml_text(d).replace("  macro: []", "  macro: []\n  start: 2015-02-30"),
     ("impossible date", "2015-02-30", "line")),
    ("impossible month", lambda d: _yaml_text(d).replace("  macro: []", "  macro: []\n  end: 2015-13-01"),
     ("impossible date", "2015-13-01", "line 9")),
    ("nan literal", lambda d: _yaml_text(d).replace("SPY: 0.6", "SPY: .nan"), ("weights.SPY", "finite")),
    ("inf literal", lambda d: _yaml_text(d).replace("SPY: 0.6", "SPY: -.inf"), ("weights.SPY", "finite")),
    ("alias bomb", _bomb, ("alias",)),
    ("deep nesting", lambda d: "a: " + "[" * 200 + "]" * 200 + "\n", ("nested",)),
    ("malformed", lambda d: "name: x\nstrategies: [\n  - {name: a\n", ("malformed YAML", "line")),
    ("top-level list", lambda d: "- 1\n- 2\n", ("expected a mapping",)),
    ("empty file", lambda d: "", ("expected a mapping",)),
    ("binary", lambda d: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ("binary",)),
    ("not utf-8", lambda d: "name: caf\xe9\n".encode("latin-1"), ("not UTF-8",)),
    ("too large", lambda d: "# " + "x" * 1_100_000 + "\n", ("bytes",)),
    ("unknown top key", lambda d: _yaml_text(d) + "rebalanse: {every: weekly}\n", ("rebalanse", "did you mean")),
    ("no strategies", lambda d: "name: x\nstrategies: []\n", ("no strategies",)),
    ("duplicate strategy", lambda d: _yaml_text(d).replace("name: spy", "name: sixty_forty"),
     ("duplicate strategy name",)),
    ("python tag", lambda d: "name: !!python/object/apply:os.system ['true']\n", ("constructor", "line 1")),
]


@pytest.mark.parametrize(("label", "make", "needles"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_config_file(world, tmp_path, label, make, needles):
    content = make(world["data"])
    cfg = tmp_path / "c.yaml"
    (cfg.write_bytes if isinstance(content, bytes) else cfg.write_text)(content)
    root = tmp_path / "res"
    assert_fault(run_main("run", str(cfg), "--out", str(root), "--no-report"), root, 2, ("c.yaml", *needles))


def _special_path(kind: str, tmp: Path) -> Path:
    if kind == "missing":
        return tmp / "nope.yaml"
    if kind == "folder":
        (tmp / "dir.yaml").mkdir()
        return tmp / "dir.yaml"
    if kind == "fifo":
        os.mkfifo(tmp / "pipe.yaml")
        return tmp / "pipe.yaml"
    if kind == "device":
        return Path("/dev/zero")
    if kind == "dangling":
        (tmp / "link.yaml").symlink_to(tmp / "gone.yaml")
        return tmp / "link.yaml"
    raise AssertionError(kind)


@pytest.mark.parametrize(("kind", "needle"), [("missing", "not found"), ("folder", "is a folder"),
                                              ("fifo", "not a regular file"), ("device", "not a regular file"),
                                              ("dangling", "not found")])
def test_config_path_of_wrong_type(tmp_path, kind, needle):
    p = _special_path(kind, tmp_path)
    root = tmp_path / "res"
    assert_fault(run_main("run", str(p), "--out", str(root)), root, 2, (p.name, needle))


# ---------------------------------------------------------------- 4. data files

def _data_copy(world, tmp: Path) -> Path:
    import shutil

    dst = tmp / "data"
    shutil.copytree(world["data"], dst)
    return dst


def _edit_csv(path: Path, row: int, col: str, value: Any) -> None:
    df = pd.read_csv(path, dtype=str)
    df.loc[row, col] = value
    df.to_csv(path, index=False)


DATA_CASES: list[tuple[str, list[str], Callable[[Path], None], tuple[str, ...]]] = [
    ("price garbage text", [], lambda d: _edit_csv(d / "prices/SPY.csv", 10, "adj_close", "abc"),
     ("SPY.csv", "non-numeric", "abc")),
    ("price inf", [], lambda d: _edit_csv(d / "prices/SPY.csv", 10, "adj_close", "inf"), ("SPY.csv", "price")),
    ("price negative", [], lambda d: _edit_csv(d / "prices/IEF.csv", 12, "adj_close", "-3"),
     ("IEF.csv", "non-positive")),
    ("price bad date", [], lambda d: _edit_csv(d / "prices/SPY.csv", 5, "date", "2020-02-30"), ("SPY.csv", "date")),
    ("price wrong columns", [], lambda d: (d / "prices/SPY.csv").write_text("day,px\n2020-01-01,1\n"),
     ("SPY.csv", "expected columns")),
    ("price binary", [], lambda d: (d / "prices/SPY.csv").write_bytes(b"\x00\x01\x02\xff" * 100), ("SPY.csv",)),
    ("price file is folder", [], lambda d: ((d / "prices/SPY.csv").unlink(), (d / "prices/SPY.csv").mkdir()),
     ("SPY.csv", "not a regular file")),
    ("price fifo", [], lambda d: ((d / "prices/SPY.csv").unlink(), os.mkfifo(d / "prices/SPY.csv")),
     ("SPY.csv", "not a regular file")),
    ("price missing", [], lambda d: (d / "prices/IEF.csv").unlink(), ("IEF",)),
    ("price duplicate date", [], lambda d: _edit_csv(d / "prices/SPY.csv", 6, "date", "2020-01-08"),
     ("SPY.csv", "duplicate date")),
    ("rate absurd", ["DTB3"], lambda d: _edit_csv(d / "fred/DTB3.csv", 30, "value", "500"),
     ("DTB3", "500", "outside", "rate")),
    ("rate negative absurd", ["DTB3"], lambda d: _edit_csv(d / "fred/DTB3.csv", 30, "value", "-50"),
     ("DTB3", "outside")),
    ("rate inf", ["DTB3"], lambda d: _edit_csv(d / "fred/DTB3.csv", 31, "value", "inf"), ("DTB3", "non-finite")),
    ("rate garbage", ["DTB3"], lambda d: _edit_csv(d / "fred/DTB3.csv", 31, "value", "n/a%"),
     ("DTB3.csv", "non-numeric")),
    ("vix negative", ["VIX"], lambda d: _edit_csv(d / "vol/VIX.csv", 40, "close", "-5"), ("VIX", "outside")),
    ("vix huge", ["VIX"], lambda d: _edit_csv(d / "vol/VIX.csv", 41, "close", "1e6"), ("VIX", "outside")),
    ("vix -inf", ["VIX"], lambda d: _edit_csv(d / "vol/VIX.csv", 42, "close", "-inf"), ("VIX", "non-finite")),
    ("macro missing", ["WALCL"], lambda d: None, ("WALCL",)),
    ("macro unsorted", ["DTB3"], lambda d: _edit_csv(d / "fred/DTB3.csv", 3, "date", "2021-06-01"), ("DTB3",)),
]


@pytest.mark.parametrize(("label", "macro", "corrupt", "needles"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_file(world, tmp_path, label, macro, corrupt, needles):
    data = _data_copy(world, tmp_path)
    corrupt(data)
    raw = base_raw(data)
    raw["data"]["macro"] = macro
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    root = tmp_path / "res"
    assert_fault(run_main("run", str(cfg), "--out", str(root), "--no-report"), root, 2, needles)


def test_balance_sheet_units_checked():
    from backtest.data.validate import check_macro
    from backtest.errors import DataError

    days = pd.bdate_range("2020-01-01", periods=3)
    check_macro(pd.Series([7.0e6, 7.1e6, 7.2e6], index=days), "fred:WALCL")  # millions: plausible
    with pytest.raises(DataError, match="WALCL value -1 on 2020-01-02"):
        check_macro(pd.Series([7.0e6, -1.0, 7.2e6], index=days), "fred:WALCL")
    with pytest.raises(DataError, match="RRPONTSYD"):  # billions: 2.5e6 bn is not an RRP balance
        check_macro(pd.Series([2.5e6, 1.0, 1.0], index=days), "/x/fred/RRPONTSYD.csv")


# ---------------------------------------------------------------- 5. calendar files

CAL_CASES: list[tuple[str, Callable[[Path], str | bytes | None], tuple[str, ...]]] = [
    ("missing", lambda p: None, ("not found",)),
    ("binary", lambda p: b"\x00\x01regimes", ("binary",)),
    ("duplicate key", lambda p: "regimes:\n  - {id: a, kind: qe, announced: 2020-01-01, effective: 2020-01-02}\n"
                                "regimes: []\n", ("duplicate key 'regimes'",)),
    ("impossible date", lambda p: "regimes:\n  - {id: a, kind: qe, announced: 2020-02-30, effective: 2020-03-02}\n",
     ("impossible date",)),
    ("unknown kind", lambda p: "regimes:\n  - {id: a, kind: helicopter, announced: 2020-01-01, "
                               "effective: 2020-01-02}\n", ("regime a", "unknown regime kind")),
    ("not a list", lambda p: "regimes: 5\n", ("regimes",)),
    ("empty date", lambda p: "regimes:\n  - {id: a, kind: qe, announced: '', effective: 2020-01-02}\n",
     ("not a date",)),
]


@pytest.mark.parametrize(("label", "make", "needles"), CAL_CASES, ids=[c[0] for c in CAL_CASES])
def test_bad_calendar(world, tmp_path, label, make, needles):
    cal = tmp_path / "cal.yaml"
    content = make(cal)
    if content is not None:
        (cal.write_bytes if isinstance(content, bytes) else cal.write_text)(content)
    raw = base_raw(world["data"])
    raw["regimes"] = {"model": "calendar", "calendar": str(cal)}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    root = tmp_path / "res"
    assert_fault(run_main("run", str(cfg), "--out", str(root), "--no-report"), root, 2, ("cal.yaml", *needles))


def test_calendar_folder(world, tmp_path):
    raw = base_raw(world["data"])
    raw["regimes"] = {"model": "calendar", "calendar": str(tmp_path)}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    root = tmp_path / "res"
    assert_fault(run_main("run", str(cfg), "--out", str(root), "--no-report"), root, 2, ("is a folder",))


# ---------------------------------------------------------------- 6. scenarios flags and files

SCEN_FLAG_CASES: list[tuple[list[str], tuple[str, ...]]] = [
    (["--paths", "0"], ("--paths 0",)),
    (["--paths", "1000000000000"], ("--paths",)),
    (["--paths", "-5"], ("--paths",)),
    (["--horizon", "0"], ("--horizon 0",)),
    (["--horizon", "1000000000"], ("--horizon",)),
    (["--chunk-size", "0"], ("--chunk-size 0",)),
    (["--chunk-size", "-3"], ("--chunk-size",)),
    (["--seed", "-1"], ("--seed -1",)),
    (["--paths", "200000", "--horizon", "5000"], ("above the limit", "--force")),
    (["--chunk-size", "1000000", "--paths", "1000000", "--horizon", "12000", "--only", "A"], ("--force",)),
    (["--paths", "abc"], ("usage error", "--paths")),
    (["--only", "Z"], ("Z",)),
    (["--strategies", "nope"], ("no strategy named 'nope'",)),
]


@pytest.mark.parametrize(("extra", "needles"), SCEN_FLAG_CASES, ids=[" ".join(e) for e, _ in SCEN_FLAG_CASES])
def test_bad_scenarios_flag(world, tmp_path, extra, needles):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    root = tmp_path / "res"
    assert_fault(run_main("scenarios", str(cfg), *extra, "--out", str(root), "--no-report"), root, 2, needles)


SCEN_FILE_CASES: list[tuple[str, Callable[[str], str | bytes | None], tuple[str, ...]]] = [
    ("missing", lambda base: None, ("not found",)),
    ("binary", lambda base: b"\x00\x00scenarios", ("binary",)),
    ("nan probability", lambda base: re.sub(r"probability: [0-9.]+", "probability: .nan", base, count=1),
     ("probability", "finite")),
    ("duplicate key", lambda base: base + "\nhorizon_days: 10\nhorizon_days: 20\n", ("duplicate key",)),
    ("horizon too long", lambda base: base + "\nhorizon_days: 99999999\n", ("horizon",)),
]


@pytest.mark.parametrize(("label", "make", "needles"), SCEN_FILE_CASES, ids=[c[0] for c in SCEN_FILE_CASES])
def test_bad_scenario_file(world, tmp_path, label, make, needles):
    base = (REPO / "configs" / "scenarios.yaml").read_text()
    assert re.search(r"probability: [0-9.]+", base)
    sc = tmp_path / "sc.yaml"
    content = make(base)
    if content is not None:
        (sc.write_bytes if isinstance(content, bytes) else sc.write_text)(content)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    root = tmp_path / "res"
    r = run_main("scenarios", str(cfg), "--scenarios", str(sc), "--out", str(root), "--no-report")
    assert_fault(r, root, 2, ("sc.yaml", *needles))


# ---------------------------------------------------------------- 7. tune flags

TUNE_CASES: list[tuple[list[str], tuple[str, ...]]] = [
    (["--grid", "strategies.sixty_forty.params.weights.SPY=0:1e999999:1e-999999"], ("--grid", "range")),
    (["--grid", "strategies.sixty_forty.params.weights.SPY=0:1:0"], ("step must not be zero",)),
    (["--grid", "strategies.sixty_forty.params.weights.SPY=0:1:1e-9"], ("values (at most",)),
    (["--grid", "strategies.sixty_forty.params.weights.SPY=0:1:0.001", "--grid",
      "strategies.sixty_forty.params.weights.IEF=0:1:0.001"], ("variants", "--force")),
    (["--chunk-size", "0"], ("--chunk-size 0",)),
    (["--random", "0"], ("--random 0",)),
    (["--random", "1000000000000"], ("--random",)),
    (["--seed", "-1"], ("--seed -1",)),
    (["--where", "SPY + " * 600 + "1 > 0"], ("--where", "characters")),
    (["--where", "(" * 100 + "SPY" + ")" * 100 + " > 0"], ("--where", "nested")),
    (["--where", "not " * 100 + "SPY > 0"], ("--where", "nested")),
    (["--where", "- " * 100 + "SPY > 0"], ("--where", "nested")),
    (["--where", "SPY > 1" + "0" * 200], ("--where", "literal")),
    (["--where", "SPY > 1e999"], ("--where", "not finite")),
    (["--where", "'" + "a" * 300 + "' == SPY"], ("--where", "literal")),
    (["--where", "SPY * 'aaaaaaaa' == 'a'"], ("--where", "string")),
    (["--where", "SPY > 0 and " * 120 + "SPY > 0"], ("--where", "tokens")),
    (["--where", "nope > 1"], ("--where", "unknown name 'nope'")),
    (["--where", "SPY >"], ("--where", "end of expression")),
    (["--where", "SPY $ 1"], ("--where", "unexpected character")),
    (["--where", "SPY / 0 > 1"], ("--where", "division by zero")),
]


def _tune_argv(world, tmp: Path, extra: list[str]) -> list[str]:
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    grid = [] if any(e == "--grid" for e in extra) else [
        "--grid", "strategies.sixty_forty.params.weights.SPY=0.4:0.6:0.1",
        "--grid", "strategies.sixty_forty.params.weights.IEF=0.4:0.6:0.1"]
    return ["tune", str(cfg), "--strategy", "sixty_forty", *grid, *extra, "--out", str(tmp / "res"), "--no-report", "--no-benchmarks",
            "--split", "2020-09-01"]


@pytest.mark.parametrize(("extra", "needles"), TUNE_CASES, ids=[" ".join(e)[:60] for e, _ in TUNE_CASES])
def test_bad_tune_flag(world, tmp_path, extra, needles):
    assert_fault(run_main(*_tune_argv(world, tmp_path, extra)), tmp_path / "res", 2, needles)


def test_random_with_unsatisfiable_where_gives_up(world, tmp_path, monkeypatch):
    import backtest.tune.grid as grid

    monkeypatch.setattr(grid, "MAX_DRAWS", 2000)  # the bound, made small: the behaviour is the same
    extra = ["--grid", "strategies.sixty_forty.params.weights.SPY=0:1:0.001",
             "--grid", "strategies.sixty_forty.params.weights.IEF=0:1:0.001",
             "--random", "1000", "--where", "SPY > 2"]
    assert_fault(run_main(*_tune_argv(world, tmp_path, extra)), tmp_path / "res", 2,
                 ("--random 1000", "no variant satisfying --where", "2,000 draws"))


# ---------------------------------------------------------------- 8. usage errors

USAGE_CASES: list[tuple[list[str], tuple[str, ...]]] = [
    (["run"], ("usage error", "config")),
    (["run", "x.yaml", "--bogus"], ("usage error", "--bogus")),
    (["frobnicate"], ("usage error", "frobnicate")),
    (["tune", "x.yaml", "--chunk-size", "many"], ("usage error", "--chunk-size")),
    (["scenarios", "x.yaml", "--seed", "1.5"], ("usage error", "--seed")),
    (["compare"], ("no run folders",)),
    (["run", "x.yaml", "--set"], ("usage error", "--set")),
]


@pytest.mark.parametrize(("argv", "needles"), USAGE_CASES, ids=[" ".join(a) for a, _ in USAGE_CASES])
def test_usage_error_is_one_line(tmp_path, argv, needles):
    assert_fault(run_main(*argv), None, 2, needles)
