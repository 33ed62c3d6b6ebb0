"""Calibrated per-regime parametric market generator (prices and macro series).

Every trading day draws from the distribution of the Fed balance-sheet regime kind in
force that day (``qe``, ``plateau``, ``qt``, ``rmp``). The calibration is a plain dict
(see ``backtest/data/sample_calibration.json`` and ``scripts/calibrate_sample.py``).

Model
-----
Joint daily draw (vectorised over paths and days). For a day in regime kind ``k``::

    x_t = mu_k + sigma_k * (L_k z_t) * sqrt((nu_k - 2) / w_t),
    z_t ~ N(0, I),  w_t ~ chi2(nu_k),  L_k L_k' = R_k

a multivariate Student-t with one common chi-square mixing variable per day, scaled to
unit variance, so ``mean = mu_k``, ``std = sigma_k`` and ``corr = R_k``. The columns are
the daily simple returns of every asset, then five macro innovations that therefore
co-move with returns: Δlog VIX, Δlog(VIX3M/VIX), ΔDGS2 (bp), ΔDGS10 (bp) and
Δ(SOFR − administered rate) (bp). The innovations are the residuals of the level
recursions below (their means are zero by construction). Simple returns are floored at
``assets.min_return`` (−95 %) so prices stay positive; that floor is > 15 standard
deviations away for every asset but the VIX products.

Levels (AR(1) toward a per-regime mean ``m_k``; ``x_t = m_k + phi (x_{t-1} - m_k) + e_t``):

* VIX: log-AR(1) with a floor (95 % of the real minimum); VIX3M = VIX · exp(term),
  ``term = log(VIX3M/VIX)`` AR(1).
* DGS2, DGS10 (percent): AR(1) with half-life ≤ 1 year, floored near zero.
* DFEDTARU: a 0.25-step staircase following the 2-year yield: every
  ``policy.meeting_every_days`` trading days the target moves toward
  ``DGS2 + offset_k`` (dead band of 0.75 step, at most ``max_steps`` steps, floor 0.25).
* IORB = DFEDTARU − 0.10. SOFR = IORB + spread, spread AR(1) per regime (bp innovations
  from the joint draw). The same "IORB" (top − 0.10) is the administered rate before
  2021-07-29, when it is not published.
* DTB3 = DFEDTARU − bill spread (AR(1)), DGS3MO = DTB3 + spread (AR(1)); both ≥ 0.01.
* RRPONTSYD (billions, daily): AR(1) floored at 0.
* WALCL, TREAST, WRESBAL (millions, Wednesdays): weekly log growth with per-regime mean,
  vol and correlation; TREAST and WRESBAL are capped at a share of WALCL.
* WDTGAL (millions, Wednesdays): AR(1) floored at ``floor``.
* CPIAUCSL (monthly, 1st of month): index growing at ``(1 + pi_m)^(1/12)`` per month,
  ``pi`` (year-on-year inflation rate) AR(1) per regime.

Non-joint level innovations are independent normals with per-regime standard deviations.
Random streams: ``rng.spawn(3)`` gives one child for the asset draws (normals + mixing
variable), one for the macro innovations, one for the other level noises, so
:func:`simulate_returns` reproduces the asset returns of :func:`simulate_paths` for the
same generator state and number of paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from backtest.data.base import MacroSeries, MarketData
from backtest.errors import DataError, RegimeError

REGIME_KINDS: tuple[str, ...] = ("qe", "plateau", "qt", "rmp")
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
_CHUNK = 512  # paths per block in the joint draw (bounds temporary memory)


# --------------------------------------------------------------------------- helpers


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


def _by_kind(d: Mapping[str, float], kinds: Sequence[str] = REGIME_KINDS) -> np.ndarray:
    return np.array([float(d[k]) for k in kinds])


def _chol(corr: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        return np.linalg.cholesky(clip_psd_corr(corr))


@dataclass(frozen=True)
class _Joint:
    columns: tuple[str, ...]
    n_assets: int
    mean: np.ndarray  # (R, K)
    vol: np.ndarray  # (R, K)
    chol: np.ndarray  # (R, K, K)
    dof: np.ndarray  # (R,)
    min_return: float


def _joint_params(calib: Mapping, codes: np.ndarray) -> _Joint:
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
        chol[i] = _chol(np.asarray(r["corr"], dtype=float))
        dof[i] = r["dof"]
    return _Joint(
        cols, n_assets, mean, vol, chol, dof, float(calib["assets"].get("min_return", -0.95))
    )


def _draw_block(
    jp: _Joint,
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


def _draw_joint(
    jp: _Joint,
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


def _ar1(
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
    if floor is None:
        y, _ = lfilter([1.0], [1.0, -phi], u, axis=1, zi=(phi * x)[:, None])
        out[:, 1:] = y
        return out
    ut = np.ascontiguousarray(u.T)
    x = out[:, 0].copy()
    res = np.empty_like(ut)
    for t in range(ut.shape[0]):
        x *= phi
        x += ut[t]
        np.maximum(x, floor, out=x)
        res[t] = x
    out[:, 1:] = res.T
    return out


def _policy_staircase(dgs2: np.ndarray, codes: np.ndarray, pol: Mapping, x0: float) -> np.ndarray:
    """DFEDTARU path: 0.25-step moves toward ``DGS2 + offset_k`` at regular meetings."""
    p_n, t_n = dgs2.shape
    step = float(pol["step"])
    floor = float(pol["floor"])
    every = int(pol["meeting_every_days"])
    max_steps = float(pol["max_steps"])
    dead = float(pol["deadband_steps"])
    raw = dgs2 + _by_kind(pol["offset"])[codes][None, :]
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


def _sd_path(spec: Mapping, codes: np.ndarray) -> np.ndarray:
    return _by_kind(spec["sd"])[codes]


def _grid_codes(days: pd.DatetimeIndex, codes: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    """Regime code in force on each of ``dates`` (last trading day on or before it)."""
    pos = np.searchsorted(days.to_numpy(), dates.to_numpy(), side="right") - 1
    return codes[np.clip(pos, 0, len(days) - 1)]


def weekly_dates(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Wednesdays from the first to the last trading day (H.4.1 observation dates)."""
    return pd.date_range(days[0], days[-1], freq="W-WED")


