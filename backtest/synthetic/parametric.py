"""Calibrated per-regime parametric market generator: moved to :mod:`backtest.data.market_model`.

This module re-exports its public names so that existing imports keep working.
"""

from __future__ import annotations

from backtest.data.market_model import (
    BALANCE_SHEET,
    DAILY_SERIES,
    DECIMALS,
    JOINT_MACRO,
    JOINT_SCALE,
    MACRO_SERIES,
    MONTHLY_SERIES,
    REGIME_KINDS,
    WEEKLY_SERIES,
    SimulatedPaths,
    clip_psd_corr,
    dof_from_excess_kurtosis,
    monthly_dates,
    regime_codes,
    simulate,
    simulate_paths,
    simulate_returns,
    weekly_dates,
)

__all__ = [
    "BALANCE_SHEET",
    "DAILY_SERIES",
    "DECIMALS",
    "JOINT_MACRO",
    "JOINT_SCALE",
    "MACRO_SERIES",
    "MONTHLY_SERIES",
    "REGIME_KINDS",
    "WEEKLY_SERIES",
    "SimulatedPaths",
    "clip_psd_corr",
    "dof_from_excess_kurtosis",
    "monthly_dates",
    "regime_codes",
    "simulate",
    "simulate_paths",
    "simulate_returns",
    "weekly_dates",
]
