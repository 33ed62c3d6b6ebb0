"""The self-contained HTML tearsheet of a run folder (``tearsheet.html``).

:func:`load_run` reads a run folder into a :class:`RunData`; :func:`build_page` turns a
``RunData`` (one run, or several merged by :mod:`backtest.report.compare`) into one HTML
page. The page embeds plotly.js once and the figures as JSON (long date axes shared),
so it opens offline from ``file://``. Sections whose input files are absent are skipped;
a malformed optional file skips its section with a note instead of failing the run.
"""

from __future__ import annotations

import html
import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from backtest.report import figures as F

TEMPLATE = Path(__file__).with_name("template.html")
PCT, RATIO = "pct", "ratio"
# column, header, format, direction (+1 higher is better, -1 lower is better)
METRIC_SPEC: tuple[tuple[str, str, str, int], ...] = (
    ("total_return", "Total return", PCT, 1),
    ("cagr", "CAGR", PCT, 1),
    ("ann_vol", "Vol", PCT, -1),
    ("sharpe", "Sharpe", RATIO, 1),
    ("sortino", "Sortino", RATIO, 1),
    ("max_drawdown", "Max DD", PCT, 1),
    ("calmar", "Calmar", RATIO, 1),
    ("turnover", "Turnover/yr", RATIO, -1),
    ("hit_rate", "Hit rate", PCT, 1),
    ("worst_day", "Worst day", PCT, 1),
    ("best_day", "Best day", PCT, 1),
    ("cvar_5", "CVaR 5%", PCT, 1),
)
METRIC_FORMAT = {c: f for c, _, f, _ in METRIC_SPEC}
METRIC_DIRECTION = {c: d for c, _, _, d in METRIC_SPEC}
# scenario statistics not in METRIC_SPEC: a lower probability of loss is better
SCENARIO_DIRECTION = {**METRIC_DIRECTION, "horizon_return": 1, "prob_loss": -1, "daily_cvar_5": 1}
PCT_WORDS = ("return", "cagr", "drawdown", "vol", "cvar", "dd", "loss", "gain", "hit", "day")
OPTIONAL_CSV = ("event_study", "regime_share", "fallbacks", "scenario_metrics", "scenario_regret")
OPTIONAL_PARQUET = ("scenario_fan",)
MAX_TABLE_ROWS = 400


@dataclass
class RunData:
    """Everything the report draws, read from one run folder (or merged from several).

    Strategy names are the columns of ``returns`` and the index of ``metrics``; every
    long frame (``positions``, ``costs``, ``extras``) has a ``strategy`` column using the
    same names.
    """

    folder: Path
    prov: dict
    config: dict
    metrics: pd.DataFrame
    regime_metrics: pd.DataFrame
    returns: pd.DataFrame
    rf: pd.Series | pd.DataFrame
    positions: pd.DataFrame | None = None
    positions_kind: str = "holdings"
    costs: pd.DataFrame | None = None
    regimes: pd.DataFrame | None = None
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
    stress: list[tuple[pd.Timestamp, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    weight_frames: dict[str, pd.DataFrame] | None = None

    @property
    def strategies(self) -> list[str]:
        """Strategy names in display order."""
        return [str(c) for c in self.returns.columns]


# --------------------------------------------------------------------------- loading


def _read_optional(folder: Path, notes: list[str]) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for key in OPTIONAL_CSV:
        p = folder / f"{key}.csv"
        if p.exists():
            try:
                out[key] = pd.read_csv(p)
            except Exception as exc:  # noqa: BLE001 - optional input: report, do not fail
                notes.append(f"{p.name}: unreadable ({type(exc).__name__}); section skipped")
    for key in OPTIONAL_PARQUET:
        p = folder / f"{key}.parquet"
        if p.exists():
            try:
                out[key] = pd.read_parquet(p)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"{p.name}: unreadable ({type(exc).__name__}); section skipped")
    return out


def risk_free(folder: Path, days: pd.DatetimeIndex) -> pd.Series:
    """Daily cash return of a run, rebuilt from ``signals.parquet`` as the pipeline does.

    ``rf_t = cash_rate_{t-1} / 100 / 252`` (0 on the first day or without a cash rate).
    """
    p = folder / "signals.parquet"
    zero = pd.Series(0.0, index=days)
    if not p.exists():
        return zero
    try:
        rate = pd.read_parquet(p, columns=["cash_rate"])["cash_rate"]
    except Exception:  # noqa: BLE001 - no cash_rate column: Sharpe of raw returns
        return zero
    rate.index = pd.DatetimeIndex(rate.index)
    if not rate.notna().any():
        return zero
    r = rate.reindex(days).astype(float).fillna(0.0).to_numpy() / 100.0 / F.TRADING_DAYS
    return pd.Series(np.concatenate([[0.0], r[:-1]]), index=days)


def _stress_events(config: dict, days: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, str]]:
    try:
        from backtest.regimes.calendar import load_calendar

        path = (config.get("regimes") or {}).get("calendar")
        cal = load_calendar(path)
    except Exception:  # noqa: BLE001 - no calendar: no stress markers
        return []
    if not len(days):
        return []
    return [(pd.Timestamp(d), str(t)) for d, t in cal.stress_events if days[0] <= pd.Timestamp(d) <= days[-1]]


