"""Calibration of the per-regime parametric market model: loading, constants, joint params.

The calibration is a plain dict (``backtest/data/sample_calibration.json``, produced by
``scripts/calibrate_sample.py``). This package (:mod:`backtest.data.market_model`) is the one
home of the calibrated model used both by the ``sample`` data source
(:mod:`backtest.data.sample`) and by the scenario generator
(:mod:`backtest.synthetic.model.generator`); it never imports :mod:`backtest.synthetic`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import REGIME_KINDS
from backtest.errors import DataError, RegimeError

CALIBRATION_PATH = Path(__file__).resolve().parents[1] / "sample_calibration.json"
"""The committed calibration (next to the ``sample`` source that ships it)."""

JOINT_MACRO: tuple[str, ...] = ("vix", "term", "dgs2", "dgs10", "sofr_spread")
# Joint-draw column units -> level-state units (yield and spread innovations are in bp).
JOINT_SCALE: dict[str, float] = {
    "vix": 1.0,
    "term": 1.0,
    "dgs2": 0.01,
    "dgs10": 0.01,
    "sofr_spread": 0.01,
}
DAILY_SERIES: tuple[str, ...] = (
    "VIX",
    "VIX3M",
    "DGS2",
    "DGS10",
    "DTB3",
    "DGS3MO",
    "SOFR",
    "IORB",
    "DFEDTARU",
    "RRPONTSYD",
)
WEEKLY_SERIES: tuple[str, ...] = ("WALCL", "TREAST", "WRESBAL", "WDTGAL")
MONTHLY_SERIES: tuple[str, ...] = ("CPIAUCSL",)
MACRO_SERIES: tuple[str, ...] = DAILY_SERIES + WEEKLY_SERIES + MONTHLY_SERIES
BALANCE_SHEET: tuple[str, ...] = ("WALCL", "TREAST", "WRESBAL")
# Decimals of the published series (outputs of :func:`simulate` are rounded like them).
DECIMALS: dict[str, int] = {
    "VIX": 2,
    "VIX3M": 2,
    "DGS2": 2,
    "DGS10": 2,
    "DTB3": 2,
    "DGS3MO": 2,
    "SOFR": 2,
    "IORB": 2,
    "DFEDTARU": 2,
    "RRPONTSYD": 3,
    "WALCL": 0,
    "TREAST": 0,
    "WRESBAL": 0,
    "WDTGAL": 0,
    "CPIAUCSL": 3,
}

@lru_cache(maxsize=1)
def _calibration_text() -> str:
    if not CALIBRATION_PATH.exists():
        raise DataError(
            f"{CALIBRATION_PATH}: sample calibration not found (run scripts/calibrate_sample.py)"
        )
    return CALIBRATION_PATH.read_text(encoding="utf-8")


def load_calibration() -> dict[str, Any]:
    """The committed sample calibration (a fresh dict on every call).

    Returns
    -------
    dict
        Parsed ``sample_calibration.json``.

    Raises
    ------
    DataError
        The file is missing.
    """
    return json.loads(_calibration_text())


def clip_psd_corr(corr: np.ndarray, floor: float = 1e-5) -> np.ndarray:
    """Nearest-ish valid correlation matrix by eigenvalue clipping.

    Parameters
    ----------
    corr : np.ndarray
        Symmetric matrix with unit diagonal, possibly indefinite (pairwise-complete
        estimates).
    floor : float
        Smallest eigenvalue kept.

    Returns
    -------
    np.ndarray
        Positive-definite matrix with unit diagonal.
    """
    c = np.asarray(corr, dtype=float)
    c = (c + c.T) / 2.0
    np.fill_diagonal(c, 1.0)
    w, v = np.linalg.eigh(c)
    c = (v * np.maximum(w, floor)) @ v.T
    d = np.sqrt(np.diag(c))
    c = c / np.outer(d, d)
    c = (c + c.T) / 2.0
    np.fill_diagonal(c, 1.0)
    return c


def dof_from_excess_kurtosis(kurt: float, lo: float = 3.0, hi: float = 30.0) -> float:
    """Student-t degrees of freedom whose excess kurtosis is ``kurt`` (``6 / (nu - 4)``).

    Parameters
    ----------
    kurt : float
        Excess kurtosis; non-positive or non-finite gives ``hi``.
    lo, hi : float
        Clipping range.

    Returns
    -------
    float
        ``clip(4 + 6 / kurt, lo, hi)``.
    """
    if not np.isfinite(kurt) or kurt <= 0:
        return float(hi)
    return float(np.clip(4.0 + 6.0 / kurt, lo, hi))


def regime_codes(regimes: pd.Series | Sequence[str] | np.ndarray) -> np.ndarray:
    """Integer codes (index into :data:`REGIME_KINDS`) of regime-kind labels.

    Raises
    ------
    RegimeError
        On a label that is not a regime kind.
    """
    vals = np.asarray(regimes, dtype=object)
    codes = np.full(len(vals), -1, dtype=np.int64)
    for i, k in enumerate(REGIME_KINDS):
        codes[vals == k] = i
    if (codes < 0).any():
        bad = vals[codes < 0][0]
        raise RegimeError(
            f"unknown regime kind {bad!r} in regime path (expected one of {', '.join(REGIME_KINDS)})"
        )
    return codes



def by_kind(d: Mapping[str, float], kinds: Sequence[str] = REGIME_KINDS) -> np.ndarray:
    """Values of a ``{kind: value}`` mapping in the order of ``kinds``.

    Parameters
    ----------
    d : mapping
        One value per regime kind.
    kinds : sequence of str
        Order of the output (default :data:`REGIME_KINDS`).

    Returns
    -------
    np.ndarray
        ``(len(kinds),)`` floats.
    """
    return np.array([float(d[k]) for k in kinds])


def cholesky_corr(corr: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a correlation matrix (eigenvalue-clipped if indefinite).

    Parameters
    ----------
    corr : np.ndarray
        Correlation matrix.

    Returns
    -------
    np.ndarray
        ``L`` with ``L L' = corr`` (or its :func:`clip_psd_corr` repair).
    """
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        return np.linalg.cholesky(clip_psd_corr(corr))


