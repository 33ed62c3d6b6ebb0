"""Tearsheet, PNGs and ``rmpbt compare`` on small hand-made runs (no real data, no browser).

Runs are built by the real pipeline (``run_backtest`` + ``write_run``) on a tiny csv data
folder written under a temporary directory; optional inputs (scenarios, fallbacks) are
written by hand next to them.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from backtest.cli import app
from backtest.config import RunConfig
from backtest.data.exchange_calendar import exchange_days
from backtest.metrics import metrics_table
from backtest.pipeline import run_backtest, write_run
from backtest.report import load_run, render_run
from backtest.report.compare import build_compare, load_runs
from backtest.report.html import METRIC_SPEC
from backtest.report.tearsheet import build_tearsheet

TICKERS = {"SPY": (3e-4, 0.012), "IEF": (1e-4, 0.004), "GLD": (2e-4, 0.009)}


# --------------------------------------------------------------------------- fixtures


def write_tiny_data(root: Path, start: str = "2019-01-02", end: str = "2021-06-30", seed: int = 3) -> Path:
    """A csv data folder with three tickers and the T-bill rate (spans RMP2019 -> QE4)."""
    (root / "prices").mkdir(parents=True, exist_ok=True)
    (root / "fred").mkdir(exist_ok=True)
    days = exchange_days(start, end)  # NYSE trading days: the data layer refuses exchange holidays
    rng = np.random.default_rng(seed)
    for t, (mu, sd) in TICKERS.items():
        px = 100 * np.cumprod(1 + rng.normal(mu, sd, len(days)))
        pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "adj_close": px.round(4)}).to_csv(
            root / "prices" / f"{t}.csv", index=False)
    rate = np.linspace(2.4, 0.1, len(days)).round(3)
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "value": rate}).to_csv(root / "fred" / "DTB3.csv", index=False)
    return root


def tiny_config(data_dir: Path, name: str = "tiny", fee_bps: float = 1.0, start: str = "2019-03-01") -> RunConfig:
    """Three simple strategies on the tiny data folder."""
    return RunConfig.model_validate({
        "name": name,
        "data": {"source": "csv", "dir": str(data_dir), "start": start, "universe": list(TICKERS),
                 "macro": ["DTB3"]},
        "costs": {"fee_bps": fee_bps, "slippage_bps": 2.0},
        "cash": {"rate": "DTB3"},
        "benchmark": "sixty_forty",
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
            {"name": "ew", "kind": "equal_weight", "params": {"assets": list(TICKERS)}},
            {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}},
        ],
    })


def make_run(root: Path, data_dir: Path, **kw) -> Path:
    """Run the pipeline on the tiny data and write a run folder (with its report) under ``root``."""
    return write_run(run_backtest(tiny_config(data_dir, **kw)), root)


def add_optional_files(folder: Path) -> None:
    """Write scenario, fallback and regret files as other features would."""
    strategies = list(pd.read_csv(folder / "metrics.csv")["strategy"])
    scenarios = ["qe_replay", "qt_grind", "mix"]
    rows, fan = [], []
    rng = np.random.default_rng(0)
    for i, s in enumerate(strategies):
        for j, sc in enumerate(scenarios):
            for stat, base in (("cagr", 0.05), ("max_drawdown", -0.2), ("sharpe", 0.6)):
                m = base + 0.01 * i - 0.02 * j
                rows.append({"strategy": s, "scenario": sc, "statistic": stat, "mean": m, "median": m,
                             "p5": m - 0.1, "p25": m - 0.03, "p75": m + 0.03, "p95": m + 0.1})
            if sc == "mix":
                continue
            days = np.arange(0, 253, 5)
            drift = np.exp((0.05 + 0.01 * i - 0.02 * j) * days / 252)
            spread = 0.15 * np.sqrt(days / 252)
            fan.append(pd.DataFrame({
                "strategy": s, "scenario": sc, "day": days, "p5": drift * (1 - 1.6 * spread),
                "p25": drift * (1 - 0.7 * spread), "p50": drift, "p75": drift * (1 + 0.7 * spread),
                "p95": drift * (1 + 1.6 * spread)}))
    pd.DataFrame(rows).to_csv(folder / "scenario_metrics.csv", index=False)
    pd.concat(fan, ignore_index=True).to_parquet(folder / "scenario_fan.parquet", index=False)
    pd.DataFrame({"strategy": strategies, "max_regret": rng.uniform(0, 0.05, len(strategies)),
                  "worst_scenario": "qt_grind"}).to_csv(folder / "scenario_regret.csv", index=False)
    pd.DataFrame({"date": ["2019-06-28", "2020-03-31", "2020-03-31"], "strategy": strategies[:1] * 3,
                  "reason": ["infeasible", "solver_error", "solver_error"],
                  "action": ["previous_weights", "equal_weight", "equal_weight"]}).to_csv(
        folder / "fallbacks.csv", index=False)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_data) -> Path:
    return make_run(tmp_path_factory.mktemp("results"), tiny_data)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_run) -> Path:
    """The tiny run plus every optional file, re-rendered."""
    folder = tmp_path_factory.mktemp("full") / tiny_run.name
    shutil.copytree(tiny_run, folder)
    add_optional_files(folder)
    render_run(folder)
    return folder


@pytest.fixture(scope="module")
def results_pair(tmp_path_factory, tiny_data) -> tuple[Path, Path, Path]:
    """Two runs over the same period (different costs) and one starting later."""
    root = tmp_path_factory.mktemp("pair")
    a = make_run(root, tiny_data, name="base")
    b = make_run(root, tiny_data, name="costly", fee_bps=25.0)
    c = make_run(root, tiny_data, name="late", start="2019-10-01")
    return a, b, c


class TableParser(HTMLParser):
    """Collect the rows (header + body) of one ``<table id=...>`` as lists of cell texts."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.rows, self.classes = table_id, 0, [], []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._cls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            if self.depth or a.get("id") == self.table_id:
                self.depth += 1
        if not self.depth:
            return
        if tag == "tr":
            self._row, self._cls = [], []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._cls.append(a.get("class") or "")

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self.classes.append(self._cls)
            self._row = None
        elif tag == "table":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and self._cell is not None:
            self._cell.append(data)