def load_run(folder: str | Path) -> RunData:
    """Read a run folder for the report.

    Parameters
    ----------
    folder : str or Path
        A run folder (possibly still the temporary folder of an atomic write).

    Returns
    -------
    RunData
    """
    folder = Path(folder)
    notes: list[str] = []
    prov = json.loads((folder / "provenance.json").read_text())
    cfg_path = folder / "config.yaml"
    config = (yaml.safe_load(cfg_path.read_text()) or {}) if cfg_path.exists() else {}
    metrics = pd.read_csv(folder / "metrics.csv", index_col=0)
    metrics.index = metrics.index.astype(str)
    metrics.index.name = "strategy"
    regime_metrics = pd.read_csv(folder / "regime_metrics.csv")
    returns = pd.read_parquet(folder / "returns.parquet")
    returns.index = pd.DatetimeIndex(returns.index)
    returns.index.name = "date"
    returns.columns = [str(c) for c in returns.columns]
    days = pd.DatetimeIndex(returns.index)
    positions, kind = None, "holdings"
    if (folder / "holdings.parquet").exists():
        positions = pd.read_parquet(folder / "holdings.parquet")
    elif (folder / "weights.parquet").exists():
        positions, kind = pd.read_parquet(folder / "weights.parquet"), "targets"
    costs = pd.read_parquet(folder / "costs.parquet") if (folder / "costs.parquet").exists() else None
    regimes = None
    if (folder / "regimes.parquet").exists():
        regimes = pd.read_parquet(folder / "regimes.parquet")
        if "date" in regimes.columns:
            regimes = regimes.set_index("date")
        regimes.index = pd.DatetimeIndex(regimes.index)
    return RunData(
        folder=folder, prov=prov, config=config, metrics=metrics, regime_metrics=regime_metrics,
        returns=returns, rf=risk_free(folder, days), positions=positions, positions_kind=kind, costs=costs,
        regimes=regimes, extras=_read_optional(folder, notes), stress=_stress_events(config, days), notes=notes,
    )


# --------------------------------------------------------------------------- formatting


def esc(x: object) -> str:
    """HTML-escape any value as text."""
    return html.escape(str(x), quote=True)


