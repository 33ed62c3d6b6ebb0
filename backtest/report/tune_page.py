"""``tune.html``: one self-contained page of a ``rmpbt tune`` run.

Sections: the verdict (one coloured line, then the deflated Sharpe of the active
return, PBO on active and total returns, the noise null's p-values, CPCV, rank
correlations per fold and the out-of-sample information ratios), a heatmap of the tuning
metric over two chosen keys (in-sample and out-of-sample side by side, mean over the other
keys), in-sample vs out-of-sample scatter (one point per variant), the distribution of
the CSCV logits behind PBO, the noise null's distributions, the CPCV paths' Sharpe
ratios (with ``--cv``), the stitched out-of-sample track against the benchmarks, and the
walk-forward folds. plotly.js is embedded once
(``plotly.offline.get_plotlyjs()``); the page works offline.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.offline
from plotly.subplots import make_subplots

from backtest.metrics_registry import pct_metrics

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:13px} .guard{background:#f6f6f6;padding:10px 14px;border-radius:6px;font-size:14px}
.warn{color:#a33;font-weight:600} .ok{color:#286;font-weight:600}
.verdict{padding:10px 14px;border-radius:6px;font-size:15px;font-weight:600;margin:10px 0}
.v-green{background:#e3f4ea;color:#1d6b3c} .v-amber{background:#fdf1dc;color:#8a5a00}
.v-red{background:#fbe4e4;color:#a32626} .muted{color:#888}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:right} th{background:#fafafa}
td:first-child,th:first-child{text-align:left}
"""


def short_key(key: str, strategy: str) -> str:
    """Display name of a grid key (drops ``strategies.<name>.params.``)."""
    return key.removeprefix(f"strategies.{strategy}.params.")


def _fmt(x: Any, digits: int = 3) -> str:
    if isinstance(x, (float, np.floating)):
        return "–" if not np.isfinite(x) else f"{x:.{digits}f}"
    return html.escape(str(x))


def _table(df: pd.DataFrame, pct: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [df.index.name or "", *df.columns])
    rows = []
    for idx, row in df.iterrows():
        cells = [f"<td>{html.escape(str(idx))}</td>"]
        for c in df.columns:
            v = row[c]
            if c in pct and isinstance(v, (float, np.floating)) and np.isfinite(v):
                cells.append(f"<td>{v:.1%}</td>")
            else:
                cells.append(f"<td>{_fmt(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _axis_values(s: pd.Series) -> list[Any]:
    vals = list(dict.fromkeys(s.tolist()))
    try:
        return sorted(vals)
    except TypeError:
        return vals


def heatmap_figure(table: pd.DataFrame, keys: list[str], metric: str, strategy: str) -> go.Figure:
    """Mean in-sample and out-of-sample ``metric`` over two keys (a line for one key)."""
    is_col, oos_col = f"is_{metric}", f"oos_{metric}"
    if len(keys) == 1:
        k = keys[0]
        g = table.groupby(k, sort=True)[[is_col, oos_col]].mean()
        fig = go.Figure()
        x = [str(v) for v in g.index]
        fig.add_trace(go.Scatter(x=x, y=g[is_col], mode="lines+markers", name="in-sample"))
        fig.add_trace(go.Scatter(x=x, y=g[oos_col], mode="lines+markers", name="out-of-sample"))
        fig.update_layout(xaxis_title=short_key(k, strategy), yaxis_title=metric, height=420)
        return fig
    kx, ky = keys[0], keys[1]
    xs, ys = _axis_values(table[kx]), _axis_values(table[ky])
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"in-sample {metric}", f"out-of-sample {metric}"),
                        horizontal_spacing=0.12)
    for j, col in enumerate((is_col, oos_col)):
        g = table.groupby([ky, kx], sort=False)[col].mean()
        z = np.array([[g.get((y, x), np.nan) for x in xs] for y in ys], dtype=float)
        fig.add_trace(go.Heatmap(
            x=[str(v) for v in xs], y=[str(v) for v in ys], z=z, coloraxis="coloraxis",
            hovertemplate=f"{short_key(kx, strategy)}=%{{x}}<br>{short_key(ky, strategy)}=%{{y}}"
                          f"<br>{metric}=%{{z:.3f}}<extra></extra>"), row=1, col=j + 1)
        fig.update_xaxes(title_text=short_key(kx, strategy), type="category", row=1, col=j + 1)
        fig.update_yaxes(title_text=short_key(ky, strategy), type="category", row=1, col=j + 1)
    fig.update_layout(coloraxis={"colorscale": "RdYlGn"}, height=480)
    return fig


