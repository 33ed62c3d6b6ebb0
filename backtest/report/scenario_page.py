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

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backtest.report import figures as F
from backtest.report.html import Page, add_section, esc, footer_html, frame_table_html, is_pct
from backtest.report.plotstyle import base_layout, f32
from backtest.report.scenario_model import (
    VERDICT_STYLE,
    channel_html,
    medians_html,
    pools_html,
    sensitivity_html,
    separation_html,
)
from backtest.report.sections import scorecard_html

DEFINITIONS = (
    "Every number on this page is a statistic over simulated paths, not a realised return. "
    "Fan charts: the p5–p95 and p25–p75 bands and the median of wealth across paths on each "
    "trading day of the horizon (the median line is a pointwise median, not one path). "
    "Scorecard and distributions: each metric is computed on every path first (horizon return, "
    "Sharpe, maximum drawdown, ...), then summarised across paths: median, p5, p95 and mean of "
    "those per-path metrics; the mix pools the scenarios' paths weighted by their probabilities. "
    "The median of the per-path maximum drawdowns is not the drawdown of the median wealth line. "
    "P(loss) is the share of paths with a negative horizon return; CVaR5 the mean horizon return "
    "of the worst 5% of paths; cvar_penalised the median horizon return minus lambda times the "
    "CVaR5 loss (max(0, -CVaR5); lambda in the scoring settings, default 1). "
    "P(beat 60/40) is the share of paths on which a strategy's horizon return is above 60/40's on "
    "the same path (paired), with its Monte-Carlo standard error (±). "
    "Regret is a strategy's shortfall against the best strategy of each scenario on the regret "
    "statistic; the robust choice minimises the largest regret over the scenarios of the mix. "
    "choice_share is the share of paired resamples of the paths (the same resampled paths for "
    "every strategy) in which a strategy is that choice: how stable the choice is to the paths drawn."
)
PACE_COLUMNS = ("strategy", "scenario", "pace_low", "pace_high", "paths", "effect", "ci_lo", "ci_hi",
                "distinguishable")
STABLE_SHARE = 0.8
"""Below this ``choice_share`` the robust choice is reported as not stable (two equally good
strategies split the resamples about evenly, so a 50 % bar would call a coin flip stable)."""


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
    lines.append(f'<p class="meta"><b>SIMULATED — {int(prov.get("paths") or 0):,} paths, seed '
                 f'{esc(prov.get("seed"))}, horizon {esc(hz)} trading days, pools ({esc(pools_summary(prov))})</b></p>')
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


def pools_summary(prov: dict) -> str:
    """``state: days, first..last (n ranges); ...`` of the pools (first scenario's ranges)."""
    out = []
    for name, st in (prov.get("states") or {}).items():
        rng = next(iter((st.get("pool_ranges") or {}).values()), [])
        span = f", {rng[0][0]}..{rng[-1][1]} ({len(rng)} range{'s' if len(rng) != 1 else ''})" if rng else ""
        out.append(f"{name}: {int(st.get('pool_days') or 0)} days{span}")
    return "; ".join(out) or "no pools (parametric)"


def stability_phrase(share: float, resamples: int | None, others: dict[str, float]) -> tuple[str, bool]:
    """Plain words on the stability of the robust choice, and whether it is stable.

    Parameters
    ----------
    share : float
        ``choice_share`` of the robust choice (NaN: no resampling, empty phrase).
    resamples : int, optional
        ``B`` (None: not known, the count is left out).
    others : dict
        ``choice_share`` of the other strategies.

    Returns
    -------
    tuple of (str, bool)
        The phrase (starting with ``", chosen in"``) and True unless the share is below
        :data:`STABLE_SHARE`.
    """
    if share is None or not np.isfinite(share):
        return "", True
    of = f"{resamples} path resamples" if resamples else "the path resamples"
    text = f", chosen in {share:.0%} of {of}"
    if share >= STABLE_SHARE:
        return text + " (stable)", True
    fin = {k: v for k, v in others.items() if np.isfinite(v)}
    if not fin:
        return text + " (not stable)", False
    name = max(fin, key=lambda k: fin[k])
    return text + (f" — the choice is not stable: another strategy is chosen in {fin[name]:.0%} of resamples "
                   f"({name})"), False


