"""``decision.html`` of ``rmpbt decide``: the choice, its flips and its map, in plain words.

Self-contained (plotly embedded once), built from the decision folder alone
(``decision.json``, ``decision_flips.csv``): the reading coloured by what it says (green:
the choice is clear of Monte-Carlo noise and no small change of λ or of the probabilities
flips it; amber: otherwise), the flips table, each strategy's expected score as a line in
λ at the decision's probabilities (the choice is the upper envelope; exact segments
marked), the ternary map of the choice over the probability simplex with a slider over λ
(exact regions; three scenarios only) and the per-strategy table (score, expected and
maximum regret, P(beat 60/40)).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.report import figures as F
from backtest.report.html import Page, add_section, esc, footer_html, frame_table_html
from backtest.report.plotstyle import base_layout, f32, scatter
from backtest.report.scenario_page import VERDICT_STYLE

EXPLAIN = (
    "The run's simulated paths are re-scored, not re-simulated. Each strategy's score is the "
    "probability-weighted regret statistic over the scenarios (the choice has the least expected "
    "regret); for cvar_penalised the score is a straight line in λ (median return minus λ times the "
    "CVaR-5 loss), so the choice changes exactly where lines cross. A flip is the nearest value of λ, "
    "or of one scenario's probability (the others rescaled in proportion), at which the choice changes. "
    "Views re-weight the paths by entropy pooling (the weights closest to the prior that meet them); "
    "effective paths = exp(entropy of the weights). ± is Monte-Carlo noise of the paths only, not doubt "
    "about the scenario model."
)


@dataclass
class PlainFigure:
    """A figure as plain plotly JSON, for :meth:`~backtest.report.html.Page.figure` without building ``go.Figure``.

    Its traces and layout are written as plotly's JSON schema by hand, so the page skips
    plotly's validation (about a second for the ternary map's layers, most of the command's time).
    """

    data: list[dict[str, Any]]
    layout: dict[str, Any]

    def to_plotly_json(self) -> dict[str, Any]:
        """``{"data": ..., "layout": ...}`` (what ``go.Figure.to_plotly_json`` gives)."""
        return {"data": self.data, "layout": self.layout}


def header_html(rec: dict) -> str:
    """Title and the inputs of the decision."""
    probs = ", ".join(f"{k} {v:.3f}" for k, v in (rec.get("probs") or {}).items())
    views = "; ".join(v.get("as", v.get("view", "")) for v in rec.get("views") or []) or "none"
    lam = f", λ = {rec['cvar_lambda']:g}" if rec.get("statistic") == "cvar_penalised" else ""
    eff = rec.get("effective_paths")
    return (f"<h1>Decision map of a SIMULATED scenario run</h1>"
            f'<p class="meta"><b>{esc(rec.get("run") or "")}</b></p>'
            f'<p class="meta">rule: {esc(rec.get("rule"))} of '
            f"{esc(rec.get('statistic'))}{esc(lam)}; probabilities {esc(probs)}; views: {esc(views)}; "
            f"effective paths {'–' if eff is None else f'{eff:,.0f}'}.</p>")


def reading_html(rec: dict) -> str:
    """The plain-language reading, coloured by its tone."""
    tone = rec.get("tone", "neutral")
    items = "".join(f"<li>{esc(x)}</li>" for x in rec.get("reading") or [])
    return f'<div class="verdict verdict-{esc(tone)}" style="{VERDICT_STYLE.get(tone, "")};padding:6px 10px">' \
           f"<ul>{items}</ul></div>"


def lambda_figure(table: pd.DataFrame, segments: list[dict], lam: float, colors: dict[str, str]) -> PlainFigure:
    """Expected score of every strategy against λ (``base − λ·tail``), the choice's segments marked."""
    hi = max(2.0, float(lam))
    xs = np.array([0.0, hi])
    traces = []
    chosen = {str(s["choice"]) for s in segments}
    for r in table.itertuples():
        if not (np.isfinite(r.base) and np.isfinite(r.tail)):
            continue
        on = r.strategy in chosen
        traces.append(scatter(x=xs.tolist(), y=(r.base - xs * r.tail).tolist(), mode="lines", name=str(r.strategy),
                              line={"color": colors.get(r.strategy), "width": 3 if on else 1},
                              opacity=1.0 if on else 0.45,
                              hovertemplate=f"{r.strategy}: %{{y:.2%}} at λ %{{x:.2f}}<extra></extra>"))
    lay = base_layout("expected score by λ at these probabilities (the choice is the top line)", 420,
                      hovermode="closest")
    shapes = [{"type": "line", "x0": lam, "x1": lam, "yref": "paper", "y0": 0, "y1": 1,
               "line": {"dash": "dot", "color": "#555"}}]
    for s in segments[1:]:
        shapes.append({"type": "line", "x0": s["from"], "x1": s["from"], "yref": "paper", "y0": 0, "y1": 1,
                       "line": {"color": "#b58100", "width": 1}})
    lay.update(xaxis={"title": {"text": "λ (CVaR-5 loss penalty)"}, "gridcolor": "#eee"},
               yaxis={"title": {"text": "probability-weighted statistic"}, "tickformat": ".1%", "gridcolor": "#eee"},
               shapes=shapes)
    return PlainFigure(traces, lay)


