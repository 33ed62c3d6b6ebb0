"""``rmpbt now``: where we stand today under a config.

One call answers the PM's morning questions from the same pipeline as ``rmpbt run``
(:func:`backtest.pipeline.run_backtest`, so targets are exactly the run's last decision):

- *as of when?* the data's last day (never "today": the memo says how old it is), the last
  date of every price and macro series, with stale-data warnings;
- *which regime?* the label under each regime model, since when, what each reads, and one
  line when they disagree (:mod:`backtest.now_explain`);
- *what does each strategy hold, and why?* target weights of the last decision, today's
  drifted weights, the next decision date, the tilts on and off with the signal values and
  thresholds that set them, the optimizer's inputs, what the last decision changed;
- *what does the book cost?* gross and net exposure, cash or borrowed cash, and financing,
  borrow and fees a year as fractions of NAV with ``run``'s cost model
  (:mod:`backtest.now_costs`);
- *how did it do?* the return since the current regime began and since RMP began
  (2025-12-12), on ``run``'s convention: compounded from the close before that day, the
  day's own return included;
- *what do I trade?* from checked holdings (:mod:`backtest.now_book`: NAV = shares x price +
  cash, reconciled with ``--capital``), whole-share trades to each target and their cost.

:func:`compute_now` returns a :class:`NowReport`; :func:`write_now` writes ``now.json``,
``now.html``, ``memo.txt`` (and ``fallbacks.csv`` when the optimizer fell back) into a new
folder atomically; :func:`backtest.now_memo.memo_lines` is the terminal memo.
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
from backtest.constants import BENCHMARK_60_40, REGIME_MODELS
from backtest.data.base import MacroSeries, MarketData
from backtest.data.exchange_calendar import exchange_days, exchange_days_after
from backtest.data.registry import source_info
from backtest.errors import ConfigError, DataError, RmpbtError
from backtest.execution.spec import Costs, cash_rate_source
from backtest.now_book import (
    Holdings,
    book_from_holdings,
    check_book,
    check_holdings,
    exposure,
    plan_trades,
    read_holdings,
)
from backtest.now_costs import cost_per_year, trade_cost, trailing_fee_drag
from backtest.now_explain import explain_strategy, last_rebalance, regime_disagreement
from backtest.now_memo import memo_lines
from backtest.regimes.models import make_regime_model
from backtest.regimes.signals import fresh_values, liquidity_signals
from backtest.report.now_page import render_now_html
from backtest.results import atomic_run_dir, final_path, write_json

RMP_START = pd.Timestamp("2025-12-12")
STALE_BDAYS = 5
MAX_CAPITAL = 1e15
RETURNS_CONVENTION = ("compounded from the close before the start day, that day's own return included "
                      "(as rmpbt run's regime figures)")

__all__ = ["RMP_START", "NowReport", "bdays_between", "benchmark_value", "compute_now", "memo_lines",
           "next_decision", "period_return", "regime_since", "regimes_today", "series_ends", "staleness",
           "strategy_status", "write_now"]


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
    book: dict[str, Any] | None = None
    rates: dict[str, Any] = field(default_factory=dict)
    regime_disagreement: str | None = None
    regime_start: str | None = None
    fallbacks: list[dict[str, Any]] = field(default_factory=list)

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
            "regime_disagreement": self.regime_disagreement,
            "regime_start": self.regime_start,
            "rmp_start": str(RMP_START.date()),
            "returns_convention": RETURNS_CONVENTION,
            "strategies": self.strategies,
            "benchmark": self.benchmark,
            "rates": self.rates,
            "capital": self.capital,
            "book": self.book,
            "trades": self.trades,
            "trade_costs": self.trade_costs,
            "fallbacks": self.fallbacks,
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
    """Label and start date of the current regime under every regime model, and what it reads.

    The config's model keeps its params; other models use their defaults. A model that
    cannot run on this data (e.g. a missing series) is reported with its error.
    """
    out: dict[str, dict[str, Any]] = {}
    try:
        sig = liquidity_signals(md, md.calendar)
        today_sig = {k: _num(sig[k].iloc[-1]) for k in sig.columns}
    except RmpbtError:
        today_sig = {}
    for model in REGIME_MODELS:
        params = cfg.regimes.params if model == cfg.regimes.model else {}
        rc = RegimeConfig(model=model, by=cfg.regimes.by, calendar=cfg.regimes.calendar, params=params)
        try:
            m = make_regime_model(rc)
            lab = m.label(md, md.calendar)
        except RmpbtError as exc:
            out[model] = {"label": None, "since": None, "error": str(exc)}
            continue
        last = lab.iloc[-1]
        rec: dict[str, Any] = {
            "label": str(last["regime"]),
            "since": str(regime_since(lab["regime"]).date()),
            "configured": model == cfg.regimes.model,
            "reads": m.reads(today_sig),
        }
        if "regime_id" in lab:
            rec["regime_id"] = str(last["regime_id"])
        if "stress" in lab:
            rec["stress"] = bool(last["stress"])
        probs = [c for c in lab.columns if c.startswith("p_")]
        if probs:
            rec["probabilities"] = {c[2:]: _num(last[c]) for c in probs}
        shown = getattr(m, "shown_signals", ())
        if shown:
            rec["signals"] = {k: today_sig[k] for k in shown if k in today_sig}
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
    """Return from the close before ``since`` to the last close of ``value`` (``since``'s own return included).

    ``rmpbt run``'s convention for a regime that starts on ``since``: the product of
    ``1 + r_t`` over the days ``t >= since``. When ``since`` is on or before the first day of
    ``value``, the return is taken from the start (value 1.0 before the first day) and that
    first date is returned as the second item.
    """
    if value.empty or pd.isna(since):
        return None, None
    last = float(value.iloc[-1])
    if since <= value.index[0]:
        return last - 1.0, str(value.index[0].date())
    base = float(value.loc[value.index < since].iloc[-1])
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


def strategy_status(out: Any, regime_start: pd.Timestamp, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per strategy (``names``, default all): target, drifted weights, dates, returns since regime start and RMP."""
    as_of = out.days[-1]
    res: dict[str, dict[str, Any]] = {}
    for name in names if names is not None else list(out.targets):
        live = out.targets[name].dropna(how="all")
        sim = out.sims[name]
        r_reg, from_reg = period_return(sim.value, regime_start)
        r_rmp, from_rmp = period_return(sim.value, RMP_START)
        decided = live.index[-1] if len(live) else None
        holds = len(live) == 1 and len(out.targets[name]) > 1  # bought once, never rebalances
        res[name] = {
            "kind": next(s.kind for s in out.cfg.strategies if s.name == name),
            "target": _weights_dict(live.iloc[-1]) if len(live) else {},
            "drifted": _weights_dict(sim.weights.iloc[-1]),
            "decided_on": str(decided.date()) if decided is not None else None,
            "filled": bool(decided is not None and len(sim.fills) and sim.fills[-1] >= decided),
            "next_decision": None if holds else str(next_decision(as_of, out.cfg.rebalance.every).date()),
            "regime_start": str(regime_start.date()) if pd.notna(regime_start) else None,
            "return_since_regime_start": r_reg,
            "return_since_rmp_start": r_rmp,
            "measured_from": from_reg or from_rmp,
        }
    return res


def shortable(out: Any) -> set[str]:
    """Assets the config may short: named in ``costs.borrow_bps_by_asset``, or held short by a target of the run."""
    names = set(out.cfg.costs.borrow_bps_by_asset)
    for w in out.targets.values():
        names.update(str(a) for a in w.columns if (w[a] < 0).any())
    return names


# ---------------------------------------------------------------------------- main


def parse_today(today: date | str | pd.Timestamp | None) -> pd.Timestamp:
    """``--today`` as a date (default: the UTC date); DataError naming the flag when it is not one."""
    if today is None:
        return pd.Timestamp(datetime.now(UTC).date())
    if isinstance(today, bool) or not isinstance(today, str | date | pd.Timestamp):
        raise DataError(f"--today {today!r}: not a date (expected YYYY-MM-DD)")
    try:
        ts = pd.Timestamp(today.strip() if isinstance(today, str) else today)
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts):
        raise DataError(f"--today {today!r}: not a date (expected YYYY-MM-DD)")
    return ts.normalize()