def fmt(x: object, kind: str = RATIO, signed: bool = False) -> str:
    """Format a number for a table cell (``–`` for missing)."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return esc(x)
    if not np.isfinite(v):
        return "–"
    sign = "+" if signed else ""
    if kind == PCT:
        return f"{v * 100:{sign}.2f}%" if not signed else f"{v * 100:+.2f} pp"
    if kind == "int":
        return f"{v:{sign},.0f}"
    if kind == "bps":
        return f"{v * 1e4:{sign}.1f}"
    return f"{v:{sign}.2f}"


def is_pct(name: str) -> bool:
    """Whether a statistic is a fraction best shown in percent."""
    if name in METRIC_FORMAT:
        return METRIC_FORMAT[name] == PCT
    n = name.lower()
    return any(w in n for w in PCT_WORDS) and "sharpe" not in n and "ratio" not in n


def best_index(values: pd.Series, direction: int) -> set:
    """Labels holding the best finite value (``direction`` +1: max, -1: min)."""
    v = pd.to_numeric(values, errors="coerce")
    v = v[np.isfinite(v)]
    if v.empty or direction == 0 or v.nunique() < 2:
        return set()
    target = v.max() if direction > 0 else v.min()
    return set(v.index[np.isclose(v, target, rtol=0, atol=1e-12)])


def _color_dot(color: str | None) -> str:
    return f'<span class="dot" style="background:{esc(color or "#999")}"></span>' if color else ""


def metrics_table_html(metrics: pd.DataFrame, colors: dict[str, str], table_id: str = "metrics-table",
                       baseline: str | None = None) -> str:
    """Metrics table, one row per strategy, the best value of each column highlighted."""
    cols = [c for c, *_ in METRIC_SPEC if c in metrics.columns]
    extra = [c for c in metrics.columns if c not in cols]
    head = "".join(f'<th data-col="{esc(c)}" title="{esc(c)}">{esc(lbl)}</th>'
                   for c, lbl, *_ in METRIC_SPEC if c in cols)
    head += "".join(f'<th data-col="{esc(c)}">{esc(c)}</th>' for c in extra)
    best = {c: best_index(metrics[c], METRIC_DIRECTION.get(c, 0)) for c in cols}
    rows = []
    for name, row in metrics.iterrows():
        tag = ' <span class="tag">baseline</span>' if baseline is not None and name == baseline else ""
        cells = [f'<th scope="row" class="name">{_color_dot(colors.get(name))}{esc(name)}{tag}</th>']
        for c in cols + extra:
            cls = ' class="best"' if name in best.get(c, ()) else ""
            cells.append(f'<td data-col="{esc(c)}"{cls}>{fmt(row[c], METRIC_FORMAT.get(c, RATIO))}</td>')
        rows.append(f'<tr data-strategy="{esc(name)}">{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="data" id="{esc(table_id)}"><thead><tr><th>strategy</th>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def delta_table_html(metrics: pd.DataFrame, baseline: str, colors: dict[str, str]) -> str:
    """Metric differences of every strategy against ``baseline`` (pp for percent metrics)."""
    cols = [c for c, *_ in METRIC_SPEC if c in metrics.columns]
    base = metrics.loc[baseline]
    head = "".join(f"<th>Δ {esc(lbl)}</th>" for c, lbl, *_ in METRIC_SPEC if c in cols)
    rows = []
    for name, row in metrics.iterrows():
        cells = [f'<th scope="row" class="name">{_color_dot(colors.get(name))}{esc(name)}</th>']
        for c in cols:
            if name == baseline:
                cells.append('<td class="muted">baseline</td>' if c == cols[0] else '<td class="muted">·</td>')
                continue
            d = float(row[c]) - float(base[c])
            good = np.sign(d) * METRIC_DIRECTION.get(c, 0)
            cls = " pos" if good > 0 and abs(d) > 1e-12 else (" neg" if good < 0 and abs(d) > 1e-12 else "")
            cells.append(f'<td class="delta{cls}">{fmt(d, METRIC_FORMAT.get(c, RATIO), signed=True)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class="scroll"><table class="data" id="delta-table"><thead><tr><th>strategy</th>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def frame_table_html(df: pd.DataFrame, table_id: str | None = None, max_rows: int = MAX_TABLE_ROWS) -> str:
    """Any small frame as an HTML table (numbers formatted by column name)."""
    shown = df.head(max_rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    body = []
    for _, row in shown.iterrows():
        cells = []
        for c in shown.columns:
            v = row[c]
            if isinstance(v, (float, np.floating)):
                txt = fmt(v, PCT if is_pct(str(c)) else RATIO)
                if not is_pct(str(c)) and np.isfinite(v) and v != 0 and (abs(v) < 0.01 or abs(v) >= 1e5):
                    txt = f"{v:.4g}"
                cells.append(f"<td>{txt}</td>")
            elif isinstance(v, (int, np.integer)):
                cells.append(f"<td>{int(v)}</td>")
            else:
                cells.append(f'<td class="txt">{esc("" if pd.isna(v) else v)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = (f'<p class="muted">showing {max_rows} of {len(df)} rows</p>' if len(df) > max_rows else "")
    tid = f' id="{esc(table_id)}"' if table_id else ""
    return (f'<div class="scroll"><table class="data"{tid}><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{more}')


# --------------------------------------------------------------------------- page assembly


@dataclass
class Page:
    """Accumulates sections and figures of one HTML page."""

    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    dates: F.DateTable = field(default_factory=F.DateTable)
    notes: list[str] = field(default_factory=list)

    def figure(self, fig: object, css_class: str = "") -> str:
        """Register a figure; return its container ``<div>``."""
        fid = f"fig-{len(self.figures)}"
        payload = F.figure_payload(fig, self.dates)  # type: ignore[arg-type]
        self.figures.append({"id": fid, "fig": payload})
        h = int(payload.get("layout", {}).get("height") or 400)
        return (f'<div class="chart plotly-graph-div {esc(css_class)}" id="{fid}" '
                f'style="height:{h}px"></div>')

    def add(self, sid: str, title: str, body: str) -> None:
        """Append a section."""
        self.sections.append((sid, title, body))

    def render(self, header: str, footer: str) -> str:
        """The whole HTML document."""
        import plotly.offline

        nav = "".join(f'<a href="#{esc(s)}">{esc(t)}</a>' for s, t, _ in self.sections)
        body = "".join(f'<section class="card" id="{esc(s)}"><h2>{esc(t)}</h2>{b}</section>'
                       for s, t, b in self.sections)
        if self.notes:
            items = "".join(f"<li>{esc(n)}</li>" for n in self.notes)
            body += f'<section class="card" id="report-notes"><h2>Report notes</h2><ul>{items}</ul></section>'
        data = {"x": self.dates.arrays, "template": F.page_template_json(), "config": F.PLOT_CONFIG,
                "figures": self.figures}
        tpl = string.Template(TEMPLATE.read_text())
        return tpl.substitute(title=esc(self.title), header=header, nav=nav, body=body, footer=footer,
                              plotlyjs=plotly.offline.get_plotlyjs(), data=F.to_json(data))


def _section(page: Page, sid: str, title: str, build: Callable[[], str | None]) -> None:
    """Add a section built by ``build``; failures of optional inputs become page notes."""
    try:
        body = build()
    except Exception as exc:  # noqa: BLE001 - one bad optional input must not sink the report
        page.notes.append(f"section '{title}' skipped: {type(exc).__name__}: {exc}")
        return
    if body:
        page.add(sid, title, body)


def regime_legend(bands: list[F.Band], stress: bool) -> str:
    """HTML legend of regime colours (kinds present) and the stress-date marker."""
    kinds = sorted({b.kind for b in bands}, key=lambda k: F._regime_order(k))
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
        for s, g in sub.groupby("strategy", sort=False):
            w = g.pivot_table(index="date", columns="asset", values="weight", aggfunc="sum")
            out[str(s)] = w.reindex(keep).fillna(0.0)
    else:
        for s, g in pos.groupby("strategy", sort=False):
            w = g.pivot_table(index="date", columns="asset", values="weight", aggfunc="sum").sort_index()
            out[str(s)] = w.reindex(w.index.union(keep)).ffill().reindex(keep).fillna(0.0)
    return {s: out[s] for s in data.strategies if s in out}


def yearly_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """Compounded calendar-year returns (rows years, columns strategies)."""
    out = {}
    for c in returns.columns:
        r = F._clean(returns[c])
        out[c] = (1.0 + r).groupby(r.index.year).prod() - 1.0
    return pd.DataFrame(out)


def yearly_table_html(returns: pd.DataFrame, colors: dict[str, str]) -> str:
    """Calendar-year returns, best strategy per year highlighted; partial years marked."""
    yr = yearly_returns(returns)
    days = pd.DatetimeIndex(returns.index)
    first, last = days[0], days[-1]
    head = "".join(f"<th>{_color_dot(colors.get(c))}{esc(c)}</th>" for c in yr.columns)
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
    """Per-regime CAGR, Sharpe and max drawdown per strategy (best Sharpe per regime marked)."""
    regs = sorted(rm["regime"].astype(str).unique(), key=F._regime_order)
    order = list(dict.fromkeys(rm["strategy"].astype(str)))
    shown = [("cagr", "CAGR", PCT), ("sharpe", "Sharpe", RATIO), ("max_drawdown", "Max DD", PCT)]
    shown = [s for s in shown if s[0] in rm.columns]
    rm = rm.assign(strategy=rm["strategy"].astype(str), regime=rm["regime"].astype(str))
    days = rm.groupby("regime")["days"].max() if "days" in rm else pd.Series(dtype=float)
    top = "".join(
        f'<th colspan="{len(shown)}" class="grp"><span class="sw" style="background:{F.regime_color(r, True)}">'
        f'</span>{esc(r)}{f" <span class=muted>({int(days[r])} d)</span>" if r in days else ""}</th>'
        for r in regs)
    sub = "".join(f"<th>{esc(lbl)}</th>" for _ in regs for _, lbl, _ in shown)
    idx = rm.set_index(["strategy", "regime"])
    best = {(r, c): best_index(idx.xs(r, level="regime")[c], METRIC_DIRECTION.get(c, 0))
            for r in regs for c, _, _ in shown}
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
        rows.append(f'<tr><th scope="row" class="name">{_color_dot(colors.get(s))}{esc(s)}</th>{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="data" id="regime-table"><thead><tr><th rowspan="2">strategy</th>'
            f'{top}</tr><tr>{sub}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def regime_share_html(share: pd.DataFrame) -> str:
    """Share of each strategy's live period per regime (one row when all strategies agree)."""
    if not {"strategy", "regime", "share"} <= set(share.columns):
        return frame_table_html(share, "regime-share-table")
    sh = share.assign(strategy=share["strategy"].astype(str), regime=share["regime"].astype(str))
    pv = sh.pivot_table(index="strategy", columns="regime", values="share", aggfunc="first", sort=False)
    pv = pv.reindex(columns=sorted(pv.columns, key=F._regime_order))
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
    """Yearly turnover, cumulative cost drag (sampled) and a per-strategy cost summary."""
    c = data.costs.copy()  # type: ignore[union-attr]
    c["date"] = pd.DatetimeIndex(c["date"])
    c["strategy"] = c["strategy"].astype(str)
    for col in ("fees", "borrow", "turnover"):
        if col not in c:
            c[col] = 0.0
    c["year"] = c["date"].dt.year
    yearly = c.pivot_table(index="year", columns="strategy", values="turnover", aggfunc="sum", sort=False) / 2.0
    c["cost"] = c["fees"].fillna(0.0) + c["borrow"].fillna(0.0)
    daily = c.pivot_table(index="date", columns="strategy", values="cost", aggfunc="sum", sort=False).fillna(0.0)
    cum = daily.cumsum()
    cum = cum.loc[cum.index.isin(F.sample_dates(pd.DatetimeIndex(cum.index)))]
    n_days = c.groupby("strategy")["date"].nunique()
    years = n_days / F.TRADING_DAYS
    summ = pd.DataFrame({
        "turnover/yr": c.groupby("strategy")["turnover"].sum() / 2.0 / years,
        "fees bps/yr": c.groupby("strategy")["fees"].sum() / years * 1e4,
        "borrow bps/yr": c.groupby("strategy")["borrow"].sum() / years * 1e4,
        "total cost bps/yr": c.groupby("strategy")["cost"].sum() / years * 1e4,
        "cumulative cost": c.groupby("strategy")["cost"].sum(),
    })
    order = [s for s in data.strategies if s in summ.index]
    return (yearly.reindex(columns=[s for s in order if s in yearly.columns]),
            cum.reindex(columns=[s for s in order if s in cum.columns]), summ.reindex(order))


