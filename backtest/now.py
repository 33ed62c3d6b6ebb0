"""``rmpbt now``: where we stand today under a config.

One call answers the PM's morning questions from the same pipeline as ``rmpbt run``
(:func:`backtest.pipeline.run_backtest`, so targets are exactly the run's last decision):

- *as of when?* the last date of every price and macro series, with stale-data warnings;
- *which regime?* the label today under each regime model and since when;
- *what does each strategy hold?* target weights at the last decision date, today's
  drifted weights, the next decision date, the return since the current regime began and
  since RMP began (2025-12-12), next to 60/40;
- *what do I trade?* with a capital (and optional holdings): shares and notional to reach
  each strategy's target at the last prices, and the estimated cost under the config's
  cost model.

:func:`compute_now` returns a :class:`NowReport`; :func:`write_now` writes ``now.json`` and
``now.html`` into a new run folder atomically; :func:`memo_lines` is the terminal memo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest import pipeline
from backtest.config import RegimeConfig, RunConfig
from backtest.constants import BENCHMARK_60_40, CASH
from backtest.data.base import MarketData
from backtest.data.exchange_calendar import exchange_days, exchange_days_after
from backtest.engine import Costs
from backtest.errors import DataError, RmpbtError
from backtest.regimes.models import MODELS, make_regime_model
from backtest.regimes.signals import liquidity_signals
from backtest.report.now_page import render_now_html
from backtest.results import atomic_run_dir, final_path, write_json

RMP_START = pd.Timestamp("2025-12-12")
STALE_BDAYS = 5
RULES_SHOWN = ("walcl_chg_13w", "treast_chg_13w", "walcl_chg_4w", "treast_chg_4w", "sofr_iorb", "vix")


@dataclass
class NowReport:
    """Everything ``rmpbt now`` reports (JSON-ready through :meth:`to_json`)."""

    name: str
    source: str
    synthetic: bool
    today: str
    as_of: str
    series_end: dict[str, str]
    stale: list[dict[str, Any]]
    warnings: list[str]
    regimes: dict[str, dict[str, Any]]
    strategies: dict[str, dict[str, Any]]
    benchmark: dict[str, Any]
    trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    trade_costs: dict[str, dict[str, float]] = field(default_factory=dict)
    capital: float | None = None
    notes: list[str] = field(default_factory=list)

    def save(self, root: str | Path = "results") -> Path:
        """Write ``now.json``, ``now.html`` and ``memo.txt`` into a new folder under ``root``."""
        return write_now(self, root)

    def to_json(self) -> dict[str, Any]:
        """The report as plain data (the content of ``now.json``)."""
        return {
            "name": self.name,
            "source": self.source,
            "synthetic": self.synthetic,
            "today": self.today,
            "as_of": self.as_of,
            "series_end": self.series_end,
            "stale": self.stale,
            "warnings": self.warnings,
            "regimes": self.regimes,
            "strategies": self.strategies,
            "benchmark": self.benchmark,
            "capital": self.capital,
            "trades": self.trades,
            "trade_costs": self.trade_costs,
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------- as-of


def bdays_between(a: pd.Timestamp, b: pd.Timestamp) -> int:
    """Business days (Mon-Fri) after ``a`` up to and including ``b`` (0 when ``b <= a``)."""
    if b <= a:
        return 0
    return int(np.busday_count(a.date() + pd.Timedelta(days=1), b.date() + pd.Timedelta(days=1)))


def series_ends(md: MarketData) -> dict[str, pd.Timestamp]:
    """Last observation date of every price column and macro series."""
    out: dict[str, pd.Timestamp] = {}
    for col in md.prices.columns:
        last = md.prices[col].last_valid_index()
        if last is not None:
            out[str(col)] = pd.Timestamp(last)
    for name, ms in md.macro.items():
        if len(ms.values):
            out[name] = pd.Timestamp(ms.values.index[-1])
    return out


def _allowance(md: MarketData, name: str) -> int:
    """Business days a series may lag the latest price date before it is called stale.

    Daily series get :data:`STALE_BDAYS`; weekly and monthly macro series also get their
    usual spacing and publication lag (median of the last observations), so a monthly
    CPI print is not "stale" in the middle of its month.
    """
    ms = md.macro.get(name)
    if ms is None or len(ms.values) < 3:
        return STALE_BDAYS
    idx = ms.values.index[-12:]
    gaps = [bdays_between(a, b) for a, b in zip(idx[:-1], idx[1:], strict=True)]
    lags = [bdays_between(o, r) for o, r in zip(idx, ms.released.iloc[-12:], strict=True)]
    return STALE_BDAYS + max(int(np.median(gaps)) - 1, 0) + int(np.median(lags))


def staleness(
    md: MarketData, as_of: pd.Timestamp, today: pd.Timestamp
) -> tuple[list[dict[str, Any]], list[str]]:
    """Stale series (relative to ``as_of``) and warnings (also: ``as_of`` old relative to ``today``).

    Returns
    -------
    stale : list of dict
        ``{series, last, business_days, allowed}`` per stale series.
    warnings : list of str
        One line per stale series, plus one when the latest price date is more than
        :data:`STALE_BDAYS` business days before ``today``.
    """
    stale: list[dict[str, Any]] = []
    warnings: list[str] = []
    gap_today = bdays_between(as_of, today)
    if gap_today > STALE_BDAYS:
        warnings.append(
            f"data ends {as_of.date()}: {gap_today} business days before today ({today.date()}); "
            "the regime, targets and trades below are as of that date"
        )
    for name, last in series_ends(md).items():
        gap = bdays_between(last, as_of)
        allowed = STALE_BDAYS if name in md.prices.columns else _allowance(md, name)
        if gap > allowed:
            stale.append(
                {"series": name, "last": str(last.date()), "business_days": gap, "allowed": allowed}
            )
            warnings.append(
                f"stale series {name}: last observation {last.date()}, {gap} business days "
                f"before the latest price date {as_of.date()}"
            )
    return stale, warnings


# ---------------------------------------------------------------------------- regimes


def regime_since(labels: pd.Series) -> pd.Timestamp:
    """First day of the current run of equal labels (the last label of ``labels``)."""
    lab = labels.dropna()
    if lab.empty:
        return pd.NaT
    last = lab.iloc[-1]
    changed = lab != last
    if not changed.any():
        return pd.Timestamp(lab.index[0])
    last_other = changed[changed].index[-1]
    return pd.Timestamp(lab.index[lab.index > last_other][0])


def regimes_today(cfg: RunConfig, md: MarketData) -> dict[str, dict[str, Any]]:
    """Label and start date of the current regime under every regime model.

    The config's model keeps its params; other models use their defaults. A model that
    cannot run on this data (e.g. a missing series) is reported with its error.
    """
    out: dict[str, dict[str, Any]] = {}
    for model in MODELS:
        params = cfg.regimes.params if model == cfg.regimes.model else {}
        rc = RegimeConfig(model=model, by=cfg.regimes.by, calendar=cfg.regimes.calendar, params=params)
        try:
            lab = make_regime_model(rc).label(md, md.calendar)
        except RmpbtError as exc:
            out[model] = {"label": None, "since": None, "error": str(exc)}
            continue
        last = lab.iloc[-1]
        rec: dict[str, Any] = {
            "label": str(last["regime"]),
            "since": str(regime_since(lab["regime"]).date()),
            "configured": model == cfg.regimes.model,
        }
        if "regime_id" in lab:
            rec["regime_id"] = str(last["regime_id"])
        if "stress" in lab:
            rec["stress"] = bool(last["stress"])
        if model == "markov":
            rec["probabilities"] = {
                c[2:]: _num(last[c]) for c in lab.columns if c.startswith("p_")
            }
        if model == "rules":

            sig = liquidity_signals(md, md.calendar)
            rec["signals"] = {k: _num(sig[k].iloc[-1]) for k in RULES_SHOWN if k in sig}
            if "raw_regime" in lab:
                rec["raw_regime"] = str(last["raw_regime"])
        out[model] = rec
    return out


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------------------- strategies


def next_decision(as_of: pd.Timestamp, every: str) -> pd.Timestamp:
    """The next decision date after ``as_of`` on the rebalance schedule (NYSE trading days).

    The last trading day of the period holding the next trading day, by the exchange's
    holiday rules (:mod:`backtest.data.exchange_calendar`; unscheduled closures cannot be
    known in advance).
    """
    nxt = exchange_days_after(as_of, 1)[0]
    if every == "daily":
        return pd.Timestamp(nxt)
    freq = {"weekly": "W", "monthly": "M", "quarterly": "Q"}[every]
    return pd.Timestamp(exchange_days(nxt, nxt.to_period(freq).end_time)[-1])


def period_return(value: pd.Series, since: pd.Timestamp) -> tuple[float | None, str | None]:
    """Return from the close of ``since`` to the last close of ``value``.

    When ``since`` is before the first day of ``value`` the return is taken from the start
    (value 1.0 before the first day) and that start date is returned as the second item.
    """
    if value.empty or pd.isna(since):
        return None, None
    last = float(value.iloc[-1])
    if since < value.index[0]:
        return last - 1.0, str(value.index[0].date())
    base = float(value.loc[:since].iloc[-1])
    return last / base - 1.0, None


def _weights_dict(row: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in row.items() if pd.notna(v) and abs(float(v)) > 1e-12}


def benchmark_value(out: Any) -> tuple[str, pd.Series | None]:
    """Value path of the 60/40 comparison: the config's 60/40 strategy, or a daily-rebalanced 60/40."""
    for s in out.cfg.strategies:
        w = s.params.get("weights") if isinstance(s.params, dict) else None
        if s.kind == "fixed_weights" and w == BENCHMARK_60_40 and s.name in out.sims:
            return s.name, out.sims[s.name].value
    cols = list(BENCHMARK_60_40)
    if not all(c in out.md.prices.columns for c in cols):
        return "60/40", None
    r = out.md.prices.loc[out.days, cols].pct_change().fillna(0.0)
    port = (r * pd.Series(BENCHMARK_60_40)).sum(axis=1)
    return "60/40 (daily rebalanced, no costs)", (1.0 + port).cumprod()


