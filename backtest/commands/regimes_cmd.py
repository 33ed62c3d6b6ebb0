"""``rmpbt regimes [CONFIG] [--data-dir DIR] [--model M] [--out DIR]``: inspect regime labels.

Labels the trading days with the chosen regime model, prints the regime timeline (start,
end, label, the regime ids merged into the row, days and the average of key signals in
each stretch; consecutive stretches of the same kind are one row; a legend explains the
columns) and, for a data-driven model, the agreement matrix against the Fed calendar
(effective or announced dates, as configured), and writes one
new folder ``<out>/regimes-<UTC timestamp>/`` (atomically; ``--out`` is the results
root, default ``results/``) holding ``timeline.csv``, ``labels.csv`` (daily labels,
calendar label and signals), ``agreement.csv`` and ``regimes.png``. Its path is the
last line printed.

Without CONFIG the offline synthetic ``sample`` market is used (or the csv folder given
by ``--data-dir``) from 2008-01-01 with default regime settings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from backtest.commands.common import out_path
from backtest.config import DEFAULT_MACRO, DataConfig, RegimeConfig
from backtest.constants import REGIME_MODELS
from backtest.data.base import MarketData
from backtest.regimes.models import CalendarModel, make_regime_model, model_spec
from backtest.regimes.signals import liquidity_signals
from backtest.results import atomic_run_dir, final_path

DEFAULT_START = "2008-01-01"
TIMELINE_SIGNALS: dict[str, str] = {
    "walcl_chg_13w": "W13",
    "treast_chg_13w": "T13",
    "net_liquidity_chg_13w": "NL13",
    "reserves": "reserves",
    "sofr_iorb": "SOFR-IORB",
    "vix": "VIX",
    "curve_2s10s": "2s10s",
    "cpi_yoy": "CPI yoy",
}
LEGEND = ("Each row: one stretch of a regime kind (consecutive ids of the same kind merged); signal columns are "
          "means over the stretch. W13 / T13: 13-week change of the Fed balance sheet (WALCL) / its Treasury "
          "holdings (TREAST), bn USD; NL13: 13-week change of net liquidity (WALCL - TGA - ON RRP), bn USD; "
          "reserves: reserve balances, bn USD; SOFR-IORB: funding spread, percent; VIX: index level; "
          "2s10s: 10y - 2y Treasury yield, percent; CPI yoy: percent; stress: share of days under the stress overlay.")


def load_inputs(config: Path | None, data_dir: str | None, model: str | None) -> tuple[MarketData, RegimeConfig, pd.DatetimeIndex]:
    """Market data, regime settings and the days to show.

    Parameters
    ----------
    config : Path, optional
        Run config; its data and ``regimes`` blocks are used.
    data_dir : str, optional
        csv data folder (overrides the config's; implies the csv source).
    model : str, optional
        Regime model overriding the config's (its params are dropped if the model differs).
    """
    if config is not None:
        from backtest.config import load_config
        from backtest.pipeline import load_market

        cfg = load_config(config, [], data_dir=data_dir, validate_strategies=False)
        md = load_market(cfg)
        reg = cfg.regimes
        start = pd.Timestamp(cfg.data.start) if cfg.data.start else md.calendar[0]
        end = pd.Timestamp(cfg.data.end) if cfg.data.end else md.calendar[-1]
    else:
        from backtest.data.sources import make_source

        dcfg = DataConfig(source="csv" if data_dir else "sample", dir=data_dir)
        start = pd.Timestamp(DEFAULT_START)
        md = make_source(dcfg).load(["SPY"], list(DEFAULT_MACRO), start, None)
        reg = RegimeConfig()
        end = md.calendar[-1]
    if model is not None and model != reg.model:
        reg = RegimeConfig(model=model, by=reg.by, calendar=reg.calendar, params={})
    days = md.calendar[(md.calendar >= start) & (md.calendar <= end)]
    return md, reg, days


def timeline(labels: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """One row per stretch of one regime kind: start, end, label, regime ids, days, stress share, signal means.

    Consecutive regime ids of the same kind (e.g. a plateau split by a calendar event) are
    merged into one row; their ids are listed in ``regime_id`` (comma-separated).
    """
    key = labels["regime_id"] if "regime_id" in labels else labels["regime"]
    lab = labels["regime"]
    run = (lab != lab.shift()).cumsum().to_numpy()
    cols = [c for c in TIMELINE_SIGNALS if c in signals]
    frame = signals[cols].copy()
    frame["_run"] = run
    means = frame.groupby("_run")[cols].mean()
    grp = pd.Series(labels.index, index=labels.index).groupby(run)
    out = pd.DataFrame({
        "start": grp.first().dt.date.to_numpy(),
        "end": grp.last().dt.date.to_numpy(),
        "label": labels["regime"].groupby(run).first().to_numpy(),
        "regime_id": key.astype(str).groupby(run).agg(lambda s: ", ".join(dict.fromkeys(s))).to_numpy(),
        "days": grp.size().to_numpy(),
    })
    if "stress" in labels:
        out["stress_share"] = labels["stress"].astype(float).groupby(run).mean().to_numpy()
    for c in cols:
        out[c] = means[c].to_numpy()
    return out


def agreement(model: pd.Series, reference: pd.Series) -> tuple[pd.DataFrame, float]:
    """Confusion matrix (rows: model labels, columns: reference labels) and share of equal days."""
    kinds = ["qe", "plateau", "qt", "rmp"]
    m = model.reindex(reference.index)
    tab = pd.crosstab(m.rename("model"), reference.rename("calendar")).reindex(index=kinds, columns=kinds, fill_value=0)
    share = float((m == reference).mean()) if len(reference) else float("nan")
    return tab, share


def _fmt(x: float, digits: int = 1) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:,.{digits}f}"


def timeline_table(tl: pd.DataFrame, title: str) -> Table:
    """Rich table of :func:`timeline`."""
    t = Table(title=title, title_justify="left", header_style="bold", caption=LEGEND, caption_justify="left")
    for col in ("start", "end", "label", "regime ids", "days"):
        t.add_column(col, justify="right" if col == "days" else "left", no_wrap=col != "regime ids",
                     max_width=28 if col == "regime ids" else None, min_width=10 if col == "regime ids" else None)
    if "stress_share" in tl:
        t.add_column("stress", justify="right")
    sig = [c for c in TIMELINE_SIGNALS if c in tl]
    for c in sig:
        t.add_column(TIMELINE_SIGNALS[c], justify="right")
    for row in tl.itertuples(index=False):
        cells = [str(row.start), str(row.end), row.label, str(row.regime_id), str(row.days)]
        if "stress_share" in tl:
            cells.append(f"{row.stress_share:.0%}")
        cells += [_fmt(getattr(row, c), 2 if c in ("sofr_iorb", "curve_2s10s") else 1) for c in sig]
        t.add_row(*cells)
    return t


def agreement_table(tab: pd.DataFrame, share: float, model: str, by: str) -> Table:
    """Rich table of the confusion matrix."""
    t = Table(title=f"agreement {model} vs calendar ({by})", title_justify="left", header_style="bold",
              caption=f"same label on {share:.1%} of {int(tab.to_numpy().sum())} days", caption_justify="left")
    t.add_column(f"{model} \\ calendar")
    for c in tab.columns:
        t.add_column(c, justify="right")
    for lab, row in tab.iterrows():
        t.add_row(str(lab), *[str(int(v)) for v in row])
    return t


def write_outputs(root: Path, labels: pd.DataFrame, cal: pd.Series, signals: pd.DataFrame,
                  tl: pd.DataFrame, tab: pd.DataFrame | None, title: str) -> Path:
    """Write the regimes folder atomically under ``root``; return its path."""
    from backtest.report.regime_chart import plot_regimes

    run_id = f"regimes-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    with atomic_run_dir(root, run_id) as tmp:
        tl.to_csv(tmp / "timeline.csv", index=False, float_format="%.6g")
        daily = labels.copy()
        daily["calendar"] = cal
        daily = pd.concat([daily, signals], axis=1)
        daily.index.name = "date"
        daily.to_csv(tmp / "labels.csv", float_format="%.6g")
        if tab is not None:  # no calendar-vs-calendar self-comparison
            tab.rename_axis(index="model", columns=None).to_csv(tmp / "agreement.csv")
        plot_regimes(signals, labels, tmp / "regimes.png", title=title, reference=cal)
    return final_path(root, run_id)


def register(app: typer.Typer) -> None:
    """Add the ``regimes`` command to ``app``."""

    @app.command("regimes")
    def regimes(
        config: Path | None = typer.Argument(None, help="Run config (YAML); default: the offline sample market."),
        data_dir: str | None = typer.Option(None, "--data-dir", help="Folder in the csv layout (implies source csv)."),
        model: str | None = typer.Option(None, "--model", help=f"Regime model: {' | '.join(REGIME_MODELS)} (default: the config's)."),
        out: Path = typer.Option(Path("results"), "--out", parser=out_path, help="Results root; one new regimes-<timestamp> folder is written inside."),
    ) -> None:
        """Show the regime timeline and its agreement with the Fed calendar; write CSV + PNG."""
        from backtest.commands.common import console, fail
        from backtest.errors import RmpbtError

        try:
            if model is not None:
                model_spec(model, "--model")  # one line, with the closest known model
            md, reg, days = load_inputs(config, data_dir, model)
            regime_model = make_regime_model(reg)
            labels = regime_model.label(md, md.calendar).reindex(days)
            cal = CalendarModel(reg.calendar, reg.by).label(md, days)["regime"]
            signals = liquidity_signals(md, days)
            tl = timeline(labels, signals)
            self_cmp = isinstance(regime_model, CalendarModel)  # the calendar against itself: no table
            tab, share = (None, float("nan")) if self_cmp else agreement(labels["regime"], cal)
            src = "SYNTHETIC sample market" if md.synthetic else md.source
            title = f"regimes: {reg.model} ({src}) {days[0].date()} → {days[-1].date()}"
            folder = write_outputs(out, labels, cal, signals, tl, tab, title)
        except RmpbtError as exc:
            fail(exc)
            return
        console.print(timeline_table(tl, title))
        if tab is not None:
            console.print(agreement_table(tab, share, reg.model, reg.by))
        console.print(str(folder), highlight=False, soft_wrap=True)