def scatter_figure(table: pd.DataFrame, keys: list[str], metric: str, strategy: str, best: int,
                   chosen: list[int]) -> go.Figure:
    """In-sample vs out-of-sample ``metric``, one point per variant."""
    is_col, oos_col = f"is_{metric}", f"oos_{metric}"
    text = ["<br>".join([f"variant {int(r['variant'])}"]
                        + [f"{short_key(k, strategy)}={r[k]}" for k in keys]) for _, r in table.iterrows()]
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=table[is_col], y=table[oos_col], mode="markers", name="variants",
                               text=text, hoverinfo="text+x+y", marker={"size": 5, "opacity": 0.6}))
    sel = sorted(set(chosen))
    fig.add_trace(go.Scatter(x=table.loc[sel, is_col], y=table.loc[sel, oos_col], mode="markers",
                             name="chosen on a training window", marker={"size": 10, "symbol": "diamond-open"}))
    fig.add_trace(go.Scatter(x=[table.loc[best, is_col]], y=[table.loc[best, oos_col]], mode="markers",
                             name="best in-sample", marker={"size": 14, "symbol": "star", "color": "crimson"}))
    lo = np.nanmin([table[is_col].min(), table[oos_col].min()])
    hi = np.nanmax([table[is_col].max(), table[oos_col].max()])
    if np.isfinite(lo) and np.isfinite(hi):
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                                 line={"dash": "dot", "color": "#999"}))
    fig.update_layout(xaxis_title=f"in-sample {metric}", yaxis_title=f"out-of-sample {metric}", height=480)
    return fig


def oos_figure(oos: pd.DataFrame) -> go.Figure:
    """Growth of 1 over the stitched out-of-sample days."""
    fig = go.Figure()
    for c in oos.columns:
        r = oos[c].fillna(0.0)
        fig.add_trace(go.Scatter(x=oos.index, y=np.cumprod(1.0 + r.to_numpy()), mode="lines", name=str(c)))
    fig.update_layout(yaxis_title="growth of 1 (out-of-sample days only)", height=420, yaxis_type="log")
    return fig


def logits_figure(logits: np.ndarray, pbo: float, logits_total: np.ndarray | None = None,
                  pbo_total: float = float("nan")) -> go.Figure:
    """Histogram of the CSCV logits λ of the in-sample best's out-of-sample rank; PBO is the mass at λ <= 0.

    ``logits`` are those of the active returns (the verdict's); ``logits_total``, when
    given, those of the total returns, drawn as an outline.
    """
    fig = go.Figure()
    lg = np.asarray(logits, dtype=float)
    lg = lg[np.isfinite(lg)]
    both = lg if logits_total is None else np.r_[lg, np.asarray(logits_total, dtype=float)]
    both = both[np.isfinite(both)]
    lo, hi = (np.floor(both.min() * 10) / 10, np.ceil(both.max() * 10) / 10 + 0.1) if len(both) else (-1.0, 1.0)
    bins = np.arange(lo, hi + 0.05, 0.1)
    counts, edges = np.histogram(lg, bins=bins)
    mid = (edges[:-1] + edges[1:]) / 2
    for below, name, colour in ((True, "active returns, λ ≤ 0 (below the OOS median)", "#c44"),
                                (False, "active returns, λ > 0", "#4a8")):
        keep = (mid <= 0) if below else (mid > 0)
        fig.add_trace(go.Bar(x=mid[keep], y=counts[keep], width=0.1, name=name, marker_color=colour))
    if logits_total is not None:
        tc, _ = np.histogram(np.asarray(logits_total, dtype=float), bins=bins)
        fig.add_trace(go.Scatter(x=mid, y=tc, mode="lines", line={"shape": "hvh", "color": "#555"},
                                 name="total returns"))
    fig.add_vline(x=0.0, line_dash="dot", line_color="#555")
    title = f"PBO = {pbo:.2f} on active returns" if np.isfinite(pbo) else "PBO n/a"
    if np.isfinite(pbo_total):
        title += f", {pbo_total:.2f} on total returns"
    fig.update_layout(bargap=0, height=360, xaxis_title="logit λ of the out-of-sample relative rank",
                      yaxis_title="splits", title={"text": title, "x": 0.5})
    return fig


def _bars(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Histogram of the finite values of ``x``: bin centres, counts, bin width."""
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if not len(a):
        return np.array([]), np.array([]), 1.0
    counts, edges = np.histogram(a, bins=bins)
    return (edges[:-1] + edges[1:]) / 2, counts, float(edges[1] - edges[0])


def null_figure(null: Any) -> go.Figure:
    """The noise null's distributions of the deflated Sharpe and of the out-of-sample gain, the
    observed values marked."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        f"deflated Sharpe of the in-sample gain (null p {_p(null.p_dsr)})",
        f"out-of-sample gain before switch costs, bp/yr (null p {_p(null.p_oos)})"))
    for j, (x, obs) in enumerate(((null.dsr, null.observed_dsr), (null.oos_bp, null.observed_oos_bp))):
        mid, counts, width = _bars(x, 30)
        fig.add_trace(go.Bar(x=mid, y=counts, width=width, marker_color="#9ab", showlegend=False,
                             name="noise tunes"), row=1, col=j + 1)
        if np.isfinite(obs):
            fig.add_vline(x=obs, line_color="crimson", line_width=2, row=1, col=j + 1)
    fig.update_yaxes(title_text=f"of {null.runs} noise tunes", row=1, col=1)
    fig.update_layout(height=360, bargap=0)
    return fig