def strategy_status(out: Any, regime_start: pd.Timestamp) -> dict[str, dict[str, Any]]:
    """Per strategy: target, drifted weights, dates and returns since regime start and RMP."""
    as_of = out.days[-1]
    res: dict[str, dict[str, Any]] = {}
    for name, w in out.targets.items():
        live = w.dropna(how="all")
        sim = out.sims[name]
        r_reg, from_reg = period_return(sim.value, regime_start)
        r_rmp, from_rmp = period_return(sim.value, RMP_START)
        decided = live.index[-1] if len(live) else None
        res[name] = {
            "target": _weights_dict(live.iloc[-1]) if len(live) else {},
            "drifted": _weights_dict(sim.weights.iloc[-1]),
            "decided_on": str(decided.date()) if decided is not None else None,
            "filled": bool(decided is not None and len(sim.fills) and sim.fills[-1] >= decided),
            "next_decision": str(next_decision(as_of, out.cfg.rebalance.every).date()),
            "regime_start": str(regime_start.date()) if pd.notna(regime_start) else None,
            "return_since_regime_start": r_reg,
            "return_since_rmp_start": r_rmp,
            "measured_from": from_reg or from_rmp,
        }
    return res


# ---------------------------------------------------------------------------- trades


def read_holdings(path: str | Path) -> pd.DataFrame:
    """Read a holdings CSV with columns ``asset,shares`` or ``asset,weight``.

    Returns
    -------
    pd.DataFrame
        Columns ``asset`` and exactly one of ``shares`` / ``weight``.

    Raises
    ------
    DataError
        Unreadable file, wrong columns, duplicate or non-numeric rows.
    """
    p = Path(path)
    try:
        df = pd.read_csv(p)
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: cannot read holdings ({exc})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    kind = [c for c in ("shares", "weight") if c in df.columns]
    if "asset" not in df.columns or len(kind) != 1:
        raise DataError(f"{p}: holdings need columns asset,shares or asset,weight (got {','.join(df.columns)})")
    df = df[["asset", kind[0]]].copy()
    df["asset"] = df["asset"].astype(str).str.strip()
    vals = pd.to_numeric(df[kind[0]], errors="coerce")
    if vals.isna().any():
        bad = df.loc[vals.isna(), "asset"].iloc[0]
        raise DataError(f"{p}: holdings row {bad}: {kind[0]} is not a number")
    df[kind[0]] = vals.astype(float)
    dup = df["asset"][df["asset"].duplicated()]
    if len(dup):
        raise DataError(f"{p}: holdings asset {dup.iloc[0]} appears twice")
    return df


