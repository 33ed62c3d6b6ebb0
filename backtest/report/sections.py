"""The sections of a report page (metrics, equity, regimes, weights, costs, scenarios, ...).

:func:`add_sections` adds every section the data supports to a :class:`~backtest.report.html.Page`;
the tearsheet (one run) and the comparison page (several runs merged) share it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.cost_drag import COST_DRAG_COLUMNS, cost_drag_table, daily_cost_share
from backtest.instruments import caveats, thesis_signs
from backtest.metrics import cagr
from backtest.metrics_registry import METRICS, metric_names
from backtest.metrics_relative import (
    RELATIVE_COLUMNS,
    active_drawdown,
    relative_table,
    relative_wealth,
    rolling_relative,
)
from backtest.report import figures as F
from backtest.report.attribution_view import ATTRIBUTION_NOTE, attribution_table_html
from backtest.report.html import (
    DRAG_SPEC,
    METRIC_DIRECTION,
    PCT,
    RATIO,
    RELATIVE_SPEC,
    RISK_ADJUSTED,
    SCENARIO_DIRECTION,
    Page,
    add_section,
    best_index,
    color_dot,
    delta_table_html,
    esc,
    fmt,
    frame_table_html,
    is_pct,
    metrics_table_html,
)
from backtest.report.rundata import RunData


def regime_legend(bands: list[F.Band], stress: bool) -> str:
    """HTML legend of regime colours (kinds present) and the stress-date marker."""
    kinds = sorted({b.kind for b in bands}, key=lambda k: F.regime_order(k))
    items = "".join(f'<span class="sw" style="background:{F.regime_color(k, solid=True)}"></span>{esc(k)}'
                    for k in kinds)
    if stress:
        items += '<span class="sw stress"></span>stress event'
    return f'<div class="legend">Fed regimes: {items}</div>' if items else ""


def positions_frames(data: RunData, max_points: int = 300) -> dict[str, pd.DataFrame]:
    """Per strategy, weights on downsampled dates (date x asset), for the area charts.

    Daily holdings (incl. ``CASH``) are sampled on the last trading day of each week or
    month; target weights (when there are no holdings) are carried forward. Precomputed
    ``data.weight_frames`` (merged runs) are returned as they are.
    """
    if data.weight_frames is not None:
        return data.weight_frames
    pos = data.positions
    if pos is None or pos.empty:
        return {}
    days = pd.DatetimeIndex(data.returns.index)
    keep = F.sample_dates(days, max_points)
    pos = pos.assign(date=pd.DatetimeIndex(pos["date"]), strategy=pos["strategy"].astype(str),
                     asset=pos["asset"].astype(str))
    out: dict[str, pd.DataFrame] = {}
    if data.positions_kind == "holdings":
        sub = pos.loc[pos["date"].isin(keep)]
        # one pivot for all strategies (16 separate pivots cost ~5 ms each)
        wide = sub.pivot_table(index="date", columns=["strategy", "asset"], values="weight", aggfunc="sum")
        for s in dict.fromkeys(sub["strategy"]):
            out[str(s)] = wide[s].dropna(axis=1, how="all").reindex(keep).fillna(0.0)
    else:
        for s, g in pos.groupby("strategy", sort=False):
            w = g.pivot_table(index="date", columns="asset", values="weight", aggfunc="sum").sort_index()
            out[str(s)] = w.reindex(w.index.union(keep)).ffill().reindex(keep).fillna(0.0)
    return {s: out[s] for s in data.strategies if s in out}


def yearly_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """Compounded calendar-year returns (rows years, columns strategies)."""
    out = {}
    for c in returns.columns:
        r = F.clean_returns(returns[c])
        out[c] = (1.0 + r).groupby(r.index.year).prod() - 1.0
    return pd.DataFrame(out)


def yearly_table_html(returns: pd.DataFrame, colors: dict[str, str]) -> str:
    """Calendar-year returns, best strategy per year highlighted; partial years marked."""
    yr = yearly_returns(returns)
    days = pd.DatetimeIndex(returns.index)
    first, last = days[0], days[-1]
    head = "".join(f"<th>{color_dot(colors.get(c))}{esc(c)}</th>" for c in yr.columns)
    rows = []
    for y, row in yr.iterrows():
        partial = (y == first.year and (first.month, first.day) > (1, 7)) or (
            y == last.year and (last.month, last.day) < (12, 24))
        best = best_index(row, 1)
        cells = "".join(f'<td{" class=best" if c in best else ""}>{fmt(row[c], PCT)}</td>' for c in yr.columns)
        label = f"{y}{' <span class=muted>(partial)</span>' if partial else ''}"
        rows.append(f'<tr><th scope="row">{label}</th>{cells}</tr>')
    return (f'<div class="scroll"><table class="data" id="yearly-table"><thead><tr><th>year</th>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def regime_table_html(rm: pd.DataFrame, colors: dict[str, str]) -> str:
    """Per-regime metrics of the registry's ``regime`` view per strategy (CAGR, Sharpe, max drawdown).

    Only the risk-adjusted ones (Sharpe) have their best value per regime marked.
    """
    regs = sorted(rm["regime"].astype(str).unique(), key=F.regime_order)
    order = list(dict.fromkeys(rm["strategy"].astype(str)))
    shown = [(c, METRICS[c].label, METRICS[c].unit) for c in metric_names("regime") if c in rm.columns]
    rm = rm.assign(strategy=rm["strategy"].astype(str), regime=rm["regime"].astype(str))
    days = rm.groupby("regime")["days"].max() if "days" in rm else pd.Series(dtype=float)
    top = "".join(
        f'<th colspan="{len(shown)}" class="grp"><span class="sw" style="background:{F.regime_color(r, True)}">'
        f'</span>{esc(r)}{f" <span class=muted>({int(days[r])} d)</span>" if r in days else ""}</th>'
        for r in regs)
    sub = "".join(f"<th>{esc(lbl)}</th>" for _ in regs for _, lbl, _ in shown)
    idx = rm.set_index(["strategy", "regime"])
    best = {(r, c): best_index(idx.xs(r, level="regime")[c], METRIC_DIRECTION.get(c, 0)) if c in RISK_ADJUSTED
            else set() for r in regs for c, _, _ in shown}
    rows = []
    for s in order:
        cells = []
        for r in regs:
            for c, _, kind in shown:
                v = idx[c].get((s, r), np.nan)
                cls = " class=best" if s in best[(r, c)] else ""
                if c == "sharpe" and "sharpe_lo" in idx:  # issue 13: grey when the 90% interval spans 0
                    lo, hi = idx["sharpe_lo"].get((s, r), np.nan), idx["sharpe_hi"].get((s, r), np.nan)
                    cls += f' title="90% interval {fmt(lo, kind)} to {fmt(hi, kind)}"' + (
                        ' style="color:#9aa0a6"' if lo <= 0 <= hi else "")
                cells.append(f"<td{cls}>{fmt(v, kind)}</td>")
        rows.append(f'<tr><th scope="row" class="name">{color_dot(colors.get(s))}{esc(s)}</th>{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="data" id="regime-table"><thead><tr><th rowspan="2">strategy</th>'
            f'{top}</tr><tr>{sub}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def regime_share_html(share: pd.DataFrame) -> str:
    """Share of each strategy's live period per regime (one row when all strategies agree)."""
    if not {"strategy", "regime", "share"} <= set(share.columns):
        return frame_table_html(share, "regime-share-table")
    sh = share.assign(strategy=share["strategy"].astype(str), regime=share["regime"].astype(str))
    pv = sh.pivot_table(index="strategy", columns="regime", values="share", aggfunc="first", sort=False)
    pv = pv.reindex(columns=sorted(pv.columns, key=F.regime_order))
    days = (sh.pivot_table(index="strategy", columns="regime", values="days", aggfunc="first", sort=False)
            .reindex_like(pv) if "days" in sh else None)
    same = len(pv) > 1 and bool((pv.nunique(dropna=False) <= 1).all())
    rows_of = pv.iloc[:1] if same else pv
    head = "".join(f'<th><span class="sw" style="background:{F.regime_color(r, True)}"></span>{esc(r)}</th>'
                   for r in pv.columns)
    rows = []
    for s, row in rows_of.iterrows():
        label = "all strategies" if same else s
        cells = "".join(
            f"<td>{fmt(row[r], PCT)}"
            + (f' <span class="muted">({int(days.loc[s, r])} d)</span>' if days is not None
               and pd.notna(days.loc[s, r]) else "") + "</td>" for r in pv.columns)
        rows.append(f'<tr><th scope="row" class="name">{esc(label)}</th>{cells}</tr>')
    return (f'<div class="scroll"><table class="data" id="regime-share-table"><thead><tr><th>strategy</th>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def bands_table_html(bands: list[F.Band], days: pd.DatetimeIndex) -> str:
    """The regime stretches of the run (id, kind, start, end, trading days)."""
    rows = []
    pos = pd.DatetimeIndex(days)
    for i, b in enumerate(bands):
        stop = bands[i + 1].start if i + 1 < len(bands) else None
        n = int(((pos >= b.start) & ((pos < stop) if stop is not None else True)).sum())
        last = pos[pos < stop][-1] if stop is not None else pos[-1]
        rows.append(f'<tr><td class="txt"><span class="sw" style="background:{F.regime_color(b.kind, True)}"></span>'
                    f'{esc(b.label)}</td><td class="txt">{esc(b.kind)}</td><td class="txt">{b.start.date()}</td>'
                    f'<td class="txt">{last.date()}</td><td>{n}</td></tr>')
    return ('<details><summary>Regime stretches in this run</summary><div class="scroll"><table class="data">'
            '<thead><tr><th>regime</th><th>kind</th><th>first day</th><th>last day</th><th>trading days</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div></details>')


def costs_summary(data: RunData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Yearly turnover, cumulative cost drag (sampled) and a per-strategy cost summary.

    Costs are fractions of NAV (:mod:`backtest.cost_drag`): the summary's drags are the
    ``metrics.csv`` columns (recomputed from ``costs.parquet`` for an older run folder), the
    cumulative drag sums each day's cost over the NAV it started from.
    """
    c = data.costs.copy()  # type: ignore[union-attr]
    c["date"] = pd.DatetimeIndex(c["date"])
    c["strategy"] = c["strategy"].astype(str)
    for col in ("fees", "borrow", "financing", "turnover"):
        if col not in c:
            c[col] = 0.0
    c["year"] = c["date"].dt.year
    yearly = c.pivot_table(index="year", columns="strategy", values="turnover", aggfunc="sum", sort=False) / 2.0
    cum = daily_cost_share(c, data.returns).cumsum()
    cum = cum.loc[cum.index.isin(F.sample_dates(pd.DatetimeIndex(cum.index)))]
    n_days = c.groupby("strategy")["date"].nunique()
    years = n_days / TRADING_DAYS
    drags = (data.metrics[COST_DRAG_COLUMNS] if set(COST_DRAG_COLUMNS) <= set(data.metrics.columns)
             else cost_drag_table(c, data.returns))
    summ = pd.DataFrame({"turnover/yr": c.groupby("strategy")["turnover"].sum() / 2.0 / years})
    summ = summ.join(drags.rename(columns={k: lbl for k, lbl, *_ in DRAG_SPEC}), how="left")
    summ["Total"] = summ[[lbl for _, lbl, *_ in DRAG_SPEC]].sum(axis=1, min_count=1)
    order = [s for s in data.strategies if s in summ.index]
    return (yearly.reindex(columns=[s for s in order if s in yearly.columns]),
            cum.reindex(columns=[s for s in order if s in cum.columns]), summ.reindex(order))


def costs_table_html(summ: pd.DataFrame, colors: dict[str, str]) -> str:
    """Turnover and the cost drags (% of NAV a year) per strategy."""
    head = "".join(f"<th>{esc(c)}</th>" for c in summ.columns)
    rows = []
    for s, row in summ.iterrows():
        cells = "".join(f"<td>{f'{row[c]:.2f}' if c == 'turnover/yr' else fmt(row[c], PCT)}</td>" for c in summ.columns)
        rows.append(f'<tr><th scope="row" class="name">{color_dot(colors.get(s))}{esc(s)}</th>{cells}</tr>')
    return (f'<div class="scroll"><table class="data" id="costs-table"><thead><tr><th>strategy</th>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def excess_calmar(data: RunData) -> pd.Series:
    """Per strategy ``(CAGR - cash CAGR) / |max drawdown|``: the Calmar ratio the highlighting ranks on.

    A cash-like strategy earns about the cash rate, so its excess (and this ratio) is about
    zero however small its drawdown: it is never crowned by Calmar alone.
    """
    out = {}
    for s in data.metrics.index:
        if s not in data.returns.columns or "max_drawdown" not in data.metrics.columns:
            continue
        r = F.clean_returns(data.returns[s])
        rf = data.rf[s] if isinstance(data.rf, pd.DataFrame) else data.rf
        cash = cagr(rf.reindex(r.index).fillna(0.0)) if rf is not None and len(r) else 0.0
        mdd = float(data.metrics.loc[s, "max_drawdown"])
        out[s] = (float(data.metrics.loc[s, "cagr"]) - cash) / abs(mdd) if mdd < 0 else np.nan
    return pd.Series(out, dtype=float)


def relative_metrics(data: RunData) -> pd.DataFrame:
    """The relative columns of each strategy (``metrics.csv``'s, or computed from the returns for an older folder)."""
    if set(RELATIVE_COLUMNS) <= set(data.metrics.columns):
        return data.metrics[RELATIVE_COLUMNS]
    return relative_table(data.returns_with_benchmarks(), data.benchmark_of()).reindex(data.metrics.index)


def relative_frames(data: RunData, bmap: dict[str, str]) -> list[tuple[pd.DataFrame, str, str, str]]:
    """The relative section's panels: active cumulative return, its drawdown, rolling beta and tracking error."""
    keep = F.sample_dates(pd.DatetimeIndex(data.returns.index))
    act, dd, beta, te = {}, {}, {}, {}
    rets = data.returns_with_benchmarks()
    for s, b in bmap.items():
        r, bench = rets[s], rets[b]
        act[s] = relative_wealth(r, bench) - 1.0
        dd[s] = active_drawdown(r, bench)
        roll = rolling_relative(r, bench)
        beta[s], te[s] = roll["beta"], roll["tracking_error"]

    def frame(d: dict[str, pd.Series]) -> pd.DataFrame:
        return pd.DataFrame(d, index=data.returns.index).reindex(keep)

    panels = [(frame(act), "active cumulative return (strategy / benchmark wealth - 1)", ".0%", "%{y:.1%}"),
              (frame(dd), "drawdown of the active cumulative return", ".0%", "%{y:.1%}")]
    if len(data.returns) > TRADING_DAYS + 5:
        panels += [(frame(beta), "rolling one-year beta", ".2f", "%{y:.2f}"),
                   (frame(te), "rolling one-year tracking error", ".0%", "%{y:.1%}")]
    return panels


def relative_table_html(rel: pd.DataFrame, bmap: dict[str, str], colors: dict[str, str]) -> str:
    """The relative metrics per strategy; the benchmark's own row says so; best information ratio marked."""
    tags = {b: ' <span class="tag">benchmark</span>' for b in set(bmap.values())}
    if len(set(bmap.values())) > 1:  # several benchmarks (a comparison of runs): name each row's
        tags.update({s: f' <span class="muted">vs {esc(b)}</span>' for s, b in bmap.items()})
    return metrics_table_html(rel, colors, table_id="relative-table", spec=RELATIVE_SPEC, tags=tags)


def scorecard_html(sm: pd.DataFrame, colors: dict[str, str]) -> str:
    """Per statistic: median (p5 – p95) by strategy and scenario, mix last; best median marked."""
    sm = sm.assign(strategy=sm["strategy"].astype(str), scenario=sm["scenario"].astype(str),
                   statistic=sm["statistic"].astype(str))
    scen = list(dict.fromkeys(sm["scenario"]))
    if "mix" in scen:
        scen = [s for s in scen if s != "mix"] + ["mix"]
    out = []
    for st in dict.fromkeys(sm["statistic"]):
        sub = sm.loc[sm["statistic"] == st].set_index(["strategy", "scenario"])
        kind = PCT if is_pct(st) else RATIO
        direction = SCENARIO_DIRECTION.get(st, -1 if ("vol" in st or "turnover" in st) else 1)
        strategies = list(dict.fromkeys(sub.index.get_level_values(0)))
        head = "".join(f'<th class="{"mix" if s == "mix" else ""}">'
                       f'{"probability-weighted mix" if s == "mix" else esc(s)}</th>' for s in scen)
        best = {s: best_index(sub.xs(s, level="scenario")["median"], direction)
                for s in scen if s in sub.index.get_level_values(1)}
        rows = []
        for strat in strategies:
            cells = []
            for s in scen:
                if (strat, s) not in sub.index:
                    cells.append("<td>–</td>")
                    continue
                r = sub.loc[(strat, s)]
                rng = ""
                if "p5" in r and "p95" in r:
                    rng = f'<br><span class="rng">{fmt(r["p5"], kind)} – {fmt(r["p95"], kind)}</span>'
                cls = " ".join(c for c in ("best" if strat in best.get(s, ()) else "", "mix" if s == "mix" else "") if c)
                cells.append(f'<td class="{cls}">{fmt(r["median"], kind)}{rng}</td>')
            rows.append(f'<tr><th scope="row" class="name">{color_dot(colors.get(strat))}{esc(strat)}</th>'
                        f'{"".join(cells)}</tr>')
        out.append(f'<h3>{esc(st)} <span class="muted">median (p5 – p95)</span></h3><div class="scroll">'
                   f'<table class="data scorecard"><thead><tr><th>strategy</th>{head}</tr></thead>'
                   f'<tbody>{"".join(rows)}</tbody></table></div>')
    return "".join(out)


def optimizer_strategies(config: dict) -> list[str]:
    """Names of the strategies of a run config that use an optimizer (kind ``optimized`` or an ``optimizer`` block)."""
    out = []
    for s in (config or {}).get("strategies") or []:
        params = s.get("params") or {}
        if s.get("kind") == "optimized" or (isinstance(params, dict) and params.get("optimizer")):
            out.append(str(s.get("name")))
    return out


def decision_weights(data: RunData) -> pd.DataFrame | None:
    """Target weights at the decisions (long: strategy, date, asset, weight), or daily holdings without them."""
    if data.positions_kind == "targets" or data.positions is None:
        pos = data.positions
    else:
        path = data.folder / "weights.parquet" if data.folder is not None else None
        pos = pd.read_parquet(path) if path is not None and path.exists() else data.positions
    if pos is None or not {"strategy", "date", "asset", "weight"} <= set(pos.columns):
        return None
    return pos


def thesis_violations(pos: pd.DataFrame, strategies: list[str], tol: float = 1e-6) -> pd.DataFrame:
    """Decisions where a strategy's weight on a thesis asset has the sign opposite to the thesis.

    Parameters
    ----------
    pos : pd.DataFrame
        Long frame with columns ``strategy``, ``date``, ``asset``, ``weight``.
    strategies : list of str
        Strategies to check (the optimizer strategies of the run).
    tol : float
        Weights within ``tol`` of 0 are not violations.

    Returns
    -------
    pd.DataFrame
        Columns ``strategy``, ``date``, ``asset``, ``weight``, ``thesis`` (``long``/``short``),
        sorted by strategy, date and asset. Thesis signs from ``backtest/data/instruments.yaml``.
    """
    signs = thesis_signs()
    p = pos.loc[pos["strategy"].astype(str).isin(strategies) & pos["asset"].astype(str).isin(signs)]
    sign = p["asset"].astype(str).map(signs).astype(float)
    bad = p.loc[p["weight"].astype(float) * sign < -tol]
    out = pd.DataFrame({"strategy": bad["strategy"].astype(str), "date": pd.DatetimeIndex(bad["date"]).date,
                        "asset": bad["asset"].astype(str), "weight": bad["weight"].astype(float),
                        "thesis": np.where(sign.loc[bad.index] > 0, "long", "short")})
    return out.sort_values(["strategy", "date", "asset"]).reset_index(drop=True)


def instrument_caveats(pos: pd.DataFrame | None) -> list[str]:
    """One line per instrument with a caveat (survivorship of short vol) held by some strategy."""
    if pos is None or pos.empty:
        return []
    held = pos.loc[pos["weight"].astype(float).abs() > 1e-9]
    lines = []
    for asset, text in caveats().items():
        who = list(dict.fromkeys(held.loc[held["asset"].astype(str) == asset, "strategy"].astype(str)))
        if who:
            lines.append(f"{asset} (held by {', '.join(who)}): {text}")
    return lines


def add_sections(page: Page, data: RunData, baseline: str | None = None) -> None:
    """Add every section the data supports, in reading order."""
    colors = F.color_map(data.strategies)
    bands = F.regime_bands(data.regimes.reindex(data.returns.index) if data.regimes is not None else None)
    metrics = data.metrics.reindex([s for s in data.strategies if s in data.metrics.index])
    page.add("metrics", "Metrics", metrics_table_html(metrics, colors, baseline=baseline,
                                                      rank={"calmar": excess_calmar(data)})
             + '<p class="muted">Highlighted: the best risk-adjusted figures only (Sharpe, Sortino, Calmar). '
               'Sharpe and Sortino are of returns in excess of cash; the Calmar highlight ranks '
               '(CAGR − cash CAGR) / |max DD|, so a cash-like strategy is never crowned by a tiny drawdown. '
               'Turnover is one-way per year; CVaR 5% is the mean of the worst 5% of days.</p>')
    if baseline is not None:
        page.add("deltas", f"Differences vs {baseline}", delta_table_html(metrics, baseline, colors)
                 + '<p class="muted">Green: better than the baseline; red: worse (pp = percentage points).</p>')
    legend = regime_legend(bands, bool(data.stress))
    page.add("equity", "Equity curves",
             legend + page.figure(F.equity_figure(data.returns, colors, bands, data.stress)))
    page.add("drawdown", "Drawdowns", page.figure(F.drawdown_figure(data.returns, colors, bands)))
    if len(data.returns) > TRADING_DAYS + 5:
        page.add("rolling", "Rolling 12-month return, volatility and Sharpe",
                 page.figure(F.rolling_figure(data.returns, data.rf, colors, bands)))

    def relative_body() -> str | None:
        bmap = data.benchmark_of()
        if not bmap:
            return None
        names = sorted(set(bmap.values()))
        rel = relative_metrics(data)
        body = relative_table_html(rel, bmap, colors)
        body += ('<p class="muted">Against ' + ", ".join(f"<b>{esc(b)}</b>" for b in names)
                 + '. Active return = 252 × mean daily difference; tracking error = √252 × its standard deviation; '
                   'information ratio = their ratio; beta of daily returns; up/down capture = CAGR ratio on the '
                   "benchmark's up/down days; active max DD = largest fall of strategy wealth / benchmark wealth "
                   '(docs/metrics.md).</p>')
        return body + page.figure(F.stacked_figure(relative_frames(data, bmap), colors, bands, list(bmap)))

    add_section(page, "relative", "Relative to the benchmark", relative_body)

    def regimes_body() -> str | None:
        rm = data.regime_metrics
        if rm is None or rm.empty:
            return None
        body = regime_table_html(rm, colors)
        if "sharpe" in rm.columns:
            body += "<h3>Sharpe by strategy and regime</h3>" + page.figure(F.regime_heatmap(rm, "sharpe"))
        if "regime_share" in data.extras:
            body += "<h3>Time spent in each regime</h3>" + regime_share_html(data.extras["regime_share"])
        if bands:
            body += bands_table_html(bands, pd.DatetimeIndex(data.returns.index))
        return body

    add_section(page, "regimes", "Per-regime performance", regimes_body)

    def attribution_body() -> str | None:  # issue 23: regime attribution (attribution.csv, attribution_sleeves.csv)
        att, sleeves = data.extras.get("attribution"), data.extras.get("attribution_sleeves")
        if att is None or att.empty:
            return None
        body = ""
        if sleeves is not None and not sleeves.empty:
            body += "<h3>By sleeve</h3>" + attribution_table_html(sleeves, colors, "attribution-sleeves")
        return (body + "<h3>By asset</h3>" + attribution_table_html(att, colors)
                + f'<p class="muted">{esc(ATTRIBUTION_NOTE)}</p>')

    add_section(page, "attribution", "Regime attribution", attribution_body)

    def events_body() -> str | None:
        ev = data.extras.get("event_study")
        if ev is None or ev.empty:
            return None
        missing = {"strategy", "regime", "day", "cum_excess"} - set(ev.columns)
        if missing:
            raise ValueError(f"event_study.csv lacks {sorted(missing)}")
        n = ev.groupby("regime")["regime_id"].nunique() if "regime_id" in ev else pd.Series(dtype=int)
        n = n.reindex(sorted(n.index, key=F.regime_order))
        counts = ", ".join(f"{esc(k)}: {int(v)}" for k, v in n.items())
        first = int(pd.to_numeric(ev["day"]).min())
        return (page.figure(F.event_study_figure(ev, colors))
                + f'<p class="muted">Mean over regime starts of the cumulative return in excess of cash, '
                  f'compounded from trading day {first} (day 0 = first day of the new regime). '
                  f'Starts per kind — {counts}.</p>')

    add_section(page, "events", "Event study around regime starts", events_body)

    def weights_body() -> str | None:
        frames = positions_frames(data)
        if not frames:
            return None
        what = ("actual holdings incl. cash (drifted between rebalances)" if data.positions_kind == "holdings"
                else "target weights")
        idx = pd.DatetimeIndex(next(iter(frames.values())).index)
        days = idx.to_numpy().astype("datetime64[D]").astype(np.int64)
        gap = float(np.median(np.diff(days))) if len(idx) > 1 else 1.0
        every = ("daily" if gap < 4 else "on the last trading day of each week" if gap < 15
                 else "on the last trading day of each month")
        return (page.figure(F.weights_figure(frames))
                + f'<p class="muted">{esc(what)}, shown {every}.'
                  f'{" Choose the strategy in the menu." if len(frames) > 1 else ""}</p>')

    add_section(page, "weights", "Weights over time", weights_body)

    def costs_body() -> str | None:
        if data.costs is None or data.costs.empty:
            return None
        yearly, cum, summ = costs_summary(data)
        return (costs_table_html(summ, colors)
                + '<p class="muted">Costs in % of NAV a year: each day\'s cost over the NAV it started from, '
                  'summed and annualised (× 252 / days). Returns already carry every cost.</p>'
                + '<div class="grid2"><div><h3>Turnover per year</h3>'
                + page.figure(F.turnover_figure(yearly, colors)) + '</div><div><h3>Cumulative cost drag</h3>'
                + page.figure(F.cost_drag_figure(cum, colors)) + "</div></div>")

    add_section(page, "costs", "Turnover and cost drag", costs_body)

    def fallbacks_body() -> str | None:
        fb = data.extras.get("fallbacks")
        if fb is None:
            return None
        if fb.empty:
            return '<p>No optimizer fallbacks.</p>'
        keys = [c for c in ("strategy", "reason", "action") if c in fb.columns]
        summary = fb.groupby(keys, sort=False).size().rename("count").reset_index() if keys else None
        body = f"<p>{len(fb)} fallback(s).</p>"
        if summary is not None:
            body += frame_table_html(summary, "fallbacks-summary")
        return body + "<details><summary>All fallbacks</summary>" + frame_table_html(fb, "fallbacks-table") + "</details>"

    add_section(page, "fallbacks", "Optimizer fallbacks", fallbacks_body)

    def thesis_body() -> str | None:
        opt = [s for s in optimizer_strategies(data.config) if s in data.strategies]
        pos = decision_weights(data) if opt else None
        if pos is None:
            return None
        bad = thesis_violations(pos, opt)
        if bad.empty:
            return f'<p>No decision of {esc(", ".join(opt))} holds a thesis asset against the thesis.</p>'
        summary = bad.groupby(["strategy", "asset"], sort=False)["weight"].agg(["size", "min", "max"]).reset_index()
        return (f"<p>{len(bad)} decision(s) where an optimizer strategy holds a thesis asset with the sign opposite "
                "to the article's thesis (long real assets, small caps/tech and SVXY; no long VIXY).</p>"
                + frame_table_html(summary, "thesis-summary")
                + "<details><summary>All decisions</summary>" + frame_table_html(bad, "thesis-table") + "</details>")

    add_section(page, "thesis", "Optimizer weights against the thesis", thesis_body)
    try:
        page.notes.extend(instrument_caveats(data.positions))
    except Exception as exc:  # noqa: BLE001 - a caveat must never break the page
        page.notes.append(f"instrument caveats skipped: {type(exc).__name__}: {exc}")

    def monthly_body() -> str:
        heat = "<h3>Monthly returns</h3>" + page.figure(F.monthly_heatmap_figure(data.returns))
        years = "<h3>Calendar-year returns</h3>" + yearly_table_html(data.returns, colors)
        if len(data.strategies) <= 4:
            return f'<div class="grid2 wide-left"><div>{heat}</div><div>{years}</div></div>'
        return heat + years

    add_section(page, "monthly", "Monthly and yearly returns", monthly_body)

    def scenarios_body() -> str | None:
        fan, sm, regret = (data.extras.get(k) for k in ("scenario_fan", "scenario_metrics", "scenario_regret"))
        if fan is None and sm is None and regret is None:
            return None
        scen_strats = []
        for f in (fan, sm):
            if f is not None and "strategy" in f:
                scen_strats += list(dict.fromkeys(f["strategy"].astype(str)))
        scolors = {**F.color_map(list(dict.fromkeys(scen_strats))), **colors}
        body = ""
        if fan is not None and not fan.empty:
            figs = [page.figure(F.fan_figure(g, str(sc), scolors))
                    for sc, g in fan.groupby(fan["scenario"].astype(str), sort=False)]
            body += "<h3>Fan charts of cumulative wealth</h3><div class=\"grid2\">" + "".join(
                f"<div>{f}</div>" for f in figs) + "</div>"
        if sm is not None and not sm.empty:
            pct_stats = {s for s in sm["statistic"].astype(str).unique() if is_pct(s)}
            body += ("<h3>Outcome distributions</h3>" + page.figure(F.outcome_figure(sm, pct_stats))
                     + '<p class="muted">Boxes: p25–p75 with median; whiskers: p5 and p95; dashed: mean.</p>')
            body += "<h3>Scorecard</h3>" + scorecard_html(sm, scolors)
        if regret is not None and not regret.empty:
            body += "<h3>Regret</h3>" + frame_table_html(regret, "regret-table")
        return body

    add_section(page, "scenarios", "Scenario runs", scenarios_body)
