"""``rmpbt compare`` labels, baseline, filters, deltas, duplicates; the line palette; figure details."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import make_run, write_tiny_data  # noqa: E402

from backtest.cli import app  # noqa: E402
from backtest.errors import ResultsError  # noqa: E402
from backtest.report import palette  # noqa: E402
from backtest.report.compare import build_compare, load_runs, render_compare  # noqa: E402

STRATS = ("sixty_forty", "ew", "spy")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    data = write_tiny_data(tmp_path_factory.mktemp("data"))
    root = tmp_path_factory.mktemp("res")
    a = make_run(root, data, name="base")
    b = make_run(root, data, name="base", fee_bps=25.0)  # same name, other costs
    return a, b


def invoke(*args: str):
    return CliRunner().invoke(app, ["compare", *args])


def test_same_name_labels_are_stable(runs):
    a, b = runs
    assert build_compare(load_runs([a, b])).labels == ["base", "base#2"]
    assert build_compare(load_runs([b, a])).labels == ["base", "base#2"]


def test_baseline_forms_and_full_candidate_list(runs):
    a, b = runs
    loaded = load_runs([a, b])
    assert build_compare(loaded, baseline="base#2/spy").baseline == "base#2/spy"
    assert build_compare(loaded, baseline="spy", strategies=["base#2/spy", "base/ew"]).baseline == "base#2/spy"
    with pytest.raises(ResultsError) as err:
        build_compare(loaded, baseline="nope")
    msg = str(err.value)
    for lbl in ("base", "base#2"):
        for s in STRATS:
            assert f"{lbl}/{s}" in msg


def test_strategies_filter(runs):
    a, b = runs
    comp = build_compare(load_runs([a, b]), strategies=["spy", "base/ew"])
    assert list(comp.data.metrics.index) == ["base/ew", "base/spy", "base#2/spy"]
    assert list(comp.data.returns.columns) == ["base/ew", "base/spy", "base#2/spy"]
    assert comp.run_deltas is None  # the runs no longer hold the same strategies
    with pytest.raises(ResultsError, match="matches no strategy; choose from: base/sixty_forty"):
        build_compare(load_runs([a, b]), strategies=["xyz"])


def test_run_against_run_deltas_by_hand(runs):
    a, b = runs
    ra, rb = load_runs([a, b])
    comp = build_compare([ra, rb])
    rd = comp.run_deltas
    assert list(rd.index.get_level_values(0)) == list(STRATS)
    for s in STRATS:
        for col in ("cagr", "sharpe", "max_drawdown"):
            want = rb.metrics.loc[s, col] - ra.metrics.loc[s, col]
            assert rd.loc[(s, "base#2 vs base"), col] == pytest.approx(want, abs=1e-12)
    # the costly run loses on every strategy
    assert (rd["cagr"] < 0).all()
    d = comp.deltas
    assert d.loc["base#2/ew", "sharpe"] == pytest.approx(rb.metrics.loc["ew", "sharpe"] - ra.metrics.loc["sixty_forty", "sharpe"])
    assert 'id="run-delta-table"' in comp.html


def test_same_folder_twice_is_compared_once(runs, tmp_path):
    a, _ = runs
    path, comp = render_compare([a, a], out=tmp_path / "c.html")
    assert comp.labels == ["base"] and path.exists()
    assert any("given more than once" in n for n in comp.data.notes)


def test_copied_folder_and_label_like_names_stay_unique(runs, tmp_path):
    import shutil

    a, _ = runs
    copy = tmp_path / "copy" / Path(a).name  # same run id and name, another folder
    shutil.copytree(a, copy)
    path, comp = render_compare([a, copy], out=tmp_path / "c.html")
    assert comp.labels == ["base", "base#2"] and path.exists()
    assert (comp.run_deltas.abs() < 1e-12).all().all()  # a copy differs from its original by nothing
    named = tmp_path / "named"
    shutil.copytree(a, named)
    prov = json.loads((named / "provenance.json").read_text())
    prov["name"] = "base#2"  # a run named like a generated label
    (named / "provenance.json").write_text(json.dumps(prov))
    for order, want in (([a, copy, named], ["base", "base#3", "base#2"]),
                        ([named, a, copy], ["base#2", "base", "base#3"])):
        comp = build_compare(load_runs(order))
        assert comp.labels == want
        assert comp.data.metrics.index.is_unique
        assert len(comp.data.metrics) == 3 * len(STRATS)
    res = invoke(str(a), str(copy), str(named), "--out", str(tmp_path / "d.html"))
    assert res.exit_code == 0, res.output


def test_cli_prints_deltas_and_filters(runs, tmp_path):
    a, b = runs
    res = invoke(str(a), str(b), str(a), "--strategies", "spy,ew", "--baseline", "base#2/spy",
                 "--out", str(tmp_path / "c.html"))
    assert res.exit_code == 0, res.output
    assert "Δ vs base#2/spy" in res.output
    assert "run against run" in res.output
    assert "given more than once" in res.output
    rows = [ln for ln in res.output.split("c.html")[0].splitlines() if ln.startswith("│")]
    assert rows and not any("sixty_forty" in ln for ln in rows)  # named only as the (unshown) benchmark
    bad = invoke(str(a), str(b), "--baseline", "nope", "--out", str(tmp_path / "d.html"))
    assert bad.exit_code == 2 and "base#2/sixty_forty" in bad.stderr
    assert not (tmp_path / "d.html").exists()


def test_palette_keeps_24_lines_distinct():
    names = [f"s{i}" for i in range(24)]
    styles = {(palette.color_map(names)[n], palette.dash_map(names)[n]) for n in names}
    assert len(styles) == 24 == palette.MAX_DISTINCT
    cm = palette.color_map(names)
    assert [palette.line(cm, n)["dash"] for n in ("s0", "s8", "s16")] == ["solid", "dash", "dot"]
    assert palette.style(24) == palette.style(0)  # then it repeats


def test_figures_use_palette_and_stagger_stress_labels():
    from backtest.report import figures as F

    days = pd.bdate_range("2020-01-01", periods=60)
    ret = pd.DataFrame({f"s{i}": 0.001 * (i + 1) for i in range(20)}, index=days)
    cm = F.color_map(list(ret.columns))
    fig = F.equity_figure(ret, cm)
    styles = {(t.line.color, t.line.dash) for t in fig.data}
    assert len(styles) == 20
    bands = [F.Band(days[0], days[-1], "qe", "QE")]
    stress = [(days[10], "a"), (days[11], "b"), (days[12], "c")]
    _, notes = F.regime_decor(bands, stress)
    ys = [n["y"] for n in notes if n.get("textangle") == -90]
    assert len(ys) == 3 and len(set(ys)) == 3
    yearly = pd.DataFrame({"a": [1.0, 0.2], "b": [0.5, 0.1]}, index=[2020, 2021])
    tfig = F.turnover_figure(yearly, F.color_map(["a", "b"]))
    assert all(t.type == "scatter" for t in tfig.data) and tfig.layout.showlegend
    assert "initial purchase" in tfig.layout.yaxis.title.text
