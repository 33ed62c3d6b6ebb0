"""Fault injection: hostile inputs and environment faults, table-driven.

Every case runs the real entry point (``backtest.cli.main`` with ``sys.argv`` patched,
in-process) and asserts the exit code, a SINGLE line on stderr naming the culprit, and an
empty results root (not even a hidden temporary folder). Full and read-only disks are
simulated with monkeypatched ``OSError``; signals and concurrency use a handful of real
subprocesses.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from backtest.cli import main
from backtest.errors import Interrupted
from tests.helpers import make_data_dir

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------- harness


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_main(*argv: str) -> Outcome:
    """Call ``backtest.cli.main()`` in-process with ``argv``; capture exit code and streams."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["rmpbt", *argv]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old
    return Outcome(code, out.getvalue(), err.getvalue())


def leftovers(root: Path) -> list[str]:
    """Everything in the results root, hidden entries included."""
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def assert_fault(r: Outcome, root: Path | None, code: int, needles: tuple[str, ...]) -> None:
    assert r.code == code, (r.code, r.stderr, r.stdout[-500:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "internal error" not in r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    if root is not None:
        assert leftovers(root) == [], leftovers(root)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A tiny csv data folder (SPY, IEF + DTB3, VIX) shared by the read-only cases."""
    root = tmp_path_factory.mktemp("faults")
    days = pd.bdate_range("2020-01-01", periods=260)
    macro = {"DTB3": pd.Series(1.5, index=days), "VIX": pd.Series(18.0, index=days)}
    data = make_data_dir(root / "data", n=260, macro=macro)
    return {"root": root, "data": data}


def base_raw(data: Path) -> dict[str, Any]:
    return {
        "name": "tiny",
        "data": {"source": "csv", "dir": str(data), "universe": ["SPY", "IEF"], "macro": []},
        "rebalance": {"every": "monthly"},
        "report": {"html": False, "png": False},
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
            {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}},
        ],
    }


def dset(raw: dict, dotted: str, value: Any) -> dict:
    """Set a dotted key in a raw config (strategies addressed by name)."""
    parts = dotted.split(".")
    cur: Any = raw
    i = 0
    while i < len(parts) - 1:
        p = parts[i]
        if p == "strategies":
            cur = next(s for s in cur["strategies"] if s["name"] == parts[i + 1])
            i += 2
            continue
        cur = cur.setdefault(p, {})
        i += 1
    cur[parts[-1]] = value
    return raw


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
    (["--start", "2030-01-01"], ("no prices",)),
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
    import backtest.sweep as sweep

    monkeypatch.setattr(sweep, "MAX_DRAWS", 2000)  # the bound, made small: the behaviour is the same
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


# ---------------------------------------------------------------- 9. results root, full and read-only disks

@pytest.fixture
def good_cfg(world, tmp_path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    return cfg


def _raiser(err: int, name: str = "target") -> Callable[..., Any]:
    def boom(*_a: Any, **_k: Any) -> Any:
        raise OSError(err, os.strerror(err), name)
    return boom


DISK_CASES: list[tuple[str, str, str, int, tuple[str, ...]]] = [
    # (label, module attribute to patch, errno name, exit code, needles)
    ("full disk on parquet", "pandas.DataFrame.to_parquet", "ENOSPC", 2, ("No space left",)),
    ("full disk on csv", "pandas.DataFrame.to_csv", "ENOSPC", 2, ("No space left",)),
    ("quota on parquet", "pandas.DataFrame.to_parquet", "EDQUOT", 2, ("quota",)),
    ("read-only on csv", "pandas.DataFrame.to_csv", "EROFS", 2, ("Read-only",)),
    ("permission on json", "backtest.pipeline.write_json", "EACCES", 2, ("Permission denied",)),
    ("full disk on rename", "backtest.results.os.replace", "ENOSPC", 2, ("No space left",)),
    ("read-only claim", "backtest.results.os.mkdir", "EROFS", 2, ("Read-only",)),
    ("permission claim", "backtest.results.os.mkdir", "EACCES", 2, ("Permission denied",)),
    ("full disk on yaml", "backtest.pipeline.dump_yaml", "ENOSPC", 2, ("No space left",)),
]


@pytest.mark.parametrize(("label", "target", "err", "code", "needles"), DISK_CASES, ids=[c[0] for c in DISK_CASES])
def test_disk_faults_leave_nothing(good_cfg, tmp_path, monkeypatch, label, target, err, code, needles):
    mod, _, attr = target.rpartition(".")
    monkeypatch.setattr(f"{mod}.{attr}", _raiser(getattr(errno, err), str(tmp_path / "res" / "x")))
    root = tmp_path / "res"
    r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
    monkeypatch.undo()
    assert_fault(r, root, code, needles)


def test_results_root_is_a_file(good_cfg, tmp_path):
    root = tmp_path / "res"
    root.write_text("not a folder")
    r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
    assert_fault(r, None, 2, ("res", "not a folder"))
    assert root.read_text() == "not a folder"


def test_data_fetch_cache_dir_is_a_file(good_cfg, tmp_path):
    (tmp_path / "cache").write_text("x")
    r = run_main("data", "fetch", str(good_cfg), "--data-dir", str(tmp_path / "cache"))
    assert_fault(r, None, 2, ("--data-dir", "not a folder"))


def test_results_root_cannot_be_created(good_cfg, tmp_path):
    (tmp_path / "file").write_text("x")
    root = tmp_path / "file" / "res"
    assert_fault(run_main("run", str(good_cfg), "--out", str(root), "--no-report"), None, 2, ("file/res",))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_write_removes_temp(good_cfg, tmp_path, monkeypatch, sig):
    """The handler's interrupt raised mid-write: exit 128+N, one line, nothing left."""
    import backtest.pipeline as pipeline

    real = pipeline.write_outputs

    def half(out, folder, run_id=None):
        real(out, folder, run_id)
        assert any(folder.iterdir())  # the temporary folder really was half-written
        raise Interrupted(sig)

    monkeypatch.setattr(pipeline, "write_outputs", half)
    root = tmp_path / "res"
    r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
    assert r.code == 128 + sig
    assert r.stderr.strip() == "interrupted: nothing written"
    assert leftovers(root) == []


def test_unexpected_bug_is_exit_1(good_cfg, tmp_path, monkeypatch):
    import backtest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "write_outputs", lambda *a, **k: 1 / 0)
    root = tmp_path / "res"
    r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
    assert r.code == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "internal error: ZeroDivisionError" in r.stderr
    assert leftovers(root) == []


def test_write_text_atomic_removes_temp_on_full_disk(tmp_path, monkeypatch):
    from backtest.errors import FileError
    from backtest.results import write_text_atomic

    monkeypatch.setattr("backtest.results.os.replace", _raiser(errno.ENOSPC, str(tmp_path / "c.html")))
    with pytest.raises(FileError, match="No space left"):
        write_text_atomic(tmp_path / "c.html", "<html/>")
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- 10. compare

@pytest.fixture(scope="module")
def one_run(world) -> Path:
    cfg = world["root"] / "run.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    r = run_main("run", str(cfg), "--out", str(world["root"] / "runs"), "--no-report")
    assert r.code == 0, r.stderr
    return Path(r.stdout.strip().splitlines()[-1])


def _copy_run(src: Path, tmp: Path) -> Path:
    import shutil

    dst = tmp / "runcopy"
    shutil.copytree(src, dst)
    return dst


COMPARE_CASES: list[tuple[str, Callable[[Path], None], tuple[str, ...]]] = [
    ("truncated parquet", lambda d: (d / "returns.parquet").write_bytes((d / "returns.parquet").read_bytes()[:100]),
     ("runcopy", "not a readable run folder")),
    ("garbage holdings", lambda d: (d / "holdings.parquet").write_bytes(b"garbage" * 50), ("runcopy",)),
    ("garbage weights", lambda d: ((d / "holdings.parquet").unlink(),
                                   (d / "weights.parquet").write_bytes(b"garbage" * 50)), ("runcopy",)),
    ("garbage metrics", lambda d: (d / "metrics.csv").write_bytes(b"\x00\xff\xfe" * 40), ("runcopy",)),
    ("provenance garbage", lambda d: (d / "provenance.json").write_text("{not json"), ("provenance.json",)),
    ("provenance binary", lambda d: (d / "provenance.json").write_bytes(b"\xff\xfe\x00"), ("provenance.json",)),
    ("provenance list", lambda d: (d / "provenance.json").write_text("[1, 2]"), ("provenance.json",)),
    ("provenance future", lambda d: (d / "provenance.json").write_text(json.dumps({"format_version": 99})),
     ("format version 99",)),
    ("missing metrics", lambda d: (d / "metrics.csv").unlink(), ("missing metrics.csv",)),
    ("metrics is folder", lambda d: ((d / "metrics.csv").unlink(), (d / "metrics.csv").mkdir()),
     ("metrics.csv", "not a regular file")),
]


@pytest.mark.parametrize(("label", "corrupt", "needles"), COMPARE_CASES, ids=[c[0] for c in COMPARE_CASES])
def test_compare_bad_run_folder(one_run, tmp_path, label, corrupt, needles):
    bad = _copy_run(one_run, tmp_path)
    corrupt(bad)
    out = tmp_path / "out"
    out.mkdir()
    r = run_main("compare", str(bad), "--out", str(out / "c.html"))
    assert_fault(r, out, 2, needles)


def test_compare_same_run_twice(one_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = run_main("compare", str(one_run), str(one_run) + "/", "--out", str(out / "c.html"))
    assert_fault(r, out, 2, ("given twice",))


def test_compare_not_a_folder(one_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = run_main("compare", str(one_run), str(tmp_path / "nope"), "--out", str(out / "c.html"))
    assert_fault(r, out, 2, ("nope", "not a folder"))


def test_compare_full_disk_leaves_no_temp(one_run, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr("backtest.results.os.replace", _raiser(errno.ENOSPC, str(out / "c.html")))
    r = run_main("compare", str(one_run), "--out", str(out / "c.html"))
    monkeypatch.undo()
    assert_fault(r, out, 2, ("c.html", "No space left"))


# ---------------------------------------------------------------- 11. caches

def test_cache_with_wrong_columns_counts_as_absent(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from backtest.data.cache import META_KEY, Cache

    cache = Cache(tmp_path)
    days = pd.bdate_range("2020-01-01", periods=3)
    cache.write("fred", "DTB3", pd.Series([1.0, 2.0, 3.0], index=days))
    path = cache.path("fred", "DTB3")
    meta = pq.read_schema(path).metadata[META_KEY]
    table = pa.table({"wrong": [1, 2, 3]}).replace_schema_metadata({META_KEY: meta})
    pq.write_table(table, path)
    assert cache.info("fred", "DTB3") is not None  # the metadata looks fine ...
    assert cache.read("fred", "DTB3") is None  # ... but the table is not ours: treated as absent


# ---------------------------------------------------------------- 12. races and run ids

def test_identical_runs_started_together_get_distinct_folders(tmp_path):
    from backtest.results import atomic_run_dir

    root = tmp_path / "res"
    barrier = threading.Barrier(4)
    finals: list[Path] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            with atomic_run_dir(root, "20260101-000000-same-abcdef") as tmp:
                (tmp / "x.txt").write_text(tmp.final.name)
                time.sleep(0.05)
            finals.append(tmp.final)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({f.name for f in finals}) == 4
    assert leftovers(root) == sorted(f.name for f in finals)
    for f in finals:  # each folder holds its own claimed name: the id written inside is the final one
        assert (f / "x.txt").read_text() == f.name


def test_run_id_in_provenance_is_final_folder(good_cfg, tmp_path):
    root = tmp_path / "res"
    (root / "placeholder").mkdir(parents=True)
    folders = []
    for _ in range(2):  # same config, same second: the second gets a suffix
        r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
        assert r.code == 0, r.stderr
        folders.append(Path(r.stdout.strip().splitlines()[-1]))
    assert folders[0] != folders[1]
    for f in folders:
        assert json.loads((f / "provenance.json").read_text())["run_id"] == f.name
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- 13. real signals and processes

def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}


def _slow_cfg(world, tmp: Path) -> Path:
    raw = base_raw(world["data"])
    raw["report"] = {"html": True, "png": True}  # the report makes the write phase long enough
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    return cfg


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])  # SIGINT: in-process test below
def test_signal_while_writing_leaves_nothing(world, tmp_path, sig):
    root = tmp_path / "res"
    proc = subprocess.Popen([sys.executable, "-m", "backtest.cli", "run", str(_slow_cfg(world, tmp_path)),
                             "--out", str(root)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if root.exists() and any(p.name.startswith(".tmp-") for p in root.iterdir()):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before its folder was being written"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert err.strip().splitlines() == ["interrupted: nothing written"], err
    assert leftovers(root) == []


def test_two_identical_processes_do_not_collide(world, tmp_path):
    root = tmp_path / "res"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    cmd = [sys.executable, "-m", "backtest.cli", "run", str(cfg), "--out", str(root), "--no-report"]
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert err.strip() == "", err  # quiet success
    folders = {Path(o.strip().splitlines()[-1]) for o, _ in outs}
    assert len(folders) == 2
    assert leftovers(root) == sorted(f.name for f in folders)
    for f in folders:
        assert json.loads((f / "provenance.json").read_text())["run_id"] == f.name


# ---------------------------------------------------------------- 14. quiet success

def test_success_is_quiet_with_non_latin_names(world, tmp_path):
    raw = base_raw(world["data"])
    raw["name"] = "日本語"
    raw["report"] = {"html": True, "png": True}
    raw["strategies"][0]["name"] = "六十四十"
    raw["strategies"][1]["name"] = "Ωμέγα_$x$"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    root = tmp_path / "res"
    r = run_main("run", str(cfg), "--out", str(root))
    assert r.code == 0, r.stderr
    assert r.stderr.strip() == ""
    folder = Path(r.stdout.strip().splitlines()[-1])
    assert (folder / "equity.png").stat().st_size > 0


def test_case_count():
    """The suite covers at least 120 faults."""
    n = (len(VALUE_CASES) + len(SET_CASES) + len(FILE_CASES) + 5 + len(DATA_CASES) + 1 + len(CAL_CASES) + 1
         + len(SCEN_FLAG_CASES) + len(SCEN_FILE_CASES) + len(TUNE_CASES) + 1 + len(USAGE_CASES) + len(DISK_CASES)
         + 7 + len(COMPARE_CASES) + 3 + 1 + 2 + 3 + 1)
    assert n >= 120, n