def cv_figure(cv: Any) -> go.Figure:
    """Out-of-sample Sharpe ratio of each CPCV path (the untuned reference's over the run dotted)."""
    fig = go.Figure()
    mid, counts, width = _bars(cv.sharpe, max(5, min(30, cv.n_paths)))
    fig.add_trace(go.Bar(x=mid, y=counts, width=width, marker_color="#79a", name="paths"))
    if np.isfinite(cv.reference_sharpe):
        fig.add_vline(x=cv.reference_sharpe, line_dash="dot", line_color="#555")
    fig.update_layout(height=340, bargap=0, yaxis_title="paths",
                      xaxis_title=f"out-of-sample Sharpe ratio of a path (dotted: {cv.reference} over the run)")
    return fig


def _signed(x: Any, digits: int = 2) -> str:
    return "–" if not isinstance(x, (int, float, np.floating)) or not np.isfinite(x) else f"{x:+.{digits}f}"


def _p(x: Any) -> str:
    if not isinstance(x, (int, float, np.floating)) or not np.isfinite(x):
        return "–"
    return "< 0.001" if x < 0.001 else (f"{x:.3f}" if x < 0.01 else f"{x:.2f}")


def verdict_html(v: Any) -> str:
    """The verdict line (coloured by what it says) and its details table."""
    rows = []
    null = getattr(v, "null", None)
    for i, (d, c) in enumerate(zip(v.deflated, v.oos, strict=True)):
        p = null.p_dsr if (null is not None and i == 0) else float("nan")
        dcls = "muted" if not np.isfinite(p) else ("ok" if p <= 0.05 else "warn")
        ccls = {1: "ok", -1: "warn", 0: "muted"}[c.sign]
        rows.append(
            f"<tr><td>{html.escape(d.reference)}</td><td>{_signed(d.ir)}</td><td>{_fmt(d.sr0, 2)}</td>"
            f"<td class='{dcls}'>{_fmt(d.dsr)}</td><td class='{dcls}'>{_p(p)}</td><td>{d.n_eff:.1f} / {d.n_trials}</td>"
            f"<td>{_signed(c.bp_per_year, 0)}</td><td class='{ccls}'>{_signed(c.ir)}</td>"
            f"<td class='{ccls}'>{_signed(c.ir_lo)} … {_signed(c.ir_hi)}</td></tr>")
    head = (f"<tr><th>reference</th><th>IR of best ({html.escape(v.deflated[0].days)})</th><th>SR0 (luck)</th>"
            "<th>deflated Sharpe</th><th>null p</th>"
            f"<th>effective trials</th><th>OOS bp/yr</th><th>OOS IR</th><th>IR {v.conf:.0%} CI</th></tr>")
    folds = ", ".join(_signed(x) for x in v.fold_rank_corr)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in v.notes)
    if null is not None:
        dq, oq = null.quantiles(null.dsr), null.quantiles(null.oos_bp)
        null_text = (
            f"Noise null ({null.runs} runs, active returns sign-flipped in {null.blocks} blocks of "
            f"~{null.block_days} days): deflated Sharpe <b>{_fmt(null.observed_dsr, 2)}</b> against a noise median "
            f"of {_fmt(dq['q50'], 2)} (90%: {_fmt(dq['q05'], 2)} to {_fmt(dq['q95'], 2)}), null p "
            f"<b>{_p(null.p_dsr)}</b>; out-of-sample gain before switch costs <b>{null.observed_oos_bp:+.0f}</b> "
            f"bp/yr against a noise median of {oq['q50']:+.0f} (90%: {oq['q05']:+.0f} to {oq['q95']:+.0f}), "
            f"null p <b>{_p(null.p_oos)}</b>. ")
    else:
        null_text = "Noise null off (<code>--null-runs 0</code>): the deflated Sharpe is not calibrated. "
    cv = getattr(v, "cv", None)
    cv_text = ""
    if cv is not None:
        q = np.quantile(cv.sharpe, [0.0, 0.5, 1.0]) if cv.n_paths else [np.nan] * 3
        cv_text = (f"CPCV ({cv.spec.groups} groups, {cv.spec.test_groups} test, {cv.n_splits} splits, "
                   f"{cv.n_paths} paths, purge {cv.purge} and embargo {cv.embargo} trading days): out-of-sample "
                   f"Sharpe of the paths {_fmt(q[0], 2)} to {_fmt(q[2], 2)}, median <b>{_fmt(q[1], 2)}</b>; gain "
                   f"over {html.escape(cv.reference)} above zero on {int(np.sum(cv.active_bp > 0))} of "
                   f"{cv.n_paths} paths. ")
    return (
        f"<div class='verdict v-{v.level}' id='verdict'>{html.escape(v.text)}</div>"
        f"<div class='guard'><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        f"PBO (CSCV, {v.pbo_splits} blocks, {len(v.logits)} splits): <b>{_fmt(getattr(v, 'pbo_active', np.nan), 2)}"
        f"</b> on active returns, {_fmt(v.pbo, 2)} on total returns. {null_text}{cv_text}"
        f"Spearman rank correlation of training and test scores per fold (disjoint windows): median "
        f"<b>{_signed(v.median_rank_corr)}</b> <span class='muted'>({folds})</span>."
        + (f"<ul class='meta'>{notes}</ul>" if notes else "") + "</div>")