@dataclass(frozen=True)
class JointParams:
    """Per-regime-kind parameters of the joint Student-t draw (``R`` kinds, ``K`` columns).

    Attributes
    ----------
    columns : tuple of str
        Asset tickers then :data:`JOINT_MACRO`.
    n_assets : int
    mean, vol : np.ndarray
        ``(R, K)`` daily means and standard deviations.
    chol : np.ndarray
        ``(R, K, K)`` Cholesky factors of the correlations.
    dof : np.ndarray
        ``(R,)`` degrees of freedom.
    min_return : float
        Floor of simple returns.
    """

    columns: tuple[str, ...]
    n_assets: int
    mean: np.ndarray  # (R, K)
    vol: np.ndarray  # (R, K)
    chol: np.ndarray  # (R, K, K)
    dof: np.ndarray  # (R,)
    min_return: float


def joint_params(calib: Mapping, codes: np.ndarray) -> JointParams:
    """Joint-draw parameters of every regime kind from the calibration.

    Parameters
    ----------
    calib : Mapping
        Calibration dict.
    codes : np.ndarray
        Regime codes that will be drawn (a kind without parameters is an error only if used).

    Returns
    -------
    JointParams

    Raises
    ------
    DataError
        Joint columns out of order, or a used kind without parameters.
    """
    j = calib["joint"]
    cols = tuple(j["columns"])
    n_assets = len(calib["assets"]["tickers"])
    if (
        tuple(cols[:n_assets]) != tuple(calib["assets"]["tickers"])
        or tuple(cols[n_assets:]) != JOINT_MACRO
    ):
        raise DataError(
            "sample calibration: joint columns must be the asset tickers then "
            + ", ".join(JOINT_MACRO)
        )
    k_n = len(cols)
    mean = np.zeros((len(REGIME_KINDS), k_n))
    vol = np.ones((len(REGIME_KINDS), k_n))
    chol = np.tile(np.eye(k_n), (len(REGIME_KINDS), 1, 1))
    dof = np.full(len(REGIME_KINDS), 30.0)
    used = set(np.unique(codes).tolist())
    for i, k in enumerate(REGIME_KINDS):
        r = j["regimes"].get(k)
        if r is None:
            if i in used:
                raise DataError(f"sample calibration: no parameters for regime kind {k!r}")
            continue
        mean[i] = r["mean"]
        vol[i] = r["vol"]
        chol[i] = cholesky_corr(np.asarray(r["corr"], dtype=float))
        dof[i] = r["dof"]
    return JointParams(
        cols, n_assets, mean, vol, chol, dof, float(calib["assets"].get("min_return", -0.95))
    )


def weekly_dates(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Wednesdays from the first to the last trading day (H.4.1 observation dates)."""
    return pd.date_range(days[0], days[-1], freq="W-WED")


def monthly_dates(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """First day of each month from the first to the last trading day (CPI dates)."""
    return pd.date_range(days[0].to_period("M").to_timestamp(), days[-1], freq="MS")


def check_names(wanted: Sequence[str], known: Sequence[str], what: str) -> None:
    """Raise a one-line :class:`DataError` naming the first of ``wanted`` not in ``known``."""
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise DataError(f"unknown {what} {unknown[0]} (synthetic market has: {', '.join(known)})")
