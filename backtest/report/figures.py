"""Plotly figure builders for the tearsheet and the comparison page.

Every builder takes tidy pandas inputs and returns a :class:`plotly.graph_objects.Figure`.
Numeric arrays are handed to plotly as ``float32`` numpy arrays, which plotly serialises
as compact base64 typed arrays; date axes are ``datetime64[D]`` arrays that the page
writer (:func:`figure_payload`) turns into shared ``YYYY-MM-DD`` lists, so a date index
used by many traces is written once.

Shared colours, bands and layout live in :mod:`backtest.report.plotstyle`, the page
serialisation in :mod:`backtest.report.plotjson`; both are re-exported here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtest.constants import CASH, TRADING_DAYS
from backtest.report import palette as P
from backtest.report.plotjson import DateTable, figure_payload, page_template_json, to_json
from backtest.report.plotstyle import (
    ASSET_PALETTE,
    BASE_FONT,
    EXTRA_REGIME_COLORS,
    MONTHS,
    PALETTE,
    PLOT_CONFIG,
    REGIME_COLORS,
    REGIME_SOLID,
    Band,
    base_layout,
    clean_returns,
    color_map,
    date_values,
    drawdowns,
    f32,
    heatmap,
    legend_rows,
    regime_bands,
    regime_color,
    regime_decor,
    regime_order,
    rgb_triplet,
    sample_dates,
    scatter,
    wealth,
)

__all__ = [
    "ASSET_PALETTE", "BASE_FONT", "EXTRA_REGIME_COLORS", "MONTHS", "PALETTE", "PLOT_CONFIG",
    "REGIME_COLORS", "REGIME_SOLID", "TRADING_DAYS", "Band", "DateTable", "base_layout",
    "clean_returns", "color_map", "cost_drag_figure", "date_values", "drawdown_figure",
    "drawdowns", "equity_figure", "event_study_figure", "f32", "fan_figure", "figure_payload",
    "legend_rows", "monthly_heatmap_figure", "monthly_table", "outcome_figure",
    "page_template_json", "regime_bands", "regime_color", "regime_decor", "regime_heatmap",
    "regime_order", "rgb_triplet", "rolling_figure", "rolling_stats", "sample_dates", "stacked_figure", "to_json",
    "turnover_figure", "wealth", "weights_figure",
]


def equity_figure(
    returns: pd.DataFrame,
    colors: dict[str, str],
    bands: list[Band] | None = None,
    stress: list[tuple[pd.Timestamp, str]] | None = None,
    log: bool = False,
) -> go.Figure:
    """Growth of 1 per strategy, with regime bands, stress dates and a linear/log toggle."""
    w = wealth(returns)
    x = date_values(w.index)
    traces = [scatter(x=x, y=f32(w[c]), name=str(c), mode="lines",
                         line=P.line(colors, c, 1.6),
                         hovertemplate="%{y:.3f}")
              for c in w.columns]
    shapes, notes = regime_decor(bands or [], stress)
    lay = base_layout(None, 460 + 18 * legend_rows(list(w.columns)))
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
    x = date_values(dd.index)
    traces = [scatter(x=x, y=f32(dd[c], 5), name=str(c), mode="lines",
                         line=P.line(colors, c, 1.2), hovertemplate="%{y:.1%}")
              for c in dd.columns]
    shapes, _ = regime_decor(bands or [], labels=False)
    legend = len(dd.columns) <= 6
    lay = base_layout(None, 340 + (18 * legend_rows(list(dd.columns)) if legend else 0))
    lay.update(yaxis={"tickformat": ".0%", "title": {"text": "drawdown"}, "gridcolor": "#eee"},
               xaxis={"type": "date", "gridcolor": "#eee"}, shapes=shapes, showlegend=legend)
    return go.Figure(traces, layout=lay)


def rolling_stats(returns: pd.DataFrame, rf: pd.Series | pd.DataFrame | None, window: int = TRADING_DAYS) -> dict[str, pd.DataFrame]:
    """Rolling ``window``-day compounded return, annualised volatility and Sharpe ratio.

    Sharpe is of daily excess returns over ``rf`` (as in :mod:`backtest.metrics`).
    """
    r = returns.copy()
    for c in r.columns:
        r[c] = clean_returns(r[c]).reindex(r.index)
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
    panels = [(stats["return"].loc[keep], "12-month return", ".0%", "%{y:.1%}"),
              (stats["volatility"].loc[keep], "12-month volatility", ".0%", "%{y:.1%}"),
              (stats["sharpe"].loc[keep], "12-month Sharpe", ".1f", "%{y:.2f}")]
    return stacked_figure(panels, colors, bands, list(returns.columns),
                          domains=[(0.70, 1.0), (0.36, 0.64), (0.02, 0.30)])


def stacked_figure(
    panels: list[tuple[pd.DataFrame, str, str, str]],
    colors: dict[str, str],
    bands: list[Band] | None,
    names: list,
    domains: list[tuple[float, float]] | None = None,
) -> go.Figure:
    """Panels stacked on one shared date axis, one line per strategy in each, one legend.

    Parameters
    ----------
    panels : list of (frame, title, tickformat, hovertemplate)
        Each frame is date x strategy (already downsampled).
    colors : dict
        Colour per strategy.
    bands : list of Band, optional
        Regime bands drawn behind every panel.
    names : list
        Strategies (for the legend's height).
    domains : list of (low, high), optional
        Vertical domain of each panel (default: equal heights, 0.06 apart, top first).
    """
    n = len(panels)
    if domains is None:
        h = (0.98 - 0.06 * (n - 1)) / n
        domains = [(round(0.02 + (n - 1 - i) * (h + 0.06), 4), round(0.02 + (n - 1 - i) * (h + 0.06) + h, 4))
                   for i in range(n)]
    traces, shapes, notes = [], [], []
    lay = base_layout(None, 640 * n // 3 + 18 * legend_rows(names), hovermode="x")
    for i, ((f, title, tick, hover), dom) in enumerate(zip(panels, domains, strict=True)):
        ax = "y" if i == 0 else f"y{i + 1}"
        x = date_values(f.index)
        for c in f.columns:
            traces.append(scatter(x=x, y=f32(f[c], 5), name=str(c), mode="lines", legendgroup=str(c),
                                     showlegend=i == 0, line=P.line(colors, c, 1.3),
                                     hovertemplate=f"{c}: {hover}<extra></extra>", xaxis="x", yaxis=ax))
        lay["yaxis" if i == 0 else f"yaxis{i + 1}"] = {
            "domain": list(dom), "tickformat": tick, "gridcolor": "#eee", "zeroline": True,
            "zerolinecolor": "#bbb", "anchor": "x"}
        s_, _ = regime_decor(bands or [], labels=False, yref=f"{ax} domain")
        shapes += s_
        notes.append({"text": title, "xref": "paper", "yref": "paper", "x": 0, "y": dom[1], "xanchor": "left",
                      "yanchor": "bottom", "showarrow": False, "font": {"size": 12}})
    lay.update(xaxis={"type": "date", "gridcolor": "#eee", "anchor": f"y{n}" if n > 1 else "y"}, shapes=shapes,
               annotations=notes, margin={"l": 60, "r": 20, "t": 60, "b": 40},
               legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "xanchor": "left", "x": 0})
    return go.Figure(traces, layout=lay)


def regime_heatmap(regime_metrics: pd.DataFrame, metric: str = "sharpe", pct: bool = False) -> go.Figure:
    """Heatmap of one metric by strategy (rows) and regime (columns)."""
    pv = regime_metrics.pivot_table(index="strategy", columns="regime", values=metric, aggfunc="first", sort=False)
    order = list(dict.fromkeys(regime_metrics["strategy"]))
    pv = pv.reindex(index=order, columns=sorted(pv.columns, key=regime_order))
    z = f32(pv.to_numpy(), 4)
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
    fig.update_layout(**base_layout(None, max(220, 46 * len(pv.index) + 90), hovermode="closest"))
    fig.update_layout(yaxis={"autorange": "reversed", "automargin": True}, xaxis={"side": "top"},
                      margin={"l": 20, "r": 20, "t": 40, "b": 20})
    return fig


def event_study_figure(events: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Mean cumulative excess return around regime starts, one panel per regime kind (dropdown).

    Parameters
    ----------
    events : pd.DataFrame
        Columns ``strategy, regime_id, regime, start, day, cum_excess``.
    colors : dict
        Colour per strategy.
    """
    kinds = sorted(events["regime"].astype(str).unique(), key=regime_order)
    strategies = list(dict.fromkeys(events["strategy"].astype(str)))
    traces, vis_of = [], []
    for k in kinds:
        sub = events.loc[events["regime"].astype(str) == k]
        n_ev = sub["regime_id"].nunique() if "regime_id" in sub else 0
        mean = sub.groupby(["strategy", "day"], sort=True)["cum_excess"].mean()
        per = dict(tuple(mean.groupby(level=0, sort=False)))
        for s in strategies:
            if s not in per:
                continue
            m = per[s].droplevel(0)
            traces.append(scatter(x=m.index.to_numpy(dtype=float), y=f32(m.to_numpy(), 5), mode="lines",
                                     name=s, legendgroup=s, line=P.line(colors, s, 1.5),
                                     visible=k == kinds[0], hovertemplate="%{y:.2%}",
                                     meta=f"{k} ({n_ev} start{'s' if n_ev != 1 else ''})"))
            vis_of.append(k)
    fig = go.Figure(traces, layout=base_layout(None, 400 + 18 * legend_rows(strategies)))
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
    if CASH in assets:
        assets = [a for a in assets if a != CASH] + [CASH]
    acol = {a: ("#c7c7c7" if a == CASH else ASSET_PALETTE[i % len(ASSET_PALETTE)]) for i, a in enumerate(assets)}
    traces, owner = [], []
    names = list(weights)
    held = [int((w.fillna(0.0).abs() > 1e-9).any().sum()) for w in weights.values()]
    first = next((s for s, n in zip(names, held, strict=True) if n >= 2), names[0] if names else None)
    for s in names:
        w = weights[s]
        x = date_values(w.index)
        vals = w.to_numpy(dtype=float)
        pos_of = {c: i for i, c in enumerate(w.columns)}
        for a in [a for a in assets if a in pos_of]:
            col = vals[:, pos_of[a]]
            col = np.where(np.isnan(col), 0.0, col)
            if not (np.abs(col) > 1e-9).any():
                continue
            # pandas' clip semantics (keep where the bound holds), so -0.0 stays -0.0
            for grp, part in (("pos", np.where(col >= 0.0, col, 0.0)), ("neg", np.where(col <= 0.0, col, 0.0))):
                if not (np.abs(part) > 1e-9).any():
                    continue
                traces.append(scatter(x=x, y=f32(part, 4), name=a, legendgroup=a, stackgroup=grp,
                                         mode="lines", line={"width": 0.4, "color": acol[a]},
                                         fillcolor=acol[a], visible=s == first,
                                         showlegend=grp == "pos" or not (col > 1e-9).any(),
                                         hovertemplate=f"{a} %{{y:.1%}}<extra></extra>"))
                owner.append(s)
    fig = go.Figure(traces, layout=base_layout(None, 420))
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
    traces = [scatter(x=x, y=f32(yearly[c], 4), name=str(c), mode="lines+markers", line=P.line(colors, c, 1.4),
                         hovertemplate="%{y:.2f}") for c in yearly.columns]
    fig = go.Figure(traces, layout=base_layout(None, 340, hovermode="closest"))
    fig.update_layout(yaxis={"title": {"text": "turnover / year (one-way, incl. the initial purchase)"},
                             "gridcolor": "#eee", "rangemode": "tozero"}, xaxis={"type": "category"}, showlegend=True)
    return fig


def cost_drag_figure(cum_costs: pd.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Cumulative trading + borrow + financing cost drag, in points of return (index date, column strategy).

    Each day's cost is over the NAV it started from (:func:`backtest.cost_drag.daily_cost_share`).
    """
    x = date_values(cum_costs.index)
    traces = [scatter(x=x, y=f32(cum_costs[c], 6), name=str(c), mode="lines",
                         line=P.line(colors, c, 1.4), hovertemplate="%{y:.2%}")
              for c in cum_costs.columns]
    fig = go.Figure(traces, layout=base_layout(None, 340))
    fig.update_layout(yaxis={"tickformat": ".2~%", "title": {"text": "cumulative cost drag"}, "gridcolor": "#eee"},
                      xaxis={"type": "date", "gridcolor": "#eee"}, showlegend=len(cum_costs.columns) <= 6)
    return fig


def monthly_table(r: pd.Series) -> pd.DataFrame:
    """Compounded monthly returns of one strategy: rows years, columns 1..12."""
    r = clean_returns(r)
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
        traces.append(heatmap(
            z=f32(t.to_numpy(), 4), x=list(MONTHS), y=[str(y) for y in t.index], zmid=0, zmin=-lim, zmax=lim,
            colorscale="RdYlGn", texttemplate="%{z:.1%}", textfont={"size": 10}, xgap=1, ygap=1,
            hovertemplate=f"{s} %{{y}}-%{{x}}: %{{z:.2%}}<extra></extra>", visible=i == 0, name=s,
            colorbar={"thickness": 10, "tickformat": ".0%", "len": 0.9}))
    fig = go.Figure(traces, layout=base_layout(None, max(260, 22 * n_years + 110), hovermode="closest"))
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
        rgb = rgb_triplet(c)
        for lo, hi, alpha in (("p5", "p95", 0.14), ("p25", "p75", 0.30)):
            if lo not in sub or hi not in sub:
                continue
            traces.append(go.Scatter(x=x, y=f32(sub[lo], 5), mode="lines", line={"width": 0}, showlegend=False,
                                     name=f"{s} {lo}", hovertemplate=f"{lo} %{{y:.3f}}<extra></extra>",
                                     visible=k == 0))
            traces.append(go.Scatter(x=x, y=f32(sub[hi], 5), mode="lines", line={"width": 0}, fill="tonexty",
                                     fillcolor=f"rgba({rgb},{alpha})", name=f"{s} {lo}–{hi}", showlegend=False,
                                     hovertemplate=f"{hi} %{{y:.3f}}<extra></extra>", visible=k == 0))
            owner += [(s, "band"), (s, "band")]
        if "p50" in sub:
            traces.append(go.Scatter(x=x, y=f32(sub["p50"], 5), mode="lines", name=s,
                                     line={"color": c, "width": 1.8}, visible=k == 0,
                                     hovertemplate=f"{s} median %{{y:.3f}}<extra></extra>"))
            owner.append((s, "median"))
    lay = base_layout(scenario, 380, hovermode="x")
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
                return f32(rows[name], 6) if name in rows else np.full(len(rows), np.nan, dtype=np.float32)

            traces.append(go.Box(
                x=rows["strategy"].tolist(), q1=col("p25"), median=col("median"), q3=col("p75"),
                lowerfence=col("p5"), upperfence=col("p95"), mean=col("mean"), name=sc, legendgroup=sc,
                marker={"color": scol[sc]}, boxmean=True, visible=st == stats[0], showlegend=True,
                hoverinfo="y+name"))
            owner.append(st)
    fig = go.Figure(traces, layout=base_layout(None, 400, hovermode="closest"))
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
