"""The one provenance writer (``backtest.results.provenance_record``): common part + own keys."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backtest.results import FORMAT_VERSION, provenance_record

CFG = SimpleNamespace(name="demo", config_hash=lambda: "abc123",
                      strategies=[SimpleNamespace(name="sixty", kind="fixed_weights"),
                                  SimpleNamespace(name="pb", kind="regime_rules")])
DATA = {"source": "csv", "synthetic": False, "first_date": "2020-01-02", "last_date": "2020-12-31"}


def test_common_part_and_own_keys():
    rec = provenance_record("tune", "20260101-000000-demo-abc123", CFG, "configs/demo.yaml", DATA, seed=7,
                            notes=("a note",), timings={"load": 1.234567, "simulate": 0.00004}, metric="sharpe")
    assert set(rec) == {"format_version", "kind", "run_id", "name", "config_file", "config_hash", "strategies",
                        "seed", "data", "notes", "packages", "git_commit", "timings_s", "metric"}
    assert rec["format_version"] == FORMAT_VERSION and rec["kind"] == "tune" and rec["seed"] == 7
    assert rec["name"] == "demo" and rec["config_hash"] == "abc123" and rec["config_file"] == "configs/demo.yaml"
    assert rec["strategies"] == {"sixty": "fixed_weights", "pb": "regime_rules"}
    assert rec["data"] == DATA and rec["notes"] == ["a note"] and rec["metric"] == "sharpe"
    assert rec["timings_s"] == {"load": 1.2346, "simulate": 0.0}  # rounded to 0.1 ms
    assert "rmpbt" in rec["packages"] and isinstance(rec["git_commit"], str) and rec["git_commit"]


def test_own_key_may_not_repeat_a_common_key():
    with pytest.raises(ValueError, match="config_hash, git_commit"):
        provenance_record("run", "x", CFG, "c.yaml", DATA, seed=1, notes=[], timings={}, git_commit="x",
                          config_hash="zzz")
