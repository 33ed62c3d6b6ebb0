"""Plotly figure builders for the tearsheet and the comparison page.

Every builder takes tidy pandas inputs and returns a :class:`plotly.graph_objects.Figure`.
Numeric arrays are handed to plotly as ``float32`` numpy arrays, which plotly serialises
as compact base64 typed arrays; date axes are ``datetime64[D]`` arrays that the page
writer (:func:`figure_payload`) turns into shared ``YYYY-MM-DD`` lists, so a date index
used by many traces is written once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.json import to_json_plotly

TRADING_DAYS = 252
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363",
)
ASSET_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
    "#a6761d", "#666666", "#8dd3c7", "#fb8072",
)
REGIME_COLORS = {
    "qe": "rgba(44,160,44,0.13)",
    "qt": "rgba(214,39,40,0.11)",
    "rmp": "rgba(148,103,189,0.18)",
    "plateau": "rgba(127,127,127,0.07)",
}
REGIME_SOLID = {"qe": "#2ca02c", "qt": "#d62728", "rmp": "#9467bd", "plateau": "#9a9a9a"}
EXTRA_REGIME_COLORS = ("rgba(23,190,207,0.13)", "rgba(188,189,34,0.15)", "rgba(255,127,14,0.12)")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PLOT_CONFIG = {"responsive": True, "displaylogo": False,
               "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}
BASE_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
             "size": 12}


@dataclass(frozen=True)
class Band:
    """A contiguous stretch of one regime, drawn as a shaded band."""

    start: pd.Timestamp
    end: pd.Timestamp
    kind: str
    label: str


def color_map(names: list[str]) -> dict[str, str]:
    """A stable colour per strategy, in order of appearance."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def regime_color(kind: str, solid: bool = False) -> str:
    """Fill (or solid) colour of a regime kind; unknown kinds get a stable extra colour."""
    table = REGIME_SOLID if solid else REGIME_COLORS
    if kind in table:
        return table[kind]
    h = int(hashlib.md5(kind.encode()).hexdigest(), 16) % len(EXTRA_REGIME_COLORS)
    return "#17becf" if solid else EXTRA_REGIME_COLORS[h]


def regime_bands(regimes: pd.DataFrame | None) -> list[Band]:
    """Contiguous runs of the same regime (kind and id) over the run's days.

    Parameters
    ----------
    regimes : pd.DataFrame or None
        Indexed by date, with ``regime`` and optionally ``regime_id``.

    Returns
    -------
    list[Band]
        Each band ends where the next one starts (the last ends on the last day), so the
        shading has no gaps over weekends. ``GAP``/``PRE`` ids are labelled by their kind.
    """
    if regimes is None or regimes.empty or "regime" not in regimes:
        return []
    kind = regimes["regime"].astype(str).fillna("unknown").to_numpy()
    rid = regimes["regime_id"].astype(str).to_numpy() if "regime_id" in regimes else kind
    key = np.char.add(np.char.add(kind.astype(str), "|"), rid.astype(str))
    change = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    idx = pd.DatetimeIndex(regimes.index)
    bands = []
    for j, i in enumerate(change):
        end = idx[change[j + 1]] if j + 1 < len(change) else idx[-1]
        label = rid[i] if rid[i] not in ("GAP", "PRE", "nan", "None", "<NA>") else kind[i]
        bands.append(Band(idx[i], end, str(kind[i]), str(label)))
    return bands


def _dates(idx: pd.Index) -> np.ndarray:
    return pd.DatetimeIndex(idx).to_numpy().astype("datetime64[D]")


def _f32(values: object, digits: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if digits is not None:
        arr = np.round(arr, digits)
    return arr.astype(np.float32)


def _layout(title: str | None = None, height: int = 420, **kw: object) -> dict:
    lay = {
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 56 if title else 30, "b": 40},
        "font": BASE_FONT,
        "hovermode": "x unified",
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
    }
    if title:
        lay["title"] = {"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top",
                        "font": {"size": 14}}
    lay.update(kw)
    return lay