def held_shares(holdings: pd.DataFrame | None, prices: pd.Series, capital: float, origin: str = "holdings") -> pd.Series:
    """Shares held per asset (weights converted at ``prices`` on ``capital``); cash rows dropped."""
    if holdings is None or holdings.empty:
        return pd.Series(dtype=float)
    h = holdings.loc[holdings["asset"].str.upper() != CASH].set_index("asset")
    unknown = [a for a in h.index if a not in prices.index or not np.isfinite(prices.get(a, np.nan))]
    if unknown:
        raise DataError(f"{origin}: unknown ticker {unknown[0]} (no last price in the loaded data)")
    if "shares" in h.columns:
        return h["shares"].astype(float)
    return h["weight"].astype(float) * capital / prices[h.index]


def plan_trades(
    target: dict[str, float], held: pd.Series, prices: pd.Series, capital: float
) -> list[dict[str, Any]]:
    """Whole-share trades that bring ``held`` to ``target`` weights of ``capital``.

    Each trade is ``round(target_weight * capital / price - held_shares)``, so after it the
    holding is within half a share of the target. Cash is what remains.
    """
    assets = [a for a in dict.fromkeys([*target, *held.index]) if a != CASH]
    trades = []
    for a in assets:
        px = float(prices[a])
        want = target.get(a, 0.0) * capital / px
        qty = round(want - float(held.get(a, 0.0)))
        if qty == 0:
            continue
        trades.append({"asset": a, "shares": int(qty), "price": px, "notional": qty * px})
    return trades


