"""``rmpbt evidence`` end to end on a tiny csv market: point in time, attribution, the folder, the CLI and the API.

The market spans 2019-01 .. 2021-06 (QT1's slowdown and end, RMP2019, QE4): the pipeline
runs two cheap strategies, then :func:`build_evidence` computes everything with few
draws. The point-in-time test perturbs every price after a cut and checks that every
event window and episode day ending before the cut is bit-identical (and, as a control,
that a perturbation before the cut changes some of them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import rmpbt
from backtest.config import RunConfig
from backtest.evidence.build import build_evidence
from backtest.evidence.write import write_evidence
from backtest.pipeline import run_backtest, write_run
from backtest.report.attribution_view import attribution_figure
from backtest.report.evidence_page import episodes_figure, event_paths_figure
from tests.helpers import assert_clean_error, make_data_dir, run_cli, trading_days

CUT = pd.Timestamp("2020-05-15")
TICKERS = ("SPY", "IEF", "GLD")


def write_market(root: Path, scale_after: pd.Timestamp | None = None, scale_before: pd.Timestamp | None = None) -> Path:
    """The tiny market; optionally every daily return after (or before) a date multiplied by 1.7."""
    days = trading_days("2019-01-02", 700)
    days = days[days <= pd.Timestamp("2021-06-30")]
    rate = pd.Series(np.linspace(2.4, 0.1, len(days)).round(3), index=days)
    make_data_dir(root, tickers=TICKERS, n=len(days), start="2019-01-02", seed=11, macro={"DTB3": rate})
    for t in TICKERS:
        if scale_after is None and scale_before is None:
            continue
        p = root / "prices" / f"{t}.csv"
        px = pd.read_csv(p)
        d = pd.DatetimeIndex(px["date"])
        v = px["adj_close"].to_numpy(dtype=float, copy=True)
        r = v[1:] / v[:-1] - 1.0
        if scale_after is not None:  # prices up to the cut untouched (bit for bit), later returns x1.7
            k = int(np.searchsorted(d, scale_after, side="right"))
            v[k:] = v[k - 1] * np.cumprod(1.0 + 1.7 * r[k - 1:])
        else:  # returns before the cut x1.7, prices from the cut on rescaled to stay continuous
            k = int(np.searchsorted(d, scale_before, side="left"))
            new = v[0] * np.concatenate([[1.0], np.cumprod(1.0 + 1.7 * r[:k - 1])])
            v = np.concatenate([new, v[k:] * new[-1] / v[k - 1]])
        px["adj_close"] = v
        px.to_csv(p, index=False)
    return root


def config(data: Path, **extra) -> RunConfig:
    return RunConfig.model_validate({
        "name": "tiny-evidence", "data": {"source": "csv", "dir": str(data), "start": "2019-01-02",
                                          "universe": list(TICKERS), "macro": ["DTB3"]},
        "cash": {"rate": "DTB3"}, "costs": {"fee_bps": 1.0, "slippage_bps": 2.0},
        "report": {"html": True, "png": False},
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
            {"name": "gold_tilt", "kind": "regime_rules",
             "params": {"base": {"SPY": 0.6, "IEF": 0.4},
                        "tilts": [{"name": "gold", "when": {"regime": ["qe", "rmp"]}, "add": {"GLD": 0.2},
                                   "fund_from": ["IEF"]}]}},
        ], **extra})


def evidence_of(data: Path):
    out = run_backtest(config(data))
    return out, build_evidence(out, seed=5, draws=100, placebos=100)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return evidence_of(write_market(tmp_path_factory.mktemp("base")))


def window_end(ev, row) -> pd.Timestamp:
    """Last day of an event row's window (on its subject's days)."""
    days = ev.run.days if row.subject in ev.run.returns.columns else ev.history.days
    lo, hi = (int(v) for v in row.window.replace("+", "").split(".."))
    return days[int(days.searchsorted(pd.Timestamp(row.date))) + hi]


def before_cut(ev) -> tuple[pd.DataFrame, pd.DataFrame]:
    es = ev.event_study
    ends = [window_end(ev, r) for r in es.itertuples(index=False)]
    ep = ev.episodes
    return (es.loc[np.array(ends) < CUT].reset_index(drop=True),
            ep.loc[pd.DatetimeIndex(ep["date"]) < CUT].reset_index(drop=True))


def test_point_in_time(base, tmp_path):
    """Data after the cut perturbed: every figure ending before it is bit-identical; before the cut: they move."""
    _, ev = base
    ev_rows, ep_rows = before_cut(ev)
    assert len(ev_rows) >= 20 and len(ep_rows) >= 50
    assert ev_rows["placebo_p"].notna().sum() >= 5  # p-values are part of what is compared
    _, ev_after = evidence_of(write_market(tmp_path / "after", scale_after=CUT))
    a_rows, a_ep = before_cut(ev_after)
    pd.testing.assert_frame_equal(a_rows, ev_rows, check_exact=True)
    pd.testing.assert_frame_equal(a_ep, ep_rows, check_exact=True)
    assert not ev_after.event_study.equals(ev.event_study)  # the perturbation did reach later windows (QE4)
    assert not ev_after.claims.equals(ev.claims)
    _, ev_before = evidence_of(write_market(tmp_path / "before", scale_before=CUT))
    b_rows, b_ep = before_cut(ev_before)
    assert len(b_rows) == len(ev_rows)
    assert (b_rows["cum_return"] != ev_rows["cum_return"]).any()
    assert (b_ep["cum_return"].to_numpy() != ep_rows["cum_return"].to_numpy()).any()


def test_attribution_adds_up_and_matches_regime_metrics(base):
    out, ev = base
    rm = out.regime_metrics.set_index(["strategy", "regime"])["total_return"]
    for table in (ev.attribution, ev.attribution_sleeves):
        assert not table.empty
        for (s, g), grp in table.groupby(["strategy", "regime"]):
            total = grp.loc[grp.component == "total", "contribution"].iloc[0]
            parts = grp.loc[grp.component != "total", "contribution"].sum()
            assert abs(parts - total) < 1e-12, (s, g)
            assert abs(total - rm[(s, g)]) < 1e-12, (s, g)
            assert (grp.ci_lo <= grp.ci_hi + 1e-15).all()
        assert {"fees", "borrow", "financing", "residual"} <= set(table.component)
    assert "CASH" in set(ev.attribution.component)
    sleeves = ev.attribution_sleeves
    assert set(sleeves.strategy) == {"gold_tilt"}
    assert {"core", "gold", "cash"} <= set(sleeves.component)
    res = ev.attribution.loc[ev.attribution.component == "residual", "contribution"].abs().max()
    assert res < 1e-5  # idle cash before the first fill only


def test_folder_page_and_figures(base, tmp_path):
    out, ev = base
    folder = write_evidence(ev, tmp_path)
    names = {p.name for p in folder.iterdir()}
    assert {"claims.csv", "event_study.csv", "event_paths.csv", "attribution.csv", "attribution_sleeves.csv",
            "episodes.csv", "evidence.html", "provenance.json"} <= names
    cols = pd.read_csv(folder / "event_study.csv").columns.tolist()
    assert cols == ["event", "date", "kind", "subject", "window", "cum_return", "placebo_p"]
    assert pd.read_csv(folder / "claims.csv").columns.tolist() == [
        "claim", "measure", "regimes", "estimate", "ci_lo", "ci_hi", "n_days", "n_episodes", "verdict"]
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["data_end"] == "2021-06-30" and prov["seed"] == 5
    html = (folder / "evidence.html").read_text()
    assert "The data end on <b>2021-06-30</b>" in html and "too little history" in html
    # the raw (unvalidated) figures are valid plotly figures
    go.Figure(event_paths_figure(ev.event_paths).to_plotly_json())
    go.Figure(episodes_figure(ev.episodes, {}).to_plotly_json())
    go.Figure(attribution_figure(ev.attribution_sleeves, "gold_tilt").to_plotly_json())


def test_run_folder_has_attribution_and_tearsheet_section(base, tmp_path):
    out, ev = base
    folder = write_run(out, tmp_path)
    att = pd.read_csv(folder / "attribution.csv")
    np.testing.assert_allclose(att["contribution"], ev.attribution["contribution"], rtol=1e-9)
    assert (folder / "attribution_sleeves.csv").exists()
    assert 'id="attribution"' in (folder / "tearsheet.html").read_text()


def test_cli_and_api(base, tmp_path):
    data = Path(base[0].cfg.data.dir)
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(json.dumps(config(data).resolved_dict()))
    res = run_cli("evidence", str(cfg_path), "--out", str(tmp_path / "res"), "--seed", "3")
    assert res.exit_code == 0, res.stdout + res.stderr
    folder = Path(res.stdout.strip().splitlines()[-1])
    assert folder.parent == tmp_path / "res" and (folder / "evidence.html").exists()
    assert "The data end on 2021-06-30" in res.stdout
    out = tmp_path / "bad"
    assert_clean_error(run_cli("evidence", str(cfg_path), "--out", str(out), "--seed", "-1"), out, "--seed")
    raw = config(data).resolved_dict()
    raw["episodes"] = [{"name": "later", "start": "2030-01-01", "end": "2030-02-01"}]
    cfg_path.write_text(json.dumps(raw))
    assert_clean_error(run_cli("evidence", str(cfg_path), "--out", str(out)), out, "episodes: 'later'")
    raw["episodes"] = [{"name": "covid", "start": "2020-02-19", "end": "2020-04-30"}]
    r = rmpbt.evidence(raw, seed=2)
    assert "covid" in set(r.episodes.episode) and list(r.claims.columns)[0] == "claim"
    saved = r.save(tmp_path / "api", report=False)
    assert (saved / "claims.csv").exists() and not (saved / "evidence.html").exists()