def parse_table(html: str, table_id: str) -> tuple[list[list[str]], list[list[str]]]:
    p = TableParser(table_id)
    p.feed(html)
    assert p.rows, f"table {table_id} not found"
    return p.rows, p.classes


def parse_number(text: str) -> float:
    t = text.replace(",", "").strip()
    if t in ("–", ""):
        return float("nan")
    if t.endswith("pp"):
        return float(t[:-2]) / 100
    return float(t[:-1]) / 100 if t.endswith("%") else float(t)


def page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="rmpbt-data">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


# --------------------------------------------------------------------------- tearsheet


def test_run_folder_gets_report_files(tiny_run):
    for name in ("tearsheet.html", "equity.png", "drawdown.png"):
        assert (tiny_run / name).exists(), name
    for name in ("equity.png", "drawdown.png"):
        data = (tiny_run / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not list(tiny_run.parent.glob(".tmp-*"))


def test_metrics_table_matches_metrics_csv(tiny_run):
    """Golden: every number of the HTML metrics table equals metrics.csv to display precision."""
    html = (tiny_run / "tearsheet.html").read_text()
    rows, _ = parse_table(html, "metrics-table")
    header, body = rows[0], rows[1:]
    csv = pd.read_csv(tiny_run / "metrics.csv", index_col="strategy")
    labels = {lbl: col for col, lbl, *_ in METRIC_SPEC}
    assert [labels[h] for h in header[1:]] == [c for c, *_ in METRIC_SPEC]
    assert [r[0] for r in body] == list(csv.index)
    for row in body:
        for lbl, text in zip(header[1:], row[1:], strict=True):
            col = labels[lbl]
            expected = csv.loc[row[0], col]
            tol = 0.00005 if text.endswith("%") else 0.005
            assert parse_number(text) == pytest.approx(expected, abs=tol + 1e-12), (row[0], col, text, expected)


def test_only_risk_adjusted_figures_are_highlighted(tiny_run):
    html = (tiny_run / "tearsheet.html").read_text()
    rows, classes = parse_table(html, "metrics-table")
    header = rows[0]
    data = load_run(tiny_run)
    csv = pd.read_csv(tiny_run / "metrics.csv", index_col="strategy")
    for col, lbl, *_ in METRIC_SPEC:
        j = header.index(lbl)
        marked = [r[0] for r, c in zip(rows[1:], classes[1:], strict=True) if "best" in c[j]]
        if col not in ("sharpe", "sortino", "calmar"):
            assert not marked, col  # CAGR, vol, drawdown, ...: absolute figures are not ranked
            continue
        vals = csv[col]
        if col == "calmar":  # ranked in excess of cash, by hand
            cash = (1 + data.rf).prod() ** (252 / len(data.rf)) - 1
            vals = (csv["cagr"] - cash) / csv["max_drawdown"].abs()
        assert marked == [vals.idxmax()], (col, marked)


def test_cash_like_strategy_never_crowned_by_calmar():
    """Bills: the top raw Calmar (a tiny drawdown), about zero in excess of cash: not highlighted."""
    from backtest.report.html import metrics_table_html
    from backtest.report.rundata import RunData
    from backtest.report.sections import excess_calmar

    idx = pd.bdate_range("2020-01-01", periods=504)
    rng = np.random.default_rng(5)
    rf = pd.Series(0.04 / 252, index=idx)
    ret = pd.DataFrame({"bills": 0.04 / 252 + rng.normal(0, 0.0002, len(idx)),
                        "risky": 0.0005 + rng.normal(0, 0.01, len(idx))}, index=idx)
    metrics = metrics_table(ret, rf)
    assert metrics["calmar"].idxmax() == "bills"
    data = RunData(folder=Path("."), prov={}, config={}, metrics=metrics, regime_metrics=pd.DataFrame(),
                   returns=ret, rf=rf)
    rank = excess_calmar(data)
    assert rank["bills"] == pytest.approx((metrics.loc["bills", "cagr"] - (1 + rf).prod() ** (252 / 504) + 1)
                                          / abs(metrics.loc["bills", "max_drawdown"]))
    html = metrics_table_html(metrics, {}, rank={"calmar": rank})
    rows, classes = parse_table(html, "metrics-table")
    j = rows[0].index("Calmar")
    assert [r[0] for r, c in zip(rows[1:], classes[1:], strict=True) if "best" in c[j]] == ["risky"]


def test_relative_section_matches_metrics_csv(tiny_run):
    """The relative table shows metrics.csv's columns; the benchmark's row is empty and tagged."""
    from backtest.report.html import RELATIVE_SPEC

    html = (tiny_run / "tearsheet.html").read_text()
    assert '<section class="card" id="relative">' in html and "Against <b>sixty_forty</b>" in html
    rows, classes = parse_table(html, "relative-table")
    csv = pd.read_csv(tiny_run / "metrics.csv", index_col="strategy")
    assert rows[0][1:] == [lbl for _, lbl, *_ in RELATIVE_SPEC]
    body = {r[0].replace(" benchmark", ""): r[1:] for r in rows[1:]}
    assert set(body["sixty_forty"]) == {"–"} and rows[1][0] == "sixty_forty benchmark"
    for name in ("ew", "spy"):
        for (col, _, kind, _), text in zip(RELATIVE_SPEC, body[name], strict=True):
            tol = 0.00005 if kind == "pct" else 0.005
            assert parse_number(text) == pytest.approx(csv.loc[name, col], abs=tol + 1e-12), (name, col)
    ir = rows[0].index("Information ratio")
    marked = [r[0] for r, c in zip(rows[1:], classes[1:], strict=True) if "best" in c[ir]]
    assert marked == [csv["information_ratio"].idxmax()]
    costs, _ = parse_table(html, "costs-table")
    assert costs[0] == ["strategy", "turnover/yr", "Fees + slippage", "Borrow", "Financing", "Total"]
    fee = {r[0]: parse_number(r[2]) for r in costs[1:]}
    assert fee == {k: pytest.approx(v, abs=0.00005) for k, v in csv["fee_drag"].items()}


def test_page_is_self_contained(tiny_run):
    import plotly.offline

    html = (tiny_run / "tearsheet.html").read_text()
    js = plotly.offline.get_plotlyjs()
    assert html.count(js[:300]) == 1, "plotly.js must be embedded exactly once"
    assert not re.search(r"<script[^>]*\bsrc\s*=", html)
    assert "<link" not in html and "@import" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html.replace(js, ""))
    assert len(html.encode()) < 8_000_000


