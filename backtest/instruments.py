"""Instrument metadata of the default universe: kind, leverage history, duration model, thesis sign.

The table lives in ``backtest/data/instruments.yaml`` (package data) and is validated here
once (:func:`instruments`). Strategies that size in risk units read it point in time:

* :func:`leverage_at` — the daily leverage of an ETF in force at each date (SVXY: -1x to
  2018-02-27, -0.5x from 2018-02-28), so a short-vol sleeve can be sized in
  -1x-VIX-futures-equivalent units;
* :func:`durations_at` — modified durations of the Treasury ETFs from the published curve.

Duration approximation (documented, deliberately simple): a fund's modified duration is that
of a *par bond* with semi-annual coupons at the fund's representative maturity ``M`` (SHY
1.9 y, IEF 8.5 y, TLT 25 y), priced at the yield ``y`` interpolated from the constant-maturity
curve known at the close::

    D(y, M) = (1 - (1 + y/2) ** (-2 M)) / y        (-> M as y -> 0)

The curve nodes are DGS3MO (0.25 y), DGS2 (2 y), DGS10 (10 y) and DGS30 (30 y), whichever
are published by that date; the yield is linear in maturity between nodes and flat beyond the
outermost ones. Without DGS30 (e.g. the sample market) the long end is therefore flat at
DGS10, which overstates TLT's duration by about 0.1-0.2 y per 10 bp of 10s30s slope. Where no
node is known, the table's ``fixed`` duration is used.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from backtest.errors import ConfigError

#: Constant-maturity yield series (FRED ids) and their maturities, years.
CURVE_NODES: dict[str, float] = {"DGS3MO": 0.25, "DGS2": 2.0, "DGS10": 10.0, "DGS30": 30.0}


class LeverageStep(BaseModel):
    """One entry of a leverage history: ``value`` in force from ``from`` on."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: dt.date = Field(..., alias="from")
    value: float


class DurationModel(BaseModel):
    """Representative maturity (years) and fixed fallback duration of a Treasury ETF."""

    model_config = ConfigDict(extra="forbid")

    maturity: float = Field(..., gt=0)
    fixed: float = Field(..., gt=0)


class Instrument(BaseModel):
    """Metadata of one ETF (see ``backtest/data/instruments.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    expense_ratio: float = Field(..., ge=0, lt=0.05)
    reference: str | None = None
    leverage: list[LeverageStep] = Field(default_factory=list)
    duration: DurationModel | None = None
    thesis: Literal["long", "short"] | None = None
    caveat: str | None = None

    @field_validator("leverage")
    @classmethod
    def _sorted(cls, v: list[LeverageStep]) -> list[LeverageStep]:
        if any(b.from_ <= a.from_ for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("leverage steps must be in increasing date order")
        if any(s.value == 0 for s in v):
            raise ValueError("leverage cannot be 0")
        return v


@lru_cache(maxsize=1)
def instruments() -> dict[str, Instrument]:
    """The validated instrument table, by ticker (read once).

    Raises
    ------
    ConfigError
        One line naming the ticker and key if the packaged table is malformed.
    """
    text = resources.files("backtest").joinpath("data/instruments.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text) or {}
    out: dict[str, Instrument] = {}
    for ticker, spec in raw.items():
        try:
            out[str(ticker)] = Instrument.model_validate(spec)
        except Exception as exc:  # pydantic ValidationError: one line naming the ticker
            raise ConfigError(f"backtest/data/instruments.yaml: {ticker}: {str(exc).splitlines()[-1].strip()}") from None
    return out


def thesis_signs() -> dict[str, int]:
    """Sign of each thesis asset's weight the article expects: +1 long-only, -1 short-only."""
    return {t: (1 if i.thesis == "long" else -1) for t, i in instruments().items() if i.thesis}


def caveats() -> dict[str, str]:
    """One-line caveat per ticker that has one (shown wherever a strategy holds it)."""
    return {t: " ".join(i.caveat.split()) for t, i in instruments().items() if i.caveat}


def leverage_at(ticker: str, dates: pd.DatetimeIndex) -> np.ndarray:
    """Daily leverage of ``ticker`` in force at each date (the value known at that close).

    Parameters
    ----------
    ticker : str
        An ETF of the table; one without a leverage history counts as +1.
    dates : pd.DatetimeIndex
        Decision (or return) dates.

    Returns
    -------
    np.ndarray, shape (len(dates),)
        Leverage; before the first step, the first step's value.
    """
    dates = pd.DatetimeIndex(dates)
    inst = instruments().get(ticker)
    if inst is None or not inst.leverage:
        return np.ones(len(dates))
    starts = pd.DatetimeIndex([pd.Timestamp(s.from_) for s in inst.leverage])
    vals = np.array([s.value for s in inst.leverage], dtype=float)
    pos = np.maximum(starts.searchsorted(dates.tz_localize(None) if dates.tz else dates, side="right") - 1, 0)
    return vals[pos]