def monthly_dates(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """First day of each month from the first to the last trading day (CPI dates)."""
    return pd.date_range(days[0].to_period("M").to_timestamp(), days[-1], freq="MS")


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class SimulatedPaths:
    """Many simulated paths of one regime path.

    Attributes
    ----------
    days : pd.DatetimeIndex
        Trading days (T).
    regimes : np.ndarray
        (T,) regime-kind codes (index into :data:`REGIME_KINDS`).
    tickers : tuple[str, ...]
        Asset columns of ``returns`` (N).
    returns : np.ndarray
        (P, T, N) daily simple returns (day 0's return is drawn but not used by prices).
    innovations : np.ndarray
        (P, T, 5) macro innovations of the joint draw (columns :data:`JOINT_MACRO`).
    daily : dict[str, np.ndarray]
        (P, T) levels of the daily series (unrounded, no late-start masking).
    weekly_dates : pd.DatetimeIndex
        Wednesdays (W).
    weekly : dict[str, np.ndarray]
        (P, W) levels of the H.4.1 series.
    monthly_dates : pd.DatetimeIndex
        Months (M), dated the 1st.
    monthly : dict[str, np.ndarray]
        (P, M) CPI index.
    """

    days: pd.DatetimeIndex
    regimes: np.ndarray
    tickers: tuple[str, ...]
    returns: np.ndarray
    innovations: np.ndarray
    daily: dict[str, np.ndarray]
    weekly_dates: pd.DatetimeIndex
    weekly: dict[str, np.ndarray]
    monthly_dates: pd.DatetimeIndex
    monthly: dict[str, np.ndarray]

    @property
    def paths(self) -> int:
        """Number of paths."""
        return int(self.returns.shape[0])

    def market_data(
        self,
        path: int,
        calib: Mapping,
        *,
        tickers: Sequence[str] | None = None,
        macro: Sequence[str] | None = None,
        first_dates: Mapping[str, pd.Timestamp | str] | None = None,
        source: str = "synthetic (parametric)",
    ) -> MarketData:
        """One path as ``MarketData`` (prices from returns, macro rounded and masked).

        Parameters
        ----------
        path : int
            Path index.
        calib : Mapping
            The calibration (start prices, macro first dates).
        tickers, macro : sequence of str, optional
            Selection (default: everything).
        first_dates : mapping, optional
            First trading day per ticker (NaN before; default: the calibration's).
        source : str
            ``MarketData.source``.

        Returns
        -------
        MarketData
            ``synthetic=True``.
        """
        tickers = list(self.tickers) if tickers is None else list(tickers)
        macro = list(MACRO_SERIES) if macro is None else list(macro)
        _check_names(tickers, self.tickers, "ticker")
        _check_names(macro, MACRO_SERIES, "macro series")
        fd = dict(calib["assets"].get("first_dates", {}))
        if first_dates is not None:
            fd.update(first_dates)
        start_prices = calib["assets"].get("start_prices", {})
        days_np = self.days.to_numpy()
        cols: dict[str, np.ndarray] = {}
        for t in tickers:
            j = self.tickers.index(t)
            i0 = (
                0
                if t not in fd
                else int(np.searchsorted(days_np, np.datetime64(pd.Timestamp(fd[t]))))
            )
            px = np.full(len(self.days), np.nan)
            if i0 < len(self.days):
                growth = np.cumprod(1.0 + self.returns[path, i0 + 1 :, j])
                px[i0] = float(start_prices.get(t, 100.0))
                px[i0 + 1 :] = px[i0] * growth
            cols[t] = px
        prices = pd.DataFrame(cols, index=pd.DatetimeIndex(self.days, name="date"), columns=tickers)
        mfd = calib.get("macro", {}).get("first_dates", {})
        series: dict[str, MacroSeries] = {}
        for name in macro:
            if name in self.daily:
                idx, vals = self.days, self.daily[name][path]
            elif name in self.weekly:
                idx, vals = self.weekly_dates, self.weekly[name][path]
            else:
                idx, vals = self.monthly_dates, self.monthly[name][path]
            s = pd.Series(
                np.round(vals, DECIMALS[name]), index=pd.DatetimeIndex(idx, name="date"), name=name
            )
            if name in mfd:
                s = s.loc[s.index >= pd.Timestamp(mfd[name])]
            series[name] = MacroSeries.from_observations(name, s)
        return MarketData(prices, series, source=source, synthetic=True, notes=())


def _check_names(wanted: Sequence[str], known: Sequence[str], what: str) -> None:
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise DataError(f"unknown {what} {unknown[0]} (synthetic market has: {', '.join(known)})")


# --------------------------------------------------------------------------- simulation


def _prepare(calib: Mapping, regimes: pd.Series) -> tuple[pd.DatetimeIndex, np.ndarray]:
    if len(regimes) == 0:
        raise RegimeError("empty regime path")
    days = pd.DatetimeIndex(regimes.index)
    if not days.is_monotonic_increasing or days.has_duplicates:
        raise RegimeError("regime path index must be sorted unique trading days")
    return days, regime_codes(regimes.to_numpy())


def simulate_returns(
    calib: Mapping,
    regimes: pd.Series,
    rng: np.random.Generator,
    paths: int,
    *,
    tickers: Sequence[str] | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """Daily asset returns only, for many paths (fast path for scenario engines).

    Parameters
    ----------
    calib : Mapping
        Calibration dict.
    regimes : pd.Series
        Regime kind per trading day (index = days).
    rng : np.random.Generator
        Seeded generator (three children are spawned from it).
    paths : int
        Number of paths.
    tickers : sequence of str, optional
        Columns to return (default: all, calibration order). The full universe is always
        drawn, so a ticker's values do not depend on the selection.
    dtype : type
        ``np.float64`` or ``np.float32`` (halves memory for 10,000-path runs).

    Returns
    -------
    np.ndarray
        (paths, days, assets) simple returns; identical to ``simulate_paths(...).returns``
        for the same generator state.
    """
    days, codes = _prepare(calib, regimes)
    jp = _joint_params(calib, codes)
    all_t = tuple(calib["assets"]["tickers"])
    cols = None
    if tickers is not None:
        _check_names(tickers, all_t, "ticker")
        cols = [all_t.index(t) for t in tickers]
    ra, _rm, _rl = rng.spawn(3)
    return _draw_joint(jp, codes, ra, None, int(paths), dtype, cols)


def _initial(calib: Mapping, initial: Mapping[str, float] | None) -> dict[str, float]:
    """Start values of the level states (calibration, overridden by ``initial``)."""
    lv = calib["levels"]
    bs = calib["balance_sheet"]
    s: dict[str, float] = {
        "vix": float(lv["vix"]["x0"]),
        "term": float(lv["term"]["x0"]),
        "dgs2": float(lv["dgs2"]["x0"]),
        "dgs10": float(lv["dgs10"]["x0"]),
        "sofr_spread": float(lv["sofr_spread"]["x0"]),
        "bill_spread": float(lv["bill_spread"]["x0"]),
        "cm_spread": float(lv["cm_spread"]["x0"]),
        "rrp": float(lv["rrp"]["x0"]),
        "tga": float(lv["tga"]["x0"]),
        "cpi_yoy": float(lv["cpi_yoy"]["x0"]),
        "top": float(calib["policy"]["x0"]),
        "cpi": float(calib["cpi"]["x0"]),
        **{f"bs:{n}": float(bs["start"][n]) for n in BALANCE_SHEET},
    }
    if not initial:
        return s
    _check_names(list(initial), MACRO_SERIES, "macro series")
    ini = {k: float(v) for k, v in initial.items()}
    iorb_off = float(calib["policy"]["iorb_minus_top"])
    if "VIX" in ini:
        s["vix"] = float(np.log(ini["VIX"]))
    if "VIX3M" in ini:
        s["term"] = float(np.log(ini["VIX3M"]) - s["vix"])
    for name, key in (
        ("DGS2", "dgs2"),
        ("DGS10", "dgs10"),
        ("RRPONTSYD", "rrp"),
        ("WDTGAL", "tga"),
        ("CPIAUCSL", "cpi"),
    ):
        if name in ini:
            s[key] = ini[name]
    if "DFEDTARU" in ini:
        s["top"] = ini["DFEDTARU"]
    elif "IORB" in ini:
        s["top"] = ini["IORB"] - iorb_off
    if "SOFR" in ini:
        s["sofr_spread"] = ini["SOFR"] - (s["top"] + iorb_off)
    if "DTB3" in ini:
        s["bill_spread"] = s["top"] - ini["DTB3"]
    if "DGS3MO" in ini:
        s["cm_spread"] = ini["DGS3MO"] - (s["top"] - s["bill_spread"])
    for n in BALANCE_SHEET:
        if n in ini:
            s[f"bs:{n}"] = ini[n]
    return s


def simulate_paths(
    calib: Mapping,
    regimes: pd.Series,
    rng: np.random.Generator,
    paths: int = 1,
    *,
    initial: Mapping[str, float] | None = None,
) -> SimulatedPaths:
    """Simulate prices' returns and all macro series for ``paths`` paths of one regime path.

    Parameters
    ----------
    calib : Mapping
        Calibration dict.
    regimes : pd.Series
        Regime kind per trading day (index = sorted trading days).
    rng : np.random.Generator
        Seeded generator (three children are spawned from it).
    paths : int
        Number of paths.
    initial : mapping, optional
        Start levels by macro series id (e.g. ``{"VIX": 15, "WALCL": 6.7e6}``) overriding
        the calibration's (which are the real early-2008 levels; the balance-sheet levels
        are those of the first regime, 2008-12-03).

    Returns
    -------
    SimulatedPaths
        Returns (P, T, N), macro innovations, daily/weekly/monthly level arrays.
    """
    days, codes = _prepare(calib, regimes)
    jp = _joint_params(calib, codes)
    p_n, t_n = int(paths), len(days)
    n = jp.n_assets
    ra, rm, rl = rng.spawn(3)
    x = _draw_joint(jp, codes, ra, rm, p_n, np.float64)
    returns, innov = x[..., :n], x[..., n:]
    s0 = _initial(calib, initial)
    lv = calib["levels"]

    def target(name: str, c: np.ndarray = codes) -> np.ndarray:
        return _by_kind(lv[name]["mean"])[c]

    def joint_eps(name: str) -> np.ndarray:
        return innov[..., JOINT_MACRO.index(name)] * JOINT_SCALE[name]

    daily: dict[str, np.ndarray] = {}
    log_vix = _ar1(
        s0["vix"], lv["vix"]["phi"], target("vix"), joint_eps("vix"), floor=lv["vix"].get("floor")
    )
    term = _ar1(s0["term"], lv["term"]["phi"], target("term"), joint_eps("term"))
    daily["VIX"] = np.exp(log_vix)
    daily["VIX3M"] = daily["VIX"] * np.exp(term)
    for name in ("dgs2", "dgs10"):
        spec = lv[name]
        daily[name.upper()] = _ar1(
            s0[name], spec["phi"], target(name), joint_eps(name), floor=spec["floor"]
        )
    pol = calib["policy"]
    top = _policy_staircase(daily["DGS2"], codes, pol, s0["top"])
    daily["DFEDTARU"] = top
    daily["IORB"] = top + float(pol["iorb_minus_top"])
    spread = _ar1(
        s0["sofr_spread"], lv["sofr_spread"]["phi"], target("sofr_spread"), joint_eps("sofr_spread")
    )
    daily["SOFR"] = np.maximum(0.01, daily["IORB"] + spread)
    # Independent level noises (fixed order on the third stream).
    e_bill = rl.standard_normal((p_n, t_n)) * _sd_path(lv["bill_spread"], codes)
    e_cm = rl.standard_normal((p_n, t_n)) * _sd_path(lv["cm_spread"], codes)
    e_rrp = rl.standard_normal((p_n, t_n)) * _sd_path(lv["rrp"], codes)
    bill = _ar1(s0["bill_spread"], lv["bill_spread"]["phi"], target("bill_spread"), e_bill)
    daily["DTB3"] = np.maximum(0.01, top - bill)
    cm = _ar1(s0["cm_spread"], lv["cm_spread"]["phi"], target("cm_spread"), e_cm)
    daily["DGS3MO"] = np.maximum(0.01, daily["DTB3"] + cm)
    daily["RRPONTSYD"] = _ar1(
        s0["rrp"], lv["rrp"]["phi"], target("rrp"), e_rrp, floor=lv["rrp"]["floor"]
    )

    # Weekly H.4.1 series on Wednesdays.
    wd = weekly_dates(days)
    cw = _grid_codes(days, codes, wd)
    weekly: dict[str, np.ndarray] = {}
    bs = calib["balance_sheet"]
    if len(wd):
        z = rl.standard_normal((p_n, len(wd), len(BALANCE_SHEET)))
        g = np.empty_like(z)
        for k in np.unique(cw):
            idx = np.flatnonzero(cw == k)
            g[:, idx] = z[:, idx] @ _chol(np.asarray(bs["corr"][REGIME_KINDS[k]], dtype=float)).T
        mu = np.array([bs["weekly_mean"][kd] for kd in REGIME_KINDS])[cw]
        sig = np.array([bs["weekly_vol"][kd] for kd in REGIME_KINDS])[cw]
        g = g * sig[None] + mu[None]
        g[:, 0] = 0.0
        logs = np.cumsum(g, axis=1)
        for i, name in enumerate(BALANCE_SHEET):
            weekly[name] = s0[f"bs:{name}"] * np.exp(logs[..., i])
        for name, cap in bs["max_share_of_walcl"].items():
            weekly[name] = np.minimum(weekly[name], float(cap) * weekly["WALCL"])
        e_tga = rl.standard_normal((p_n, len(wd))) * _sd_path(lv["tga"], cw)
        weekly["WDTGAL"] = _ar1(
            s0["tga"], lv["tga"]["phi"], target("tga", cw), e_tga, floor=lv["tga"]["floor"]
        )
    else:
        weekly = {name: np.empty((p_n, 0)) for name in WEEKLY_SERIES}

    # Monthly CPI index from an AR(1) year-on-year inflation rate.
    md = monthly_dates(days)
    cmo = _grid_codes(days, codes, md)
    e_pi = rl.standard_normal((p_n, len(md))) * _sd_path(lv["cpi_yoy"], cmo)
    pi = _ar1(s0["cpi_yoy"], lv["cpi_yoy"]["phi"], target("cpi_yoy", cmo), e_pi)
    lg = np.log1p(pi) / 12.0
    lg[:, 0] = 0.0
    monthly = {"CPIAUCSL": s0["cpi"] * np.exp(np.cumsum(lg, axis=1))}
    return SimulatedPaths(
        days=days,
        regimes=codes,
        tickers=tuple(calib["assets"]["tickers"]),
        returns=returns,
        innovations=innov,
        daily=daily,
        weekly_dates=wd,
        weekly=weekly,
        monthly_dates=md,
        monthly=monthly,
    )


@overload
def simulate(
    calib: Mapping,
    regimes: pd.Series,
    rng: np.random.Generator,
    *,
    tickers: Sequence[str] | None = ...,
    macro: Sequence[str] | None = ...,
    first_dates: Mapping[str, pd.Timestamp | str] | None = ...,
    paths: None = ...,
    initial: Mapping[str, float] | None = ...,
    source: str = ...,
) -> MarketData: ...


@overload
def simulate(
    calib: Mapping,
    regimes: pd.Series,
    rng: np.random.Generator,
    *,
    tickers: Sequence[str] | None = ...,
    macro: Sequence[str] | None = ...,
    first_dates: Mapping[str, pd.Timestamp | str] | None = ...,
    paths: int,
    initial: Mapping[str, float] | None = ...,
    source: str = ...,
) -> SimulatedPaths: ...


def simulate(
    calib: Mapping,
    regimes: pd.Series,
    rng: np.random.Generator,
    *,
    tickers: Sequence[str] | None = None,
    macro: Sequence[str] | None = None,
    first_dates: Mapping[str, pd.Timestamp | str] | None = None,
    paths: int | None = None,
    initial: Mapping[str, float] | None = None,
    source: str = "synthetic (parametric)",
) -> MarketData | SimulatedPaths:
    """Simulate a synthetic market along a regime path.

    Parameters
    ----------
    calib : Mapping
        Calibration dict (``backtest/data/sample_calibration.json``).
    regimes : pd.Series
        Regime kind (``qe``/``plateau``/``qt``/``rmp``) per trading day; its index is the
        trading calendar of the output.
    rng : np.random.Generator
        Seeded generator; no global random state is used.
    tickers : sequence of str, optional
        Assets to return (default: all). The whole universe is always generated, so
        the selection never changes a ticker's values.
    macro : sequence of str, optional
        Macro series to return (default: all of :data:`MACRO_SERIES`).
    first_dates : mapping, optional
        First trading day per ticker (NaN before); default: the calibration's real ones.
    paths : int, optional
        ``None`` (default): one path as ``MarketData``. An integer: that many paths as
        :class:`SimulatedPaths` (returns restricted to ``tickers``).
    initial : mapping, optional
        Start levels by macro series id (see :func:`simulate_paths`).
    source : str
        ``MarketData.source`` text.

    Returns
    -------
    MarketData or SimulatedPaths
        ``MarketData`` (``synthetic=True``) for one path, else ``SimulatedPaths``.

    Raises
    ------
    DataError
        Unknown ticker or macro series (named).
    RegimeError
        Unknown regime kind in ``regimes``.
    """
    all_t = tuple(calib["assets"]["tickers"])
    if tickers is not None:
        _check_names(tickers, all_t, "ticker")
    if macro is not None:
        _check_names(macro, MACRO_SERIES, "macro series")
    sp = simulate_paths(calib, regimes, rng, 1 if paths is None else paths, initial=initial)
    if paths is None:
        return sp.market_data(
            0, calib, tickers=tickers, macro=macro, first_dates=first_dates, source=source
        )
    if tickers is None:
        return sp
    sel = [all_t.index(t) for t in tickers]
    return SimulatedPaths(
        days=sp.days,
        regimes=sp.regimes,
        tickers=tuple(tickers),
        returns=sp.returns[..., sel],
        innovations=sp.innovations,
        daily=sp.daily,
        weekly_dates=sp.weekly_dates,
        weekly=sp.weekly,
        monthly_dates=sp.monthly_dates,
        monthly=sp.monthly,
    )


__all__ = [
    "BALANCE_SHEET",
    "JOINT_MACRO",
    "MACRO_SERIES",
    "REGIME_KINDS",
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
