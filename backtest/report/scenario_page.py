"""``tearsheet.html`` of a ``rmpbt scenarios`` run: a page that cannot be mistaken for history.

Everything on it is simulated, and it says so: the header names the generator, the
number of paths, the seed, the horizon (trading days from the start) and each state's
analogue pool. Charts have the horizon in trading days on the x axis (fan charts of
wealth, distributions of per-path outcomes); there is no calendar-date axis, no monthly
heatmap and no calendar-year table. One sentence defines each statistic: the scorecard
and the distributions summarise *per-path metrics* (the median of the per-path maximum
drawdowns is not the drawdown of the median wealth path drawn in the fan).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from backtest.report import figures as F
from backtest.report.html import Page, add_section, esc, footer_html, frame_table_html, is_pct
from backtest.report.sections import scorecard_html

DEFINITIONS = (
    "Every number on this page is a statistic over simulated paths, not a realised return. "
    "Fan charts: the p5–p95 and p25–p75 bands and the median of wealth across paths on each "
    "trading day of the horizon (the median line is a pointwise median, not one path). "
    "Scorecard and distributions: each metric is computed on every path first (horizon return, "
    "Sharpe, maximum drawdown, ...), then summarised across paths: median, p5, p95 and mean of "
    "those per-path metrics; the mix pools the scenarios' paths weighted by their probabilities. "
    "P(loss) is the share of paths with a negative horizon return; CVaR5 the mean horizon return "
    "of the worst 5% of paths; regret is a strategy's shortfall against the best strategy of each "
    "scenario (the robust choice minimises the largest regret)."
)


def header_html(prov: dict) -> str:
    """The page header: SIMULATED, paths, seed, horizon from the start, generator, pools."""
    scen = prov.get("scenarios", {}) or {}
    horizons = sorted({int(s.get("horizon_days") or 0) for s in scen.values()})
    starts = sorted({str(s.get("first_day")) for s in scen.values()})
    hz = "/".join(str(h) for h in horizons) or "?"
    probs = [f"{k} {v['probability']:g}" for k, v in scen.items() if v.get("probability") is not None]
    mix = f" (mix: {', '.join(probs)})" if probs else ""
    lines = [
        f"<h1>{esc(prov.get('name', 'scenarios'))}: SIMULATED scenario paths (not history)</h1>",
        '<p class="meta"><b>simulated</b>, '
        f"{int(prov.get('paths') or 0):,} paths per scenario, seed {esc(prov.get('seed'))}, "
        f"horizon {esc(hz)} trading days from the start {esc(', '.join(starts))}, "
        f"generator {esc(prov.get('generator'))}, scenarios {esc(', '.join(scen))}{esc(mix)}.</p>",
    ]
    peek = prov.get("include_forecast_period")
    lines.append('<p class="meta">pools: ' + (
        "<b>include days on or after the start (forecast period)</b>" if peek
        else "no pool day on or after the scenario start (no peeking)") + "</p>")
    items = []
    for name, st in (prov.get("states") or {}).items():
        rng = st.get("pool_ranges") or {}
        first = next(iter(rng.values()), [])
        shown = ", ".join(f"{a}..{b}" for a, b in first[:6]) + (f", … ({len(first)} ranges)" if len(first) > 6 else "")
        rules = "; ".join(a.get("label", "") for a in st.get("analogues", [])[:1])
        items.append(f"<li><b>{esc(name)}</b> ({esc(st.get('kind'))}): {int(st.get('pool_days') or 0)} days "
                     f"[{esc(rules)}] {esc(shown)}</li>")
    if items:
        lines.append('<details class="meta"><summary>analogue pools (state: days, rule, day ranges)</summary><ul>'
                     + "".join(items) + "</ul></details>")
    for w in prov.get("pool_warnings") or []:
        lines.append(f'<p class="meta warn">warning: {esc(w)}</p>')
    return "".join(lines)


def outcome_distribution(sm: pd.DataFrame) -> object:
    """Distribution of per-path outcomes (box per strategy and scenario), ticks with one decimal."""
    pct_stats = {s for s in sm["statistic"].astype(str).unique() if is_pct(s)}
    fig = F.outcome_figure(sm, pct_stats)
    if fig.layout.yaxis.tickformat == ".0%":
        fig.update_layout(yaxis={"tickformat": ".1%"})
    for menu in fig.layout.updatemenus or ():
        for b in menu.buttons:
            if len(b.args) > 1 and b.args[1].get("yaxis.tickformat") == ".0%":
                b.args[1]["yaxis.tickformat"] = ".1%"
    return fig


def build_scenario_page(folder: Path) -> str:
    """The scenario page of a run folder (``scenario_*`` files and ``provenance.json``)."""
    folder = Path(folder)
    prov = json.loads((folder / "provenance.json").read_text())
    fan = pd.read_parquet(folder / "scenario_fan.parquet") if (folder / "scenario_fan.parquet").exists() else None
    sm = pd.read_csv(folder / "scenario_metrics.csv") if (folder / "scenario_metrics.csv").exists() else None
    regret = pd.read_csv(folder / "scenario_regret.csv") if (folder / "scenario_regret.csv").exists() else None
    page = Page(f"{prov.get('name', 'scenarios')} - simulated scenarios")
    strategies = []
    for f in (fan, sm):
        if f is not None and "strategy" in f:
            strategies += list(dict.fromkeys(f["strategy"].astype(str)))
    colors = F.color_map(list(dict.fromkeys(strategies)))

    add_section(page, "definitions", "What the numbers are", lambda: f"<p>{esc(DEFINITIONS)}</p>")

    def fans() -> str | None:
        if fan is None or fan.empty:
            return None
        figs = [page.figure(F.fan_figure(g, f"scenario {sc}: wealth by trading day from the start", colors))
                for sc, g in fan.groupby(fan["scenario"].astype(str), sort=False)]
        return ('<p class="muted">x axis: trading days from the start of the simulation (day 0 = start).</p>'
                '<div class="grid2">' + "".join(f"<div>{f}</div>" for f in figs) + "</div>")

    add_section(page, "fans", "Fan charts of simulated wealth (horizon in trading days)", fans)

    def outcomes() -> str | None:
        if sm is None or sm.empty:
            return None
        return (page.figure(outcome_distribution(sm))
                + '<p class="muted">Per-path metrics: boxes p25–p75 with the median, whiskers p5 and p95, '
                  "dashed: mean.</p><h3>Scorecard (median of per-path metrics, p5 – p95)</h3>"
                + scorecard_html(sm, colors))

    add_section(page, "outcomes", "Outcome distributions over paths", outcomes)

    def regrets() -> str | None:
        if regret is None or regret.empty:
            return None
        return frame_table_html(regret, "regret-table")

    add_section(page, "regret", "Regret", regrets)
    return page.render(header_html(prov), footer_html())


def render_scenario_page(folder: Path) -> Path:
    """Write ``tearsheet.html`` of a scenario run folder; returns its path."""
    out = Path(folder) / "tearsheet.html"
    out.write_text(build_scenario_page(folder))
    return out


__all__ = ["DEFINITIONS", "build_scenario_page", "header_html", "outcome_distribution", "render_scenario_page"]
