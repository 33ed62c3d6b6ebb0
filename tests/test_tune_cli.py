"""``rmpbt tune`` from the command line: outputs, reproducibility, bad input, Ctrl-C."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import plotly.offline
import pytest

from backtest.config import load_config
from tests.helpers import assert_clean_error, run_cli, write_tune_config

W = "strategies.mix.params.weights."
GRID = ["--grid", W + "SPY=0.2:0.6:0.1", "--grid", W + "GLD=0:0.3:0.1", "--grid", "rebalance.every=monthly,quarterly",
        "--where", "SPY + GLD <= 0.7"]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_tune_config(tmp_path)


def folder_of(result) -> Path:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    last = result.stdout.strip().splitlines()[-1]
    p = Path(last)
    assert p.is_dir(), last
    return p


def test_tune_writes_a_complete_run_folder(tmp_path, cfg):
    out = tmp_path / "res"
    r = run_cli("tune", str(cfg), *GRID, "--strategy", "mix", "--walk-forward", "train=12M,test=6M",
                "--cv", "cpcv:4,2,purge=5", "--out", str(out))
    folder = folder_of(r)
    assert sorted(p.name for p in folder.iterdir()) == ["best.yaml", "cpcv.csv", "oos.csv", "provenance.json",
                                                         "tune.csv", "tune.html"]
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp")]
    t = pd.read_csv(folder / "tune.csv")
    assert len(t) == 2 * 17 and {W + "SPY", W + "GLD", "rebalance.every", "is_sharpe", "oos_sharpe",
                                 "train_1", "test_1", "is_rank", "oos_rank"} <= set(t.columns)
    assert (t[W + "SPY"] + t[W + "GLD"] <= 0.7 + 1e-9).all()
    assert "deflated Sharpe" in r.stdout and "Spearman" in r.stdout and "sixty_forty" in r.stdout
    assert "verdict: " in r.stdout and "PBO" in r.stdout
    assert (t["turnover"] >= 0).all() and t["turnover"].notna().all()
    prov = json.loads((folder / "provenance.json").read_text())
    v = prov["verdict"]
    assert v["level"] in ("green", "amber", "red") and v["text"] in " ".join(r.stdout.split())
    assert 0.0 <= v["pbo"] <= 1.0 and len(v["rank_corr_by_fold"]) == len(prov["folds"])
    assert [c["reference"] for c in v["oos_active"]] == ["mix (as configured)", "sixty_forty"]
    # issue 23: PBO on active returns, the noise null (default runs) and CPCV
    assert 0.0 <= v["pbo_active"] <= 1.0 and v["null_runs"] == 200
    assert 0.0 < v["null_p_dsr"] <= 1.0 and 0.0 < v["null_p_oos"] <= 1.0
    assert v["cv"]["paths"] == 3 and v["cv"]["splits"] == 6 and v["cv"]["purge_days"] == 5
    assert v["cv"]["days"] == 1300 and v["cv"]["embargo_days"] == 13  # López de Prado's ~1% of the days
    cp = pd.read_csv(folder / "cpcv.csv")
    assert list(cp.columns) == ["path", "sharpe", "active_bp_per_year", "active_ir", "variants"] and len(cp) == 3
    assert "noise null (200 runs" in r.stdout and "CPCV 4 groups" in r.stdout and "on active returns" in r.stdout
    # the page is self-contained: plotly.js embedded once, six figures (heatmap, scatter, PBO, null, CPCV, OOS)
    page = (folder / "tune.html").read_text()
    assert page.count(plotly.offline.get_plotlyjs()[:200]) == 1
    assert page.count("Plotly.newPlot") == 6 and "<script src=" not in page
    assert "Noise null (200 runs" in page and "CPCV (4 groups" in page
    assert f"class='verdict v-{v['level']}'" in page
    # best.yaml is a ready-to-run config
    best = load_config(folder / "best.yaml")
    assert best.name == "tiny-tuned"
    r2 = run_cli("run", str(folder / "best.yaml"), "--out", str(tmp_path / "runs"), "--no-report")
    assert r2.exit_code == 0, r2.stderr


@pytest.mark.slow
def test_tune_never_imports_vectorbt(tmp_path, cfg):
    """The untuned reference and the benchmarks run through the batch kernel, not the engine."""
    code = ("import sys\nfrom backtest.cli import main\ntry:\n    main()\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nprint('vectorbt' in sys.modules, 'backtest.pipeline' in sys.modules)\n")
    args = ["tune", str(cfg), "--grid", W + "GLD=0,0.1", "--strategy", "mix", "--split", "2017-06-01",
            "--metric", "information_ratio", "--null-runs", "0", "--no-report", "--out", str(tmp_path / "res")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "sixty_forty" in r.stdout  # the benchmarks ran
    assert r.stdout.strip().splitlines()[-1] == "False True"  # the pipeline module is loaded, vectorbt is not


def test_same_tune_csv_from_repeated_runs_and_two_dask_workers(tmp_path, cfg):
    """Two in-process runs with the same seed and a 2-process Dask run give byte-identical tune.csv."""
    args = [*GRID, "--strategy", "mix", "--random", "17", "--seed", "5", "--split", "2017-06-01",
            "--no-report", "--no-benchmarks", "--chunk-size", "4"]
    a = folder_of(run_cli("tune", str(cfg), *args, "--out", str(tmp_path / "a")))
    b = folder_of(run_cli("tune", str(cfg), *args, "--out", str(tmp_path / "b")))
    # timing of the 2-worker run: benchmarks/bench_test_timings.py
    c = folder_of(run_cli("tune", str(cfg), *args, "--workers", "2", "--out", str(tmp_path / "c")))
    ref = (a / "tune.csv").read_bytes()
    assert (b / "tune.csv").read_bytes() == ref
    assert (c / "tune.csv").read_bytes() == ref
    assert len(pd.read_csv(a / "tune.csv")) == 17
    other = folder_of(run_cli("tune", str(cfg), *args[:-6], "--seed", "6", "--split", "2017-06-01", "--no-report",
                              "--no-benchmarks", "--out", str(tmp_path / "d")))
    assert (other / "tune.csv").read_bytes() != ref


@pytest.mark.parametrize("args,needles", [
    (["--grid", "strategies.mix.params.wieghts.SPY=0.1,0.2"], ["unknown key 'wieghts'"]),
    (["--grid", "rebalance.evry=monthly,weekly"], ["rebalance.evry", "did you mean 'every'"]),
    (["--grid", W + "SPY="], ["empty grid"]),
    (["--grid", W + "SPY=0.5:0.1:0.1"], ["empty grid"]),
    (["--grid", W + "SPY=0.1:0.5:0"], ["step must not be zero"]),
    (["--grid", W + "SPY=0.1,0.2", "--walk-forward", "train=5Y,test=1Y"], ["longer than the data"]),
    (["--grid", W + "SPY=0.1,0.2", "--split", "2030-01-01"], ["--split 2030-01-01"]),
    (["--grid", W + "SPY=0.1,0.2", "--metric", "sharp"], ["did you mean 'sharpe'"]),
    (["--grid", W + "SPY=0.1,0.2", "--where", "SPYY > 0"], ["unknown name 'SPYY'"]),
    (["--grid", W + "SPY=0.1,0.2", "--where", "SPY >"], ["unexpected end"]),
    (["--grid", "data.start=2015-01-01,2016-01-01"], ["cannot be tuned"]),
    ([], ["no --grid"]),
    (["--grid", W + "SPY=0.1,0.2", "--benchmark", "sixty_fourty"], ["--benchmark sixty_fourty", "sixty_forty"]),
    (["--grid", W + "SPY=0.1,0.2", "--benchmark", "sixty_forty", "--no-benchmarks"], ["--no-benchmarks"]),
    (["--grid", W + "SPY=0.1,0.2", "--null-runs", "-1"], ["--null-runs -1", "0 (off) to 10000"]),
    (["--grid", W + "SPY=0.1,0.2", "--null-runs", "10001"], ["--null-runs 10001"]),
    (["--grid", W + "SPY=0.1,0.2", "--cv", "kfold:5"], ["--cv kfold:5", "cpcv:N,K"]),
    (["--grid", W + "SPY=0.1,0.2", "--cv", "cpcv:6,6"], ["--cv cpcv:6,6", "K=6"]),
    (["--grid", W + "SPY=0.1,0.2", "--cv", "cpcv:6,2,purge=300"], ["purge=300", "0 to 252"]),
    (["--grid", W + "SPY=0.1,0.2", "--cv", "cpcv:30,3"], ["C(30,3)"]),
])
def test_bad_input_is_one_line_exit_2(tmp_path, cfg, args, needles):
    out = tmp_path / "res"
    r = run_cli("tune", str(cfg), "--strategy", "mix", *args, "--out", str(out))
    assert_clean_error(r, out, *needles)


def test_scheduler_that_does_not_answer_fails_fast(tmp_path, cfg):
    with socket.socket() as s:  # a free loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "res"
    # how fast it fails: benchmarks/bench_test_timings.py
    r = run_cli("tune", str(cfg), "--strategy", "mix", "--grid", W + "SPY=0.1,0.2",
                "--scheduler", f"127.0.0.1:{port}", "--out", str(out))
    assert_clean_error(r, out, f"--scheduler 127.0.0.1:{port}", "no Dask scheduler answered")


def test_ctrl_c_leaves_nothing_behind(tmp_path, cfg, monkeypatch):
    import backtest.report.tune_page as page
    import backtest.tune.orchestrate as orchestrate

    out = tmp_path / "res"

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(orchestrate, "run_chunk", interrupt)  # during the simulation
    r = run_cli("tune", str(cfg), "--strategy", "mix", "--grid", W + "SPY=0.1,0.2", "--out", str(out))
    assert r.exit_code == 130 and "interrupted: nothing written" in r.stderr
    assert not out.exists() or not any(out.iterdir())
    monkeypatch.undo()
    monkeypatch.setattr(page, "render_tune_page", interrupt)  # while writing the folder
    r = run_cli("tune", str(cfg), "--strategy", "mix", "--grid", W + "SPY=0.1,0.2", "--out", str(out))
    assert r.exit_code == 130
    assert not any(out.iterdir())  # the half-written temporary folder was removed