def trade_cost(trades: list[dict[str, Any]], target: dict[str, float], capital: float, costs: Any) -> dict[str, float]:
    """Estimated cost: fee + slippage on the traded notional; yearly accrual on the target shorts.

    ``costs`` is the run's :class:`~backtest.execution.spec.Costs`: the fee and slippage
    fractions and each short leg's yearly accrual (borrow fee + short-rebate haircut) are
    the engine's own.
    """
    traded = sum(abs(t["notional"]) for t in trades)
    fees = traded * (costs.fee + costs.slippage)
    borrow = sum(
        -w * capital * costs.short_accrual_for(a) / 1e4 for a, w in target.items() if a != CASH and w < 0
    )
    return {"traded_notional": traded, "fees_and_slippage": fees, "borrow_per_year": borrow}


# ---------------------------------------------------------------------------- main


def compute_now(
    cfg: RunConfig,
    origin: str = "<config>",
    *,
    today: date | str | pd.Timestamp | None = None,
    capital: float | None = None,
    holdings: str | Path | pd.DataFrame | None = None,
    md: MarketData | None = None,
    parallel: bool = False,
) -> NowReport:
    """Compute the ``now`` report of ``cfg``.

    Parameters
    ----------
    cfg : RunConfig
        Validated config; with a ``yahoo`` source the cache is refreshed first.
    origin : str
        Config file name (for messages).
    today : date or str, optional
        Today's date (default: the UTC date); injectable for tests.
    capital : float, optional
        Portfolio value for the trade list.
    holdings : str, Path or DataFrame, optional
        Current holdings (``asset,shares`` or ``asset,weight``); default all cash.
    md : MarketData, optional
        Pre-loaded market data.
    parallel : bool
        Let :func:`~backtest.pipeline.run_backtest` compute the targets in a forked child
        while it loads the engine (the CLI's ``now``; same results).

    Returns
    -------
    NowReport
    """

    notes: list[str] = []
    if md is None and cfg.data.source == "yahoo":
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"refresh": True})})
        notes.append("yahoo/fred source: the data cache was refreshed before computing")
    if capital is not None and not (math.isfinite(capital) and capital > 0):
        raise DataError(f"--capital {capital}: must be a positive number")
    out = pipeline.run_backtest(cfg, origin, md, parallel=parallel)  # module attribute: tests may patch it
    md = out.md
    as_of = pd.Timestamp(out.days[-1])
    try:
        today_ts = pd.Timestamp(today) if today is not None else pd.Timestamp(datetime.now(UTC).date())
    except ValueError:
        raise DataError(f"--today {today}: not a date (expected YYYY-MM-DD)") from None
    stale, warnings = staleness(md, as_of, today_ts)
    regimes = regimes_today(cfg, md)
    reg_start = regime_since(out.labels["regime"].reindex(md.calendar))
    strategies = strategy_status(out, reg_start)
    bname, bval = benchmark_value(out)
    bench: dict[str, Any] = {"name": bname}
    if bval is not None:
        bench["return_since_regime_start"] = period_return(bval, reg_start)[0]
        bench["return_since_rmp_start"] = period_return(bval, RMP_START)[0]
    report = NowReport(
        name=cfg.name,
        source=md.source,
        synthetic=md.synthetic,
        today=str(today_ts.date()),
        as_of=str(as_of.date()),
        series_end={k: str(v.date()) for k, v in series_ends(md).items()},
        stale=stale,
        warnings=warnings,
        regimes=regimes,
        strategies=strategies,
        benchmark=bench,
        notes=notes + list(out.notes),
    )
    if capital is not None:
        prices = md.prices.ffill().iloc[-1]
        hold = holdings if isinstance(holdings, pd.DataFrame) or holdings is None else read_holdings(holdings)
        held = held_shares(hold, prices, capital, str(holdings) if holdings is not None else "holdings")
        costs = Costs.from_config(cfg)
        report.capital = float(capital)
        for name, st in strategies.items():
            tr = plan_trades(st["target"], held, prices, capital)
            report.trades[name] = tr
            report.trade_costs[name] = trade_cost(tr, st["target"], capital, costs)
    return report


