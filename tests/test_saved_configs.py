"""Saved configs (a run's ``config.yaml``, a tune's ``best.yaml``) re-run from any folder on the same data."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import make_data_dir, run_cli  # noqa: E402


def _folder(result) -> Path:
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1]).resolve()


def test_saved_run_and_tune_configs_rerun_from_another_folder(tmp_path, monkeypatch):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere" / "deeper"
    make_data_dir(tmp_path / "shared" / "data", n=320)
    work.mkdir()
    elsewhere.mkdir(parents=True)
    cfg = {
        "name": "saved", "data": {"source": "csv", "universe": ["SPY", "IEF"], "macro": []},
        "rebalance": {"every": "monthly"}, "benchmark": "spy",
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}, "allow_cash": True}},
            {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}},
        ],
    }
    (work / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    monkeypatch.chdir(work)
    # the README's form: --data-dir relative to the shell's folder
    run = _folder(run_cli("run", "c.yaml", "--data-dir", "../shared/data", "--no-report", "--out", "results"))
    tune = _folder(run_cli("tune", "c.yaml", "--data-dir", "../shared/data", "--strategy", "sixty_forty",
                           "--grid", "strategies.sixty_forty.params.weights.SPY=0.3,0.5", "--split", "2020-10-01",
                           "--no-report", "--out", "results"))
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["dir"] == str((tmp_path / "shared" / "data").resolve())  # stored absolute
    best = yaml.safe_load((tune / "best.yaml").read_text())
    assert best["data"]["dir"] == saved["data"]["dir"]
    spy = best["strategies"][0]["params"]["weights"]["SPY"]
    direct = _folder(run_cli("run", "c.yaml", "--data-dir", "../shared/data", "--no-report", "--out", "results",
                             "--set", f"strategies.sixty_forty.params.weights.SPY={spy}"))

    monkeypatch.chdir(elsewhere)  # another folder, at another depth
    again = _folder(run_cli("run", str(run / "config.yaml"), "--no-report", "--out", "res2"))
    assert (again / "metrics.csv").read_bytes() == (run / "metrics.csv").read_bytes()
    tuned = _folder(run_cli("run", str(tune / "best.yaml"), "--no-report", "--out", "res2"))
    a = pd.read_csv(tuned / "metrics.csv", index_col="strategy")
    b = pd.read_csv(direct / "metrics.csv", index_col="strategy")
    pd.testing.assert_frame_equal(a, b)