def legend_rows(names: list[str], width_px: int = 1200) -> int:
    """Rough number of rows a horizontal legend of ``names`` takes."""
    per = max(1, width_px // max(60, 7 * max((len(str(n)) for n in names), default=5) + 40))
    return -(-len(names) // per)


def _clean(r: pd.Series) -> pd.Series:
    """Drop leading NaN (not yet invested) and count inner NaN as 0 (metrics convention)."""
    fv = r.first_valid_index()
    return r.loc[fv:].fillna(0.0) if fv is not None else r.iloc[0:0]


def wealth(returns: pd.DataFrame) -> pd.DataFrame:
    """Growth of 1 per strategy (NaN before a strategy starts)."""
    out = {}
    for c in returns.columns:
        r = _clean(returns[c])
        out[c] = (1.0 + r).cumprod()
    return pd.DataFrame(out, index=returns.index)


def drawdowns(returns: pd.DataFrame) -> pd.DataFrame:
    """Drawdown path per strategy (wealth over its running peak, starting from 1, minus 1)."""
    w = wealth(returns)
    peak = w.cummax().clip(lower=1.0)
    return w / peak - 1.0


def regime_decor(
    bands: list[Band],
    stress: list[tuple[pd.Timestamp, str]] | None = None,
    labels: bool = True,
    min_label_share: float = 0.035,
    xref: str = "x",
    yref: str = "paper",
) -> tuple[list[dict], list[dict]]:
    """Layout shapes and annotations shading regime bands and marking stress dates.

    Parameters
    ----------
    bands : list[Band]
        From :func:`regime_bands`.
    stress : list of (date, label), optional
        Stress events drawn as dotted vertical lines with a rotated label.
    labels : bool
        Write the regime id at the top of bands wide enough to hold it (and stress labels).
    min_label_share : float
        Minimum band width, as a share of the whole span, for a label.
    xref, yref : str
        Axis references (``"y2 domain"`` for the second panel of a stacked figure).

    Returns
    -------
    shapes, annotations : list[dict]
    """
    if not bands:
        return [], []
    span = (bands[-1].end - bands[0].start).days or 1
    shapes: list[dict] = []
    notes: list[dict] = []
    for b in bands:
        shapes.append({"type": "rect", "xref": xref, "yref": yref, "x0": b.start.strftime("%Y-%m-%d"),
                       "x1": b.end.strftime("%Y-%m-%d"), "y0": 0, "y1": 1, "line": {"width": 0},
                       "fillcolor": regime_color(b.kind), "layer": "below"})
        if labels and (b.end - b.start).days / span >= min_label_share:
            mid = b.start + (b.end - b.start) / 2
            notes.append({"xref": xref, "yref": yref, "x": mid.strftime("%Y-%m-%d"), "y": 1.0,
                          "yanchor": "top", "showarrow": False, "text": b.label,
                          "font": {"size": 10, "color": regime_color(b.kind, solid=True)}})
    for d, text in stress or []:
        if d < bands[0].start or d > bands[-1].end:
            continue
        ds = pd.Timestamp(d).strftime("%Y-%m-%d")
        shapes.append({"type": "line", "xref": xref, "yref": yref, "x0": ds, "x1": ds, "y0": 0, "y1": 0.93,
                       "line": {"width": 1, "dash": "dot", "color": "rgba(80,80,80,0.7)"}})
        if labels:
            notes.append({"xref": xref, "yref": yref, "x": ds, "y": 0.02, "yanchor": "bottom",
                          "xanchor": "right", "textangle": -90, "showarrow": False, "text": text,
                          "font": {"size": 9, "color": "#555"}})
    return shapes, notes


def equity_figure(
    returns: pd.DataFrame,
    colors: dict[str, str],
    bands: list[Band] | None = None,
    stress: list[tuple[pd.Timestamp, str]] | None = None,
    log: bool = False,
) -> go.Figure:
    """Growth of 1 per strategy, with regime bands, stress dates and a linear/log toggle."""
    w = wealth(returns)
    x = _dates(w.index)
    traces = [go.Scatter(x=x, y=_f32(w[c]), name=str(c), mode="lines",
                         line={"width": 1.6, "color": colors.get(c)},
                         hovertemplate="%{y:.3f}")
              for c in w.columns]
    shapes, notes = regime_decor(bands or [], stress)
    lay = _layout(None, 460 + 18 * legend_rows(list(w.columns)))
    lay.update(
        yaxis={"type": "log" if log else "linear", "title": {"text": "growth of 1"}, "gridcolor": "#eee"},
        xaxis={"type": "date", "gridcolor": "#eee"},
        updatemenus=[{
            "type": "buttons", "direction": "right", "x": 1, "xanchor": "right", "y": 1.13, "yanchor": "top",
            "showactive": True, "active": 1 if log else 0, "pad": {"r": 0, "t": 0},
            "font": {"size": 11},
            "buttons": [
                {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
            ],
        }],
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.07, "xanchor": "left", "x": 0},
        shapes=shapes, annotations=notes,
    )
    return go.Figure(traces, layout=lay)


def drawdown_figure(returns: pd.DataFrame, colors: dict[str, str], bands: list[Band] | None = None) -> go.Figure:
    """Drawdown from the running peak per strategy (percent), with regime bands."""
    dd = drawdowns(returns)
    x = _dates(dd.index)
    traces = [go.Scatter(x=x, y=_f32(dd[c], 5), name=str(c), mode="lines",
                         line={"width": 1.2, "color": colors.get(c)}, hovertemplate="%{y:.1%}")
              for c in dd.columns]
    shapes, _ = regime_decor(bands or [], labels=False)
    legend = len(dd.columns) <= 6
    lay = _layout(None, 340 + (18 * legend_rows(list(dd.columns)) if legend else 0))
    lay.update(yaxis={"tickformat": ".0%", "title": {"text": "drawdown"}, "gridcolor": "#eee"},
               xaxis={"type": "date", "gridcolor": "#eee"}, shapes=shapes, showlegend=legend)
    return go.Figure(traces, layout=lay)


def sample_dates(idx: pd.DatetimeIndex, max_points: int = 600) -> pd.DatetimeIndex:
    """Last trading day of each week (or month, if weeks would exceed ``max_points``)."""
    idx = pd.DatetimeIndex(idx)
    if len(idx) <= max_points:
        return idx
    s = pd.Series(idx, index=idx)
    weekly = s.groupby(idx.to_period("W")).max()
    if len(weekly) <= max_points:
        return pd.DatetimeIndex(weekly.to_numpy())
    return pd.DatetimeIndex(s.groupby(idx.to_period("M")).max().to_numpy())


def rolling_stats(returns: pd.DataFrame, rf: pd.Series | pd.DataFrame | None, window: int = TRADING_DAYS) -> dict[str, pd.DataFrame]:
    """Rolling ``window``-day compounded return, annualised volatility and Sharpe ratio.

    Sharpe is of daily excess returns over ``rf`` (as in :mod:`backtest.metrics`).
    """
    r = returns.copy()
    for c in r.columns:
        r[c] = _clean(r[c]).reindex(r.index)
    logw = np.log1p(r.fillna(0.0)).where(r.notna())
    ret = np.expm1(logw.rolling(window, min_periods=window).sum())
    vol = r.rolling(window, min_periods=window).std() * np.sqrt(TRADING_DAYS)
    if isinstance(rf, pd.DataFrame):
        ex = r - rf.reindex(index=r.index, columns=r.columns).fillna(0.0)
    elif rf is not None:
        ex = r.sub(rf.reindex(r.index).fillna(0.0), axis=0)
    else:
        ex = r
    roll = ex.rolling(window, min_periods=window)
    sd = roll.std()
    sharpe = (roll.mean() / sd.where(sd > 0)) * np.sqrt(TRADING_DAYS)
    return {"return": ret, "volatility": vol, "sharpe": sharpe}


def rolling_figure(
    returns: pd.DataFrame,
    rf: pd.Series | pd.DataFrame | None,
    colors: dict[str, str],
    bands: list[Band] | None = None,
    window: int = TRADING_DAYS,
) -> go.Figure:
    """Three stacked panels sharing the date axis: rolling 12-month return, volatility, Sharpe."""
    stats = rolling_stats(returns, rf, window)
    keep = sample_dates(returns.index)
    panels = (("return", "12-month return", ".0%", "%{y:.1%}", (0.70, 1.0)),
              ("volatility", "12-month volatility", ".0%", "%{y:.1%}", (0.36, 0.64)),
              ("sharpe", "12-month Sharpe", ".1f", "%{y:.2f}", (0.02, 0.30)))
    traces, shapes, notes = [], [], []
    lay = _layout(None, 640 + 18 * legend_rows(list(returns.columns)), hovermode="x")
    for i, (key, title, tick, hover, dom) in enumerate(panels):
        ax = "y" if i == 0 else f"y{i + 1}"
        f = stats[key].loc[keep]
        x = _dates(f.index)
        for c in f.columns:
            traces.append(go.Scatter(x=x, y=_f32(f[c], 5), name=str(c), mode="lines", legendgroup=str(c),
                                     showlegend=i == 0, line={"width": 1.3, "color": colors.get(c)},
                                     hovertemplate=f"{c}: {hover}<extra></extra>", xaxis="x", yaxis=ax))
        lay["yaxis" if i == 0 else f"yaxis{i + 1}"] = {
            "domain": list(dom), "tickformat": tick, "gridcolor": "#eee", "zeroline": True,
            "zerolinecolor": "#bbb", "anchor": "x"}
        s_, _ = regime_decor(bands or [], labels=False, yref=f"{ax} domain")
        shapes += s_
        notes.append({"text": title, "xref": "paper", "yref": "paper", "x": 0, "y": dom[1], "xanchor": "left",
                      "yanchor": "bottom", "showarrow": False, "font": {"size": 12}})
    lay.update(xaxis={"type": "date", "gridcolor": "#eee", "anchor": "y3"}, shapes=shapes, annotations=notes,
               margin={"l": 60, "r": 20, "t": 60, "b": 40},
               legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "xanchor": "left", "x": 0})
    return go.Figure(traces, layout=lay)


def regime_heatmap(regime_metrics: pd.DataFrame, metric: str = "sharpe", pct: bool = False) -> go.Figure:
    """Heatmap of one metric by strategy (rows) and regime (columns)."""
    pv = regime_metrics.pivot_table(index="strategy", columns="regime", values=metric, aggfunc="first", sort=False)
    order = list(dict.fromkeys(regime_metrics["strategy"]))
    pv = pv.reindex(index=order, columns=sorted(pv.columns, key=_regime_order))
    z = _f32(pv.to_numpy(), 4)
    lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = go.Figure(go.Heatmap(
        z=z, x=[str(c) for c in pv.columns], y=[str(i) for i in pv.index], zmid=0, zmin=-lim, zmax=lim,
        colorscale="RdBu", texttemplate="%{z:.1%}" if pct else "%{z:.2f}", textfont={"size": 12},
        hovertemplate="%{y} in %{x}: %{z:.2f}<extra></extra>", colorbar={"thickness": 12, "len": 0.9},
    ))
    if metric == "sharpe" and {"sharpe_lo", "sharpe_hi"} <= set(regime_metrics.columns):  # issue 13: grey if
        lo, hi = (regime_metrics.pivot_table(index="strategy", columns="regime", values=c, aggfunc="first")
                  .reindex(index=pv.index, columns=pv.columns).to_numpy() for c in ("sharpe_lo", "sharpe_hi"))
        fig.add_trace(go.Heatmap(  # the 90% interval spans zero
            z=np.where((lo <= 0) & (hi >= 0), z, np.nan), x=[str(c) for c in pv.columns], y=[str(i) for i in pv.index],
            colorscale=[[0, "#e4e6e9"], [1, "#e4e6e9"]], showscale=False, texttemplate="%{z:.2f}",
            textfont={"size": 12, "color": "#8a9099"}, hovertemplate="%{y} in %{x}: %{z:.2f} (90% interval spans 0)<extra></extra>"))
    fig.update_layout(**_layout(None, max(220, 46 * len(pv.index) + 90), hovermode="closest"))
    fig.update_layout(yaxis={"autorange": "reversed", "automargin": True}, xaxis={"side": "top"},
                      margin={"l": 20, "r": 20, "t": 40, "b": 20})
    return fig


def _regime_order(kind: str) -> tuple[int, str]:
    order = {"qe": 0, "plateau": 1, "qt": 2, "rmp": 3}
    return (order.get(kind, 9), kind)


def event_study_figure(events: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Mean cumulative excess return around regime starts, one panel per regime kind (dropdown).

    Parameters
    ----------
    events : pd.DataFrame
        Columns ``strategy, regime_id, regime, start, day, cum_excess``.
    colors : dict
        Colour per strategy.
    """
    kinds = sorted(events["regime"].astype(str).unique(), key=_regime_order)
    strategies = list(dict.fromkeys(events["strategy"].astype(str)))
    traces, vis_of = [], []
    for k in kinds:
        sub = events.loc[events["regime"].astype(str) == k]
        n_ev = sub["regime_id"].nunique() if "regime_id" in sub else 0
        mean = sub.groupby(["strategy", "day"], sort=True)["cum_excess"].mean()
        for s in strategies:
            if s not in mean.index.get_level_values(0):
                continue
            m = mean.loc[s]
            traces.append(go.Scatter(x=m.index.to_numpy(dtype=float), y=_f32(m.to_numpy(), 5), mode="lines",
                                     name=s, legendgroup=s, line={"color": colors.get(s), "width": 1.5},
                                     visible=k == kinds[0], hovertemplate="%{y:.2%}",
                                     meta=f"{k} ({n_ev} start{'s' if n_ev != 1 else ''})"))
            vis_of.append(k)
    fig = go.Figure(traces, layout=_layout(None, 400 + 18 * legend_rows(strategies)))
    buttons = [{"label": f"{k}", "method": "update",
                "args": [{"visible": [v == k for v in vis_of]}]} for k in kinds]
    fig.update_layout(
        xaxis={"title": {"text": "trading days from regime start"}, "zeroline": True, "zerolinecolor": "#888",
               "gridcolor": "#eee"},
        yaxis={"tickformat": ".0%", "title": {"text": "mean cumulative excess return"}, "gridcolor": "#eee"},
        updatemenus=[{"type": "buttons", "direction": "right", "x": 1, "xanchor": "right", "y": 1.15,
                      "yanchor": "top", "buttons": buttons, "font": {"size": 11}, "pad": {"r": 0, "t": 0}}]
        if len(kinds) > 1 else [],
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.08, "xanchor": "left", "x": 0},
    )
    fig.add_vline(x=0, line={"color": "#888", "width": 1, "dash": "dot"})
    return fig


def weights_figure(weights: dict[str, pd.DataFrame]) -> go.Figure:
    """Stacked areas of portfolio weights over time, one strategy at a time (dropdown).

    The first strategy holding at least two assets is shown initially.

    Parameters
    ----------
    weights : dict[str, pd.DataFrame]
        Per strategy, weights indexed by (already downsampled) date, one column per asset.
        Negative weights are stacked below zero in their own group.
    """
    assets = list(dict.fromkeys(a for w in weights.values() for a in w.columns))
    if "CASH" in assets:
        assets = [a for a in assets if a != "CASH"] + ["CASH"]
    acol = {a: ("#c7c7c7" if a == "CASH" else ASSET_PALETTE[i % len(ASSET_PALETTE)]) for i, a in enumerate(assets)}
    traces, owner = [], []
    names = list(weights)
    held = [int((w.fillna(0.0).abs() > 1e-9).any().sum()) for w in weights.values()]
    first = next((s for s, n in zip(names, held, strict=True) if n >= 2), names[0] if names else None)
    for s in names:
        w = weights[s]
        x = _dates(w.index)
        for a in [a for a in assets if a in w.columns]:
            col = w[a].fillna(0.0)
            if not (col.abs() > 1e-9).any():
                continue
            for grp, part in (("pos", col.clip(lower=0.0)), ("neg", col.clip(upper=0.0))):
                if not (part.abs() > 1e-9).any():
                    continue
                traces.append(go.Scatter(x=x, y=_f32(part, 4), name=a, legendgroup=a, stackgroup=grp,
                                         mode="lines", line={"width": 0.4, "color": acol[a]},
                                         fillcolor=acol[a], visible=s == first,
                                         showlegend=grp == "pos" or not (col > 1e-9).any(),
                                         hovertemplate=f"{a} %{{y:.1%}}<extra></extra>"))
                owner.append(s)
    fig = go.Figure(traces, layout=_layout(None, 420))
    fig.update_layout(yaxis={"tickformat": ".0%", "title": {"text": "weight"}, "gridcolor": "#eee"},
                      xaxis={"type": "date", "gridcolor": "#eee"},
                      legend={"orientation": "v", "x": 1.01, "y": 1, "yanchor": "top", "xanchor": "left",
                              "traceorder": "normal"},
                      margin={"l": 60, "r": 20, "t": 50, "b": 40})
    if len(names) > 1:
        fig.update_layout(updatemenus=[{
            "type": "dropdown", "x": 0, "xanchor": "left", "y": 1.12, "yanchor": "top", "font": {"size": 12},
            "active": names.index(first),
            "buttons": [{"label": s, "method": "update", "args": [{"visible": [o == s for o in owner]}]}
                        for s in names]}])
    return fig


def turnover_figure(yearly: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Grouped bars of one-way turnover per calendar year (index year, column strategy)."""
    x = [str(y) for y in yearly.index]
    traces = [go.Bar(x=x, y=_f32(yearly[c], 4), name=str(c), marker={"color": colors.get(c)},
                     hovertemplate="%{y:.2f}") for c in yearly.columns]
    fig = go.Figure(traces, layout=_layout(None, 340, hovermode="closest"))
    fig.update_layout(barmode="group", yaxis={"title": {"text": "turnover / year"}, "gridcolor": "#eee"},
                      xaxis={"type": "category"}, showlegend=len(yearly.columns) <= 6)
    return fig


def cost_drag_figure(cum_costs: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Cumulative trading + borrow costs as a share of capital (index date, column strategy)."""
    x = _dates(cum_costs.index)
    traces = [go.Scatter(x=x, y=_f32(cum_costs[c], 6), name=str(c), mode="lines",
                         line={"color": colors.get(c), "width": 1.4}, hovertemplate="%{y:.2%}")
              for c in cum_costs.columns]
    fig = go.Figure(traces, layout=_layout(None, 340))
    fig.update_layout(yaxis={"tickformat": ".2~%", "title": {"text": "cumulative cost drag"}, "gridcolor": "#eee"},
                      xaxis={"type": "date", "gridcolor": "#eee"}, showlegend=len(cum_costs.columns) <= 6)
    return fig


def monthly_table(r: pd.Series) -> pd.DataFrame:
    """Compounded monthly returns of one strategy: rows years, columns 1..12."""
    r = _clean(r)
    if r.empty:
        return pd.DataFrame(columns=range(1, 13))
    m = (1.0 + r).groupby([r.index.year, r.index.month]).prod() - 1.0
    return m.unstack(level=1).reindex(columns=range(1, 13))


def monthly_heatmap_figure(returns: pd.DataFrame) -> go.Figure:
    """Monthly-returns heatmap (years x months), one strategy at a time (dropdown)."""
    names = [str(c) for c in returns.columns]
    tables = {s: monthly_table(returns[c]) for s, c in zip(names, returns.columns, strict=True)}
    lim = max([float(np.nanmax(np.abs(t.to_numpy()))) for t in tables.values() if t.notna().any().any()] or [0.05])
    lim = min(lim, 0.15)
    traces = []
    n_years = 1
    for i, s in enumerate(names):
        t = tables[s]
        n_years = max(n_years, len(t))
        traces.append(go.Heatmap(
            z=_f32(t.to_numpy(), 4), x=list(MONTHS), y=[str(y) for y in t.index], zmid=0, zmin=-lim, zmax=lim,
            colorscale="RdYlGn", texttemplate="%{z:.1%}", textfont={"size": 10}, xgap=1, ygap=1,
            hovertemplate=f"{s} %{{y}}-%{{x}}: %{{z:.2%}}<extra></extra>", visible=i == 0, name=s,
            colorbar={"thickness": 10, "tickformat": ".0%", "len": 0.9}))
    fig = go.Figure(traces, layout=_layout(None, max(260, 22 * n_years + 110), hovermode="closest"))
    fig.update_layout(yaxis={"autorange": "reversed", "type": "category"}, xaxis={"side": "top"},
                      margin={"l": 50, "r": 20, "t": 70, "b": 10})
    if len(names) > 1:
        fig.update_layout(updatemenus=[{
            "type": "dropdown", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom", "font": {"size": 12},
            "pad": {"b": 26},
            "buttons": [{"label": s, "method": "update", "args": [{"visible": [j == i for j in range(len(names))]}]}
                        for i, s in enumerate(names)]}])
    return fig


def fan_figure(fan: pd.DataFrame, scenario: str, colors: dict[str, str]) -> go.Figure:
    """Percentile fan of cumulative wealth for one scenario.

    One strategy's fan (p5–p95 and p25–p75 bands, median line) is shown at a time, chosen
    in a menu; the menu's first entry overlays the medians of all strategies.

    Parameters
    ----------
    fan : pd.DataFrame
        Rows of one scenario: ``strategy, day, p5, p25, p50, p75, p95``.
    scenario : str
        Scenario name (the title).
    colors : dict
        Colour per strategy.
    """
    strategies = list(dict.fromkeys(fan["strategy"].astype(str)))
    traces: list[go.Scatter] = []
    owner: list[tuple[str, str]] = []
    for k, s in enumerate(strategies):
        sub = fan.loc[fan["strategy"].astype(str) == s].sort_values("day")
        x = sub["day"].to_numpy(dtype=float)
        c = colors.get(s, "#1f77b4")
        rgb = _rgb(c)
        for lo, hi, alpha in (("p5", "p95", 0.14), ("p25", "p75", 0.30)):
            if lo not in sub or hi not in sub:
                continue
            traces.append(go.Scatter(x=x, y=_f32(sub[lo], 5), mode="lines", line={"width": 0}, showlegend=False,
                                     name=f"{s} {lo}", hovertemplate=f"{lo} %{{y:.3f}}<extra></extra>",
                                     visible=k == 0))
            traces.append(go.Scatter(x=x, y=_f32(sub[hi], 5), mode="lines", line={"width": 0}, fill="tonexty",
                                     fillcolor=f"rgba({rgb},{alpha})", name=f"{s} {lo}–{hi}", showlegend=False,
                                     hovertemplate=f"{hi} %{{y:.3f}}<extra></extra>", visible=k == 0))
            owner += [(s, "band"), (s, "band")]
        if "p50" in sub:
            traces.append(go.Scatter(x=x, y=_f32(sub["p50"], 5), mode="lines", name=s,
                                     line={"color": c, "width": 1.8}, visible=k == 0,
                                     hovertemplate=f"{s} median %{{y:.3f}}<extra></extra>"))
            owner.append((s, "median"))
    lay = _layout(scenario, 380, hovermode="x")
    lay.update(xaxis={"title": {"text": "trading days"}, "gridcolor": "#eee"},
               yaxis={"title": {"text": "wealth (p5–p95, p25–p75, median)"}, "gridcolor": "#eee"},
               showlegend=False, margin={"l": 60, "r": 20, "t": 64, "b": 44})
    if len(strategies) > 1:
        medians = [role == "median" for _, role in owner]
        buttons = [{"label": "all medians", "method": "update",
                    "args": [{"visible": medians}, {"showlegend": True}]}]
        buttons += [{"label": s, "method": "update",
                     "args": [{"visible": [o == s for o, _ in owner]}, {"showlegend": False}]}
                    for s in strategies]
        lay["updatemenus"] = [{"type": "dropdown", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom",
                               "font": {"size": 11}, "active": 1, "pad": {"b": 4}, "buttons": buttons}]
        lay["legend"] = {"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0}
    return go.Figure(traces, layout=lay)


def _rgb(color: str) -> str:
    c = color.lstrip("#")
    if len(c) != 6:
        return "31,119,180"
    return ",".join(str(int(c[i:i + 2], 16)) for i in (0, 2, 4))


def outcome_figure(scenario_metrics: pd.DataFrame, pct_stats: set[str]) -> go.Figure:
    """Distribution of outcomes per strategy and scenario (precomputed box plots).

    Boxes span p25–p75 with the median line and whiskers at p5 and p95 (mean dashed);
    one statistic at a time (dropdown).
    """
    sm = scenario_metrics.copy()
    sm["strategy"] = sm["strategy"].astype(str)
    sm["scenario"] = sm["scenario"].astype(str)
    stats = list(dict.fromkeys(sm["statistic"].astype(str)))
    scenarios = list(dict.fromkeys(sm["scenario"]))
    if "mix" in scenarios:
        scenarios = [s for s in scenarios if s != "mix"] + ["mix"]
    scol = {s: ("#333333" if s == "mix" else ASSET_PALETTE[i % len(ASSET_PALETTE)]) for i, s in enumerate(scenarios)}
    traces, owner = [], []
    for st in stats:
        sub = sm.loc[sm["statistic"].astype(str) == st]
        for sc in scenarios:
            rows = sub.loc[sub["scenario"] == sc]
            if rows.empty:
                continue

            def col(name: str, rows: pd.DataFrame = rows) -> np.ndarray:
                return _f32(rows[name], 6) if name in rows else np.full(len(rows), np.nan, dtype=np.float32)

            traces.append(go.Box(
                x=rows["strategy"].tolist(), q1=col("p25"), median=col("median"), q3=col("p75"),
                lowerfence=col("p5"), upperfence=col("p95"), mean=col("mean"), name=sc, legendgroup=sc,
                marker={"color": scol[sc]}, boxmean=True, visible=st == stats[0], showlegend=True,
                hoverinfo="y+name"))
            owner.append(st)
    fig = go.Figure(traces, layout=_layout(None, 400, hovermode="closest"))
    fig.update_layout(boxmode="group", xaxis={"type": "category"},
                      yaxis={"gridcolor": "#eee", "tickformat": ".0%" if stats and stats[0] in pct_stats else None,
                             "title": {"text": stats[0] if stats else ""}},
                      margin={"l": 60, "r": 20, "t": 70, "b": 40},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1})
    if len(stats) > 1:
        fig.update_layout(updatemenus=[{
            "type": "dropdown", "x": 0, "xanchor": "left", "y": 1.16, "yanchor": "top", "font": {"size": 12},
            "buttons": [{"label": st, "method": "update",
                         "args": [{"visible": [o == st for o in owner]},
                                  {"yaxis.title.text": st, "yaxis.tickformat": ".0%" if st in pct_stats else ""}]}
                        for st in stats]}])
    return fig


# --------------------------------------------------------------------------- serialisation


class DateTable:
    """Date arrays shared between traces: each distinct index is written once."""

    def __init__(self) -> None:
        self.arrays: dict[str, list[str]] = {}
        self._keys: dict[bytes, str] = {}

    def ref(self, arr: np.ndarray) -> str:
        """Key (``@dN``) of a ``datetime64`` array, registering it if new."""
        days = arr.astype("datetime64[D]")
        digest = hashlib.blake2b(days.view("i8").tobytes(), digest_size=16).digest()
        key = self._keys.get(digest)
        if key is None:
            key = f"d{len(self._keys)}"
            self._keys[digest] = key
            self.arrays[key] = np.datetime_as_string(days, unit="D").tolist()
        return "@" + key


def figure_payload(fig: go.Figure, dates: DateTable, min_shared: int = 30) -> dict:
    """Plain JSON-ready dict of a figure: template dropped, long date arrays shared.

    Parameters
    ----------
    fig : go.Figure
        The figure.
    dates : DateTable
        Shared date arrays of the page.
    min_shared : int
        Date arrays at least this long are replaced by a ``"@dN"`` reference; shorter ones
        are written inline as ``YYYY-MM-DD`` strings.
    """
    d = fig.to_plotly_json()
    d.get("layout", {}).pop("template", None)
    for trace in d.get("data", []):
        for k in ("x", "y"):
            v = trace.get(k)
            if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.datetime64):
                trace[k] = (dates.ref(v) if len(v) >= min_shared
                            else np.datetime_as_string(v.astype("datetime64[D]"), unit="D").tolist())
    return d


def page_template_json() -> dict:
    """The shared plotly template of a page (``plotly_white`` with the strategy colourway)."""
    t = pio.templates["plotly_white"].to_plotly_json()
    t.setdefault("layout", {})["colorway"] = list(PALETTE)
    return t


def to_json(obj: object) -> str:
    """JSON for embedding in a ``<script>`` element (numpy-aware, ``<`` escaped)."""
    return to_json_plotly(obj).replace("<", "\\u003c")