def write_now(report: NowReport, root: str | Path = "results") -> Path:
    """Write ``now.json`` and ``now.html`` into a new folder under ``root`` (atomically)."""

    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in report.name)[:40]
    run_id = f"now-{datetime.now(UTC):%Y%m%d-%H%M%S}-{safe}"
    with atomic_run_dir(root, run_id) as tmp:
        write_json(tmp / "now.json", report.to_json())
        (tmp / "now.html").write_text(render_now_html(report.to_json()))
        (tmp / "memo.txt").write_text("\n".join(memo_lines(report)) + "\n")
    return final_path(root, run_id)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:+.1%}"


def memo_lines(report: NowReport) -> list[str]:
    """The memo printed by ``rmpbt now`` (plain text, one item per line)."""
    lines = [f"{report.name}: as of {report.as_of} (today {report.today}); data: "
             f"{'SYNTHETIC sample market' if report.synthetic else report.source}"]
    by_date: dict[str, list[str]] = {}
    for name, d in report.series_end.items():
        by_date.setdefault(d, []).append(name)
    lines.append("series end: " + "; ".join(f"{d}: {', '.join(n)}" for d, n in sorted(by_date.items(), reverse=True)))
    lines += [f"WARNING: {w}" for w in report.warnings]
    for model, r in report.regimes.items():
        if r.get("label") is None:
            lines.append(f"regime ({model}): unavailable: {r.get('error')}")
            continue
        extra = ""
        if "probabilities" in r:
            extra = " (" + ", ".join(f"{k} {v:.0%}" for k, v in r["probabilities"].items() if v is not None) + ")"
        if "signals" in r:
            extra = " (" + ", ".join(f"{k} {v:.3g}" for k, v in r["signals"].items() if v is not None) + ")"
        mark = " [config]" if r.get("configured") else ""
        lines.append(f"regime ({model}{mark}): {r['label']} since {r['since']}{extra}")
    b = report.benchmark
    lines.append(
        f"benchmark {b['name']}: since regime start {_pct(b.get('return_since_regime_start'))}, "
        f"since RMP began {RMP_START.date()} {_pct(b.get('return_since_rmp_start'))}"
    )
    for name, s in report.strategies.items():
        tgt = ", ".join(f"{a} {w:.0%}" for a, w in s["target"].items())
        lines.append(
            f"{name}: target [{tgt}] decided {s['decided_on']}, next {s['next_decision']}; "
            f"since regime start {_pct(s['return_since_regime_start'])}, "
            f"since RMP {_pct(s['return_since_rmp_start'])}"
        )
        for t in report.trades.get(name, []):
            side = "BUY" if t["shares"] > 0 else "SELL"
            lines.append(f"    {side} {abs(t['shares']):,} {t['asset']} @ {t['price']:.2f} = {t['notional']:+,.0f}")
        if name in report.trade_costs:
            c = report.trade_costs[name]
            lines.append(f"    est. cost {c['fees_and_slippage']:,.0f} (fees+slippage)"
                         + (f", borrow {c['borrow_per_year']:,.0f}/yr" if c["borrow_per_year"] else ""))
    lines += [f"note: {n}" for n in report.notes]
    return lines
