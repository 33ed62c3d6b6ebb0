"""``now.html``: the one-page, self-contained memo of ``rmpbt now`` (no scripts, no network).

Built from the ``now.json`` record (:meth:`backtest.now.NowReport.to_json`); tables scroll
horizontally on narrow screens.
"""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1100px;
padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #ddd}
.warn{background:#fff4e5;border-left:4px solid #e8590c;padding:.4rem .7rem;margin:.3rem 0}
.banner{background:#ffe3e3;border-left:4px solid #c92a2a;padding:.4rem .7rem;margin:.3rem 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.3rem 0}th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;
text-align:right;white-space:nowrap}th{background:#f6f8fa}td.txt,th.txt{text-align:left}
.muted{color:#666}.neg{color:#c92a2a}.pos{color:#2b8a3e}
"""


def _pct(x: float | None, sign: bool = True) -> str:
    if x is None:
        return "–"
    cls = "neg" if x < 0 else "pos"
    return f'<span class="{cls}">{x:+.1%}</span>' if sign else f"{x:.1%}"


def _table(head: list[str], rows: list[list[str]], txt_cols: int = 1) -> str:
    th = "".join(f'<th class="{"txt" if i < txt_cols else ""}">{escape(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"txt" if i < txt_cols else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _weights(w: dict[str, float]) -> str:
    return escape(", ".join(f"{a} {v:.1%}" for a, v in w.items())) or "–"


def render_now_html(rec: dict[str, Any]) -> str:
    """The HTML page of a ``now.json`` record.

    Parameters
    ----------
    rec : dict
        Output of :meth:`backtest.now.NowReport.to_json`.

    Returns
    -------
    str
        A complete HTML document (inline CSS, no JavaScript).
    """
    parts = [f"<h1>rmpbt now: {escape(rec['name'])}</h1>",
             f'<p class="muted">as of <b>{escape(rec["as_of"])}</b> (today {escape(rec["today"])}); '
             f"data: {escape(rec['source'])}</p>"]
    if rec.get("synthetic"):
        parts.append('<div class="banner">Synthetic data: a generated sample market, not real prices.</div>')
    parts += [f'<div class="warn">{escape(w)}</div>' for w in rec.get("warnings", [])]

    parts.append("<h2>Regime today</h2>")
    rows = []
    for model, r in rec["regimes"].items():
        if r.get("label") is None:
            rows.append([escape(model), "–", "–", escape(str(r.get("error", "")))])
            continue
        detail = ""
        if "probabilities" in r:
            detail = ", ".join(f"P({k}) {v:.0%}" for k, v in r["probabilities"].items() if v is not None)
        if "signals" in r:
            detail = ", ".join(f"{k} {v:.3g}" for k, v in r["signals"].items() if v is not None)
        name = model + (" (config)" if r.get("configured") else "")
        rows.append([escape(name), escape(r["label"]), escape(r["since"]), escape(detail)])
    parts.append(_table(["model", "regime", "since", "drivers"], rows, txt_cols=4))

    parts.append("<h2>Strategies</h2>")
    b = rec.get("benchmark", {})
    rows = []
    for name, s in rec["strategies"].items():
        rows.append([escape(name), _weights(s["target"]), _weights(s["drifted"]), escape(str(s["decided_on"])),
                     escape(s["next_decision"]), _pct(s["return_since_regime_start"]),
                     _pct(s["return_since_rmp_start"])])
    rows.append([escape(f"benchmark: {b.get('name', '60/40')}"), "", "", "", "",
                 _pct(b.get("return_since_regime_start")), _pct(b.get("return_since_rmp_start"))])
    parts.append(_table(["strategy", "target", "drifted today", "decided on", "next decision",
                         "since regime start", "since RMP (2025-12-12)"], rows, txt_cols=3))

    if rec.get("trades"):
        parts.append(f"<h2>Trades for capital {rec['capital']:,.0f}</h2>")
        for name, trades in rec["trades"].items():
            c = rec["trade_costs"].get(name, {})
            parts.append(f"<h3>{escape(name)}</h3>")
            rows = [[escape(t["asset"]), "BUY" if t["shares"] > 0 else "SELL", f"{abs(t['shares']):,}",
                     f"{t['price']:,.2f}", f"{t['notional']:+,.0f}"] for t in trades]
            parts.append(_table(["asset", "side", "shares", "price", "notional"], rows, txt_cols=2) if rows
                         else '<p class="muted">no trade needed</p>')
            parts.append(f'<p class="muted">estimated cost {c.get("fees_and_slippage", 0):,.2f} '
                         f'(fees + slippage); borrow {c.get("borrow_per_year", 0):,.2f} a year</p>')

    parts.append("<h2>Series end dates</h2>")
    stale = {s["series"] for s in rec.get("stale", [])}
    rows = [[escape(k), escape(v) + (' <span class="neg">stale</span>' if k in stale else "")]
            for k, v in rec["series_end"].items()]
    parts.append(_table(["series", "last date"], rows, txt_cols=2))
    if rec.get("notes"):
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in rec["notes"]) + "</ul>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rmpbt now: '
            f'{escape(rec["name"])}</title><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")
