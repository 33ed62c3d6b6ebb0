"""One backtest run, end to end: config -> data -> regimes -> signals -> weights -> engine -> metrics.

The execution rules come from one :class:`~backtest.execution.spec.ExecutionSpec` built
by :func:`~backtest.execution.spec.build_spec`; a strategy's weights are finalised by
:func:`~backtest.execution.weights.finalise_frame`. ``decision_dates`` is re-exported.

``run_backtest`` computes everything in memory and returns a :class:`RunOutput`;
``write_run`` writes the run folder atomically. The CLI calls both.
"""

from __future__ import annotations

import dataclasses
import json
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import backtest.report as report_pkg
from backtest.config import RunConfig, dump_yaml
from backtest.data.base import MarketData
from backtest.data.registry import source_info
from backtest.data.sources import make_source
from backtest.data.validate import check_stale_roles
from backtest.engine import SimResult, simulate_spec
from backtest.errors import DataError
from backtest.evidence.attribution import attribution_tables
from backtest.evidence.events import regime_start_paths
from backtest.execution.spec import build_spec
from backtest.execution.weights import check_static_leverage
from backtest.metrics import regime_metrics
from backtest.regimes.models import make_regime_model
from backtest.regimes.scoring import regime_outputs
from backtest.results import (
    atomic_run_dir,
    final_path,
    make_run_id,
    provenance_record,
    unique_run_id,
    write_json,
)
from backtest.run_metrics import run_metrics_table
from backtest.run_targets import strategy_targets
from backtest.signals import SignalFrame, build_signal_frame
from backtest.stats import degenerate_note
from strategies.base import (
    Strategy,
    build_strategy,
    check_borrow_assets,
    check_history,
    check_universe,
)

__all__ = ["RunOutput", "cash_returns", "costs_frame", "load_market", "required_series",
           "run_backtest", "write_outputs", "write_run"]

WARMUP_DAYS = 550  # calendar days of history loaded before the start for trailing signals


@dataclass
class RunOutput:
    """Everything a run computed (in memory)."""

    cfg: RunConfig
    origin: str
    md: MarketData
    sf: SignalFrame
    labels: pd.DataFrame
    days: pd.DatetimeIndex
    sims: dict[str, SimResult]
    targets: dict[str, pd.DataFrame]
    returns: pd.DataFrame
    rf: pd.Series
    metrics: pd.DataFrame
    regime_metrics: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)


def required_series(cfg: RunConfig) -> tuple[list[str], list[str]]:
    """Tickers and macro series a run needs (universe ∪ strategy assets; configured macro)."""
    strategies = [build_strategy(s) for s in cfg.strategies]
    tickers = list(
        dict.fromkeys([*cfg.data.universe, *[a for s in strategies for a in s.assets()]])
    )
    macro = list(dict.fromkeys(cfg.data.macro))
    if cfg.cash.rate.lower() != "none" and cfg.cash.rate not in macro:
        macro.append(cfg.cash.rate)
    return tickers, macro


def load_market(cfg: RunConfig) -> MarketData:
    """Load data for ``cfg`` (with a warm-up window before the start)."""
    tickers, macro = required_series(cfg)
    start = pd.Timestamp(cfg.data.start) if cfg.data.start else None
    end = pd.Timestamp(cfg.data.end) if cfg.data.end else None
    load_start = start - pd.Timedelta(days=WARMUP_DAYS) if start is not None else None
    src = make_source(cfg.data)
    try:
        md = src.load(tickers, macro, load_start, end)
    except DataError as exc:  # a start after the data: say so with the data's last date
        if start is None or source_info(cfg.data.source).online:  # no second download in an error path
            raise
        last = src.load(tickers, macro, None, end).calendar[-1]
        if start > last:
            raise DataError(f"data ends {last.date()}; start {start.date()} (data.start / --start) is after it") from None
        raise exc
    if md.synthetic or not len(md.calendar):
        return md
    run_end = min(end, md.calendar[-1]) if end is not None else md.calendar[-1]
    warned = check_stale_roles(md.macro, cfg.cash.rate, run_end, declared=cfg.data.units,
                               warn=cfg.data.stale == "warn", origin=f"data ({md.source})")
    return dataclasses.replace(md, notes=(*md.notes, *warned)) if warned else md


def cash_returns(
    cfg: RunConfig, md: MarketData, days: pd.DatetimeIndex, rf_rate: pd.Series, origin: str
) -> tuple[pd.Series, pd.Series | None]:
    """Daily risk-free return and the rate idle cash earns (:func:`build_spec`'s).

    Returns
    -------
    tuple
        ``(rf, cash_rate)`` on ``days`` (``cash_rate`` None when ``cash.rate`` is ``none``).
    """
    spec = build_spec(cfg, md, days, rf_rate, origin)
    return spec.rf, spec.cash_rate