def par_duration(y: np.ndarray | float, maturity: float) -> np.ndarray:
    """Modified duration of a semi-annual par bond of ``maturity`` years at yield ``y`` (decimal).

    ``D = (1 - (1 + y/2)^(-2M)) / y``, with the limit ``M`` at ``y = 0`` (and for tiny
    yields); NaN where ``y`` is NaN.
    """
    y = np.asarray(y, dtype=float)
    small = np.abs(y) < 1e-9
    ys = np.where(small, 1.0, y)
    with np.errstate(invalid="ignore", over="ignore"):
        d = (1.0 - (1.0 + ys / 2.0) ** (-2.0 * maturity)) / ys
    return np.where(small, maturity, d)


def curve_yield(yields: pd.DataFrame, maturity: float) -> np.ndarray:
    """Yield (percent) at ``maturity`` years, linear between the curve nodes known on each row.

    Parameters
    ----------
    yields : pd.DataFrame
        Columns among :data:`CURVE_NODES` (percent); other columns are ignored.
    maturity : float
        Years.

    Returns
    -------
    np.ndarray, shape (len(yields),)
        Flat beyond the outermost known nodes; NaN where no node is known.
    """
    cols = sorted((c for c in yields.columns if c in CURVE_NODES), key=CURVE_NODES.__getitem__)
    out = np.full(len(yields), np.nan)
    if not cols:
        return out
    x = np.array([CURVE_NODES[c] for c in cols])
    Y = yields[cols].to_numpy(dtype=float)
    ok = np.isfinite(Y)
    # rows with the same known nodes share one interpolation, computed as np.interp does
    # for a scalar abscissa (same operations, same bits; tests compare with np.interp per row)
    code = ok.astype(np.int64) @ (1 << np.arange(len(cols), dtype=np.int64))  # the known nodes, as bits
    for c in np.unique(code[code > 0]):
        rows = np.flatnonzero(code == c)
        known = np.flatnonzero(ok[rows[0]])
        out[rows] = _interp_at(float(maturity), x[known], Y[np.ix_(rows, known)])
    return out


def _interp_at(m: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``np.interp(m, xs, ys[r])`` for every row ``r`` (``xs`` increasing, ``ys`` finite)."""
    if m <= xs[0]:
        return ys[:, 0].copy()
    if m >= xs[-1]:
        return ys[:, -1].copy()
    j = int(np.searchsorted(xs, m, side="right")) - 1  # xs[j] <= m < xs[j + 1]
    if xs[j] == m:
        return ys[:, j].copy()
    slope = (ys[:, j + 1] - ys[:, j]) / (xs[j + 1] - xs[j])
    return slope * (m - xs[j]) + ys[:, j]


def durations_at(tickers: list[str], yields: pd.DataFrame | None) -> pd.DataFrame:
    """Point-in-time modified durations of Treasury ETFs from the published curve.

    Parameters
    ----------
    tickers : list of str
        ETFs with a ``duration`` model in the table.
    yields : pd.DataFrame or None
        Curve known at each date (index: dates, columns among :data:`CURVE_NODES`, percent).
        None or empty: every date gets the fixed duration.

    Returns
    -------
    pd.DataFrame
        Index of ``yields`` (or empty), one column per ticker, years.

    Raises
    ------
    ConfigError
        A ticker has no duration model.
    """
    table = instruments()
    index = yields.index if yields is not None else pd.DatetimeIndex([])
    out = {}
    for t in tickers:
        inst = table.get(t)
        if inst is None or inst.duration is None:
            raise ConfigError(f"backtest/data/instruments.yaml: {t} has no duration model")
        if yields is None or yields.empty:
            out[t] = np.full(len(index), inst.duration.fixed)
            continue
        d = par_duration(curve_yield(yields, inst.duration.maturity) / 100.0, inst.duration.maturity)
        out[t] = np.where(np.isfinite(d) & (d > 0), d, inst.duration.fixed)
    return pd.DataFrame(out, index=index, columns=list(tickers))


__all__ = ["CURVE_NODES", "DurationModel", "Instrument", "LeverageStep", "caveats", "curve_yield",
           "durations_at", "instruments", "leverage_at", "par_duration", "thesis_signs"]
