"""Scenario channels and the loaded history as day-by-day arrays (:class:`History`).

The channel table (what each channel's daily change is, and the level it drives) is in
the docstring of :mod:`backtest.synthetic.model.generator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.data.base import MacroSeries, MarketData
from backtest.data.market_model import DAILY_SERIES, MACRO_SERIES
from backtest.errors import DataError

__all__ = [
    "BS_CHANNEL", "BS_CHANNELS", "BS_SERIES", "CH", "CHANNELS", "FLOORS", "HALF_LIVES",
    "IORB_MINUS_TOP", "MAX_SHARE", "MIN_RATE", "SIM_SERIES", "TOP_STEP", "History",
]

CHANNELS: tuple[str, ...] = (
    "vix", "term", "dgs2", "dgs10", "top", "sofr_spread", "bill_spread", "cm_spread",
    "rrp", "tga", "walcl", "treast", "reserves", "cpi",
)
CH = {c: i for i, c in enumerate(CHANNELS)}
SIM_SERIES = MACRO_SERIES
BS_CHANNELS = ("walcl", "treast", "reserves")
BS_SERIES = {"walcl": "WALCL", "treast": "TREAST", "reserves": "WRESBAL"}
BS_CHANNEL = {v: k for k, v in BS_SERIES.items()}
# mean-reversion half-lives of the bootstrap levels (trading days); about the AR(1)
# persistence the sample calibration estimates on the same real series
HALF_LIVES: dict[str, float] = {"vix": 25.0, "term": 7.0, "sofr_spread": 2.0, "bill_spread": 15.0,
                                "cm_spread": 60.0, "tga": 60.0}
FLOORS: dict[str, float] = {"dgs2": 0.01, "dgs10": 0.01, "top": 0.25, "rrp": 0.0, "tga": 20_000.0,
                            "vix": float(np.log(9.0))}
TOP_STEP = 0.25
MIN_RATE = 0.01
IORB_MINUS_TOP = -0.10
MAX_SHARE = {"TREAST": 0.67, "WRESBAL": 0.64}  # of WALCL (as the sample model)


# ------------------------------------------------------------------------ history


def _ffill_on(days: pd.DatetimeIndex, ms: MacroSeries | None, limit: int = 10) -> np.ndarray:
    """Observed values carried onto trading days (by observation date), NaN if absent."""
    if ms is None or len(ms.values) == 0:
        return np.full(len(days), np.nan)
    s = ms.values[~ms.values.index.duplicated()]
    return s.reindex(s.index.union(days)).ffill(limit=limit).reindex(days).to_numpy(dtype=float)


def _per_day_growth(days: pd.DatetimeIndex, ms: MacroSeries | None, log: bool) -> np.ndarray:
    """Change between consecutive observations spread evenly over the trading days between them.

    Day ``d`` in ``(obs_{k-1}, obs_k]`` gets ``(x_k - x_{k-1}) / n_k`` (log change when
    ``log``); NaN before the second observation or where a step is missing.
    """
    out = np.full(len(days), np.nan)
    if ms is None or len(ms.values) < 2:
        return out
    v = ms.values[~ms.values.index.duplicated()].astype(float)
    x = np.log(v.to_numpy()) if log else v.to_numpy()
    obs = pd.DatetimeIndex(v.index)
    # bucket of each day: first observation on or after it
    k = obs.searchsorted(days, side="left")
    ok = (k >= 1) & (k < len(obs))
    step = np.full(len(days), np.nan)
    step[ok] = x[k[ok]] - x[k[ok] - 1]
    n = pd.Series(1, index=days).groupby(np.where(ok, k, -1)).transform("sum").to_numpy()
    out[ok] = step[ok] / n[ok]
    return out


@dataclass(frozen=True)
class History:
    """The loaded data as day-by-day arrays for the generator.

    Attributes
    ----------
    md : MarketData
        Everything loaded (prices and macro series with release dates).
    tickers : tuple[str, ...]
        Simulated assets (N).
    dates : pd.DatetimeIndex
        Trading days (D).
    returns : np.ndarray, shape (D, N)
        Daily simple returns (NaN where an asset has no price).
    changes : np.ndarray, shape (D, C)
        Daily change of each channel of :data:`CHANNELS` (NaN where unknown).
    levels : np.ndarray, shape (D, C)
        Level of the mean-reverting channels (for state means; NaN elsewhere).
    walcl_bn_day : np.ndarray, shape (D,)
        Daily WALCL growth in bn USD (weekly change over the week's trading days).
    rf : np.ndarray, shape (D,)
        Daily cash return: the previous day's 3-month bill rate (DTB3, else DGS3MO) / 100 / 252.
    """

    md: MarketData
    tickers: tuple[str, ...]
    dates: pd.DatetimeIndex
    returns: np.ndarray
    changes: np.ndarray
    levels: np.ndarray
    walcl_bn_day: np.ndarray
    rf: np.ndarray

    @classmethod
    def from_market(cls, md: MarketData, tickers: list[str]) -> History:
        """Build the arrays (see the class docstring and the module's channel table)."""
        missing = [t for t in tickers if t not in md.prices.columns]
        if missing:
            raise DataError(f"unknown ticker {missing[0]}: not in the loaded data ({md.source})")
        days = md.calendar
        px = md.prices[list(tickers)].to_numpy(dtype=float)
        ret = np.full_like(px, np.nan)
        ret[1:] = px[1:] / px[:-1] - 1.0
        m = md.macro
        f = {name: _ffill_on(days, m.get(name)) for name in DAILY_SERIES}
        with np.errstate(divide="ignore", invalid="ignore"):
            lvix = np.log(f["VIX"])
            term = np.log(f["VIX3M"]) - lvix
            admin = np.where(np.isfinite(f["IORB"]), f["IORB"], f["DFEDTARU"] + IORB_MINUS_TOP)
            lev = {
                "vix": lvix, "term": term, "dgs2": f["DGS2"], "dgs10": f["DGS10"], "top": f["DFEDTARU"],
                "sofr_spread": f["SOFR"] - admin,
                "bill_spread": f["DFEDTARU"] - f["DTB3"],
                "cm_spread": f["DGS3MO"] - f["DTB3"],
                "rrp": f["RRPONTSYD"],
            }
        changes = np.full((len(days), len(CHANNELS)), np.nan)
        levels = np.full((len(days), len(CHANNELS)), np.nan)
        for c, x in lev.items():
            changes[1:, CH[c]] = x[1:] - x[:-1]
            levels[:, CH[c]] = x
        changes[:, CH["tga"]] = _per_day_growth(days, m.get("WDTGAL"), log=False)
        levels[:, CH["tga"]] = _ffill_on(days, m.get("WDTGAL"))
        for c, s in BS_SERIES.items():
            changes[:, CH[c]] = _per_day_growth(days, m.get(s), log=True)
        changes[:, CH["cpi"]] = _per_day_growth(days, m.get("CPIAUCSL"), log=True)
        walcl = _per_day_growth(days, m.get("WALCL"), log=False) / 1e3
        rate = np.where(np.isfinite(f["DTB3"]), f["DTB3"], f["DGS3MO"])
        rf = np.zeros(len(days))
        rf[1:] = np.nan_to_num(rate[:-1], nan=0.0) / 100.0 / TRADING_DAYS
        return cls(md, tuple(tickers), days, ret, changes, levels, walcl, rf)

    def usable(self) -> np.ndarray:
        """Days on which every simulated asset has a return and VIX is known."""
        return np.isfinite(self.returns).all(axis=1) & np.isfinite(self.levels[:, CH["vix"]])

    def need_matrix(self) -> tuple[np.ndarray, list[str]]:
        """Per day and required input, whether it exists (for analogue checks)."""
        cols = [np.isfinite(self.returns[:, j]) for j in range(len(self.tickers))]
        cols.append(np.isfinite(self.levels[:, CH["vix"]]))
        return np.column_stack(cols), [*self.tickers, "VIX"]
