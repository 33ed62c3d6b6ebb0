"""HTML building blocks of the report pages: formatting, tables, the page, the header facts.

:class:`Page` accumulates sections and figures and renders the self-contained document
(plotly.js embedded once, figures as JSON with shared date axes) from ``template.html``.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
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
# the benchmark-relative columns of metrics.csv (the tearsheet's "Relative to the benchmark" section)
RELATIVE_SPEC: tuple[tuple[str, str, str, int], ...] = (
    ("active_return", "Active return", PCT, 1),
    ("tracking_error", "Tracking error", PCT, 0),
    ("information_ratio", "Information ratio", RATIO, 1),
    ("beta", "Beta", RATIO, 0),
    ("up_capture", "Up capture", RATIO, 0),
    ("down_capture", "Down capture", RATIO, 0),
    ("active_max_drawdown", "Active max DD", PCT, 1),
)
# cost drags (the costs section): fractions of NAV a year
DRAG_SPEC: tuple[tuple[str, str, str, int], ...] = (
    ("fee_drag", "Fees + slippage", PCT, -1),
    ("borrow_drag", "Borrow", PCT, -1),
    ("financing_drag", "Financing", PCT, -1),
)
#: the only columns whose best value is highlighted: risk-adjusted figures (Calmar ranked in
#: excess of cash by the caller, so a cash-like strategy is never crowned by it)
RISK_ADJUSTED = ("sharpe", "sortino", "calmar", "information_ratio")
METRIC_FORMAT = {c: f for c, _, f, _ in (*METRIC_SPEC, *RELATIVE_SPEC, *DRAG_SPEC)}
METRIC_DIRECTION = {c: d for c, _, _, d in (*METRIC_SPEC, *RELATIVE_SPEC, *DRAG_SPEC)}
# scenario statistics not in METRIC_SPEC: a lower probability of loss is better
SCENARIO_DIRECTION = {**METRIC_DIRECTION, "horizon_return": 1, "prob_loss": -1, "daily_cvar_5": 1}
PCT_WORDS = ("return", "cagr", "drawdown", "vol", "cvar", "dd", "loss", "gain", "hit", "day")
MAX_TABLE_ROWS = 400


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


def color_dot(color: str | None) -> str:
    """A coloured dot (strategy legend marker) as HTML; empty without a colour."""
    return f'<span class="dot" style="background:{esc(color or "#999")}"></span>' if color else ""


def metrics_table_html(metrics: pd.DataFrame, colors: dict[str, str], table_id: str = "metrics-table",
                       baseline: str | None = None, rank: dict[str, pd.Series] | None = None,
                       spec: tuple[tuple[str, str, str, int], ...] = METRIC_SPEC,
                       tags: dict[str, str] | None = None) -> str:
    """Metrics table, one row per strategy; the best risk-adjusted figure of each column highlighted.

    Parameters
    ----------
    metrics : pd.DataFrame
        One row per strategy.
    colors : dict
        Colour per strategy.
    table_id : str
        The table's ``id``.
    baseline : str, optional
        A strategy tagged "baseline".
    rank : dict of pd.Series, optional
        Values to rank a column on instead of the shown ones (Calmar in excess of cash).
    spec : tuple
        ``(column, header, format, direction)`` of the columns shown (default
        :data:`METRIC_SPEC`); columns of ``metrics`` outside every known spec are appended.
        Only :data:`RISK_ADJUSTED` columns are highlighted.
    tags : dict, optional
        HTML added after a strategy's name (e.g. "benchmark").
    """
    known = {c for c, *_ in (*METRIC_SPEC, *RELATIVE_SPEC, *DRAG_SPEC)}
    cols = [c for c, *_ in spec if c in metrics.columns]
    extra = [c for c in metrics.columns if c not in cols and c not in known]
    head = "".join(f'<th data-col="{esc(c)}" title="{esc(c)}">{esc(lbl)}</th>'
                   for c, lbl, *_ in spec if c in cols)
    head += "".join(f'<th data-col="{esc(c)}">{esc(c)}</th>' for c in extra)
    rank = rank or {}
    best = {c: best_index(rank.get(c, metrics[c]), METRIC_DIRECTION.get(c, 0)) for c in cols if c in RISK_ADJUSTED}
    rows = []
    for name, row in metrics.iterrows():
        tag = ' <span class="tag">baseline</span>' if baseline is not None and name == baseline else ""
        tag += (tags or {}).get(name, "")
        cells = [f'<th scope="row" class="name">{color_dot(colors.get(name))}{esc(name)}{tag}</th>']
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
        cells = [f'<th scope="row" class="name">{color_dot(colors.get(name))}{esc(name)}</th>']
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


def add_section(page: Page, sid: str, title: str, build: Callable[[], str | None]) -> None:
    """Add a section built by ``build``; failures of optional inputs become page notes.

    ``build`` returns the section body, or ``None`` / ``""`` to skip the section.
    """
    try:
        body = build()
    except Exception as exc:  # noqa: BLE001 - one bad optional input must not sink the report
        page.notes.append(f"section '{title}' skipped: {type(exc).__name__}: {exc}")
        return
    if body:
        page.add(sid, title, body)


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
    return f"{first} → {last} ({len(days):,} trading days, {len(days) / TRADING_DAYS:.1f} years)"


def footer_html(extra: str = "") -> str:
    """Page footer: generator and time."""
    try:
        ver = metadata.version("rmpbt")
    except metadata.PackageNotFoundError:
        ver = "?"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Generated by rmpbt {esc(ver)} on {now}. {extra}Self-contained page: works offline."
