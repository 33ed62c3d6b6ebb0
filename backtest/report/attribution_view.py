"""Regime attribution on a page: the table (tearsheet and evidence page) and the stacked chart.

Input: ``attribution.csv`` / ``attribution_sleeves.csv`` rows (``strategy, regime,
component, contribution, ci_lo, ci_hi``; the component ``total`` is the strategy's
compounded return over the regime's days and the other components sum to it).
"""

from __future__ import annotations

import pandas as pd

from backtest.report import figures as F
from backtest.report.html import PCT, color_dot, esc, fmt
from backtest.report.rawfig import RawFigure

ATTRIBUTION_NOTE = (
    "Contribution of each component to the strategy's compounded return over the regime's days "
    "(Carino linking: the components add up to the total). Assets: weight at the previous close times the "
    "asset's return; CASH: interest on idle cash; fees, borrow, financing: costs (negative); residual: idle cash "
    "before the first fill. In brackets: 90% stationary block-bootstrap interval.")


def regimes_of(att: pd.DataFrame) -> list[str]:
    """Regimes present, in the usual order."""
    return sorted(att["regime"].astype(str).unique(), key=F.regime_order)


def attribution_table_html(att: pd.DataFrame, colors: dict[str, str], table_id: str = "attribution-table",
                           open_first: bool = False) -> str:
    """One collapsible table per strategy: components x regimes, contribution and interval."""
    if att is None or att.empty:
        return ""
    att = att.assign(strategy=att["strategy"].astype(str), regime=att["regime"].astype(str),
                     component=att["component"].astype(str))
    regs = regimes_of(att)
    head = "".join(f'<th><span class="sw" style="background:{F.regime_color(r, True)}"></span>{esc(r)}</th>'
                   for r in regs)
    blocks = []
    for i, (s, g) in enumerate(att.groupby("strategy", sort=False)):
        comps = list(dict.fromkeys(g["component"]))
        val = {(c, r): (v, lo, hi) for c, r, v, lo, hi in
               zip(g["component"], g["regime"], g["contribution"], g["ci_lo"], g["ci_hi"], strict=True)}
        rows = []
        for c in comps:
            cells = []
            for r in regs:
                if (c, r) not in val:
                    cells.append("<td>–</td>")
                    continue
                v, lo, hi = val[(c, r)]
                cells.append(f'<td title="90% interval {fmt(lo, PCT)} to {fmt(hi, PCT)}">'
                             f'{fmt(v, PCT)} <span class="muted">[{fmt(lo, PCT)}, {fmt(hi, PCT)}]</span></td>')
            label = f"<b>{esc(c)}</b>" if c == "total" else esc(c)
            rows.append(f'<tr><th scope="row" class="name">{label}</th>{"".join(cells)}</tr>')
        opened = " open" if open_first and i == 0 else ""
        blocks.append(f'<details{opened}><summary>{color_dot(colors.get(s))}{esc(s)}</summary>'
                      f'<div class="scroll"><table class="data" id="{esc(table_id)}-{i}"><thead><tr>'
                      f'<th>component</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div></details>')
    return "".join(blocks)


def attribution_figure(att: pd.DataFrame, strategy: str) -> RawFigure:
    """Stacked contributions per regime of one strategy, with the total and its interval."""
    g = att.loc[att["strategy"].astype(str) == strategy].assign(regime=lambda d: d["regime"].astype(str))
    regs = regimes_of(g)
    comps = [c for c in dict.fromkeys(g["component"].astype(str)) if c != "total"]
    val = {(c, r): (v, lo, hi) for c, r, v, lo, hi in
           zip(g["component"].astype(str), g["regime"], g["contribution"], g["ci_lo"], g["ci_hi"], strict=True)}
    nan3 = (float("nan"),) * 3
    traces = []
    for i, c in enumerate(comps):
        y = [float(val.get((c, r), (0.0,))[0]) for r in regs]
        traces.append(F.scatter(type="bar", x=regs, y=F.f32(y, 6), name=c,
                                marker={"color": F.ASSET_PALETTE[i % len(F.ASSET_PALETTE)]},
                                hovertemplate=f"{c}: %{{y:.2%}}<extra></extra>"))
    tot = [float(val.get(("total", r), nan3)[0]) for r in regs]
    lo = [float(val.get(("total", r), nan3)[1]) for r in regs]
    hi = [float(val.get(("total", r), nan3)[2]) for r in regs]
    traces.append(F.scatter(x=regs, y=F.f32(tot, 6), mode="markers", name="total (90% interval)",
                            marker={"color": "black", "symbol": "diamond", "size": 9},
                            error_y={"type": "data", "symmetric": False,
                                     "array": F.f32([h - t for h, t in zip(hi, tot, strict=True)], 6),
                                     "arrayminus": F.f32([t - lo_ for t, lo_ in zip(tot, lo, strict=True)], 6)},
                            hovertemplate="total %{y:.2%}<extra></extra>"))
    layout = F.base_layout(strategy, 360 + 14 * F.legend_rows(comps + ["total"], 560), barmode="relative",
                           hovermode="closest")
    layout.update(yaxis={"tickformat": ".0%", "title": {"text": "contribution to the regime's return"},
                         "gridcolor": "#eee", "zerolinecolor": "#888"},
                  xaxis={"type": "category"},
                  legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
                  margin={"l": 60, "r": 10, "t": 40, "b": 40})
    return RawFigure(traces, layout)