def test_figures_have_containers_and_shared_dates(tiny_run):
    html = (tiny_run / "tearsheet.html").read_text()
    data = page_data(html)
    ids = [f["id"] for f in data["figures"]]
    assert len(ids) >= 7 and len(set(ids)) == len(ids)
    for fid in ids:
        assert f'id="{fid}"' in html
    for f in data["figures"]:
        assert "template" not in f["fig"]["layout"]
        assert f["fig"]["data"], f["id"]
        for t in f["fig"]["data"]:
            x = t.get("x")
            if isinstance(x, str) and x.startswith("@"):
                assert x[1:] in data["x"]
    days = len(pd.read_parquet(tiny_run / "returns.parquet"))
    assert any(len(v) == days for v in data["x"].values()), "daily dates are shared, written once"


def test_header_shows_run_facts(tiny_run):
    html = (tiny_run / "tearsheet.html").read_text()
    prov = json.loads((tiny_run / "provenance.json").read_text())
    assert prov["config_hash"] in html
    assert f"{prov['data']['first_date']} → {prov['data']['last_date']}" in html
    assert "fee 1 bps + slippage 2 bps" in html and "monthly" in html and "1 day(s)" in html
    assert prov["data"]["source"] in html
    assert "SYNTHETIC" not in html
    assert ".tmp-" not in html, "the run id shown is the final one, not the temporary folder"