def ternary_figure(regions: list[dict], scenarios: list[str], probs: dict[str, float], lam: float,
                   colors: dict[str, str]) -> PlainFigure:
    """The choice over the probability simplex (exact regions), one layer per λ with a slider."""
    lams = sorted({float(r["cvar_lambda"]) for r in regions})
    a, b, c = scenarios
    traces, owner = [], []
    start = min(range(len(lams)), key=lambda i: abs(lams[i] - lam)) if lams else 0
    for i, lm in enumerate(lams):
        for r in (x for x in regions if float(x["cvar_lambda"]) == lm):
            v = np.asarray(r["vertices"], dtype=float)
            v = np.vstack([v, v[:1]])
            name = str(r["choice"])
            traces.append({"type": "scatterternary", "a": f32(v[:, 0], 6), "b": f32(v[:, 1], 6),
                           "c": f32(v[:, 2], 6), "mode": "lines", "fill": "toself", "name": name,
                           "visible": i == start, "legendgroup": name,
                           "fillcolor": colors.get(name.split("|")[0], "#999"), "opacity": 0.55,
                           "line": {"color": "white", "width": 1},
                           "hovertemplate": f"{name}<br>{a} %{{a:.2f}}, {b} %{{b:.2f}}, {c} %{{c:.2f}}<extra></extra>"})
            owner.append(i)
            mid = v[:-1].mean(axis=0)  # the region's name at its centroid (colours repeat past eight)
            traces.append({"type": "scatterternary", "a": [float(mid[0])], "b": [float(mid[1])], "c": [float(mid[2])],
                           "mode": "text", "text": [name], "textfont": {"size": 11}, "showlegend": False,
                           "visible": i == start, "hoverinfo": "skip"})
            owner.append(i)
    traces.append({"type": "scatterternary", "a": [probs.get(a, 0)], "b": [probs.get(b, 0)], "c": [probs.get(c, 0)],
                   "mode": "markers", "name": "these probabilities",
                   "marker": {"symbol": "x", "size": 12, "color": "black"}})
    owner.append(-1)
    steps = [{"label": f"{lm:g}", "method": "update",
              "args": [{"visible": [o == i or o == -1 for o in owner]},
                       {"title.text": f"choice over the scenario probabilities at λ = {lm:g}"}]}
             for i, lm in enumerate(lams)]
    lay = base_layout(f"choice over the scenario probabilities at λ = {lams[start]:g}" if lams else "choice", 560,
                      hovermode="closest")
    lay.update(legend={"orientation": "v", "x": 1.0, "xanchor": "left", "y": 1.0, "yanchor": "top"},
               ternary={"sum": 1, "aaxis": {"title": {"text": f"P({a})"}}, "baxis": {"title": {"text": f"P({b})"}},
                        "caxis": {"title": {"text": f"P({c})"}}},
               sliders=[{"active": start, "currentvalue": {"prefix": "λ = "}, "steps": steps}] if len(lams) > 1 else [])
    return PlainFigure(traces, lay)