def known_on(md: MarketData, today: pd.Timestamp, start: pd.Timestamp | None) -> tuple[MarketData, str | None]:
    """The data as known at the close of ``today``, and a note when that cuts the data.

    ``today`` must fall within the data's span or after its end: before the run's second
    trading day it is a DataError. Before the data's last day, prices after ``today`` and
    macro observations released after it are dropped, so the memo is the one ``now`` would
    have printed that evening.
    """
    days = md.calendar if start is None else md.calendar[md.calendar >= start]
    if len(days) and today < days[0]:
        raise DataError(f"--today {today.date()}: before the data (the run's first trading day is {days[0].date()})")
    if len(days) > 1 and today < days[1]:
        raise DataError(f"--today {today.date()}: the run's first trading day; a memo needs two "
                        f"(the second is {days[1].date()})")
    if today >= md.calendar[-1]:
        return md, None
    macro = {}
    for k, m in md.macro.items():
        keep = ((np.asarray(m.released, dtype="datetime64[ns]") <= np.datetime64(today))
                & (np.asarray(m.values.index, dtype="datetime64[ns]") <= np.datetime64(today)))
        macro[k] = MacroSeries(k, m.values[keep], m.released[keep])
    cut = MarketData(md.prices.loc[md.prices.index <= today], macro, md.source, md.synthetic, md.notes)
    return cut, (f"--today {today.date()} is before the data's last day ({md.calendar[-1].date()}): "
                 f"only prices to {today.date()} and macro data released by then are used")


