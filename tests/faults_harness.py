"""Shared harness of the fault-injection suites (``test_faults.py``, ``test_faults_env.py``).

``run_main`` calls the real entry point ``backtest.cli.main`` in-process with ``sys.argv``
patched and captures the exit code and both streams; ``assert_fault`` checks the contract
of a refused input: the exit code, a single stderr line naming the culprit, no traceback,
and an empty results root (hidden temporary folders included).
"""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.cli import main
from tests.helpers import make_data_dir

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_main(*argv: str, stdout: Any = None) -> Outcome:
    """Call ``backtest.cli.main()`` in-process with ``argv``; capture exit code and streams.

    ``stdout``: a stream to use as standard output instead of a capture (its text is then
    not in the outcome), e.g. a latin-1 terminal or ``/dev/full``.
    """
    out, err = (io.StringIO() if stdout is None else stdout), io.StringIO()
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
    return Outcome(code, out.getvalue() if stdout is None else "", err.getvalue())


def write_one_run(world: dict[str, Path]) -> Path:
    """Run the tiny config of ``world`` once (``world/runs``) and return the run folder."""
    import yaml

    cfg = world["root"] / "run.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    r = run_main("run", str(cfg), "--out", str(world["root"] / "runs"), "--no-report")
    assert r.code == 0, r.stderr
    return Path(r.stdout.strip().splitlines()[-1])


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


def make_world(root: Path) -> dict[str, Path]:
    """A tiny csv data folder (SPY, IEF + DTB3, VIX) under ``root``."""
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
