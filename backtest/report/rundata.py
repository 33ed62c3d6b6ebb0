"""Reading a run folder for the report: :class:`RunData` and :func:`load_run`.

Required files (``provenance.json``, ``metrics.csv``, ``regime_metrics.csv``,
``returns.parquet``) are read as they are; optional ones (holdings or weights, costs,
regimes, the extra CSV/parquet tables) are read when present, and an unreadable optional
file becomes a note instead of an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from backtest.constants import TRADING_DAYS

__all__ = ["OPTIONAL_CSV", "OPTIONAL_PARQUET", "RunData", "load_run", "risk_free"]

OPTIONAL_CSV = ("event_study", "regime_share", "fallbacks", "scenario_metrics", "scenario_regret", "attribution",
                "attribution_sleeves")
OPTIONAL_PARQUET = ("scenario_fan",)


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
    benchmarks: dict[str, str] | None = None
    bench_returns: pd.DataFrame | None = None  # benchmarks not shown (compare --strategies)

    @property
    def strategies(self) -> list[str]:
        """Strategy names in display order."""
        return [str(c) for c in self.returns.columns]

    def benchmark_of(self) -> dict[str, str]:
        """Each strategy's benchmark strategy (the config's ``benchmark``, or ``benchmarks`` when set).

        Strategies without one, and the benchmark itself, are left out.
        """
        if self.benchmarks is not None:
            pairs = self.benchmarks
        else:
            b = (self.config or {}).get("benchmark")
            pairs = {s: b for s in self.strategies} if isinstance(b, str) else {}
        known = set(self.strategies) | set(self.bench_returns.columns if self.bench_returns is not None else ())
        return {s: b for s, b in pairs.items() if b != s and b in known and s in self.strategies}

    def returns_with_benchmarks(self) -> pd.DataFrame:
        """``returns`` plus the returns of benchmarks that are not shown."""
        if self.bench_returns is None:
            return self.returns
        extra = self.bench_returns[[c for c in self.bench_returns.columns if c not in self.returns.columns]]
        return pd.concat([self.returns, extra.reindex(self.returns.index)], axis=1)


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
    r = rate.reindex(days).astype(float).fillna(0.0).to_numpy() / 100.0 / TRADING_DAYS
    return pd.Series(np.concatenate([[0.0], r[:-1]]), index=days)


def _stress_events(config: dict, days: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, str]]:
    try:
        from backtest.data.regime_calendar import load_calendar

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