def cash_rate_series(cfg: RunConfig, md: MarketData, as_of: pd.Timestamp) -> str | None:
    """The series idle cash earns on ``as_of``: ``cash.rate``, resolving the ``cash_rate`` signal
    (DTB3 while it is fresh, DGS3MO after it stops: :func:`backtest.regimes.signals.fresh_values`)."""
    src = cash_rate_source(cfg.cash.rate, list(md.macro))
    if src != "cash_rate":
        return src
    days = pd.DatetimeIndex([as_of])
    if "DTB3" in md.macro and fresh_values(md.macro["DTB3"], days).notna().iloc[0]:
        return "DTB3"
    return "DGS3MO" if "DGS3MO" in md.macro else None


def select_strategies(cfg: RunConfig, names: list[str] | None, origin: str) -> tuple[RunConfig, list[str]]:
    """The config to run for ``names`` (those strategies plus the benchmark strategy) and the names shown."""
    known = [s.name for s in cfg.strategies]
    if names is None:
        return cfg, known
    wanted = [str(n).strip() for n in names if str(n).strip()]
    if not wanted:
        raise ConfigError(f"{origin}: --strategies: no strategy named (got {','.join(map(str, names))!r})")
    for n in wanted:
        if n not in known:
            raise ConfigError(f"{origin}: --strategies: no strategy named {n!r} (the config has: {', '.join(known)})")
    keep = set(wanted) | ({cfg.benchmark} if cfg.benchmark in known else set())
    run = cfg.model_copy(update={"strategies": [s for s in cfg.strategies if s.name in keep]})
    return run, list(dict.fromkeys(wanted))


def load_holdings(holdings: str | Path | pd.DataFrame | Holdings | None) -> Holdings | None:
    """Checked holdings from a file, a DataFrame (the API) or None (all cash)."""
    if holdings is None or isinstance(holdings, Holdings):
        return holdings
    if isinstance(holdings, str | Path):
        return read_holdings(holdings)
    return check_holdings(holdings, "holdings")