def verdict(regret: pd.DataFrame, resamples: int | None = None) -> tuple[str, str]:
    """The robust-choice sentence and its tone (``good`` / ``neutral`` / ``bad``).

    Good: the robust choice beats 60/40 on more than half of the mix's paths by more
    than two standard errors; bad: on fewer than half by more than two; else neutral.
    With a ``choice_share`` column the sentence says in what share of the ``resamples``
    paired path resamples the choice is made; below :data:`STABLE_SHARE` it says the
    choice is not stable, names the strategy chosen most often otherwise, and a good
    tone drops to neutral.
    """
    robust = regret.loc[regret["robust"].astype(bool), "strategy"].astype(str).tolist()
    stat = str(regret["statistic"].iloc[0]) if "statistic" in regret and len(regret) else "?"
    head = f"Robust choice (minimax regret of {stat}): {', '.join(robust) or 'none'}"
    stable = True
    if robust and "choice_share" in regret:
        shares = dict(zip(regret["strategy"].astype(str), regret["choice_share"].astype(float), strict=True))
        top = max(robust, key=lambda k: shares[k] if np.isfinite(shares[k]) else -1.0)
        phrase, stable = stability_phrase(shares[top], resamples, {k: v for k, v in shares.items() if k != top})
        head += phrase if len(robust) == 1 or not phrase else f"; {top}{phrase[1:]}"
    pcol = next((c for c in regret.columns if c.startswith("prob_beat_6040_se_")), None)
    if not robust or pcol is None:
        return head + ".", "neutral"
    ref = pcol.removeprefix("prob_beat_6040_se_")
    row = regret.set_index(regret["strategy"].astype(str)).loc[robust[0]]
    p, se = float(row.get(f"prob_beat_6040_{ref}", np.nan)), float(row.get(pcol, np.nan))
    if not np.isfinite(p):
        return head + " (it is the 60/40 itself).", "neutral"
    where = "the probability-weighted mix" if ref == "mix" else f"scenario {ref}"
    tail = f"; it beats 60/40 on {p:.0%} ± {se:.0%} of the paths of {where}"
    if p - 2 * se > 0.5:
        return head + tail + ": more often than not.", "good" if stable else "neutral"
    if p + 2 * se < 0.5:
        return head + tail + ": less often than not — least regret, but usually behind 60/40.", "bad"
    return head + tail + ": indistinguishable from a coin flip.", "neutral"


def verdict_html(regret: pd.DataFrame | None, resamples: int | None = None) -> str:
    """The verdict line, coloured by what it says."""
    if regret is None or regret.empty or "robust" not in regret:
        return ""
    text, tone = verdict(regret, resamples)
    return f'<p class="verdict verdict-{tone}" style="{VERDICT_STYLE[tone]};padding:6px 10px">{esc(text)}</p>'


