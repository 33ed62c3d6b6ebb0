"""Simulation of the calibrated per-regime market along a regime path (prices and macro series).

Every trading day draws from the distribution of the Fed balance-sheet regime kind in
force that day (``qe``, ``plateau``, ``qt``, ``rmp``). The calibration is a plain dict
(see ``backtest/data/sample_calibration.json``, ``scripts/calibrate_sample.py`` and
:mod:`backtest.data.market_model.calibration`).

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

from backtest.constants import REGIME_KINDS
from backtest.data.base import MacroSeries, MarketData
from backtest.data.market_model.calibration import (
    BALANCE_SHEET,
    DECIMALS,
    JOINT_MACRO,
    JOINT_SCALE,
    MACRO_SERIES,
    WEEKLY_SERIES,
    by_kind,
    check_names,
    cholesky_corr,
    joint_params,
    monthly_dates,
    regime_codes,
    weekly_dates,
)
from backtest.data.market_model.draws import ar1, draw_joint, grid_codes, policy_staircase, sd_path
from backtest.errors import RegimeError

__all__ = ["SimulatedPaths", "simulate", "simulate_paths", "simulate_returns"]


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
        check_names(tickers, self.tickers, "ticker")
        check_names(macro, MACRO_SERIES, "macro series")
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
    jp = joint_params(calib, codes)
    all_t = tuple(calib["assets"]["tickers"])
    cols = None
    if tickers is not None:
        check_names(tickers, all_t, "ticker")
        cols = [all_t.index(t) for t in tickers]
    ra, _rm, _rl = rng.spawn(3)
    return draw_joint(jp, codes, ra, None, int(paths), dtype, cols)


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
    check_names(list(initial), MACRO_SERIES, "macro series")
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
    jp = joint_params(calib, codes)
    p_n, t_n = int(paths), len(days)
    n = jp.n_assets
    ra, rm, rl = rng.spawn(3)
    x = draw_joint(jp, codes, ra, rm, p_n, np.float64)
    returns, innov = x[..., :n], x[..., n:]
    s0 = _initial(calib, initial)
    lv = calib["levels"]

    def target(name: str, c: np.ndarray = codes) -> np.ndarray:
        return by_kind(lv[name]["mean"])[c]

    def joint_eps(name: str) -> np.ndarray:
        return innov[..., JOINT_MACRO.index(name)] * JOINT_SCALE[name]

    daily: dict[str, np.ndarray] = {}
    log_vix = ar1(
        s0["vix"], lv["vix"]["phi"], target("vix"), joint_eps("vix"), floor=lv["vix"].get("floor")
    )
    term = ar1(s0["term"], lv["term"]["phi"], target("term"), joint_eps("term"))
    daily["VIX"] = np.exp(log_vix)
    daily["VIX3M"] = daily["VIX"] * np.exp(term)
    for name in ("dgs2", "dgs10"):
        spec = lv[name]
        daily[name.upper()] = ar1(
            s0[name], spec["phi"], target(name), joint_eps(name), floor=spec["floor"]
        )
    pol = calib["policy"]
    top = policy_staircase(daily["DGS2"], codes, pol, s0["top"])
    daily["DFEDTARU"] = top
    daily["IORB"] = top + float(pol["iorb_minus_top"])
    spread = ar1(
        s0["sofr_spread"], lv["sofr_spread"]["phi"], target("sofr_spread"), joint_eps("sofr_spread")
    )
    daily["SOFR"] = np.maximum(0.01, daily["IORB"] + spread)
    # Independent level noises (fixed order on the third stream).
    e_bill = rl.standard_normal((p_n, t_n)) * sd_path(lv["bill_spread"], codes)
    e_cm = rl.standard_normal((p_n, t_n)) * sd_path(lv["cm_spread"], codes)
    e_rrp = rl.standard_normal((p_n, t_n)) * sd_path(lv["rrp"], codes)
    bill = ar1(s0["bill_spread"], lv["bill_spread"]["phi"], target("bill_spread"), e_bill)
    daily["DTB3"] = np.maximum(0.01, top - bill)
    cm = ar1(s0["cm_spread"], lv["cm_spread"]["phi"], target("cm_spread"), e_cm)
    daily["DGS3MO"] = np.maximum(0.01, daily["DTB3"] + cm)
    daily["RRPONTSYD"] = ar1(
        s0["rrp"], lv["rrp"]["phi"], target("rrp"), e_rrp, floor=lv["rrp"]["floor"]
    )

    # Weekly H.4.1 series on Wednesdays.
    wd = weekly_dates(days)
    cw = grid_codes(days, codes, wd)
    weekly: dict[str, np.ndarray] = {}
    bs = calib["balance_sheet"]
    if len(wd):
        z = rl.standard_normal((p_n, len(wd), len(BALANCE_SHEET)))
        g = np.empty_like(z)
        for k in np.unique(cw):
            idx = np.flatnonzero(cw == k)
            g[:, idx] = z[:, idx] @ cholesky_corr(np.asarray(bs["corr"][REGIME_KINDS[k]], dtype=float)).T
        mu = np.array([bs["weekly_mean"][kd] for kd in REGIME_KINDS])[cw]
        sig = np.array([bs["weekly_vol"][kd] for kd in REGIME_KINDS])[cw]
        g = g * sig[None] + mu[None]
        g[:, 0] = 0.0
        logs = np.cumsum(g, axis=1)
        for i, name in enumerate(BALANCE_SHEET):
            weekly[name] = s0[f"bs:{name}"] * np.exp(logs[..., i])
        for name, cap in bs["max_share_of_walcl"].items():
            weekly[name] = np.minimum(weekly[name], float(cap) * weekly["WALCL"])
        e_tga = rl.standard_normal((p_n, len(wd))) * sd_path(lv["tga"], cw)
        weekly["WDTGAL"] = ar1(
            s0["tga"], lv["tga"]["phi"], target("tga", cw), e_tga, floor=lv["tga"]["floor"]
        )
    else:
        weekly = {name: np.empty((p_n, 0)) for name in WEEKLY_SERIES}

    # Monthly CPI index from an AR(1) year-on-year inflation rate.
    md = monthly_dates(days)
    cmo = grid_codes(days, codes, md)
    e_pi = rl.standard_normal((p_n, len(md))) * sd_path(lv["cpi_yoy"], cmo)
    pi = ar1(s0["cpi_yoy"], lv["cpi_yoy"]["phi"], target("cpi_yoy", cmo), e_pi)
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
        check_names(tickers, all_t, "ticker")
    if macro is not None:
        check_names(macro, MACRO_SERIES, "macro series")
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
