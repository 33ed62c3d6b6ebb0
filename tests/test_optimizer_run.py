"""Optimizer inside a run: fallbacks recorded in the run folder, or a clean error when told to raise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from tests.helpers import run_cli


def _cfg(tmp_path: Path, fallback: str) -> Path:
    cfg = {
        "name": "infeasible",
        "data": {"source": "sample", "start": "2015-01-01", "end": "2015-12-31"},
        "strategies": [{
            "name": "opt", "kind": "optimized",
            "params": {"assets": ["SPY", "IEF", "GLD"], "base": {"SPY": 0.6, "IEF": 0.4},
                       "optimizer": {"objective": "min_variance", "bounds": {"upper": 0.2}, "fallback": fallback}},
        }],
    }
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_infeasible_falls_back_to_base_and_is_recorded(tmp_path):
    r = run_cli("run", str(_cfg(tmp_path, "base")), "--out", str(tmp_path / "res"), "--no-report")
    assert r.exit_code == 0, r.stderr
    folder = Path(r.stdout.strip().splitlines()[-1])
    fb = pd.read_csv(folder / "fallbacks.csv")
    assert len(fb) == 13  # first day + 12 month ends, all infeasible (3 x 0.2 < 1)
    assert set(fb["action"]) == {"base"} and set(fb["strategy"]) == {"opt"}
    assert "sum of upper bounds 0.6" in fb["reason"].iloc[0]
    w = pd.read_parquet(folder / "weights.parquet")
    spy = w[(w.asset == "SPY")]["weight"]
    assert (spy == 0.6).all()  # the base allocation was used
    assert "optimizer fallbacks: 13" in r.stdout


def test_infeasible_with_raise_is_a_clean_error(tmp_path):
    r = run_cli("run", str(_cfg(tmp_path, "raise")), "--out", str(tmp_path / "res"), "--no-report")
    assert r.exit_code == 2
    assert r.stderr.strip().startswith("optimizer error:")
    assert "(SPY, IEF, GLD)" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "res").exists() or not any((tmp_path / "res").iterdir())