def beat_table_html(sm: pd.DataFrame) -> str | None:
    """P(beat 60/40) ± its standard error, strategy x scenario (mix last)."""
    pb = sm.loc[sm["statistic"] == "prob_beat_6040"]
    if pb.empty:
        return None
    se = sm.loc[sm["statistic"] == "prob_beat_6040_se"].set_index(["strategy", "scenario"])["mean"]
    scen = list(dict.fromkeys(pb["scenario"].astype(str)))
    scen = [c for c in scen if c != "mix"] + (["mix"] if "mix" in scen else [])
    p = pb.set_index(["strategy", "scenario"])["mean"]
    rows = []
    for strat in dict.fromkeys(pb["strategy"]):
        cells = []
        for c in scen:
            v, e = p.get((strat, c), np.nan), se.get((strat, c), np.nan)
            cells.append("<td>–</td>" if not np.isfinite(v) else f"<td>{v:.1%} ± {e:.1%}</td>")
        rows.append(f'<tr><th scope="row" class="name">{esc(strat)}</th>{"".join(cells)}</tr>')
    head = "".join(f"<th>{'probability-weighted mix' if c == 'mix' else esc(c)}</th>" for c in scen)
    return ('<p class="muted">Share of paths on which the strategy\'s horizon return beats 60/40\'s on the same '
            "path, ± one Monte-Carlo standard error; – for the 60/40 itself.</p>"
            f'<div class="scroll"><table class="data" id="beat-table"><thead><tr><th>strategy</th>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def pace_effect_html(pace: pd.DataFrame) -> str | None:
    """The pace effect table, with "indistinguishable from zero" where it is."""
    if pace is None or pace.empty or not set(PACE_COLUMNS) <= set(pace.columns):
        return None
    df = pace[list(PACE_COLUMNS)].copy()
    dist = df.pop("distinguishable").astype(str).str.lower().isin(["true", "1", "yes"])
    df["reading"] = np.where(dist, "distinguishable from zero", "indistinguishable from zero")
    n_zero = int((~dist).sum())
    lead = (f"<p>Effect of the pace on the median outcome, lowest vs highest pace with everything else fixed "
            f"(confidence interval ci_lo – ci_hi): {n_zero} of {len(df)} effects are "
            f"<b>indistinguishable from zero</b>.</p>")
    return lead + frame_table_html(df, "pace-table")


def histogram_figure(hist: pd.DataFrame) -> go.Figure:
    """Histograms of per-path horizon returns: one strategy at a time (menu), scenarios overlaid."""
    hist = hist.assign(strategy=hist["strategy"].astype(str), scenario=hist["scenario"].astype(str))
    strategies = list(dict.fromkeys(hist["strategy"]))
    scen = list(dict.fromkeys(hist["scenario"]))
    scen = [c for c in scen if c != "mix"] + (["mix"] if "mix" in scen else [])
    pal = F.ASSET_PALETTE
    traces, owner = [], []
    for k, s in enumerate(strategies):
        for i, c in enumerate(scen):
            g = hist.loc[(hist["strategy"] == s) & (hist["scenario"] == c)]
            if g.empty:
                continue
            mid = (g["bin_lo"].to_numpy() + g["bin_hi"].to_numpy()) / 2
            traces.append(go.Bar(x=f32(mid, 6), y=f32(g["share"], 6), width=f32(g["bin_hi"] - g["bin_lo"], 6),
                                 name=c, opacity=0.5, visible=k == 0, legendgroup=c,
                                 marker={"color": "#333333" if c == "mix" else pal[i % len(pal)]},
                                 hovertemplate=f"{c}: %{{y:.1%}} of paths at %{{x:.1%}}<extra></extra>"))
            owner.append(s)
    lay = base_layout(f"horizon return over paths: {strategies[0] if strategies else ''}", 380, hovermode="closest")
    lay.update(barmode="overlay", xaxis={"title": {"text": "horizon return (per path)"}, "tickformat": ".1%",
                                         "gridcolor": "#eee"},
               yaxis={"title": {"text": "share of paths"}, "tickformat": ".1%", "gridcolor": "#eee"})
    if len(strategies) > 1:
        lay["updatemenus"] = [{"type": "dropdown", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom",
                               "font": {"size": 11}, "buttons": [
                                   {"label": s, "method": "update",
                                    "args": [{"visible": [o == s for o in owner]},
                                             {"title.text": f"horizon return over paths: {s}"}]}
                                   for s in strategies]}]
    return go.Figure(traces, layout=lay)


def outcome_distribution(sm: pd.DataFrame) -> object:
    """Distribution of per-path outcomes (box per strategy and scenario), ticks with one decimal."""
    sm = sm.loc[~sm["statistic"].astype(str).str.startswith("prob_beat_6040")]  # single numbers: own table
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
    hist = pd.read_csv(folder / "scenario_hist.csv") if (folder / "scenario_hist.csv").exists() else None
    pace = pd.read_csv(folder / "pace_effect.csv") if (folder / "pace_effect.csv").exists() else None
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
        card = sm.loc[~sm["statistic"].astype(str).str.startswith("prob_beat_6040")]
        hist_html = ""
        if hist is not None and not hist.empty:
            hist_html = (page.figure(histogram_figure(hist))
                         + '<p class="muted">Histogram of the per-path horizon returns of each scenario (share of '
                           "paths per bin; end bins hold the 0.5% tails).</p>")
        return (hist_html + page.figure(outcome_distribution(sm))
                + '<p class="muted">Per-path metrics: boxes p25–p75 with the median, whiskers p5 and p95, '
                  "dashed: mean.</p><h3>Scorecard (median of per-path metrics, p5 – p95)</h3>"
                + scorecard_html(card, colors))

    add_section(page, "outcomes", "Outcome distributions over paths", outcomes)

    def regrets() -> str | None:
        if regret is None or regret.empty:
            return None
        return frame_table_html(regret, "regret-table")

    add_section(page, "beat", "P(beat 60/40): paired, per scenario and in the mix",
                lambda: beat_table_html(sm) if sm is not None else None)
    add_section(page, "regret", "Regret", regrets)
    add_section(page, "pace", "Pace effect", lambda: pace_effect_html(pace) if pace is not None else None)
    add_section(page, "channels", "Liquidity channel and rate channels", lambda: channel_html(folder, prov))
    add_section(page, "pools", "Pools per state, beside realised history in the state's kind",
                lambda: pools_html(folder, prov))
    add_section(page, "sensitivity", "Pool sensitivity: leave one episode out", lambda: sensitivity_html(folder, prov))
    resamples = (prov.get("regret") or {}).get("choice_resamples")
    return page.render(header_html(prov) + verdict_html(regret, resamples) + separation_html(prov)
                       + medians_html(prov), footer_html())


def render_scenario_page(folder: Path) -> Path:
    """Write ``tearsheet.html`` of a scenario run folder; returns its path."""
    out = Path(folder) / "tearsheet.html"
    out.write_text(build_scenario_page(folder))
    return out


__all__ = ["DEFINITIONS", "beat_table_html", "build_scenario_page", "header_html", "histogram_figure",
           "outcome_distribution", "pace_effect_html", "pools_summary", "render_scenario_page", "verdict",
           "verdict_html"]