def test_synthetic_source_is_marked_and_text_escaped(tiny_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run, folder)
    prov = json.loads((folder / "provenance.json").read_text())
    prov["data"]["synthetic"] = True
    prov["name"] = "<script>alert(1)</script>"
    prov["notes"] = ["a <b>note</b> & more"]
    (folder / "provenance.json").write_text(json.dumps(prov))
    html = build_tearsheet(load_run(folder))
    assert "SYNTHETIC" in html and 'class="banner"' in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a &lt;b&gt;note&lt;/b&gt; &amp; more" in html


def test_sections_follow_the_files_present(tiny_run, full_run):
    base = (tiny_run / "tearsheet.html").read_text()
    for sid in ("metrics", "equity", "drawdown", "rolling", "regimes", "weights", "costs", "monthly"):
        assert f'<section class="card" id="{sid}">' in base, sid
    for sid in ("scenarios", "fallbacks"):
        assert f'id="{sid}"' not in base
    full = (full_run / "tearsheet.html").read_text()
    for sid in ("scenarios", "fallbacks", "events"):
        assert f'<section class="card" id="{sid}">' in full, sid
    assert "probability-weighted mix" in full
    assert "Fan charts" in full and "Outcome distributions" in full and 'id="regret-table"' in full
    rows, _ = parse_table(full, "fallbacks-summary")
    assert rows[0] == ["strategy", "reason", "action", "count"]
    assert ["sixty_forty", "solver_error", "equal_weight", "2"] in rows
    assert 'id="report-notes"' not in full


def test_malformed_optional_file_skips_its_section(tiny_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run, folder)
    pd.DataFrame({"strategy": ["ew"], "nonsense": [1.0]}).to_csv(folder / "scenario_metrics.csv", index=False)
    (folder / "event_study.csv").write_text("strategy,day\new,0\n")
    (folder / "fallbacks.csv").write_bytes(b"\x00\xff\x00")
    render_run(folder)
    html = (folder / "tearsheet.html").read_text()
    assert 'id="report-notes"' in html and "skipped" in html
    assert '<section class="card" id="metrics">' in html
    assert '<section class="card" id="events">' not in html


def test_minimal_run_folder_renders(tiny_run, tmp_path):
    """Only the required files (weights from targets, no regimes, costs or signals)."""
    folder = tmp_path / "run"
    shutil.copytree(tiny_run, folder)
    for name in ("holdings.parquet", "costs.parquet", "regimes.parquet", "signals.parquet", "event_study.csv",
                 "regime_share.csv", "tearsheet.html", "equity.png", "drawdown.png"):
        (folder / name).unlink(missing_ok=True)
    render_run(folder)
    html = (folder / "tearsheet.html").read_text()
    assert '<section class="card" id="weights">' in html and "target weights" in html
    assert '<section class="card" id="costs">' not in html
    assert (folder / "equity.png").exists()


def test_render_flags(tiny_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run, folder)
    for name in ("tearsheet.html", "equity.png", "drawdown.png"):
        (folder / name).unlink()
    render_run(folder, html=False, png=True)
    assert not (folder / "tearsheet.html").exists() and (folder / "equity.png").exists()
    render_run(folder, html=True, png=False)
    assert (folder / "tearsheet.html").exists()


def test_rebuilt_cash_return_reproduces_metrics(tiny_run):
    """The report's cash return (from signals.parquet) gives back metrics.csv's Sharpe ratios."""
    data = load_run(tiny_run)
    costs = data.costs.pivot_table(index="date", columns="strategy", values="turnover", aggfunc="sum")
    got = metrics_table(data.returns, data.rf, costs.reindex(data.returns.index))
    pd.testing.assert_frame_equal(got, data.metrics[got.columns], check_exact=False, rtol=1e-7, atol=1e-10,
                                  check_names=False)


