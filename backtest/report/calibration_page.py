"""``calibration.html`` of a calibration backtest (``rmpbt scenarios --calibrate``).

Self-contained (plotly embedded once): the verdict per strategy in plain, coloured words
(green calibrated, amber inconclusive, red miscalibrated), on all starts and on the starts
without fallback pools, the coverage and tail table with the three tests' p-values, the PIT histogram (10 bins; flat = calibrated,
U-shaped = overconfident, hump-shaped = underconfident) and, per strategy, the realised
horizon return of every start date against its simulated p5–p95 band and median.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtest.calibration_stats import VERDICT_TONE, verdict_reason
from backtest.report import figures as F
from backtest.report.html import Page, add_section, esc, footer_html, source_html

__all__ = ["TONE_COLORS", "build_calibration_page", "render_calibration_page", "verdict_html"]

#: colour of a verdict by what it says: green supports the model, amber cannot tell, red contradicts
TONE_COLORS = {"good": "#2b8a3e", "neutral": "#b7791f", "bad": "#c62828"}
NO_FALLBACK = "no fallback pools"  # the subset label of calibration_summary.csv

EXPLAIN = (
    "For every start date the scenario model was fitted on the data before it only, the next "
    "{h} trading days were simulated ({paths} paths per scenario, probability-weighted mix), and the "
    "strategy's realised horizon return was placed in its simulated distribution. The PIT is the "
    "share of simulated outcomes below the realised one: a calibrated model gives PITs spread evenly "
    "over 0–1, 5% of realised outcomes below the simulated p5 and 5% above the p95. Each tail is tested "
    "on its own (exact binomial test of its share against 5%) and the PITs' spread by a Cramér–von Mises "
    "test of uniformity, so a miss on one side is not hidden by the other. Windows starting every "
    "{every} overlap, so every test uses n/{ov:g} effective outcomes; the verdict counts a test as failed "
    "below p = 0.05/3. Amber (inconclusive): no test rejects, but a tail holds no outcome on the effective "
    "count (or there are too few effective outcomes): so few outcomes cannot tell a missing tail from chance."
)


def verdict_html(v: str) -> str:
    """A verdict in its colour (green: calibrated, amber: inconclusive, red: miscalibrated)."""
    c = TONE_COLORS[VERDICT_TONE.get(v, "neutral")]
    return f'<b style="color:{c}">{esc(v)}</b>'


def _num(x: float, fmt: str) -> str:
    return "–" if not np.isfinite(x) else format(x, fmt)


def _coverage_table(summary: pd.DataFrame) -> str:
    head = ("<tr><th>strategy</th><th>starts</th><th>outcomes</th><th>effective n</th><th>50% band</th>"
            "<th>90% band</th><th>below p5</th><th>above p95</th><th>mean PIT</th><th>p lower tail</th>"
            "<th>p upper tail</th><th>p PIT uniform</th><th>p-value (90%)</th><th>verdict</th></tr>")
    rows = []
    for r in summary.itertuples():
        rows.append(f'<tr><td class="txt">{esc(r.strategy)}</td><td class="txt">{esc(r.subset)}</td>'
                    f"<td>{int(r.n)}</td><td>{r.n_eff:.1f}</td><td>{_num(r.cover50, '.0%')}</td>"
                    f"<td>{_num(r.cover90, '.0%')}</td><td>{_num(r.below_p5, '.0%')}</td>"
                    f"<td>{_num(r.above_p95, '.0%')}</td><td>{_num(r.mean_pit, '.2f')}</td>"
                    f"<td>{_num(r.p_lower_tail, '.3f')}</td><td>{_num(r.p_upper_tail, '.3f')}</td>"
                    f"<td>{_num(r.p_pit_uniform, '.3f')}</td><td>{_num(r.p_value90, '.3f')}</td>"
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
        blocks = []
        n_fb = int(summary["n_fallback_starts"].iloc[0]) if len(summary) else 0  # of all starts
        for sub, g in summary.groupby("subset", sort=False):
            title = (f"Starts without fallback pools ({n_fb} left out)" if sub == NO_FALLBACK else
                     "All starts" + (f" ({n_fb} with fallback pools)" if n_fb else ""))
            items = "".join(f"<li>{esc(r.strategy)}: {verdict_html(r.verdict)}: "
                            f"{esc(verdict_reason(r))}"
                            "</li>" for r in g.itertuples())
            blocks.append(f"<h3>{esc(title)}</h3><ul>{items}</ul>")
        notes = "".join(f"<li>{esc(n)}</li>" for n in prov.get("notes") or [])
        return (f"<p>{esc(EXPLAIN.format(h=prov.get('horizon_days'), paths=prov.get('paths'), every=every, ov=float(prov.get('overlap') or 1)))}</p>"
                f"{''.join(blocks)}<details><summary>method notes</summary><ul>{notes}</ul></details>")

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
