"""The calibrated model per scenario *state* (the scenario generator's parametric source).

A scenario state of regime kind ``k`` draws from the same calibrated model as the
``sample`` market (:mod:`backtest.data.market_model.calibration`): the joint Student-t of
kind ``k`` (volatilities scaled by the state's ``vol_scale``), the level-noise standard
deviations, the weekly balance-sheet growth (spread evenly over the week's 5 days) and
the CPI drift. Level recursions (AR(1) persistence ``phi`` -> daily pull ``1 - phi``)
use the calibration's regime means and floors (:func:`level_params`).

Random streams: one generator per path; for path ``p`` the draw order is the joint
normals ``(T, K)``, the mixing variables ``(T,)``, then the 7 independent noises
``(T, 7)`` (bill, cm, rrp, tga, 3 balance-sheet factors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from backtest.constants import REGIME_KINDS
from backtest.data.market_model.calibration import (
    BALANCE_SHEET,
    JOINT_MACRO,
    JOINT_SCALE,
    cholesky_corr,
    joint_params,
)
from backtest.errors import DataError

__all__ = ["NOISE_LEVELS", "LevelParams", "StateModel", "draw_states", "level_params", "staircase_levels", "state_model"]

NOISE_LEVELS: tuple[str, ...] = ("bill_spread", "cm_spread", "rrp", "tga")
"""Level states driven by independent normal noises (in this order on each path's stream)."""

_AR_LEVELS: tuple[str, ...] = (
    "vix", "term", "dgs2", "dgs10", "sofr_spread", "bill_spread", "cm_spread", "rrp",
)


@dataclass(frozen=True)
class StateModel:
    """Per-state parameters of the calibrated parametric draw (``S`` states, ``K`` columns)."""

    cols: np.ndarray  # joint columns of the simulated tickers
    n_assets: int  # asset columns in the joint draw
    mean: np.ndarray  # (S, K)
    vol: np.ndarray  # (S, K)
    chol: np.ndarray  # (S, K, K)
    dof: np.ndarray  # (S,)
    min_return: float
    noise_sd: np.ndarray  # (S, 4): bill, cm, rrp, tga daily sd
    bs_mean: np.ndarray  # (S, 3) daily log growth
    bs_chol: np.ndarray  # (S, 3, 3) includes daily vol
    cpi_growth: np.ndarray  # (S,) daily log growth
    policy: dict[str, Any]  # staircase (offset per state)


@dataclass(frozen=True)
class LevelParams:
    """Daily level recursion ``x_t = x_{t-1} + d_t - kappa (x_{t-1} - mean_s)`` of one level."""

    kappa: float
    mean: np.ndarray  # (S,)
    floor: float | None  # None: the caller's default


def _per(spec: Mapping, kinds: Sequence[str], key: str = "mean") -> np.ndarray:
    return np.array([float(spec[key][k]) for k in kinds])


def level_params(calib: Mapping, kinds: Sequence[str]) -> dict[str, LevelParams]:
    """Level recursions of the calibration for states of regime kinds ``kinds``.

    Parameters
    ----------
    calib : Mapping
        Calibration dict.
    kinds : sequence of str
        Regime kind of each state.

    Returns
    -------
    dict[str, LevelParams]
        For the AR(1) levels and ``tga`` (weekly persistence spread over 5 days).
    """
    lv = calib["levels"]
    out = {c: LevelParams(1.0 - float(lv[c]["phi"]), _per(lv[c], kinds), None) for c in _AR_LEVELS}
    for c in ("vix", "dgs2", "dgs10"):
        floor = lv[c].get("floor") if c == "vix" else lv[c]["floor"]
        out[c] = LevelParams(out[c].kappa, out[c].mean, None if floor is None else float(floor))
    out["tga"] = LevelParams((1.0 - float(lv["tga"]["phi"])) / 5.0, _per(lv["tga"], kinds),
                             float(lv["tga"]["floor"]))
    return out


def state_model(
    calib: Mapping, kinds: Sequence[str], tickers: Sequence[str], vol_scale: np.ndarray
) -> StateModel:
    """Per-state draw parameters from the calibration (state -> its regime kind).

    Parameters
    ----------
    calib : Mapping
        Calibration dict.
    kinds : sequence of str
        Regime kind of each state (S).
    tickers : sequence of str
        Simulated assets (must be in the calibration).
    vol_scale : np.ndarray
        ``(S,)`` multipliers of the joint and level-noise volatilities.

    Returns
    -------
    StateModel

    Raises
    ------
    DataError
        A ticker that is not in the calibrated market.
    """
    kinds = list(kinds)
    codes = np.array([REGIME_KINDS.index(k) for k in kinds])
    jp = joint_params(calib, codes)
    all_t = tuple(calib["assets"]["tickers"])
    unknown = [t for t in tickers if t not in all_t]
    if unknown:
        raise DataError(f"ticker {unknown[0]} is not in the sample market ({', '.join(all_t)})")
    vs = np.asarray(vol_scale, dtype=float)
    lv = calib["levels"]
    noise = np.column_stack([_per(lv["bill_spread"], kinds, "sd"), _per(lv["cm_spread"], kinds, "sd"),
                             _per(lv["rrp"], kinds, "sd"), _per(lv["tga"], kinds, "sd") / np.sqrt(5.0)])
    bs = calib["balance_sheet"]
    bs_mean = np.array([np.asarray(bs["weekly_mean"][k], dtype=float) / 5.0 for k in kinds])
    bs_chol = np.array([cholesky_corr(np.asarray(bs["corr"][k], dtype=float))
                        * (np.asarray(bs["weekly_vol"][k]) / np.sqrt(5.0))[:, None] for k in kinds])
    cpi = np.log1p(_per(lv["cpi_yoy"], kinds)) / 252.0
    pol = dict(calib["policy"])
    pol["offset_state"] = np.array([float(pol["offset"][k]) for k in kinds])
    return StateModel(
        cols=np.array([all_t.index(t) for t in tickers]), n_assets=jp.n_assets, mean=jp.mean[codes],
        vol=jp.vol[codes] * vs[:, None], chol=jp.chol[codes], dof=jp.dof[codes], min_return=jp.min_return,
        noise_sd=noise * vs[:, None], bs_mean=bs_mean, bs_chol=bs_chol, cpi_growth=cpi, policy=pol,
    )


def draw_states(
    pm: StateModel, rngs: Sequence[np.random.Generator], states: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Daily draws of paths along their state paths.

    Parameters
    ----------
    pm : StateModel
    rngs : sequence of np.random.Generator
        One generator per path (P), consumed in the order of the module docstring.
    states : np.ndarray
        ``(P, T)`` state codes.

    Returns
    -------
    returns : np.ndarray
        ``(P, T, N)`` simple returns (floored at ``min_return``).
    changes : dict[str, np.ndarray]
        ``(P, T)`` daily changes in level units: :data:`JOINT_MACRO` innovations,
        :data:`NOISE_LEVELS` noises, log growth of each :data:`BALANCE_SHEET` series and
        ``cpi`` (log growth).
    """
    p_n, t_n = states.shape
    k_n = pm.mean.shape[1]
    st = states.astype(np.int64)
    z = np.empty((p_n, t_n, k_n))
    w = np.empty((p_n, t_n))
    e = np.empty((p_n, t_n, 7))
    half_dof = pm.dof / 2.0
    for k, g in enumerate(rngs):
        z[k] = g.standard_normal((t_n, k_n))
        w[k] = 2.0 * g.standard_gamma(half_dof[st[k]])
        e[k] = g.standard_normal((t_n, 7))
    x = np.empty_like(z)
    _t_transform(z, w, st, pm.mean, pm.vol, pm.chol, pm.dof, x)
    n = pm.n_assets
    ret = np.maximum(x[..., pm.cols], pm.min_return)
    changes: dict[str, np.ndarray] = {}
    for j, c in enumerate(JOINT_MACRO):
        scale = JOINT_SCALE[c]
        changes[c] = x[..., n + j] if scale == 1.0 else x[..., n + j] * scale
    for j, c in enumerate(NOISE_LEVELS):
        changes[c] = e[..., j] * pm.noise_sd[st, j]
    for i, name in enumerate(BALANCE_SHEET):
        g = pm.bs_mean[st, i]
        for j in range(i + 1):  # lower-triangular factor, fixed order
            g = g + pm.bs_chol[st, i, j] * e[..., 4 + j]
        changes[name] = g
    changes["cpi"] = pm.cpi_growth[st]
    return ret, changes


@numba.njit(cache=True)
def _t_transform(z, w, states, mean, vol, chol, dof, out):  # pragma: no cover - numba
    p_n, t_n, k_n = z.shape
    for p in range(p_n):
        for t in range(t_n):
            s = states[p, t]
            sc = np.sqrt((dof[s] - 2.0) / w[p, t])
            for i in range(k_n):
                acc = 0.0
                for j in range(i + 1):
                    acc += chol[s, i, j] * z[p, t, j]
                out[p, t, i] = mean[s, i] + vol[s, i] * acc * sc


@numba.njit(cache=True)
def staircase_levels(dgs2, offset, states, x0, step, floor, every, max_steps, dead, out):  # pragma: no cover
    """DFEDTARU per path: 0.25-step moves toward ``DGS2 + offset_state`` every ``every`` days (in place)."""
    p_n, t_n = dgs2.shape
    for p in range(p_n):
        cur = max(floor, np.round(x0 / step) * step)
        for t in range(t_n):
            if (t + 1) % every == 0:
                gap = dgs2[p, t] + offset[states[p, t]] - cur
                n = np.sign(gap) * np.floor(abs(gap) / step + (1.0 - dead))
                n = min(max(n, -max_steps), max_steps)
                cur = max(floor, np.round((cur + n * step) / step) * step)
            out[p, t] = cur
