"""Why ``rmpbt now`` shows what it shows: the decision behind each target, and the regime models.

- :func:`explain_strategy`: for a strategy's last decision, which tilts are on or off and
  the signal values and thresholds that set them
  (:meth:`strategies.regime_rules.RegimeRules.explain`), the optimizer's inputs where there
  is one (expected excess returns, tracking error, binding limits:
  :meth:`~strategies.regime_rules.RegimeRules.optimizer_estimates`), an optimizer fallback
  on that date, and otherwise what the kind does (its docstring's first line);
- :func:`last_rebalance`: what the last decision changed and the trades it filled;
- :func:`regime_disagreement`: one line when the regime models disagree, with what each
  reads (their ``reads``, :mod:`backtest.regimes.models`).

The strategies are rebuilt from the config and evaluated on the run's own signal frame and
decision dates, so the explanation is of exactly the run's targets.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import CASH
from backtest.engine import SHORT_SUFFIX
from backtest.execution.spec import FINANCING
from strategies.base import build_strategy
from strategies.rules_engine import deciding_leaves

#: Smallest weight change listed as a change of the last decision.
CHANGE_EPS = 1e-4
#: Optimizer moves listed (largest first).
TOP_MOVES = 5
NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


# ---------------------------------------------------------------------------- strategies


def explain_strategy(out: Any, name: str) -> dict[str, Any]:
    """Why strategy ``name`` holds its last target (see the module docstring).

    Parameters
    ----------
    out : backtest.pipeline.RunOutput
        The run behind the memo.
    name : str
        A strategy of ``out``.

    Returns
    -------
    dict
        ``kind``, ``does`` (one line), ``decided_on``; rule-based kinds add ``tilts`` (each
        with ``line``: the reason in words), ``anchor`` and ``rule_weights``; an optimizer
        adds ``optimizer``; ``fallback`` when the optimizer fell back at that decision;
        ``capped`` when the run's leverage cap scaled the rule weights.
    """
    scfg = next(s for s in out.cfg.strategies if s.name == name)
    strat = build_strategy(scfg, out.origin)
    live = out.targets[name].dropna(how="all")
    rec: dict[str, Any] = {"kind": scfg.kind, "does": _first_line(type(strat).__doc__), "decided_on": None}
    if live.empty:
        return rec
    decided = live.index[-1]
    rec["decided_on"] = str(decided.date())
    target = live.iloc[-1].fillna(0.0)
    if hasattr(strat, "explain"):
        dates = out.targets[name].index
        dates = dates[dates <= decided]
        e = strat.explain(out.sf, dates)
        for t in e["tilts"]:
            t["line"] = tilt_line(t)
        rec.update(tilts=e["tilts"], anchor=e["anchor"], rule_weights=e["rule_weights"])
        if e["optimizer"] is not None:
            rec["optimizer"] = optimizer_explanation(strat, out, dates, e["anchor"], target, e["optimizer"])
        else:
            rw = pd.Series(e["rule_weights"]).reindex(target.index).fillna(0.0)
            if (rw - target).abs().max() > 1e-9:
                rec["capped"] = (f"the run's gross cap (execution.max_gross_leverage "
                                 f"{out.cfg.execution.max_gross_leverage:g}) scaled the rule weights")
    fb = out.extras.get("fallbacks")
    if fb is not None and len(fb):
        hit = fb[(fb["strategy"] == name) & (pd.to_datetime(fb["date"]) == decided)]
        if len(hit):
            r = hit.iloc[-1]
            rec["fallback"] = f"optimizer fell back ({r['action']}) on {decided.date()}: {r['reason']}"
    return rec


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0].strip() if doc and doc.strip() else ""


def leaf_text(leaf: dict[str, Any]) -> str:
    """One condition leaf as the fact that decided it (``cpi_yoy_chg_3m 1.73 > 0.25``)."""
    if leaf["kind"] == "regime":
        if leaf["value"] is None:
            return "regime unknown"
        inside = leaf["state"] == "true"
        return f"regime {leaf['value']} {'in' if inside else 'not in'} [{', '.join(leaf['labels'])}]"
    what = leaf["signal"] + {"level": "", "diff": f" change over {leaf['lookback']}d",
                             "pct": f" % change over {leaf['lookback']}d"}[leaf["change"]]
    x = leaf["value"]
    if x is None:
        return f"{what} missing"
    op, thr = leaf["op"], leaf["threshold"]
    if leaf["state"] == "true":
        met = {"<": x < thr, "<=": x <= thr, ">": x > thr, ">=": x >= thr}[op]
        if not met and leaf.get("exit") is not None:
            return f"{what} {_num(x)} {op} {_num(leaf['exit'])} (inside its exit band; enters {op} {_num(thr)})"
        return f"{what} {_num(x)} {op} {_num(thr)}"
    return f"{what} {_num(x)} {NEGATE[op]} {_num(thr)}"


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:,.0f}"


def tilt_line(t: dict[str, Any]) -> str:
    """One line for a tilt: on/off, since when, why, with the signal values and thresholds."""
    state = "on" if t["on"] else "off"
    tree = t["exit_when"] if (not t["on"] and t["exit_when"] is not None
                              and t["exit_when"]["state"] == "true") else t["when"]
    facts = "; ".join(dict.fromkeys(leaf_text(leaf) for leaf in deciding_leaves(tree)))
    if not t["on"]:  # what still holds: e.g. the regime is right, but the inflation cut fires
        holds = [leaf_text(x) for x in _leaves(t["when"]) if x["kind"] == "regime" and x["state"] == "true"]
        if holds and facts:
            facts += f" (though {'; '.join(holds)})"
    size = ""
    if t["on"] and t.get("size"):
        size = " (adds " + ", ".join(f"{a} {w:+.1%}" for a, w in t["size"].items()) + ")"
    elif t["on"] and t["kind"] == "sweep":
        size = " (sweeps idle cash)"
    return f"{t['name']} {state} since {t['since']}{size}: {t['reason']}" + (f": {facts}" if facts else "")


def _leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    if node.get("kind") in ("signal", "regime"):
        return [node]
    return [x for c in node.get("children", []) for x in _leaves(c)]


def optimizer_explanation(strat: Any, out: Any, dates: pd.DatetimeIndex, anchor: dict[str, float],
                          target: pd.Series, cfg: Any) -> dict[str, Any]:
    """The optimizer's inputs at the last decision and how they shaped the target.

    Returns
    -------
    dict
        ``objective``, ``risk_aversion``, ``te_cap``, ``te_benchmark``,
        ``max_gross_leverage``, ``estimator`` (words); ``expected_excess_return`` per asset
        (annualised); ``tracking_error`` (ex ante, of the target against the TE benchmark;
        None when the estimates are unavailable); ``gross``; ``binding`` (limits the target
        sits on); ``moves`` (largest changes from the rule weights, with their expected
        excess returns); ``error`` when the estimates could not be formed.
    """
    assets = list(anchor)
    a = pd.Series(anchor, dtype=float)
    w = target.reindex(assets).fillna(0.0).astype(float)
    est = cfg.estimator
    rec: dict[str, Any] = {
        "objective": cfg.objective, "risk_aversion": cfg.risk_aversion, "te_cap": cfg.te_cap,
        "te_benchmark": cfg.te_benchmark, "max_gross_leverage": cfg.max_gross_leverage,
        "estimator": (f"{est.covariance} covariance and {est.mean} mean over {est.window} trading days"
                      + (f", mean shrunk {est.shrinkage:g} toward the prior" if est.shrinkage else "")),
        "gross": float(w.abs().sum()), "binding": [],
    }
    mu = pd.Series(np.nan, index=assets)
    try:
        mu, cov = strat.optimizer_estimates(out.sf, dates, anchor)
    except Exception as exc:  # noqa: BLE001 - any failure here is what allocate() fell back on
        rec["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        cov = None
    bench = a
    if cfg.te_benchmark == "base_weights" and cfg.base_weights:
        bench = pd.Series(cfg.base_weights, dtype=float).reindex(assets).fillna(0.0)
    te = None
    if cov is not None:
        d = (w - bench).to_numpy()
        te = float(math.sqrt(max(float(d @ cov.reindex(index=assets, columns=assets).to_numpy() @ d), 0.0)))
    rec["tracking_error"] = te
    rec["expected_excess_return"] = {k: (None if not np.isfinite(v) else float(v)) for k, v in mu.items()}
    if cfg.max_gross_leverage is not None and rec["gross"] >= cfg.max_gross_leverage - 1e-4:
        rec["binding"].append(f"gross {rec['gross']:.0%} = its cap {cfg.max_gross_leverage:.0%}")
    if te is not None and cfg.te_cap is not None and te >= cfg.te_cap * (1 - 1e-3):
        rec["binding"].append(f"tracking error {te:.1%} = its cap {cfg.te_cap:.1%}")
    moves = (w - a).sort_values(key=lambda s: -s.abs())
    rec["moves"] = [{"asset": k, "rule": float(a[k]), "target": float(w[k]), "change": float(v),
                     "expected_excess_return": rec["expected_excess_return"].get(k)}
                    for k, v in moves.iloc[:TOP_MOVES].items() if abs(v) > CHANGE_EPS]
    return rec


def last_rebalance(out: Any, name: str) -> dict[str, Any]:
    """What the last decision changed from the one before, and the trades it filled.

    Returns
    -------
    dict
        ``decided_on``, ``previous`` (None for the first decision), ``changes`` (assets whose
        target moved: ``asset``, ``from``, ``to``), ``filled_on`` (None: not filled by the
        data's last day), ``orders`` (``asset``, ``value``: signed notional as a fraction of
        the value before the fill) and ``turnover`` (Σ |value|).
    """
    live = out.targets[name].dropna(how="all")
    rec: dict[str, Any] = {"decided_on": None, "previous": None, "changes": [], "filled_on": None,
                           "orders": [], "turnover": 0.0}
    if live.empty:
        return rec
    decided = live.index[-1]
    new = live.iloc[-1].fillna(0.0)
    old = live.iloc[-2].fillna(0.0) if len(live) > 1 else pd.Series(0.0, index=new.index)
    rec["decided_on"] = str(decided.date())
    rec["previous"] = str(live.index[-2].date()) if len(live) > 1 else None
    rec["changes"] = [{"asset": str(k), "from": float(old[k]), "to": float(new[k])}
                      for k in new.index if abs(float(new[k]) - float(old[k])) > CHANGE_EPS]
    sim = out.sims[name]
    fills = [f for f in sim.fills if f >= decided]
    if not fills:
        return rec
    filled = fills[0]
    rec["filled_on"] = str(filled.date())
    orders = sim.orders[(sim.orders["date"] == filled) & ~sim.orders["asset"].isin([CASH, FINANCING])]
    before = float(sim.value.shift(1).get(filled, np.nan))
    if orders.empty or not (math.isfinite(before) and before > 0):
        return rec
    base = orders["asset"].str.removesuffix(SHORT_SUFFIX)
    by = orders.assign(asset=base).groupby("asset", sort=False)["value"].sum() / before
    rec["orders"] = [{"asset": str(k), "value": float(v)} for k, v in by.items() if abs(v) > 1e-9]
    rec["turnover"] = float(by.abs().sum())
    return rec


# ---------------------------------------------------------------------------- regimes


def regime_disagreement(regimes: dict[str, dict[str, Any]]) -> str | None:
    """One line when the regime models disagree today: who says what (the odd one out first), and what each reads."""
    labels = {m: r["label"] for m, r in regimes.items() if r.get("label") is not None}
    if len(set(labels.values())) <= 1:
        return None
    groups: dict[str, list[str]] = {}
    for m, lab in labels.items():
        groups.setdefault(lab, []).append(m)
    ranked = sorted(groups.items(), key=lambda kv: len(kv[1]))
    says = ", ".join(f"{' and '.join(ms)} {'says' if len(ms) == 1 else 'say'} {lab}" for lab, ms in ranked)
    order = [m for _, ms in ranked for m in ms]
    reads = "; ".join(f"{m} reads {regimes[m]['reads']}" for m in order if regimes[m].get("reads"))
    return f"{says}: {reads}"
