"""``calibration.html`` of a calibration backtest (``rmpbt scenarios --calibrate``).

Self-contained (plotly embedded once): the verdict per strategy in plain, coloured words,
the coverage table of the 50% and 90% bands, the PIT histogram (10 bins; flat = calibrated,
U-shaped = overconfident, hump-shaped = underconfident) and, per strategy, the realised
horizon return of every start date against its simulated p5–p95 band and median.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtest.report import figures as F
from backtest.report.html import Page, add_section, esc, footer_html, source_html

__all__ = ["VERDICT_COLORS", "build_calibration_page", "render_calibration_page", "verdict_html"]

VERDICT_COLORS = {"overconfident": "#c62828", "underconfident": "#e8590c",
                  "calibrated within sampling error": "#2b8a3e"}

EXPLAIN = (
    "For every start date the scenario model was fitted on the data before it only, the next "
    "{h} trading days were simulated ({paths} paths per scenario, probability-weighted mix), and the "
    "strategy's realised horizon return was placed in its simulated distribution. The PIT is the "
    "share of simulated outcomes below the realised one: a calibrated model gives PITs spread evenly "
    "over 0–1, its central 50% band covers about half of the realised outcomes and its 90% band about "
    "90%. Too many PITs near 0 or 1 (a U-shaped histogram, 90% coverage far below 0.90) means the "
    "simulated spread is too narrow: the model is overconfident. Windows starting every {every} overlap, "
    "so the verdict's binomial test uses n/{ov:g} effective outcomes."
)


def verdict_html(v: str) -> str:
    """A verdict in its colour (red: overconfident, orange: underconfident, green: calibrated)."""
    c = VERDICT_COLORS.get(v, "#555")
    return f'<b style="color:{c}">{esc(v)}</b>'


def _coverage_table(summary: pd.DataFrame) -> str:
    head = ("<tr><th>strategy</th><th>starts</th><th>effective n</th><th>50% band</th>"
            "<th>90% band</th><th>below p5</th><th>above p95</th><th>mean PIT</th>"
            "<th>p-value (90%)</th><th>p-value (50%)</th><th>verdict</th></tr>")
    rows = []
    for r in summary.itertuples():
        pv = "–" if not np.isfinite(r.p_value90) else f"{r.p_value90:.3f}"
        pv50 = "–" if not np.isfinite(getattr(r, "p_value50", np.nan)) else f"{r.p_value50:.3f}"
        rows.append(f'<tr><td class="txt">{esc(r.strategy)}</td><td>{int(r.n)}</td><td>{r.n_eff:.1f}</td>'
                    f"<td>{r.cover50:.0%}</td><td>{r.cover90:.0%}</td><td>{r.below_p5:.0%}</td>"
                    f"<td>{r.above_p95:.0%}</td><td>{r.mean_pit:.2f}</td><td>{pv}</td><td>{pv50}</td>"
                    f'<td class="txt">{verdict_html(r.verdict)}</td></tr>')
    return (f'<div class="scroll"><table class="data" id="coverage-table"><thead>{head}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def pit_figure(hist: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """PIT histogram: pooled bars, one line per strategy, the uniform expectation dashed."""
    fig = go.Figure()
    names = list(dict.fromkeys(hist["strategy"].astype(str)))
    pooled = names[-1]
    g = hist.loc[hist["strategy"] == pooled]
    mids = ((g["lo"] + g["hi"]) / 2).to_numpy()
    fig.add_bar(x=mids, y=g["count"].to_numpy(), width=0.095, name=pooled, marker_color="#9aa5b1")
    for s in names[:-1]:
        gs = hist.loc[hist["strategy"] == s]
        fig.add_scatter(x=mids, y=gs["count"].to_numpy(), mode="lines+markers", name=s,
                        line={"color": colors.get(s)})
    per = g["count"].sum() / max(len(g), 1)
    fig.add_hline(y=per, line_dash="dash", line_color="#333", annotation_text="uniform (pooled)")
    fig.update_layout(height=380, xaxis={"title": "PIT (share of simulated outcomes below the realised one)",
                                         "range": [0, 1], "dtick": 0.1},
                      yaxis={"title": "count of start dates"}, margin={"t": 30})
    return fig


def band_figure(table: pd.DataFrame, strategy: str, color: str | None) -> go.Figure:
    """Realised horizon return of each start vs the simulated p5–p95 band and median."""
    g = table.loc[table["strategy"] == strategy]
    x = pd.to_datetime(g["start"]).to_numpy()
    fig = go.Figure()
    fig.add_scatter(x=x, y=g["p95"].to_numpy(), mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip")
    fig.add_scatter(x=x, y=g["p5"].to_numpy(), mode="lines", line={"width": 0}, fill="tonexty",
                    fillcolor="rgba(90,120,160,0.25)", name="simulated p5–p95")
    fig.add_scatter(x=x, y=g["p50"].to_numpy(), mode="lines", line={"color": "#5a78a0", "dash": "dot"},
                    name="simulated median")
    inside = ((g["pit"] >= 0.05) & (g["pit"] <= 0.95)).to_numpy()
    fig.add_scatter(x=x, y=g["realised"].to_numpy(), mode="markers", name="realised",
                    marker={"color": np.where(inside, color or "#222", "#c62828"), "size": 8,
                            "symbol": np.where(inside, "circle", "x")})
    fig.update_layout(height=320, title=f"{strategy}: realised {len(g)} horizon returns vs the simulated band",
                      xaxis={"title": "start date of the window"},
                      yaxis={"title": "horizon return", "tickformat": ".0%"}, margin={"t": 40})
    return fig


def header_html(prov: dict) -> str:
    """Page header: what was done, on which data, with which settings."""
    starts = prov.get("starts") or []
    span = f"{starts[0]} … {starts[-1]}" if starts else "?"
    return (f"<h1>{esc(prov.get('name', 'calibration'))}: calibration backtest of the scenario model</h1>"
            f'<p class="meta">{len(starts)} start dates ({esc(span)}, every {esc(prov.get("every"))}), '
            f"horizon {esc(prov.get('horizon_days'))} trading days, {int(prov.get('paths') or 0):,} simulated "
            f"paths per scenario and start, seed {esc(prov.get('seed'))}, generator {esc(prov.get('generator'))}, "
            f"data {source_html(prov)}.</p>")


def build_calibration_page(folder: Path) -> str:
    """The calibration page of a run folder."""
    folder = Path(folder)
    prov = json.loads((folder / "provenance.json").read_text())
    table = pd.read_csv(folder / "calibration.csv")
    summary = pd.read_csv(folder / "calibration_summary.csv")
    hist = pd.read_csv(folder / "calibration_pit.csv")
    strategies = list(dict.fromkeys(table["strategy"].astype(str)))
    colors = F.color_map(strategies)
    page = Page(f"{prov.get('name', 'calibration')} - calibration backtest")

    def verdicts() -> str:
        every = {"quarter": "quarter", "month": "month", "year": "year"}.get(prov.get("every"), "period")
        items = "".join(f"<li>{esc(r.strategy)}: {verdict_html(r.verdict)} (90% band covers {r.cover90:.0%}, "
                        f"50% band {r.cover50:.0%}, of {int(r.n)} outcomes)</li>" for r in summary.itertuples())
        notes = "".join(f"<li>{esc(n)}</li>" for n in prov.get("notes") or [])
        return (f"<p>{esc(EXPLAIN.format(h=prov.get('horizon_days'), paths=prov.get('paths'), every=every, ov=float(prov.get('overlap') or 1)))}</p>"
                f"<ul>{items}</ul><details><summary>method notes</summary><ul>{notes}</ul></details>")

    add_section(page, "verdict", "Verdict", verdicts)
    add_section(page, "coverage", "Coverage of the simulated bands", lambda: _coverage_table(summary))
    add_section(page, "pit", "PIT histogram",
                lambda: page.figure(pit_figure(hist, colors)) + '<p class="muted">Flat: calibrated. U-shaped '
                "(piles at 0 and 1): realised outcomes often outside the simulated range, overconfident. "
                "Hump in the middle: simulated spread too wide, underconfident. Skewed: biased drift.</p>")

    def bands() -> str:
        return "".join(page.figure(band_figure(table, s, colors.get(s))) for s in strategies) + (
            '<p class="muted">Red crosses: realised outcomes outside the simulated 90% band.</p>')

    add_section(page, "bands", "Realised outcome vs simulated band, by start date", bands)
    return page.render(header_html(prov), footer_html())


def render_calibration_page(folder: Path) -> Path:
    """Write ``calibration.html`` of a calibration run folder; returns its path."""
    out = Path(folder) / "calibration.html"
    out.write_text(build_calibration_page(folder))
    return out
