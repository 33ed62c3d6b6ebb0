"""``now.html``: the one-page, self-contained memo of ``rmpbt now`` (no scripts, no network).

Built from the ``now.json`` record (:meth:`backtest.now.NowReport.to_json`). Every table
fits a 1,400 px window without horizontal scrolling: numbers stay on one line, words wrap,
and the long items (weights, reasons) are rows of per-strategy tables rather than columns.
On narrower screens a table scrolls inside its own box.
"""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1320px;
padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #ddd}
h3{font-size:1.02rem;margin:1.2rem 0 .3rem}
.warn{background:#fff4e5;border-left:4px solid #e8590c;padding:.4rem .7rem;margin:.3rem 0}
.banner{background:#ffe3e3;border-left:4px solid #c92a2a;padding:.4rem .7rem;margin:.3rem 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.3rem 0}th,td{padding:.22rem .55rem;border-bottom:1px solid #eee;
text-align:right;white-space:nowrap;vertical-align:top}th{background:#f6f8fa}
td.txt,th.txt{text-align:left}td.wrap{white-space:normal;text-align:left;min-width:14rem}
ul.why{margin:.2rem 0 .4rem;padding-left:1.2rem}ul.why li{margin:.1rem 0}
.muted{color:#666}.neg{color:#c92a2a}.pos{color:#2b8a3e}.on{color:#1f2328}.off{color:#666}
"""


def _pct(x: float | None, sign: bool = True, digits: int = 1) -> str:
    if x is None:
        return "–"
    if not sign:
        return f"{x:.{digits}%}"
    cls = "neg" if x < 0 else "pos"
    return f'<span class="{cls}">{x:+.{digits}%}</span>'


def _table(head: list[str], rows: list[list[str]], txt_cols: int = 1, wrap_cols: tuple[int, ...] = ()) -> str:
    """A table; the first ``txt_cols`` columns left-aligned, ``wrap_cols`` wrap (cells are HTML)."""
    def cls(i: int) -> str:
        return "wrap" if i in wrap_cols else ("txt" if i < txt_cols else "")

    th = "".join(f'<th class="{"txt" if i < txt_cols or i in wrap_cols else ""}">{escape(h)}</th>'
                 for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="{cls(i)}">{c}</td>' for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


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
             f'<p class="muted">as of <b>{escape(rec["as_of"])}</b>, the data\'s last day (today is '
             f"{escape(rec['today'])}); data: {escape(rec['source'])}</p>"]
    if rec.get("synthetic"):
        parts.append('<div class="banner">Synthetic data: a generated sample market, not real prices.</div>')
    parts += [f'<div class="warn">{escape(w)}</div>' for w in rec.get("warnings", [])]
    parts += _regimes(rec)
    parts += _summary(rec)
    for name in rec["strategies"]:
        parts += _strategy(rec, name)
    parts += _series(rec)
    if rec.get("notes"):
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in rec["notes"]) + "</ul>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rmpbt now: '
            f'{escape(rec["name"])}</title><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def _regimes(rec: dict[str, Any]) -> list[str]:
    rows = []
    for model, r in rec["regimes"].items():
        name = escape(model + (" (config)" if r.get("configured") else ""))
        if r.get("label") is None:
            rows.append([name, "–", "–", escape(str(r.get("error", "")))])
            continue
        reads = escape(r.get("reads", ""))
        if r.get("probabilities"):
            reads += "; " + escape(", ".join(f"P({k}) {v:.0%}" for k, v in r["probabilities"].items() if v is not None))
        rows.append([name, escape(r["label"]), escape(r["since"]), reads])
    out = ["<h2>Regime</h2>", _table(["model", "regime", "since", "what it reads"], rows, txt_cols=3, wrap_cols=(3,))]
    if rec.get("regime_disagreement"):
        out.append(f"<p><b>The models disagree:</b> {escape(rec['regime_disagreement'])}</p>")
    return out


def _summary(rec: dict[str, Any]) -> list[str]:
    both = rec.get("regime_start") != rec["rmp_start"]
    r = rec["rates"]
    cash = "cash earns nothing" if r["cash_rate_pct"] is None else (
        f"cash rate {r['cash_rate_pct']:.2f}% ({r.get('cash_rate_series')})")
    out = ["<h2>Strategies</h2>",
           f'<p class="muted">Returns since RMP began {escape(rec["rmp_start"])}'
           + ("" if not both else f" and since the regime began {escape(str(rec.get('regime_start')))}")
           + (" (= since the regime began)" if not both else "")
           + f": {escape(rec['returns_convention'])}. Costs a year at the {escape(rec['as_of'])} rates, fractions"
           f" of NAV: {escape(cash)}; borrowed cash pays it +{r['borrow_spread_bps']:g} bp; shorts pay their"
           f" borrow fee +{r['short_rebate_haircut_bps']:g} bp; fees = last year's rebalancing"
           f" ({r['fee_bps']:g} bp fee + {r['slippage_bps']:g} bp slippage a trade).</p>"]
    if rec.get("book"):
        b = rec["book"]
        out.append(f"<p>Book: NAV <b>{b['nav']:,.0f}</b> at the {escape(rec['as_of'])} closes "
                   f"({escape(b['source'])}; cash {b['cash']:,.0f}; gross {b['exposure']['gross']:.0%}, "
                   f"net {b['exposure']['net']:.0%}).</p>")
    head = ["strategy", "since RMP"] + (["since regime"] if both else []) + [
        "gross", "net", "cash", "financing /yr", "borrow /yr", "fees /yr", "decided", "next", "trades today"]
    rows = []
    for name, s in rec["strategies"].items():
        ex, c = s["exposure"], s["cost_per_year"]
        tr = rec.get("trades", {}).get(name)
        trades = "–" if tr is None else f"{len(tr)} ({rec['trade_costs'][name]['fraction_of_nav']:.2%})"
        row = [f'<a href="#s-{escape(name)}">{escape(name)}</a>', _pct(s["return_since_rmp_start"])]
        if both:
            row.append(_pct(s["return_since_regime_start"]))
        row += [f"{ex['gross']:.0%}", f"{ex['net']:.0%}", f"{ex['cash'] - ex['borrowed']:.0%}",
                _pct(c["financing"], False, 2), _pct(c["borrow"], False, 2), _pct(c["fees"], False, 2),
                escape(str(s["decided_on"])), escape(s["next_decision"] or "never"), trades]
        rows.append(row)
    b = rec["benchmark"]
    rows.append([escape(f"benchmark: {b.get('name', '60/40')}"), _pct(b.get("return_since_rmp_start"))]
                + ([_pct(b.get("return_since_regime_start"))] if both else []) + [""] * 9)
    out.append(_table(head, rows))
    out.append('<p class="muted">cash: negative = borrowed cash; trades today: count (one-off cost as a '
               "fraction of NAV).</p>")
    return out


def _strategy(rec: dict[str, Any], name: str) -> list[str]:
    s = rec["strategies"][name]
    why = s["why"]
    ex, c = s["exposure"], s["cost_per_year"]
    out = [f'<h3 id="s-{escape(name)}">{escape(name)} <span class="muted">({escape(s["kind"])}; decided '
           f"{escape(str(s['decided_on']))}, next {escape(s['next_decision'] or 'never')})</span></h3>"]
    items = []
    for t in why.get("tilts") or []:
        items.append(f'<span class="{"on" if t["on"] else "off"}">{escape(t["line"])}</span>')
    if not why.get("tilts"):
        items.append(escape(why.get("does", "")))
    opt = why.get("optimizer")
    if opt:
        te = "n/a" if opt.get("tracking_error") is None else f"{opt['tracking_error']:.1%}"
        text = (f"optimizer {opt['objective']} around the rule weights: gross {opt['gross']:.0%}, ex-ante "
                f"tracking error {te}")
        if opt.get("binding"):
            text += "; binding: " + "; ".join(opt["binding"])
        if opt.get("moves"):
            text += "; largest moves: " + ", ".join(
                f"{m['asset']} {m['rule']:.1%}→{m['target']:.1%}"
                + ("" if m.get("expected_excess_return") is None else f" (μ {m['expected_excess_return']:+.1%})")
                for m in opt["moves"])
        items.append(escape(text))
    for key in ("capped", "fallback"):
        if why.get(key):
            items.append(escape(why[key]))
    reb = s["last_rebalance"]
    if reb.get("decided_on"):
        ch = ", ".join(f"{x['asset']} {x['from']:.1%}→{x['to']:.1%}" for x in reb["changes"]) or "targets unchanged"
        text = f"last decision {reb['decided_on']}" + (f" vs {reb['previous']}: {ch}" if reb.get("previous") else
                                                      ": the first")
        if reb.get("filled_on"):
            text += f"; filled {reb['filled_on']}, traded {reb['turnover']:.1%} of NAV"
        items.append(escape(text))
    cash = f"cash {ex['cash']:.0%}" if ex["borrowed"] <= 0 else f"borrowed cash {ex['borrowed']:.0%} of NAV"
    items.append(escape(f"exposure: gross {ex['gross']:.0%}, net {ex['net']:.0%}, {cash}; cost a year: financing "
                        f"{c['financing']:.2%}, borrow {c['borrow']:.2%}, fees "
                        + ("n/a" if c["fees"] is None else f"{c['fees']:.2%}")))
    out.append('<ul class="why">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
    trades = {t["asset"]: t for t in rec.get("trades", {}).get(name, [])}
    assets = [a for a in dict.fromkeys([*s["target"], *s["drifted"], *trades]) if a != "CASH"]
    rows = []
    for a in assets:
        t = trades.get(a)
        row = [escape(a), _pct(s["target"].get(a, 0.0), False), _pct(s["drifted"].get(a, 0.0), False)]
        if name in rec.get("trades", {}):
            row += (["BUY" if t["shares"] > 0 else "SELL", f"{abs(t['shares']):,}", f"{t['price']:,.2f}",
                     f"{t['notional']:+,.0f}"] if t else ["", "", "", ""])
        rows.append(row)
    cash_row = ["CASH", _pct(1.0 - sum(s["target"].values()), False), _pct(s["drifted"].get("CASH", 0.0), False)]
    rows.append(cash_row + ([""] * 4 if name in rec.get("trades", {}) else []))
    head = ["asset", "target", "drifted"] + (["trade", "shares", "price", "notional"] if name in rec.get("trades", {})
                                             else [])
    out.append(_table(head, rows))
    if name in rec.get("trade_costs", {}):
        tc = rec["trade_costs"][name]
        out.append(f'<p class="muted">today\'s trades: {tc["traded_notional"]:,.0f} traded, estimated cost '
                   f'{tc["fees_and_slippage"]:,.2f} ({tc["fraction_of_nav"]:.3%} of NAV; fees + slippage, one-off)</p>')
    return out


def _series(rec: dict[str, Any]) -> list[str]:
    stale = {s["series"] for s in rec.get("stale", [])}
    by_date: dict[str, list[str]] = {}
    for k, v in rec["series_end"].items():
        by_date.setdefault(v, []).append(k)
    rows = [[escape(d), ", ".join(escape(n) + (' <span class="neg">stale</span>' if n in stale else "")
                                  for n in names)]
            for d, names in sorted(by_date.items(), reverse=True)]
    return ["<h2>Series end dates</h2>", _table(["last date", "series"], rows, txt_cols=1, wrap_cols=(1,))]