def test_render_time_small_run(tiny_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run, folder)
    render_run(folder)  # warm imports
    t = time.perf_counter()
    render_run(folder)
    assert time.perf_counter() - t < 2.0


# --------------------------------------------------------------------------- compare

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["compare", *args])


def one_line_error(result) -> str:
    err = result.stderr.strip()
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert err and "\n" not in err, err
    assert "Traceback" not in result.output
    return err


def test_compare_two_runs(results_pair, tmp_path):
    a, b, _ = results_pair
    out = tmp_path / "cmp.html"
    res = invoke(str(a), str(b), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == str(out)
    html = out.read_text()
    rows, _ = parse_table(html, "metrics-table")
    names = [r[0].replace(" baseline", "") for r in rows[1:]]
    assert names == [f"{r}/{s}" for r in ("base", "costly") for s in ("sixty_forty", "ew", "spy")]
    deltas, _ = parse_table(html, "delta-table")
    assert deltas[1][:2] == ["base/sixty_forty", "baseline"]
    # deltas are against base/sixty_forty: check one value
    m = load_runs([a, b])
    d_cagr = m[1].metrics.loc["ew", "cagr"] - m[0].metrics.loc["sixty_forty", "cagr"]
    row = next(r for r in deltas if r[0] == "costly/ew")
    assert parse_number(row[2]) == pytest.approx(d_cagr, abs=5e-5)
    for sid in ("metrics", "deltas", "equity", "drawdown", "regimes", "weights", "costs", "monthly"):
        assert f'<section class="card" id="{sid}">' in html, sid
    assert html.count('class="txt diff"') >= 2  # the costs row differs between the runs


def test_compare_baseline_and_default_output(results_pair, monkeypatch, tmp_path):
    a, b, _ = results_pair
    monkeypatch.chdir(tmp_path)
    res = invoke(str(a), str(b), "--baseline", "costly/spy")
    assert res.exit_code == 0, res.output
    out = Path(res.stdout.strip().splitlines()[-1])  # issue 22: a new page per comparison, next to the run
    assert out.parent == a.parent and re.fullmatch(r"compare-\d{8}-\d{6}(-\d+)?\.html", out.name), out
    html = out.read_text()
    assert "Differences vs costly/spy" in html
    res = invoke(str(a), str(b), "--baseline", "nope", "--out", str(tmp_path / "x.html"))
    assert "baseline 'nope'" in one_line_error(res)
    res = invoke(str(a), str(b), "--baseline", "spy", "--out", str(tmp_path / "x.html"))
    assert "ambiguous" in one_line_error(res)


def test_compare_different_periods(results_pair, tmp_path):
    a, _, c = results_pair
    err = one_line_error(invoke(str(a), str(c), "--out", str(tmp_path / "x.html")))
    assert "different periods" in err and "--align" in err
    out = tmp_path / "aligned.html"
    res = invoke(str(a), str(c), "--align", "--out", str(out))
    assert res.exit_code == 0, res.output
    runs = load_runs([a, c])
    comp = build_compare(runs, align=True)
    start = pd.Timestamp(runs[1].prov["data"]["first_date"])
    assert comp.aligned[0] == start
    r = runs[0].returns.loc[start:]
    expect = metrics_table(r, runs[0].rf.loc[start:])
    got = comp.data.metrics.loc[[f"base/{s}" for s in r.columns], "sharpe"].to_numpy()
    np.testing.assert_allclose(got, expect["sharpe"].to_numpy(), rtol=1e-9)
    assert "Aligned to the common period" in out.read_text()
    # relative metrics and cost drags are recomputed on the common period (costs per NAV of the window)
    a_ = r["ew"] - r["sixty_forty"]
    assert comp.data.metrics.loc["base/ew", "active_return"] == pytest.approx(a_.mean() * 252, rel=1e-9)
    full = runs[0].returns["ew"]
    nav = (1 + full).cumprod().shift(1).fillna(1.0)
    fees = runs[0].costs.loc[runs[0].costs["strategy"] == "ew"].set_index("date")["fees"]
    fees.index = pd.DatetimeIndex(fees.index)
    want = (fees / nav).loc[start:].sum() * 252 / len(r)
    assert comp.data.metrics.loc["base/ew", "fee_drag"] == pytest.approx(want, rel=1e-9)


def test_compare_benchmark_option(results_pair, tmp_path):
    from backtest.metrics_relative import relative_summary

    a, b, _ = results_pair
    runs = load_runs([a, b])
    comp = build_compare(runs)  # default: each run against its own benchmark
    assert comp.benchmarks["costly/ew"] == "costly/sixty_forty"
    assert comp.data.metrics.loc["costly/ew", "beta"] == pytest.approx(runs[1].metrics.loc["ew", "beta"])
    comp = build_compare(runs, benchmark="base/spy", strategies=["ew"])  # the benchmark need not be shown
    got = comp.data.metrics.loc["costly/ew"]
    want = relative_summary(runs[1].returns["ew"], runs[0].returns["spy"])
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9), k
    assert 'id="relative-table"' in comp.html and "Against <b>base/spy</b>" in comp.html
    res = invoke(str(a), str(b), "--benchmark", "base/spy", "--out", str(tmp_path / "c.html"))
    assert res.exit_code == 0, res.output
    assert "against base/spy (benchmark)" in res.stdout
    assert "benchmark 'nope'" in one_line_error(invoke(str(a), str(b), "--benchmark", "nope",
                                                        "--out", str(tmp_path / "x.html")))


