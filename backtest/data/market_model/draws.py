"""Daily draws of the calibrated model along one regime path (the ``sample`` market).

Joint daily draw (vectorised over paths and days). For a day in regime kind ``k``::

    x_t = mu_k + sigma_k * (L_k z_t) * sqrt((nu_k - 2) / w_t),
    z_t ~ N(0, I),  w_t ~ chi2(nu_k),  L_k L_k' = R_k

a multivariate Student-t with one common chi-square mixing variable per day, scaled to
unit variance. Level recursions (:func:`ar1`, :func:`policy_staircase`) turn the macro
innovations into levels (see :mod:`backtest.data.market_model.paths`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from backtest.data.market_model.calibration import JointParams, by_kind

__all__ = ["ar1", "draw_joint", "grid_codes", "policy_staircase", "sd_path"]

_CHUNK = 512  # paths per block in the joint draw (bounds temporary memory)


def _draw_block(
    jp: JointParams,
    codes: np.ndarray,
    ra: np.random.Generator,
    rm: np.random.Generator | None,
    paths: int,
    dtype: type,
) -> np.ndarray:
    """Joint draws for ``paths`` paths: (paths, T, N) or (paths, T, K) with macro."""
    n = jp.n_assets
    t_n = len(codes)
    k_n = len(jp.columns) if rm is not None else n
    za = ra.standard_normal((paths, t_n, n))
    w = ra.chisquare(jp.dof[codes], size=(paths, t_n))
    zm = rm.standard_normal((paths, t_n, k_n - n)) if rm is not None else None
    out = np.empty((paths, t_n, k_n), dtype=dtype)
    kinds = np.unique(codes)
    for k in kinds:
        idx = np.flatnonzero(codes == k)
        whole = len(kinds) == 1
        lk = jp.chol[k]
        # One 2-D GEMM per regime (rows = path-days): much faster than batched matmul.
        a = (za if whole else za[:, idx]).reshape(-1, n)
        shape = (paths, len(idx), n)
        out[:, idx, :n] = (a @ lk[:n, :n].T).reshape(shape)
        if zm is not None:
            b = (zm if whole else zm[:, idx]).reshape(-1, k_n - n)
            mac = a @ lk[n:, :n].T + b @ lk[n:, n:].T
            out[:, idx, n:] = mac.reshape(paths, len(idx), k_n - n)
    out *= np.sqrt((jp.dof[codes] - 2.0) / w)[..., None]
    out *= jp.vol[codes][None, :, :k_n]
    out += jp.mean[codes][None, :, :k_n]
    np.maximum(out[..., :n], jp.min_return, out=out[..., :n])
    return out


def draw_joint(
    jp: JointParams,
    codes: np.ndarray,
    ra: np.random.Generator,
    rm: np.random.Generator | None,
    paths: int,
    dtype: type,
    cols: Sequence[int] | None = None,
) -> np.ndarray:
    """Joint draws in blocks of ``_CHUNK`` paths, written into one preallocated array."""
    k_n = len(jp.columns) if rm is not None else jp.n_assets
    sel = list(range(k_n)) if cols is None else list(cols)
    out = np.empty((paths, len(codes), len(sel)), dtype=dtype)
    for p0 in range(0, paths, _CHUNK):
        blk = _draw_block(jp, codes, ra, rm, min(_CHUNK, paths - p0), dtype)
        out[p0 : p0 + blk.shape[0]] = blk if cols is None else blk[..., sel]
    return out


def ar1(
    x0: np.ndarray | float,
    phi: float,
    target: np.ndarray,
    eps: np.ndarray,
    floor: float | None = None,
) -> np.ndarray:
    """AR(1) toward a time-varying target, vectorised over paths.

    ``x_0 = x0``; ``x_t = target_t + phi (x_{t-1} - target_t) + eps_t`` for ``t >= 1``,
    then ``max(x_t, floor)`` when a floor is given (inside the recursion).

    Parameters
    ----------
    x0 : float or np.ndarray
        Start value (scalar or one per path).
    phi : float
        Persistence.
    target : np.ndarray
        (T,) target (regime mean) per step.
    eps : np.ndarray
        (P, T) innovations (``eps[:, 0]`` unused).
    floor : float, optional
        Lower bound applied at every step.

    Returns
    -------
    np.ndarray
        (P, T) levels.
    """
    p_n, t_n = eps.shape
    x = np.broadcast_to(np.asarray(x0, dtype=float), (p_n,)).astype(float)
    out = np.empty((p_n, t_n))
    out[:, 0] = x if floor is None else np.maximum(x, floor)
    if t_n == 1:
        return out
    u = eps[:, 1:] + (1.0 - phi) * target[None, 1:]
    # x_t = phi * x_{t-1} + u_t, vectorised over paths (the same two roundings per step as
    # scipy.signal.lfilter([1], [1, -phi]), without importing scipy.signal on the data path)
    if p_n == 1:  # one path: Python floats (the same IEEE operations, without numpy's per-call cost)
        v, ys = float(out[0, 0]), []
        for ut in u[0].tolist():
            v = v * phi + ut
            if floor is not None and v < floor:
                v = floor
            ys.append(v)
        out[0, 1:] = ys
        return out
    ut = np.ascontiguousarray(u.T)
    x = out[:, 0].copy()
    res = np.empty_like(ut)
    for t in range(ut.shape[0]):
        x *= phi
        x += ut[t]
        if floor is not None:
            np.maximum(x, floor, out=x)
        res[t] = x
    out[:, 1:] = res.T
    return out


def policy_staircase(dgs2: np.ndarray, codes: np.ndarray, pol: Mapping, x0: float) -> np.ndarray:
    """DFEDTARU path: 0.25-step moves toward ``DGS2 + offset_k`` at regular meetings.

    Parameters
    ----------
    dgs2 : np.ndarray
        ``(P, T)`` 2-year yield paths.
    codes : np.ndarray
        ``(T,)`` regime codes.
    pol : Mapping
        The calibration's ``policy`` block (step, floor, meeting_every_days, max_steps,
        deadband_steps, offset per kind).
    x0 : float
        Start level (rounded to the step grid).

    Returns
    -------
    np.ndarray
        ``(P, T)`` policy-rate top levels; a meeting's move applies from the meeting day.
    """
    p_n, t_n = dgs2.shape
    step = float(pol["step"])
    floor = float(pol["floor"])
    every = int(pol["meeting_every_days"])
    max_steps = float(pol["max_steps"])
    dead = float(pol["deadband_steps"])
    raw = dgs2 + by_kind(pol["offset"])[codes][None, :]
    out = np.empty((p_n, t_n))
    cur = np.full(p_n, max(floor, round(x0 / step) * step))
    t0 = 0
    for m in range(every, t_n, every):
        out[:, t0:m] = cur[:, None]
        gap = raw[:, m] - cur
        n = np.sign(gap) * np.floor(np.abs(gap) / step + (1.0 - dead))
        cur = np.maximum(
            floor, np.round((cur + np.clip(n, -max_steps, max_steps) * step) / step) * step
        )
        t0 = m
    out[:, t0:] = cur[:, None]
    return out


def sd_path(spec: Mapping, codes: np.ndarray) -> np.ndarray:
    """Per-day noise standard deviation of a level: ``spec["sd"]`` of each day's regime kind.

    Parameters
    ----------
    spec : Mapping
        A calibration level block with an ``sd`` mapping per regime kind.
    codes : np.ndarray
        Regime code per day.

    Returns
    -------
    np.ndarray
        Same shape as ``codes``.
    """
    return by_kind(spec["sd"])[codes]


def grid_codes(days: pd.DatetimeIndex, codes: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    """Regime code in force on each of ``dates`` (last trading day on or before it)."""
    pos = np.searchsorted(days.to_numpy(), dates.to_numpy(), side="right") - 1
    return codes[np.clip(pos, 0, len(days) - 1)]
