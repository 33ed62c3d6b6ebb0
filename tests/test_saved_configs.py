"""Saved configs (a run's ``config.yaml``, a tune's ``best.yaml``) re-run from any folder on the same data.

The same small runs also check the run folder's new ``metrics.csv`` columns against its own
``returns.parquet`` and ``costs.parquet``, and the terminal's relative table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import make_data_dir, run_cli  # noqa: E402

from backtest.cost_drag import COST_DRAG_COLUMNS, cost_drag_table  # noqa: E402
from backtest.metrics_relative import RELATIVE_COLUMNS, relative_table  # noqa: E402


def _folder(result) -> Path:
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1]).resolve()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A run and a tune from ``work`` with ``--data-dir ../shared/data``; a direct run of the best variant."""
    tmp = tmp_path_factory.mktemp("saved")
    work = tmp / "work"
    make_data_dir(tmp / "shared" / "data", n=320)
    work.mkdir()
    cfg = {
        "name": "saved", "data": {"source": "csv", "universe": ["SPY", "IEF"], "macro": []},
        "rebalance": {"every": "monthly"}, "benchmark": "spy", "costs": {"fee_bps": 5.0},
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights",
             "params": {"weights": {"SPY": 0.6, "IEF": 0.4}, "allow_cash": True}},
            {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}},
            {"name": "levered", "kind": "regime_rules", "params": {"base": {"SPY": 1.2, "IEF": 0.3}}},
            {"name": "short", "kind": "fixed_weights", "params": {"weights": {"SPY": 1.3, "IEF": -0.3}}},
        ],
    }
    (work / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    mp = pytest.MonkeyPatch()
    mp.chdir(work)
    try:
        # the README's form: --data-dir relative to the shell's folder
        res = run_cli("run", "c.yaml", "--data-dir", "../shared/data", "--no-report", "--out", "results")
        run = _folder(res)
        tune = _folder(run_cli("tune", "c.yaml", "--data-dir", "../shared/data", "--strategy", "sixty_forty",
                               "--grid", "strategies.sixty_forty.params.weights.SPY=0.3,0.5", "--split", "2020-10-01",
                               "--no-report", "--out", "results"))
        spy = yaml.safe_load((tune / "best.yaml").read_text())["strategies"][0]["params"]["weights"]["SPY"]
        direct = _folder(run_cli("run", "c.yaml", "--data-dir", "../shared/data", "--no-report", "--out", "results",
                                 "--set", f"strategies.sixty_forty.params.weights.SPY={spy}"))
    finally:
        mp.undo()
    return {"tmp": tmp, "run": run, "tune": tune, "direct": direct, "output": res.output}


def test_saved_run_and_tune_configs_rerun_from_another_folder(saved, monkeypatch):
    tmp, run, tune = saved["tmp"], saved["run"], saved["tune"]
    stored = yaml.safe_load((run / "config.yaml").read_text())["data"]["dir"]
    assert stored == str((tmp / "shared" / "data").resolve())  # stored absolute
    assert yaml.safe_load((tune / "best.yaml").read_text())["data"]["dir"] == stored
    elsewhere = tmp / "elsewhere" / "deeper"  # another folder, at another depth
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    again = _folder(run_cli("run", str(run / "config.yaml"), "--no-report", "--out", "res2"))
    assert (again / "metrics.csv").read_bytes() == (run / "metrics.csv").read_bytes()
    tuned = _folder(run_cli("run", str(tune / "best.yaml"), "--no-report", "--out", "res2"))
    a = pd.read_csv(tuned / "metrics.csv", index_col="strategy")
    b = pd.read_csv(saved["direct"] / "metrics.csv", index_col="strategy")
    pd.testing.assert_frame_equal(a, b)


def test_run_folder_relative_and_drag_columns(saved):
    """metrics.csv's new columns equal a recomputation from the folder's own returns and costs."""
    run = saved["run"]
    m = pd.read_csv(run / "metrics.csv", index_col="strategy")
    at = list(m.columns).index(RELATIVE_COLUMNS[0])  # the contract metrics, then these (metrics added later follow)
    assert list(m.columns[at:at + 10]) == [*RELATIVE_COLUMNS, *COST_DRAG_COLUMNS] and at == 12
    returns = pd.read_parquet(run / "returns.parquet")
    pd.testing.assert_frame_equal(m[RELATIVE_COLUMNS], relative_table(returns, "spy"), check_dtype=False,
                                  check_names=False, rtol=1e-9)
    assert m.loc["spy", RELATIVE_COLUMNS].isna().all()
    drags = cost_drag_table(pd.read_parquet(run / "costs.parquet"), returns)
    pd.testing.assert_frame_equal(m[COST_DRAG_COLUMNS], drags, check_dtype=False, check_names=False, rtol=1e-9)
    assert m.loc["levered", "financing_drag"] > 0 and m.loc["sixty_forty", "financing_drag"] == 0
    assert m.loc["short", "borrow_drag"] > 0 and m.loc["levered", "borrow_drag"] == 0
    out = saved["output"]
    assert "against spy (benchmark); costs in % of NAV a year" in out
    assert f"% of NAV a year: levered {m.loc['levered', 'financing_drag']:.2%}" in out


def test_run_benchmark_flag(saved, monkeypatch):
    monkeypatch.chdir(saved["tmp"] / "work")
    res = run_cli("run", "c.yaml", "--data-dir", "../shared/data", "--no-report", "--out", "r3",
                  "--benchmark", "sixty_fourty")
    assert res.exit_code == 2 and "benchmark 'sixty_fourty' is not a strategy name (did you mean 'sixty_forty'?)" \
        in res.output
    assert not (saved["tmp"] / "work" / "r3").exists()
    folder = _folder(run_cli("run", "c.yaml", "--data-dir", "../shared/data", "--no-report", "--out", "r3",
                             "--benchmark", "sixty_forty"))
    m = pd.read_csv(folder / "metrics.csv", index_col="strategy")
    assert m.loc["sixty_forty", RELATIVE_COLUMNS].isna().all() and m.loc["spy", "beta"] > 1.0
    assert yaml.safe_load((folder / "config.yaml").read_text())["benchmark"] == "sixty_forty"