def run_backtest(cfg: RunConfig, origin: str = "<config>", md: MarketData | None = None) -> RunOutput:
    """Run every strategy of ``cfg`` and compute metrics.

    Parameters
    ----------
    cfg : RunConfig
        Validated config.
    origin : str
        Config file name (for messages).
    md : MarketData, optional
        Pre-loaded data (tests, scenarios); loaded from ``cfg.data`` when omitted.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    strategies: list[Strategy] = [build_strategy(s, origin) for s in cfg.strategies]
    check_universe(cfg, origin, strategies)
    check_borrow_assets(cfg, origin, strategies)
    check_static_leverage(cfg, origin)
    if md is None:
        md = load_market(cfg)
    timings["load"] = time.perf_counter() - t0
    missing = [a for s in strategies for a in s.assets() if a not in md.prices.columns]
    if missing:
        raise DataError(f"unknown ticker {missing[0]}: not in the loaded data ({md.source})")
    check_history(strategies, md.calendar, origin)
    notes.extend(md.notes)
    start = pd.Timestamp(cfg.data.start) if cfg.data.start else md.calendar[0]
    days = md.calendar[md.calendar >= start]
    if cfg.data.end is not None:
        days = days[days <= pd.Timestamp(cfg.data.end)]
    if len(days) < 2 and start > md.calendar[-1]:
        raise DataError(f"data ends {md.calendar[-1].date()}; start {start.date()} (data.start / --start) is after it")
    if len(days) < 2:
        raise DataError(
            f"{md.source}: fewer than 2 trading days between {start.date()} and {cfg.data.end}"
        )

    t1 = time.perf_counter()
    model = make_regime_model(cfg.regimes)
    labels = model.label(md, md.calendar)
    sf = build_signal_frame(md, labels["regime"], extra={"regime_labels": labels})
    timings["signals"] = time.perf_counter() - t1

    spec = build_spec(cfg, md, days, sf.signal("cash_rate"), origin)
    rf = spec.rf
    dates = spec.decisions
    prices = md.prices.loc[days]
    sims: dict[str, SimResult] = {}
    targets: dict[str, pd.DataFrame] = {}
    fallbacks: list[dict] = []
    t2 = time.perf_counter()

    for strat in strategies:
        tg = strategy_targets(strat, sf, dates, md.prices.columns, spec.max_gross, cfg.execution.max_gross_leverage)
        ts = time.perf_counter()
        notes.extend(tg.notes)
        fallbacks.extend(tg.fallbacks)
        w = targets[tg.name] = tg.weights
        sims[tg.name] = simulate_spec(prices[w.columns] if len(w.columns) else prices, w, spec)
        timings[f"strategy:{tg.name}"] = tg.seconds + time.perf_counter() - ts
        if sims[tg.name].skipped:
            notes.append(
                f"{tg.name}: {sims[tg.name].skipped} rebalance(s) skipped inside the drift band"
            )
    timings["simulate"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    returns = pd.DataFrame({n: s.returns for n, s in sims.items()}, index=days)
    returns.index.name = "date"
    turnover = pd.DataFrame({n: s.turnover for n, s in sims.items()}, index=days)
    metrics = run_metrics_table(returns, rf, turnover, benchmark=cfg.benchmark, costs=costs_frame(days, sims))
    notes.extend(n for c in returns.columns if (n := degenerate_note(str(c), (returns[c] - rf).to_numpy())))
    reg = regime_metrics(returns, labels["regime"].reindex(days), rf, turnover)
    timings["metrics"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    extras = {"turnover": turnover}
    if fallbacks:
        extras["fallbacks"] = pd.DataFrame(fallbacks, columns=["date", "strategy", "reason", "action", "solver_status"])
        notes.append(f"optimizer fallbacks: {len(fallbacks)} (see fallbacks.csv)")
    extras.update(regime_outputs(returns, labels.reindex(days)))
    extras["event_study"] = regime_start_paths(returns, labels.reindex(days), rf)
    return RunOutput(
        cfg,
        origin,
        md,
        sf,
        labels,
        days,
        sims,
        targets,
        returns,
        rf,
        metrics,
        reg,
        notes,
        timings,
        extras,
    )


def _weights_long(targets: dict[str, pd.DataFrame]) -> pd.DataFrame:
    parts = []
    for name, w in targets.items():
        live = w.dropna(how="all")
        if live.empty:
            continue
        long = (
            live.rename_axis("date")
            .reset_index()
            .melt(id_vars="date", var_name="asset", value_name="weight")
        )
        long.insert(1, "strategy", name)
        parts.append(long)
    if not parts:
        return pd.DataFrame(columns=["date", "strategy", "asset", "weight"])
    out = pd.concat(parts, ignore_index=True).sort_values(
        ["date", "strategy", "asset"], kind="stable"
    )
    return out.reset_index(drop=True)


def costs_frame(days: pd.DatetimeIndex, sims: dict[str, SimResult]) -> pd.DataFrame:
    """The daily costs of every strategy, long (``costs.parquet``): ``date, strategy, fees, borrow, financing, turnover``.

    Money amounts are in units of the initial capital; ``turnover`` is traded value over NAV.
    """
    if not sims:
        return pd.DataFrame(columns=["date", "strategy", "fees", "borrow", "financing", "turnover"])
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "date": days,
                    "strategy": n,
                    "fees": s.fees.to_numpy(),
                    "borrow": s.borrow.to_numpy(),
                    "financing": (s.financing if s.financing is not None else s.borrow * 0.0).to_numpy(),
                    "turnover": s.turnover.to_numpy(),
                }
            )
            for n, s in sims.items()
        ],
        ignore_index=True,
    )


def write_outputs(out: RunOutput, folder: Path, run_id: str | None = None) -> None:
    """Write every contract file of a run into ``folder`` (which must exist).

    ``run_id`` is the final folder name (``folder`` may be a temporary folder).
    """
    cfg = out.cfg
    (folder / "config.yaml").write_text(dump_yaml(cfg))
    out.metrics.to_csv(folder / "metrics.csv", float_format="%.10g")
    out.regime_metrics.to_csv(folder / "regime_metrics.csv", index=False, float_format="%.10g")
    out.returns.to_parquet(folder / "returns.parquet")
    _weights_long(out.targets).to_parquet(folder / "weights.parquet", index=False)
    daily_w = []
    for name, s in out.sims.items():
        w = s.weights.copy()
        w.index.name = "date"
        long = w.reset_index().melt(id_vars="date", var_name="asset", value_name="weight")
        long = long.loc[long["weight"].abs() > 1e-12]
        long.insert(1, "strategy", name)
        daily_w.append(long)
    if daily_w:
        pd.concat(daily_w, ignore_index=True).to_parquet(folder / "holdings.parquet", index=False)
    costs_frame(out.days, out.sims).to_parquet(folder / "costs.parquet", index=False)
    lab = out.labels.reindex(out.days).copy()
    lab.index.name = "date"
    lab.reset_index().to_parquet(folder / "regimes.parquet", index=False)
    sig = out.sf.signals.reindex(out.days)
    sig.index.name = "date"
    sig.to_parquet(folder / "signals.parquet")
    for key, frame in out.extras.items():
        if key == "turnover":
            continue
        frame.to_csv(folder / f"{key}.csv", index=False, float_format="%.10g")
    t_att = time.perf_counter()
    for key, frame in attribution_tables(out).items():  # regime attribution by asset and by sleeve
        frame.to_csv(folder / f"{key}.csv", index=False, float_format="%.10g")
    out.timings["attribution"] = time.perf_counter() - t_att
    prov = provenance_record("run", run_id or folder.name, cfg, out.origin, out.md.provenance(out.days),
                             seed=cfg.seed, notes=out.notes, timings=out.timings, settings=cfg.settings_record())
    write_json(folder / "provenance.json", prov)


def write_run(out: RunOutput, root: str | Path = "results", report: bool = True) -> Path:
    """Write the run folder atomically under ``root`` and return its path."""
    run_id = unique_run_id(root, make_run_id(out.cfg.name, out.cfg.config_hash()))
    html, png = report and out.cfg.report.html, report and out.cfg.report.png
    with atomic_run_dir(root, run_id) as tmp:
        # the PNG child loads matplotlib while the contract files are written
        job = start_png_job() if html and png else None
        token = _PNG_JOB.set(job)
        try:
            write_outputs(out, tmp, tmp.final.name)
            if html or png:
                t = time.perf_counter()
                render_report(tmp, html=html, png=png)
                out.timings["report"] = time.perf_counter() - t
        finally:
            _PNG_JOB.reset(token)
            if job is not None:
                job.close()
        if html or png:
            prov_path = tmp / "provenance.json"
            prov = json.loads(prov_path.read_text())
            prov["timings_s"]["report"] = round(out.timings["report"], 4)
            write_json(prov_path, prov)
    return final_path(root, run_id)


#: the PNG child :func:`write_run` started for the report it is about to render
_PNG_JOB: ContextVar[Any] = ContextVar("rmpbt_png_job", default=None)


def render_report(folder: Path, html: bool = True, png: bool = True) -> None:
    """Render the tearsheet and PNGs into a run folder, if the report package is present.

    Inside :func:`write_run`, the PNGs are drawn by the child process it started
    (:func:`start_png_job`) while this process writes the HTML page.
    """
    try:
        from backtest.report import render_run
    except ImportError:
        return
    job = _PNG_JOB.get()
    _PNG_JOB.set(None)  # one report per child
    render_run(folder, html=html, png=png, png_job=job)


def start_png_job() -> Any:
    """Fork the report's PNG child early (:class:`backtest.report.PngJob`); None if not possible."""
    try:
        job_cls = report_pkg.PngJob
    except ImportError:
        return None
    return job_cls.start()