def compute_now(
    cfg: RunConfig,
    origin: str = "<config>",
    *,
    today: date | str | pd.Timestamp | None = None,
    capital: float | None = None,
    holdings: str | Path | pd.DataFrame | None = None,
    strategies: list[str] | None = None,
    md: MarketData | None = None,
) -> NowReport:
    """Compute the ``now`` report of ``cfg``.

    Parameters
    ----------
    cfg : RunConfig
        Validated config; with a ``yahoo`` source the cache is refreshed first.
    origin : str
        Config file name (for messages).
    today : date or str, optional
        Today's date (default: the UTC date): within the data's span or after its end.
        Before the data's last day, only data known by then are used (:func:`known_on`).
    capital : float, optional
        Portfolio value: with holdings in shares it must match their value within 0.5 %.
    holdings : str, Path or DataFrame, optional
        Current holdings (``asset,shares`` or ``asset,weight``, optional ``CASH`` row;
        :mod:`backtest.now_book`); default all cash. Shares alone give the NAV.
    strategies : list of str, optional
        Strategies to report (default all; the benchmark strategy is run as well).
    md : MarketData, optional
        Pre-loaded market data.

    Returns
    -------
    NowReport

    Raises
    ------
    RmpbtError
        One line: bad ``--capital``, ``--today``, ``--strategies`` or holdings, a book the
        config does not allow, holdings and capital that disagree, data problems.
    """
    notes: list[str] = []
    if md is None and source_info(cfg.data.source).online:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"refresh": True})})
        notes.append("yahoo/fred source: the data cache was refreshed before computing")
    if capital is not None and (isinstance(capital, bool) or not isinstance(capital, int | float)
                                or not (math.isfinite(capital) and 0 < capital <= MAX_CAPITAL)):
        raise DataError(f"--capital {capital!r}: must be a positive number (at most {MAX_CAPITAL:g})")
    today_ts = parse_today(today)
    hold = load_holdings(holdings)
    run_cfg, shown = select_strategies(cfg, strategies, origin)
    book = None
    if today is not None or hold is not None:  # checked before the run: a bad --today or book fails fast
        md = md if md is not None else pipeline.load_market(run_cfg)
        if today is not None:
            start = pd.Timestamp(run_cfg.data.start) if run_cfg.data.start else None
            md, cut = known_on(md, today_ts, start)
            if cut:
                notes.append(cut)
        px = md.prices if run_cfg.data.end is None else md.prices.loc[:pd.Timestamp(run_cfg.data.end)]
        book = book_from_holdings(hold, px.ffill().iloc[-1], capital, str(px.index[-1].date()))
    out = pipeline.run_backtest(run_cfg, origin, md)  # module attribute: tests may patch it
    md = out.md
    as_of = pd.Timestamp(out.days[-1])
    prices = md.prices.loc[:as_of].ffill().iloc[-1]
    if book is None:
        book = book_from_holdings(None, prices, capital)
    if book is not None:
        check_book(book, run_cfg.execution.max_gross_leverage, shortable(out), book.origin)
    stale, warnings = staleness(md, as_of, today_ts)
    regimes = regimes_today(run_cfg, md)
    reg_start = regime_since(out.labels["regime"].reindex(md.calendar).loc[:as_of])
    status = strategy_status(out, reg_start, shown)
    _, cash_rate = pipeline.cash_returns(run_cfg, md, out.days, out.sf.signal("cash_rate"), origin)
    rate_now = None if cash_rate is None else _num(cash_rate.iloc[-1])
    costs = Costs.from_config(run_cfg)
    for name, st in status.items():
        sim = out.sims[name]
        fee_drag = trailing_fee_drag(sim.fees, sim.value, sim.fills[0] if len(sim.fills) else None)
        st["exposure"] = exposure(st["target"])
        st["cost_per_year"] = cost_per_year(st["target"], costs, rate_now, fee_drag)
        st["why"] = explain_strategy(out, name)
        st["last_rebalance"] = last_rebalance(out, name)
    bname, bval = benchmark_value(out)
    bench: dict[str, Any] = {"name": bname}
    if bval is not None:
        bench["return_since_regime_start"] = period_return(bval, reg_start)[0]
        bench["return_since_rmp_start"] = period_return(bval, RMP_START)[0]
    fb = out.extras.get("fallbacks")
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
        strategies=status,
        benchmark=bench,
        notes=notes + list(out.notes),
        rates={"cash_rate_pct": rate_now, "cash_rate_setting": run_cfg.cash.rate,
               "cash_rate_series": cash_rate_series(run_cfg, md, as_of),
               "borrow_spread_bps": costs.borrow_spread_bps,
               "short_rebate_haircut_bps": costs.short_rebate_haircut_bps,
               "borrow_bps": costs.borrow_bps, "borrow_bps_by_asset": dict(costs.borrow_bps_by_asset),
               "fee_bps": costs.fee_bps, "slippage_bps": costs.slippage_bps},
        regime_disagreement=regime_disagreement(regimes),
        regime_start=str(reg_start.date()) if pd.notna(reg_start) else None,
        fallbacks=[] if fb is None else [{k: (str(v.date()) if isinstance(v, pd.Timestamp) else v)
                                          for k, v in r.items()} for r in fb.to_dict("records")],
    )
    if book is not None:
        report.capital = book.nav
        report.book = book.to_json()
        for name, st in status.items():
            tr = plan_trades(st["target"], book.shares, prices, book.nav)
            report.trades[name] = tr
            report.trade_costs[name] = trade_cost(tr, book.nav, costs)
    return report


def write_now(report: NowReport, root: str | Path = "results") -> Path:
    """Write ``now.json``, ``now.html``, ``memo.txt`` (+ ``fallbacks.csv``) into a new folder under ``root`` (atomically).

    ``memo.txt`` is the ``--verbose`` memo.
    """

    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in report.name)[:40]
    run_id = f"now-{datetime.now(UTC):%Y%m%d-%H%M%S}-{safe}"
    rec = report.to_json()
    with atomic_run_dir(root, run_id) as tmp:
        write_json(tmp / "now.json", rec)
        (tmp / "now.html").write_text(render_now_html(rec))
        (tmp / "memo.txt").write_text("\n".join(memo_lines(rec, verbose=True)) + "\n")
        if report.fallbacks:
            pd.DataFrame(report.fallbacks).to_csv(tmp / "fallbacks.csv", index=False)
    return final_path(root, run_id)
