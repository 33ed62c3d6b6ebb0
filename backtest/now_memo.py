"""The terminal memo of ``rmpbt now``: a compact summary, then one screen per strategy.

Built from the ``now.json`` record (:meth:`backtest.now.NowReport.to_json`), plain text:

- a header: as of the data's last day (and how old that is today), stale series, the
  regime under each model with one line when they disagree, the returns convention, today's
  rates and the book;
- one summary line per strategy (returns, gross / net exposure, cash or borrowed cash, cost
  a year, today's trades, tilts on and off);
- per strategy a block that fits one screen: exposure and costs a year, why (tilts with
  their signal values and thresholds, the optimizer's binding limits and largest moves),
  what the last decision changed, and target / drifted weights with today's trades.

``verbose`` adds the full condition trees, the optimizer's expected returns, the last
rebalance's fills, what each regime model reads and every series' last date.
"""

from __future__ import annotations

from typing import Any

from backtest.constants import CASH

RULE = "-" * 100


def _pct(x: float | None, sign: bool = True, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    return f"{x:+.{digits}%}" if sign else f"{x:.{digits}%}"


def memo_lines(rec: dict[str, Any], verbose: bool = False) -> list[str]:
    """The memo printed by ``rmpbt now`` (plain text, one item per line).

    Parameters
    ----------
    rec : dict
        A ``now.json`` record.
    verbose : bool
        Add the details (``--verbose``; ``memo.txt`` is always verbose).

    Returns
    -------
    list of str
    """
    lines = header_lines(rec, verbose)
    lines += summary_lines(rec)
    for name in rec["strategies"]:
        lines.append("")
        lines += strategy_lines(rec, name, verbose)
    if verbose:
        lines.append("")
        by_date: dict[str, list[str]] = {}
        for name, d in rec["series_end"].items():
            by_date.setdefault(d, []).append(name)
        lines.append("series end: " + "; ".join(f"{d}: {', '.join(n)}" for d, n in sorted(by_date.items(), reverse=True)))
    lines += [f"note: {n}" for n in rec.get("notes", [])]
    return lines


# ---------------------------------------------------------------------------- header


def header_lines(rec: dict[str, Any], verbose: bool = False) -> list[str]:
    """As-of, data, warnings, regimes, returns convention, rates and book."""
    data = "SYNTHETIC sample market" if rec["synthetic"] else rec["source"]
    lines = [f"{rec['name']}: as of {rec['as_of']}, the data's last day (today is {rec['today']}); data: {data}"]
    lines += [f"WARNING: {w}" for w in rec["warnings"]]
    parts = []
    for model, r in rec["regimes"].items():
        if r.get("label") is None:
            parts.append(f"{model} unavailable")
            continue
        mark = "*" if r.get("configured") else ""
        extra = ""
        if r.get("probabilities"):
            p = r["probabilities"].get(r["label"])
            extra = f" (P {p:.0%})" if p is not None else ""
        parts.append(f"{model}{mark} {r['label']} since {r['since']}{extra}")
    lines.append("regime: " + " | ".join(parts) + "   (* the config's model)")
    if rec.get("regime_disagreement"):
        lines.append(f"  models disagree: {rec['regime_disagreement']}")
    if verbose:
        for model, r in rec["regimes"].items():
            if r.get("label") is None:
                lines.append(f"  {model}: unavailable: {r.get('error')}")
                continue
            lines.append(f"  {model} reads {r.get('reads', '')}")
            if r.get("signals"):
                lines.append("    signals: " + ", ".join(f"{k} {v:.3g}" for k, v in r["signals"].items() if v is not None))
            if r.get("probabilities"):
                lines.append("    probabilities: " + ", ".join(f"{k} {v:.0%}" for k, v in r["probabilities"].items()
                                                             if v is not None))
    lines.append(returns_line(rec))
    lines.append(rates_line(rec))
    if rec.get("book"):
        lines.append(book_line(rec))
    return lines


def returns_line(rec: dict[str, Any]) -> str:
    """Which returns the memo shows and on which convention."""
    model = next((m for m, r in rec["regimes"].items() if r.get("configured")), "configured")
    label = rec["regimes"].get(model, {}).get("label", "")
    if rec.get("regime_start") == rec["rmp_start"]:
        what = f"since RMP began {rec['rmp_start']} (= since the {model} regime {label} began)"
    else:
        what = f"since the {model} regime {label} began {rec.get('regime_start')} and since RMP began {rec['rmp_start']}"
    return f"returns {what}: {rec['returns_convention']}"


def rates_line(rec: dict[str, Any]) -> str:
    """Today's rates of the cost model."""
    r = rec["rates"]
    cash = "cash earns nothing" if r["cash_rate_pct"] is None else f"cash rate {r['cash_rate_pct']:.2f}% ({r.get('cash_rate_series')}, cash.rate {r['cash_rate_setting']})"
    return (f"costs a year at the {rec['as_of']} rates: {cash}; borrowed cash pays it "
            f"+{r['borrow_spread_bps']:g} bp; shorts pay their borrow fee +{r['short_rebate_haircut_bps']:g} bp; "
            f"trades {r['fee_bps']:g} bp fee + {r['slippage_bps']:g} bp slippage")


def book_line(rec: dict[str, Any]) -> str:
    """The book and its NAV."""
    b = rec["book"]
    if b["source"] == "capital":
        return f"book: all cash, capital {b['nav']:,.0f}"
    invested = sum(p["value"] for p in b["positions"])
    cash = f"cash {b['cash']:,.0f}" if b["cash"] >= 0 else f"borrowed cash {-b['cash']:,.0f}"
    src = "holdings, checked against --capital" if b["source"] == "capital+holdings" else "holdings"
    return (f"book ({src}, {b['origin']}): NAV {b['nav']:,.0f} at the {rec['as_of']} closes = "
            f"{len(b['positions'])} positions {invested:,.0f} + {cash}; gross {b['exposure']['gross']:.0%}, "
            f"net {b['exposure']['net']:.0%}")


# ---------------------------------------------------------------------------- summary


def cost_total(c: dict[str, float | None]) -> float:
    """Financing + borrow + fees a year (unknown fees count as 0)."""
    return sum(v for v in (c.get("financing"), c.get("borrow"), c.get("fees")) if v is not None)


def tilts_short(why: dict[str, Any]) -> str:
    """``on: a, b; off: c`` for rule-based strategies (a tilt's helpers ``a_*`` under ``a``), else the kind's line."""
    tilts = why.get("tilts")
    if not tilts:
        return why.get("does", "")
    names: dict[bool, list[str]] = {True: [], False: []}
    for t in tilts:
        group = names[bool(t["on"])]
        if not any(t["name"].startswith(f"{g}_") for g in group):
            group.append(t["name"])
    text = "; ".join(f"{word}: {', '.join(names[state])}" for word, state in (("on", True), ("off", False))
                     if names[state])
    return text + ("; + optimizer" if why.get("optimizer") else "")


def summary_lines(rec: dict[str, Any]) -> list[str]:
    """One line per strategy, and the benchmark."""
    both = rec.get("regime_start") != rec["rmp_start"]
    b = rec["benchmark"]
    bench = f"benchmark {b['name']}"
    w = max(len(bench), *(len(n) for n in rec["strategies"]), 8)
    head = f"{'strategy':<{w}} {'since RMP':>9}" + (f" {'since regime':>12}" if both else "")
    head += f" {'gross':>6} {'net':>6} {'cash':>6} {'cost/yr':>7} {'trades':>13}  tilts at the last decision"
    lines = ["", head]
    for name, s in rec["strategies"].items():
        ex = s["exposure"]
        cash = ex["cash"] - ex["borrowed"]
        tr = rec.get("trades", {}).get(name)
        trades = "" if tr is None else f"{len(tr)} ({rec['trade_costs'][name]['fraction_of_nav']:.2%})"
        line = f"{name:<{w}} {_pct(s['return_since_rmp_start']):>9}"
        if both:
            line += f" {_pct(s['return_since_regime_start']):>12}"
        line += (f" {ex['gross']:>6.0%} {ex['net']:>6.0%} {cash:>6.0%} {_pct(cost_total(s['cost_per_year']), False, 2):>7}"
                 f" {trades:>13}  {tilts_short(s['why'])}")
        lines.append(line.rstrip())
    line = f"{bench:<{w}} {_pct(b.get('return_since_rmp_start')):>9}"
    if both:
        line += f" {_pct(b.get('return_since_regime_start')):>12}"
    lines.append(line)
    lines.append("(cash: negative = borrowed; cost/yr = financing + borrow + fees, fraction of NAV; "
                 "trades: count (one-off cost, fraction of NAV))")
    return lines


# ---------------------------------------------------------------------------- per strategy


def strategy_lines(rec: dict[str, Any], name: str, verbose: bool = False) -> list[str]:
    """The block of one strategy (one screen; more with ``verbose``)."""
    s = rec["strategies"][name]
    why = s["why"]
    b = rec["benchmark"]
    filled = "filled" if s["filled"] else "NOT filled yet"
    rets = f"since RMP {_pct(s['return_since_rmp_start'])} ({b['name']} {_pct(b.get('return_since_rmp_start'))})"
    if rec.get("regime_start") != rec["rmp_start"]:
        rets += f", since regime {_pct(s['return_since_regime_start'])}"
    nxt = s["next_decision"] or "none (never rebalances)"
    lines = [f"== {name} ({s['kind']}): decided {s['decided_on']} ({filled}), next decision {nxt}; {rets}"]
    ex = s["exposure"]
    cash = f"cash {ex['cash']:.0%}" if ex["borrowed"] <= 0 else f"borrowed {ex['borrowed']:.0%} of NAV"
    lines.append(f"  exposure: gross {ex['gross']:.0%}, net {ex['net']:.0%}, {cash}")
    lines.append("  " + cost_line(rec, s))
    lines += [f"  {x}" for x in why_lines(why, verbose)]
    lines += [f"  {x}" for x in rebalance_lines(s["last_rebalance"], verbose)]
    lines += [f"  {x}" for x in weights_table(rec, name)]
    return lines


def cost_line(rec: dict[str, Any], s: dict[str, Any]) -> str:
    """Cost a year with its parts and how the financing figure is formed."""
    c, ex, r = s["cost_per_year"], s["exposure"], rec["rates"]
    fin = f"financing {_pct(c['financing'], False, 2)}"
    if ex["borrowed"] > 0:
        rate = r["cash_rate_pct"] or 0.0
        fin += f" ({ex['borrowed']:.0%} borrowed x ({rate:.2f}% + {r['borrow_spread_bps'] / 100:.2f}%))"
    fees = "fees n/a (under a month of history)" if c["fees"] is None else f"fees {_pct(c['fees'], False, 2)} (last year's rebalancing)"
    return f"cost a year: {_pct(cost_total(c), False, 2)} of NAV = {fin} + borrow {_pct(c['borrow'], False, 2)} + {fees}"


def why_lines(why: dict[str, Any], verbose: bool = False) -> list[str]:
    """Why the last target: tilts, optimizer, fallback, caps."""
    lines: list[str] = []
    tilts = why.get("tilts")
    if not tilts:
        lines.append(f"why: {why.get('does', '')}")
    else:
        for i, t in enumerate(tilts):
            lines.append(("why: " if i == 0 else "     ") + t["line"])
            if verbose:
                lines += [f"       {x}" for x in tree_lines(t["when"], "when")]
                if t.get("exit_when"):
                    lines += [f"       {x}" for x in tree_lines(t["exit_when"], "exit when")]
    opt = why.get("optimizer")
    if opt:
        lines += optimizer_lines(opt, verbose)
    if why.get("capped"):
        lines.append(f"note: {why['capped']}")
    if why.get("fallback"):
        lines.append(f"WARNING: {why['fallback']}")
    return lines


def tree_lines(node: dict[str, Any], label: str = "", depth: int = 0) -> list[str]:
    """A condition tree, one node per line, with its state and (for leaves) value and threshold."""
    pad = "  " * depth + (f"{label}: " if label else "")
    kind = node.get("kind")
    if kind == "signal":
        v = "missing" if node["value"] is None else f"{node['value']:.4g}"
        return [f"{pad}{node['text']}: value {v} -> {node['state']}"]
    if kind == "regime":
        return [f"{pad}{node['text']}: regime {node['value'] or 'unknown'} -> {node['state']}"]
    out = [f"{pad}{kind} -> {node['state']}"]
    for ch in node.get("children", []):
        out += tree_lines(ch, "", depth + 1)
    return out


def optimizer_lines(opt: dict[str, Any], verbose: bool = False) -> list[str]:
    """The optimizer's set-up, binding limits and largest moves from the rule weights."""
    te = "n/a" if opt.get("tracking_error") is None else f"{opt['tracking_error']:.1%}"
    cap = "" if opt.get("te_cap") is None else f" (cap {opt['te_cap']:.1%} vs {opt['te_benchmark']})"
    lines = [f"optimizer {opt['objective']} (risk aversion {opt['risk_aversion']:g}) around the rule weights: "
             f"gross {opt['gross']:.0%}, ex-ante tracking error {te}{cap}"]
    if opt.get("binding"):
        lines.append("  binding: " + "; ".join(opt["binding"]))
    if opt.get("moves"):
        mv = ", ".join(f"{m['asset']} {m['rule']:.1%}->{m['target']:.1%}"
                       + ("" if m.get("expected_excess_return") is None else f" (mu {m['expected_excess_return']:+.1%})")
                       for m in opt["moves"])
        lines.append(f"  largest moves (expected excess return a year): {mv}")
    if opt.get("error"):
        lines.append(f"  estimates unavailable: {opt['error']}")
    if verbose:
        lines.append(f"  inputs: {opt['estimator']}")
        mu = opt.get("expected_excess_return") or {}
        lines.append("  expected excess return a year: "
                     + ", ".join(f"{a} {v:+.1%}" for a, v in mu.items() if v is not None))
    return lines


def rebalance_lines(reb: dict[str, Any], verbose: bool = False) -> list[str]:
    """What the last decision changed and what it traded."""
    if reb.get("decided_on") is None:
        return []
    if reb.get("previous") is None:
        head = f"last decision {reb['decided_on']}: the first (bought the book)"
    elif not reb["changes"]:
        head = f"last decision {reb['decided_on']} vs {reb['previous']}: targets unchanged"
    else:
        ch = ", ".join(f"{c['asset']} {c['from']:.1%}->{c['to']:.1%}" for c in reb["changes"])
        head = f"last decision {reb['decided_on']} vs {reb['previous']}: {ch}"
    if reb.get("filled_on"):
        head += f"; filled {reb['filled_on']}, traded {reb['turnover']:.1%} of NAV"
    lines = [head]
    if verbose and reb.get("orders"):
        lines.append("  fills: " + ", ".join(f"{o['asset']} {o['value']:+.2%}" for o in reb["orders"]))
    return lines


def weights_table(rec: dict[str, Any], name: str) -> list[str]:
    """Target, drifted weight and today's trade per asset (``CASH`` last)."""
    s = rec["strategies"][name]
    trades = {t["asset"]: t for t in rec.get("trades", {}).get(name, [])}
    assets = [a for a in dict.fromkeys([*s["target"], *s["drifted"], *trades]) if a != CASH]
    has_trades = name in rec.get("trades", {})
    lines = [f"{'asset':<8} {'target':>8} {'drifted':>8}" + ("   trade today" if has_trades else "")]
    for a in assets:
        line = f"{a:<8} {s['target'].get(a, 0.0):>8.1%} {s['drifted'].get(a, 0.0):>8.1%}"
        t = trades.get(a)
        if t is not None:
            side = "BUY" if t["shares"] > 0 else "SELL"
            line += f"   {side} {abs(t['shares']):,} @ {t['price']:,.2f} = {t['notional']:+,.0f}"
        lines.append(line)
    cash_t = 1.0 - sum(s["target"].values())
    lines.append(f"{CASH:<8} {cash_t:>8.1%} {s['drifted'].get(CASH, 0.0):>8.1%}")
    if has_trades:
        tc = rec["trade_costs"][name]
        if trades:
            lines.append(f"today's trades: {tc['traded_notional']:,.0f} traded, cost {tc['fees_and_slippage']:,.0f} "
                         f"({tc['fraction_of_nav']:.3%} of NAV, fees + slippage, one-off)")
        else:
            lines.append("today's trades: none needed")
    return lines