def test_compare_same_names_get_unique_labels(tmp_path, tiny_data, results_pair):
    a, _, _ = results_pair
    other = make_run(tmp_path, tiny_data, name="base", fee_bps=5.0)
    comp = build_compare(load_runs([a, other]))
    assert len(set(comp.labels)) == 2 and all(lbl.startswith("base") for lbl in comp.labels)


def test_compare_bad_inputs(results_pair, tmp_path):
    a, _, _ = results_pair
    out = str(tmp_path / "x.html")
    assert "no run folders" in one_line_error(invoke("--out", out))
    assert "not a run folder" in one_line_error(invoke(str(tmp_path), "--out", out))
    assert "not a folder" in one_line_error(invoke(str(tmp_path / "missing"), "--out", out))
    holder = tmp_path / "root"
    shutil.copytree(a, holder / a.name)
    assert "pass those instead" in one_line_error(invoke(str(holder), "--out", out))
    old = tmp_path / "old"
    shutil.copytree(a, old)
    prov = json.loads((old / "provenance.json").read_text())
    prov["format_version"] = 0
    (old / "provenance.json").write_text(json.dumps(prov))
    err = one_line_error(invoke(str(a), str(old), "--out", out))
    assert "format version 0" in err
    assert not (tmp_path / "x.html").exists()


def test_scorecard_marks_lowest_probability_of_loss_and_highest_return():
    from backtest.report.sections import scorecard_html

    rows = []
    for strat, loss, ret in (("a", 0.30, 0.05), ("b", 0.10, 0.02), ("c", 0.20, 0.08)):
        rows.append({"strategy": strat, "scenario": "A", "statistic": "prob_loss", "median": loss})
        rows.append({"strategy": strat, "scenario": "A", "statistic": "horizon_return", "median": ret})
    html = scorecard_html(pd.DataFrame(rows), {})
    loss_part, ret_part = html.split("<h3>")[1], html.split("<h3>")[2]
    best_loss = re.findall(r'class="name">([a-z])</th><td class="best">', loss_part)
    best_ret = re.findall(r'class="name">([a-z])</th><td class="best">', ret_part)
    assert best_loss == ["b"], loss_part
    assert best_ret == ["c"], ret_part


def _report_import_graph() -> dict[str, set[str]]:
    """Module -> report modules it imports (module level or inside functions)."""
    pkg = Path(__file__).resolve().parents[1] / "backtest" / "report"
    names = {p.stem for p in pkg.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for p in pkg.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "backtest.report":
                    deps |= {a.name for a in node.names if a.name in names}
                elif node.module.startswith("backtest.report."):
                    deps.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[2] for a in node.names if a.name.startswith("backtest.report.")}
        graph[p.stem] = deps - {p.stem}
    return graph


def test_report_modules_have_no_import_cycle():
    graph = _report_import_graph()
    assert "tearsheet" not in graph["png"]  # png reads RunData from rundata
    state: dict[str, int] = {}

    def visit(mod: str, path: tuple[str, ...]) -> None:
        if state.get(mod) == 1:
            raise AssertionError(f"import cycle: {' -> '.join((*path, mod))}")
        if state.get(mod) == 2:
            return
        state[mod] = 1
        for dep in sorted(graph.get(mod, ())):
            visit(dep, (*path, mod))
        state[mod] = 2

    for mod in sorted(graph):
        visit(mod, ())
