"""``evidence.html``: the article's claims tested on history, one self-contained page.

Sections: the claims (verdicts coloured by what they say: green supported, red
contradicted, amber inconclusive or too little history) with a chart of the estimates and
their intervals; the event studies (average path around each kind of event against its
placebo band, and the events table); the regime attribution (a stacked chart per
strategy, by sleeve where the strategy has named sleeves, and the tables); the episode
replay (small multiples of cumulative return and drawdown). The header says when the data
end: everything is as of that date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backtest.report import figures as F
from backtest.report.attribution_view import (
    ATTRIBUTION_NOTE,
    attribution_figure,
    attribution_table_html,
)
from backtest.report.html import PCT, Page, add_section, esc, fmt, footer_html, source_html
from backtest.report.rawfig import RawFigure

VERDICT_CLASS = {"supported": "v-green", "contradicted": "v-red"}
CSS = """<style>
.verdict{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;white-space:nowrap}
.v-green{background:#e3f4ea;color:#1d6b3c}.v-red{background:#fbe4e4;color:#a32626}
.v-amber{background:#fdf1dc;color:#8a5a00}
.asof{background:#fff4e5;border-left:4px solid #e8590c;padding:.4rem .7rem;margin:.4rem 0}
.grid-att{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:8px}
#claims-table td.txt{white-space:normal;min-width:9em}#claims-table th.txt{text-align:left}
</style>"""


def verdict_html(v: str) -> str:
    """A verdict as a coloured pill (green supports, red contradicts, amber otherwise)."""
    return f'<span class="verdict {VERDICT_CLASS.get(v, "v-amber")}">{esc(v)}</span>'


def claims_table_html(claims: pd.DataFrame) -> str:
    """The claims table (one row per measure)."""
    head = ('<th class="txt">claim</th><th class="txt">measure</th><th class="txt">regimes</th><th>estimate</th>'
            '<th>90% interval</th><th>days</th><th>episodes</th><th class="txt">verdict</th>')
    rows = []
    for r in claims.itertuples(index=False):
        rows.append(f'<tr><td class="txt">{esc(r.claim)}</td><td class="txt">{esc(r.measure)}</td>'
                    f'<td class="txt">{esc(r.regimes)}</td><td>{fmt(r.estimate, PCT)}</td>'
                    f'<td>{fmt(r.ci_lo, PCT)} to {fmt(r.ci_hi, PCT)}</td><td>{int(r.n_days):,}</td>'
                    f'<td>{int(r.n_episodes)}</td><td>{verdict_html(r.verdict)}</td></tr>')
    return (f'<div class="scroll"><table class="data" id="claims-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def claims_figure(claims: pd.DataFrame) -> go.Figure:
    """Estimates with their intervals, one row per measure, coloured by verdict."""
    colors = {"supported": "#2b8a3e", "contradicted": "#c92a2a"}
    labels = [f"{m}  ({reg})" for m, reg in zip(claims["measure"], claims["regimes"], strict=True)]
    est = claims["estimate"].to_numpy(dtype=float)
    lo, hi = claims["ci_lo"].to_numpy(dtype=float), claims["ci_hi"].to_numpy(dtype=float)
    cols = [colors.get(v, "#e8a317") for v in claims["verdict"]]
    fig = go.Figure([F.scatter(x=F.f32(est, 6), y=labels, mode="markers", marker={"color": cols, "size": 10},
                               error_x={"type": "data", "symmetric": False, "array": F.f32(hi - est, 6),
                                        "arrayminus": F.f32(est - lo, 6), "color": "#555"},
                               hovertemplate="%{y}<br>estimate %{x:.1%}<extra></extra>", showlegend=False)],
                    layout=F.base_layout(None, 120 + 34 * len(claims), hovermode="closest"))
    fig.update_layout(xaxis={"tickformat": ".0%", "title": {"text": "annualised difference (claimed regimes - rest)"},
                             "zeroline": True, "zerolinecolor": "#888", "gridcolor": "#eee"},
                      yaxis={"autorange": "reversed", "automargin": True})
    return fig


def axis_ref(i: int) -> tuple[str, str]:
    """Trace axis references of the i-th subplot (0-based, row-major): ``("x3", "y3")``."""
    return ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")


def event_paths_figure(paths: pd.DataFrame) -> RawFigure:
    """Average cumulative excess return around each kind of event, with the placebo band; a subject menu."""
    order = [f"{k}_{e}" for k in ("qe", "qt", "rmp") for e in ("start", "effective", "taper", "end")]
    kinds = sorted(dict.fromkeys(paths["kind"].astype(str)),
                   key=lambda k: (order.index(k) if k in order else len(order), k))
    subjects = list(dict.fromkeys(paths["subject"].astype(str)))
    ncol = min(3, len(kinds))
    nrow = -(-len(kinds) // ncol)
    grid = make_subplots(rows=nrow, cols=ncol, subplot_titles=kinds, horizontal_spacing=0.06,
                         vertical_spacing=0.12 if nrow > 1 else 0.1)
    traces: list[dict] = []
    owner: list[str] = []
    first = subjects[0]
    for (s, k), g in paths.groupby([paths["subject"].astype(str), paths["kind"].astype(str)], sort=False):
        xa, ya = axis_ref(kinds.index(k))
        x = g["day"].to_numpy(dtype=float)
        vis = s == first
        n_ev = int(g["n_events"].iloc[0])
        traces += [
            F.scatter(x=x, y=F.f32(g["placebo_hi"], 5), mode="lines", line={"width": 0}, showlegend=False,
                      hoverinfo="skip", visible=vis, xaxis=xa, yaxis=ya),
            F.scatter(x=x, y=F.f32(g["placebo_lo"], 5), mode="lines", line={"width": 0}, fill="tonexty",
                      fillcolor="rgba(120,120,120,0.25)", showlegend=False, hoverinfo="skip", visible=vis,
                      xaxis=xa, yaxis=ya),
            F.scatter(x=x, y=F.f32(g["mean"], 5), mode="lines", line={"color": "#1f77b4", "width": 2},
                      showlegend=False, visible=vis, xaxis=xa, yaxis=ya,
                      hovertemplate=f"{s}, {k}: {n_ev} event(s)<br>day %{{x}}: %{{y:.2%}}<extra></extra>"),
        ]
        owner += [s, s, s]
    height = 300 * nrow + 80
    layout = grid.layout.to_plotly_json()
    layout.update(F.base_layout(None, height, hovermode="closest"))
    buttons = [{"label": s, "method": "update", "args": [{"visible": [o == s for o in owner]}]} for s in subjects]
    layout["updatemenus"] = [{"type": "dropdown", "x": 0, "xanchor": "left", "y": 1.0 + 60 / height,
                              "yanchor": "bottom", "buttons": buttons, "showactive": True}]
    layout["margin"] = {"l": 60, "r": 20, "t": 90, "b": 40}
    fig = RawFigure(traces, layout)
    fig.update_axes("yaxis", tickformat=".0%", gridcolor="#eee", zerolinecolor="#888")
    fig.update_axes("xaxis", gridcolor="#eee", zeroline=True, zerolinecolor="#888")
    return fig


def events_table_html(ev: pd.DataFrame, subjects: list[str], window: str) -> str:
    """Events x subjects for one window: cumulative excess return, the p-value under it (bold when < 0.10)."""
    sub = ev.loc[(ev["window"].astype(str) == window) & ev["subject"].astype(str).isin(subjects)]
    if sub.empty:
        return ""
    events = list(dict.fromkeys(zip(sub["event"], sub["date"], sub["kind"], strict=True)))
    cell = {(e, s_): (c, p) for e, s_, c, p in zip(sub["event"], sub["subject"].astype(str), sub["cum_return"],
                                                    sub["placebo_p"], strict=True)}
    head = "<th>event</th><th>date</th><th>kind</th>" + "".join(f"<th>{esc(s)}</th>" for s in subjects)
    rows = []
    for e, d, k in events:
        cells = []
        for s in subjects:
            if (e, s) not in cell:
                cells.append("<td>–</td>")
                continue
            cum, p = cell[(e, s)]
            p = float(p)
            ptxt = "p –" if not np.isfinite(p) else f"p {p:.2f}"
            strong = np.isfinite(p) and p < 0.10
            cells.append(f'<td>{"<b>" if strong else ""}{fmt(cum, PCT)}{"</b>" if strong else ""}'
                         f'<br><span class="muted">{ptxt}</span></td>')
        rows.append(f'<tr><td class="txt">{esc(e)}</td><td class="txt">{esc(d)}</td><td class="txt">{esc(k)}</td>'
                    f'{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table></div>")


def episodes_figure(ep: pd.DataFrame, colors: dict[str, str]) -> RawFigure:
    """Small multiples: one column per episode, cumulative return above, drawdown below."""
    names = list(dict.fromkeys(ep["episode"].astype(str)))
    n = len(names)
    grid = make_subplots(rows=2, cols=n, subplot_titles=names, shared_yaxes="rows", horizontal_spacing=0.02,
                         vertical_spacing=0.08, row_heights=[0.62, 0.38])
    traces: list[dict] = []
    shapes: list[dict] = []
    shown: set[str] = set()
    for j, name in enumerate(names):
        g = ep.loc[ep["episode"].astype(str) == name]
        (x1, y1), (x2, y2) = axis_ref(j), axis_ref(n + j)
        for s, gs in g.groupby("strategy", sort=False):
            x = pd.DatetimeIndex(gs["date"]).to_numpy().astype("datetime64[D]")
            line = {"color": colors.get(str(s), "#888"), "width": 1.4}
            traces.append(F.scatter(x=x, y=F.f32(gs["cum_return"], 5), mode="lines", name=str(s),
                                    legendgroup=str(s), line=line, showlegend=str(s) not in shown, xaxis=x1,
                                    yaxis=y1, hovertemplate=f"{s} %{{x}}: %{{y:.1%}}<extra></extra>"))
            traces.append(F.scatter(x=x, y=F.f32(gs["drawdown"], 5), mode="lines", name=str(s),
                                    legendgroup=str(s), line=line, showlegend=False, xaxis=x2, yaxis=y2,
                                    hovertemplate=f"{s} drawdown %{{y:.1%}}<extra></extra>"))
            shown.add(str(s))
        first = g.drop_duplicates("date")[["date", "regime"]]
        lab = first["regime"].astype(str).to_numpy()
        dts = list(first["date"].astype(str))
        change = np.flatnonzero(np.concatenate([[True], lab[1:] != lab[:-1]]))
        for i, c in enumerate(change):
            end = dts[change[i + 1]] if i + 1 < len(change) else dts[-1]
            for xa, ya in ((x1, y1), (x2, y2)):
                shapes.append({"type": "rect", "xref": xa, "yref": f"{ya} domain", "x0": dts[c], "x1": end,
                               "y0": 0, "y1": 1, "fillcolor": F.regime_color(lab[c]), "line": {"width": 0},
                               "layer": "below"})
    rows = F.legend_rows(sorted(shown))
    layout = grid.layout.to_plotly_json()
    layout.update(F.base_layout(None, 560 + 22 * rows, hovermode="closest"))
    layout["legend"] = {"orientation": "h", "yanchor": "bottom", "y": 1.0 + 28 / 460, "xanchor": "left", "x": 0}
    layout["margin"] = {"l": 60, "r": 20, "t": 60 + 22 * rows, "b": 40}
    layout["shapes"] = shapes
    fig = RawFigure(traces, layout)
    fig.update_axes("yaxis", tickformat=".0%", gridcolor="#eee")
    fig.update_axes("xaxis", tickformat="%-d %b %y", nticks=3)
    return fig


def header_html(ev: Any) -> str:
    """Title, data, period, the data's end date and the settings."""
    out = ev.run
    prov = {"data": out.md.provenance(out.days)}
    h = ev.history
    end = ev.data_end.date()
    facts = [("data", source_html(prov)),
             ("strategies", f"{out.days[0].date()} → {end} ({len(out.days):,} trading days)"),
             ("instruments", f"{h.days[0].date()} → {h.days[-1].date()} ({', '.join(h.returns.columns)})"),
             ("regimes", f"{out.cfg.regimes.model} (by {out.cfg.regimes.by}); events: Fed calendar by announcement"),
             ("seed", str(ev.seed)),
             ("bootstrap", f"stationary blocks, mean {ev.settings['bootstrap']['mean_block_days']:g} days, "
                           f"{ev.settings['bootstrap']['draws']:,} draws, 90% intervals"),
             ("placebos", f"{ev.settings['events']['placebos']:,} windows per event")]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    synth = ('<div class="banner">Synthetic data: these results come from a generated sample market and say '
             "nothing about real markets.</div>") if out.md.synthetic else ""
    asof = (f'<div class="asof">The data end on <b>{end}</b>: every figure on this page is as of that date, '
            "not today.</div>")
    return (f'{CSS}{synth}<h1>{esc(out.cfg.name)} <span class="sub">evidence</span></h1>{asof}'
            f'<dl class="facts">{dl}</dl>')


def build_evidence_page(ev: Any) -> str:
    """The HTML of ``evidence.html`` for an :class:`~backtest.evidence.build.EvidenceRun`."""
    page = Page(title=f"{ev.run.cfg.name} — rmpbt evidence")
    page.notes.extend(ev.notes)
    strategies = [str(c) for c in ev.run.returns.columns]
    colors = F.color_map(strategies)
    s = ev.settings

    def claims_body() -> str | None:
        if ev.claims.empty:
            return None
        return (claims_table_html(ev.claims) + page.figure(claims_figure(ev.claims))
                + f'<p class="muted">Estimate: annualised mean daily return in the regimes the claim means minus '
                  f'in the rest (excess of cash, or the difference of two instruments). Interval: 90% stationary '
                  f'block bootstrap. <i>too little history</i>: fewer than {s["claims"]["min_episodes"]} regime '
                  f'episodes or {s["claims"]["min_days"]} days on either side. Instruments from '
                  f'{s["claims"]["first_day"]} (docs/evidence.md defines every measure).</p>')

    add_section(page, "claims", "The article's claims on history", claims_body)

    def events_body() -> str | None:
        if ev.event_study.empty:
            return None
        body = ""
        if not ev.event_paths.empty:
            body += page.figure(event_paths_figure(ev.event_paths))
            body += ('<p class="muted">Blue: mean over the kind\'s events of the cumulative excess return from day -5 '
                     '(day 0 = first trading day on or after the announcement). Grey: 5-95% range of the same mean '
                     'over placebo draws (days of the same regime kind whose windows end before the event\'s '
                     'window). Choose the instrument or strategy in the menu.</p>')
        inst = [c for c in ev.history.returns.columns]
        for w in s["events"]["windows"]:
            body += f"<h3>Window {esc(w)}: instruments</h3>" + events_table_html(ev.event_study, inst, w)
        body += ("<details><summary>Strategies</summary>"
                 + "".join(f"<h3>Window {esc(w)}</h3>" + events_table_html(ev.event_study, strategies, w)
                           for w in s["events"]["windows"]) + "</details>")
        return body + ('<p class="muted">Cumulative return in excess of cash over the window; under it the '
                       'placebo p-value (share of placebo windows at least as far from their median); bold when '
                       'p &lt; 0.10. "p –": too few earlier days of the same regime kind.</p>')

    add_section(page, "events", "Event studies around the Fed's announcements", events_body)

    def attribution_body() -> str | None:
        if ev.attribution.empty:
            return None
        sleeves = ev.attribution_sleeves
        figs = []
        for name in strategies:
            src = sleeves if not sleeves.empty and (sleeves["strategy"] == name).any() else ev.attribution
            if (src["strategy"] == name).any():
                figs.append(f"<div>{page.figure(attribution_figure(src, name))}</div>")
        body = f'<div class="grid-att">{"".join(figs)}</div><p class="muted">{esc(ATTRIBUTION_NOTE)} Charts show sleeves ' \
               "for strategies with named sleeves, assets otherwise.</p>"
        if not sleeves.empty:
            body += "<h3>By sleeve</h3>" + attribution_table_html(sleeves, colors, "attribution-sleeves", True)
        body += "<h3>By asset</h3>" + attribution_table_html(ev.attribution, colors)
        return body

    add_section(page, "attribution", "Regime attribution by sleeve and asset", attribution_body)

    def episodes_body() -> str | None:
        if ev.episodes.empty:
            return None
        return (page.figure(episodes_figure(ev.episodes, colors))
                + '<p class="muted">Cumulative return from each window\'s first day (top) and drawdown from the '
                  "window's running peak (bottom); shading: the run's regime labels (qe green, qt red, rmp purple, plateau grey).</p>")

    add_section(page, "episodes", "Episode replay", episodes_body)
    return page.render(header_html(ev), footer_html(f"Data end {ev.data_end.date()}. "))
