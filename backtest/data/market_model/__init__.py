"""The one calibrated per-regime parametric market model.

Used by the ``sample`` data source (:mod:`backtest.data.sample`: one path along the
regime calendar) and by the scenario generator's parametric source
(:mod:`backtest.synthetic.model.generator`: per scenario state). It imports neither
:mod:`backtest.synthetic` nor the data sources, so :mod:`backtest.data` may use it.

Modules
-------
calibration
    Loading the calibration, series constants, regime codes, joint Student-t parameters.
draws
    Joint draws and level recursions along one regime path.
paths
    :func:`simulate` / :func:`simulate_paths` / :func:`simulate_returns` and
    :class:`SimulatedPaths` (prices and macro series).
states
    The model per scenario state (:func:`state_model`, :func:`draw_states`).
"""

from __future__ import annotations

from backtest.constants import REGIME_KINDS
from backtest.data.market_model.calibration import (
    BALANCE_SHEET,
    CALIBRATION_PATH,
    DAILY_SERIES,
    DECIMALS,
    JOINT_MACRO,
    JOINT_SCALE,
    MACRO_SERIES,
    MONTHLY_SERIES,
    WEEKLY_SERIES,
    JointParams,
    by_kind,
    check_names,
    cholesky_corr,
    clip_psd_corr,
    dof_from_excess_kurtosis,
    joint_params,
    load_calibration,
    monthly_dates,
    regime_codes,
    weekly_dates,
)
from backtest.data.market_model.paths import (
    SimulatedPaths,
    simulate,
    simulate_paths,
    simulate_returns,
)
from backtest.data.market_model.states import (
    NOISE_LEVELS,
    LevelParams,
    StateModel,
    draw_states,
    level_params,
    staircase_levels,
    state_model,
)

__all__ = [
    "BALANCE_SHEET",
    "CALIBRATION_PATH",
    "DAILY_SERIES",
    "DECIMALS",
    "JOINT_MACRO",
    "JOINT_SCALE",
    "MACRO_SERIES",
    "MONTHLY_SERIES",
    "NOISE_LEVELS",
    "REGIME_KINDS",
    "WEEKLY_SERIES",
    "JointParams",
    "LevelParams",
    "SimulatedPaths",
    "StateModel",
    "by_kind",
    "check_names",
    "cholesky_corr",
    "clip_psd_corr",
    "dof_from_excess_kurtosis",
    "draw_states",
    "joint_params",
    "level_params",
    "load_calibration",
    "monthly_dates",
    "regime_codes",
    "simulate",
    "simulate_paths",
    "simulate_returns",
    "staircase_levels",
    "state_model",
    "weekly_dates",
]