def _costs_table_html(summ: pd.DataFrame, colors: dict[str, str]) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in summ.columns)
    rows = []
    for s, row in summ.iterrows():
        cells = "".join(
            f"<td>{fmt(row[c], PCT) if c == 'cumulative cost' else f'{row[c]:.2f}' if c == 'turnover/yr' else f'{row[c]:.1f}'}</td>"
            for c in summ.columns)
        rows.append(f'<tr><th scope="row" class="name">{_color_dot(colors.get(s))}{esc(s)}</th>{cells}</tr>')
    return (f'<div class="scroll"><table class="data" id="costs-table"><thead><tr><th>strategy</th>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


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
            rows.append(f'<tr><th scope="row" class="name">{_color_dot(colors.get(strat))}{esc(strat)}</th>'
                        f'{"".join(cells)}</tr>')
        out.append(f'<h3>{esc(st)} <span class="muted">median (p5 – p95)</span></h3><div class="scroll">'
                   f'<table class="data scorecard"><thead><tr><th>strategy</th>{head}</tr></thead>'
                   f'<tbody>{"".join(rows)}</tbody></table></div>')
    return "".join(out)


def add_sections(page: Page, data: RunData, baseline: str | None = None) -> None:
    """Add every section the data supports, in reading order."""
    colors = F.color_map(data.strategies)
    bands = F.regime_bands(data.regimes.reindex(data.returns.index) if data.regimes is not None else None)
    metrics = data.metrics.reindex([s for s in data.strategies if s in data.metrics.index])
    page.add("metrics", "Metrics", metrics_table_html(metrics, colors, baseline=baseline)
             + '<p class="muted">Best value per column highlighted. Sharpe and Sortino are of returns in excess '
               'of cash; turnover is one-way per year; CVaR 5% is the mean of the worst 5% of days.</p>')
    if baseline is not None:
        page.add("deltas", f"Differences vs {baseline}", delta_table_html(metrics, baseline, colors)
                 + '<p class="muted">Green: better than the baseline; red: worse (pp = percentage points).</p>')
    legend = regime_legend(bands, bool(data.stress))
    page.add("equity", "Equity curves",
             legend + page.figure(F.equity_figure(data.returns, colors, bands, data.stress)))
    page.add("drawdown", "Drawdowns", page.figure(F.drawdown_figure(data.returns, colors, bands)))
    if len(data.returns) > F.TRADING_DAYS + 5:
        page.add("rolling", "Rolling 12-month return, volatility and Sharpe",
                 page.figure(F.rolling_figure(data.returns, data.rf, colors, bands)))

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

    _section(page, "regimes", "Per-regime performance", regimes_body)

    def events_body() -> str | None:
        ev = data.extras.get("event_study")
        if ev is None or ev.empty:
            return None
        missing = {"strategy", "regime", "day", "cum_excess"} - set(ev.columns)
        if missing:
            raise ValueError(f"event_study.csv lacks {sorted(missing)}")
        n = ev.groupby("regime")["regime_id"].nunique() if "regime_id" in ev else pd.Series(dtype=int)
        n = n.reindex(sorted(n.index, key=F._regime_order))
        counts = ", ".join(f"{esc(k)}: {int(v)}" for k, v in n.items())
        first = int(pd.to_numeric(ev["day"]).min())
        return (page.figure(F.event_study_figure(ev, colors))
                + f'<p class="muted">Mean over regime starts of the cumulative return in excess of cash, '
                  f'compounded from trading day {first} (day 0 = first day of the new regime). '
                  f'Starts per kind — {counts}.</p>')

    _section(page, "events", "Event study around regime starts", events_body)

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

    _section(page, "weights", "Weights over time", weights_body)

    def costs_body() -> str | None:
        if data.costs is None or data.costs.empty:
            return None
        yearly, cum, summ = costs_summary(data)
        return (_costs_table_html(summ, colors)
                + '<div class="grid2"><div><h3>Turnover per year</h3>'
                + page.figure(F.turnover_figure(yearly, colors)) + '</div><div><h3>Cumulative cost drag</h3>'
                + page.figure(F.cost_drag_figure(cum, colors)) + "</div></div>")

    _section(page, "costs", "Turnover and cost drag", costs_body)

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

    _section(page, "fallbacks", "Optimizer fallbacks", fallbacks_body)

    def monthly_body() -> str:
        heat = "<h3>Monthly returns</h3>" + page.figure(F.monthly_heatmap_figure(data.returns))
        years = "<h3>Calendar-year returns</h3>" + yearly_table_html(data.returns, colors)
        if len(data.strategies) <= 4:
            return f'<div class="grid2 wide-left"><div>{heat}</div><div>{years}</div></div>'
        return heat + years

    _section(page, "monthly", "Monthly and yearly returns", monthly_body)

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

    _section(page, "scenarios", "Scenario runs", scenarios_body)


# --------------------------------------------------------------------------- header


def clean_run_id(prov: dict, folder: Path) -> str:
    """The run id, without the temporary-folder wrapping of an atomic write."""
    rid = str(prov.get("run_id") or folder.name)
    m = re.fullmatch(r"\.tmp-(.+)-[0-9a-f]{8}", rid)
    return m.group(1) if m else rid


def settings_items(prov: dict) -> list[tuple[str, str]]:
    """Key settings of a run as (label, text) pairs."""
    s = prov.get("settings", {}) or {}

    def num(k: str) -> str:
        v = s.get(k)
        return "?" if v is None else f"{float(v):g}"

    reb = str(s.get("rebalance", "?"))
    if s.get("drift_band"):
        reb += f" (drift band {float(s['drift_band']):.0%})"
    return [
        ("costs", f"fee {num('fee_bps')} bps + slippage {num('slippage_bps')} bps per trade; "
                  f"borrow {num('borrow_bps')} bps/yr"),
        ("rebalance", reb),
        ("lag", f"{s.get('lag_days', '?')} day(s) decision → fill"),
        ("cash", str(s.get("cash_rate", "?"))),
        ("regimes", f"{s.get('regime_model', '?')} (by {s.get('regime_by', '?')})"),
    ]


def source_html(prov: dict) -> str:
    """The data source, clearly marked when synthetic."""
    d = prov.get("data", {}) or {}
    src = esc(d.get("source", "?"))
    if d.get("synthetic"):
        return f'<span class="badge synth" title="Synthetic data: not real market history">SYNTHETIC</span> {src}'
    return src


def period_text(prov: dict, days: pd.DatetimeIndex) -> str:
    """``first → last (N trading days, Y years)``."""
    d = prov.get("data", {}) or {}
    first = d.get("first_date") or (str(days[0].date()) if len(days) else "?")
    last = d.get("last_date") or (str(days[-1].date()) if len(days) else "?")
    return f"{first} → {last} ({len(days):,} trading days, {len(days) / F.TRADING_DAYS:.1f} years)"


def run_header_html(data: RunData) -> str:
    """Header of a single-run tearsheet."""
    p = data.prov
    days = pd.DatetimeIndex(data.returns.index)
    facts = [("data", source_html(p)), ("period", esc(period_text(p, days))),
             ("config hash", f"<code>{esc(p.get('config_hash', '?'))}</code>"),
             ("run id", f"<code>{esc(clean_run_id(p, data.folder))}</code>")]
    facts += [(k, esc(v)) for k, v in settings_items(p)]
    facts.append(("seed / commit", f"{esc(p.get('seed', '?'))} / <code>{esc(p.get('git_commit', '?'))}</code>"))
    kinds = p.get("strategies") or {}
    wide = [("strategies", ", ".join(f"{esc(n)} <span class=muted>({esc(kinds.get(n, '?'))})</span>"
                                     for n in data.strategies))]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    dl += "".join(f'<dt>{esc(k)}</dt><dd class="wide">{v}</dd>' for k, v in wide)
    notes = p.get("notes") or []
    note_html = ("<details class=notes><summary>" + f"{len(notes)} run note(s)</summary><ul>"
                 + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul></details>") if notes else ""
    synth = ('<div class="banner">Synthetic data: these results come from a generated sample market '
             "and say nothing about real markets.</div>") if (p.get("data") or {}).get("synthetic") else ""
    return (f'{synth}<h1>{esc(p.get("name", "run"))} <span class="sub">tearsheet</span></h1>'
            f'<dl class="facts">{dl}</dl>{note_html}')


def footer_html(extra: str = "") -> str:
    """Page footer: generator and time."""
    try:
        ver = metadata.version("rmpbt")
    except metadata.PackageNotFoundError:
        ver = "?"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Generated by rmpbt {esc(ver)} on {now}. {extra}Self-contained page: works offline."


def build_tearsheet(data: RunData) -> str:
    """The HTML of a single-run tearsheet."""
    page = Page(title=f"{data.prov.get('name', 'run')} — rmpbt tearsheet")
    page.notes.extend(data.notes)
    add_sections(page, data, baseline=None)
    return page.render(run_header_html(data), footer_html())


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def render_tearsheet(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write ``tearsheet.html`` for a run folder and return its path."""
    folder = Path(folder)
    target = Path(out) if out is not None else folder / "tearsheet.html"
    write_text_atomic(target, build_tearsheet(load_run(folder)))
    return target


def render_run(folder: str | Path, html: bool = True, png: bool = True) -> None:
    """Render the report files of a run folder: ``tearsheet.html``, ``equity.png``, ``drawdown.png``.

    Parameters
    ----------
    folder : str or Path
        The run folder (the pipeline passes its temporary folder before the rename).
    html : bool
        Write ``tearsheet.html``.
    png : bool
        Write ``equity.png`` and ``drawdown.png``.
    """
    folder = Path(folder)
    data = load_run(folder)
    if html:
        write_text_atomic(folder / "tearsheet.html", build_tearsheet(data))
    if png:
        from backtest.report.png import write_pngs

        write_pngs(data, folder)