def strategy_table_html(table: pd.DataFrame, rec: dict) -> str:
    """Per strategy: score (= base − λ·tail), expected and maximum regret, P(beat 60/40), per-scenario values."""
    scen = list((rec.get("probs") or {}).keys())
    ratio = rec.get("statistic") == "sharpe"
    cols = ["score", "base", "tail", "expected_regret", "max_regret", "prob_beat_6040",
            *[f"stat_{s}" for s in scen], *[f"regret_{s}" for s in scen]]
    cols = [c for c in cols if c in table.columns]

    def cell(c: str, v: object, se: object) -> str:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "–"
        x = float(v)  # type: ignore[arg-type]
        if c == "prob_beat_6040":
            ok = isinstance(se, (int, float)) and np.isfinite(se)
            return f"{x:.0%}" + (f" ± {float(se):.0%}" if ok else "")
        return f"{x:.2f}" if ratio and c != "tail" else f"{x:+.2%}"

    head = "".join(f"<th>{esc(c)}</th>" for c in ["strategy", *cols, "minimax"])
    body = []
    for row in table.to_dict(orient="records"):
        chosen = str(row["strategy"]) in str(rec.get("choice", "")).split("|")
        name = f"<b>{esc(row['strategy'])}</b> ★" if chosen else esc(row["strategy"])
        tds = "".join(f"<td>{cell(c, row.get(c), row.get('prob_beat_6040_se'))}</td>" for c in cols)
        body.append(f'<tr><th scope="row" class="name">{name}</th>{tds}<td>{"✓" if row.get("minimax") else ""}</td></tr>')
    return ('<p class="muted">score: the probability-weighted regret statistic (base − λ·tail for cvar_penalised; '
            "★ the choice: the highest score, i.e. the least expected regret); max_regret over the scenarios "
            "with a probability (✓ minimax, the run's rule); stat_/regret_ per scenario.</p>"
            f'<div class="scroll"><table class="data" id="decision-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def build_decision_page(folder: Path) -> str:
    """The page of a decision folder (``decision.json``, ``decision_flips.csv``)."""
    folder = Path(folder)
    rec = json.loads((folder / "decision.json").read_text())
    flips = pd.read_csv(folder / "decision_flips.csv") if (folder / "decision_flips.csv").exists() else None
    table = pd.DataFrame(rec.get("table") or [])
    names = list(table["strategy"].astype(str)) if "strategy" in table else []
    colors = F.color_map(names)
    page = Page("decision map")
    add_section(page, "what", "What the numbers are", lambda: f"<p>{esc(EXPLAIN)}</p>")
    add_section(page, "flips", "Flips: the nearest change that changes the choice",
                lambda: frame_table_html(flips, "flips-table") if flips is not None and len(flips) else None)

    def lam_chart() -> str | None:
        if rec.get("statistic") != "cvar_penalised" or table.empty:
            return None
        return page.figure(lambda_figure(table.astype({"base": float, "tail": float}), rec.get("lambda_segments")
                                         or [], float(rec["cvar_lambda"]), colors))

    add_section(page, "lambda", "The choice over λ", lam_chart)

    def ternary() -> str | None:
        scen = list((rec.get("probs") or {}).keys())
        if len(scen) != 3:
            return ('<p class="muted">The ternary map needs exactly three scenarios; the grid is in '
                    "decision_map.csv.</p>")
        return (page.figure(ternary_figure(rec.get("regions") or [], scen, rec["probs"], float(rec["cvar_lambda"]),
                                           colors))
                + '<p class="muted">Regions are exact (where each strategy has the least expected regret); '
                  "the cross marks the decision's probabilities. The grid is in decision_map.csv.</p>")

    add_section(page, "map", "The choice over the scenario probabilities", ternary)
    add_section(page, "table", "Per strategy", lambda: strategy_table_html(table, rec) if len(table) else None)
    return page.render(header_html(rec) + reading_html(rec), footer_html())


def render_decision_page(folder: Path) -> Path:
    """Write ``decision.html`` into a decision folder; returns its path."""
    out = Path(folder) / "decision.html"
    out.write_text(build_decision_page(folder))
    return out


__all__ = ["PlainFigure", "build_decision_page", "header_html", "lambda_figure", "reading_html", "render_decision_page",
           "strategy_table_html", "ternary_figure"]