def render_tune_page(result: Any) -> str:
    """The HTML text of ``tune.html`` for a :class:`backtest.tune.orchestrate.TuneResult`."""
    table: pd.DataFrame = result.table
    keys = [a.key for a in result.axes]
    req = result.request
    hm = list(req.heatmap) if req.heatmap else keys[:2]
    metric = result.metric
    folds: pd.DataFrame = result.folds
    chosen = [int(c) for c in folds["chosen"]] if len(folds) else []
    v = result.verdict
    windows = (f"walk-forward {html.escape(req.walk_forward)} ({len(folds)} folds)" if req.walk_forward
               else f"split at {folds['test_start'].iloc[0]}")
    figs = [
        ("heatmap", f"{metric} over {', '.join(short_key(k, result.strategy) for k in hm)}",
         heatmap_figure(table, hm, metric, result.strategy)),
        ("scatter", "In-sample vs out-of-sample", scatter_figure(table, keys, metric, result.strategy,
                                                                 result.best, chosen)),
        ("oos", "Out-of-sample track vs benchmarks", oos_figure(result.oos_returns)),
    ]
    if v is not None and len(v.logits):
        active = v.logits_active if len(v.logits_active) else v.logits
        figs.insert(2, ("pbo", "Probability of backtest overfitting (CSCV logits)",
                        logits_figure(active, v.pbo_active, v.logits, v.pbo)))
    if v is not None and v.null is not None:
        figs.insert(-1, ("null", "Noise null: the same selection on sign-flipped active returns",
                         null_figure(v.null)))
    if v is not None and v.cv is not None:
        figs.insert(-1, ("cpcv", "Combinatorial purged cross-validation paths", cv_figure(v.cv)))
    body = []
    for div_id, title, fig in figs:
        fig.update_layout(margin={"l": 60, "r": 20, "t": 40, "b": 50}, template="plotly_white")
        body.append(f"<h2>{html.escape(title)}</h2>"
                    + fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                                  config={"displaylogo": False}))
        if div_id == "oos":
            body.append(_table(result.oos_metrics, pct=tuple(pct_metrics())))
    if len(folds):
        f = folds.set_index("fold")
        body.append("<h2>Folds</h2>" + _table(f))
    top = table.sort_values(f"is_{metric}", ascending=False, na_position="last").head(20).set_index("variant")
    top = top[[*keys, f"is_{metric}", f"oos_{metric}", "is_rank", "oos_rank",
               *(["turnover"] if "turnover" in top.columns else [])]]
    top.columns = [short_key(c, result.strategy) for c in top.columns]
    body.append("<h2>Top 20 variants in-sample</h2>" + _table(top))
    guard = verdict_html(v) if v is not None else ""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    head = (
        f"<h1>rmpbt tune: {html.escape(result.strategy)}</h1>"
        f"<div class='meta'>config {html.escape(str(result.origin))} · {len(table)} variants · "
        f"{result.n_paths} path(s) · metric {html.escape(metric)} · {windows} · data "
        f"{html.escape(str(result.md.source))}"
        f"{' (SYNTHETIC)' if result.md.synthetic and 'synthetic' not in str(result.md.source) else ''} "
        f"{result.days[0].date()} → {result.days[-1].date()}</div>{guard}"
        + (f"<ul class='meta'>{notes}</ul>" if notes else ""))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>tune {html.escape(result.strategy)}</title><style>{CSS}</style>"
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head>"
        f"<body>{head}{''.join(body)}</body></html>"
    )
