"""Liquidity, funding, curve, volatility and inflation signals, point in time.

Every signal is computed on the *observation* basis of its source series (e.g. a 13-week
change of WALCL compares two Wednesday levels 91 days apart) and carries the *release*
date of the newest observation it uses; it is then aligned to trading days with
:func:`backtest.data.base.asof`, i.e. by the date each value became public, never by the
date it describes. Combinations of two series (SOFR - IORB, DGS10 - DGS2, net
liquidity) are formed on matching observation dates and released when the later of the
two inputs is released, so a Monday decision never mixes Friday's SOFR with a target
rate that changed over the weekend.

Units: balance-sheet quantities in billions of USD (H.4.1 series are published in
millions, ON RRP in billions); rates, spreads and yields in percent; VIX in index
points; realised volatility in annualised percent.

Review notes (changes from the first version): changes are taken over calendar offsets
(91 days, 12 months) instead of ``shift(k)`` on observations, so a missing week or month
cannot silently stretch the window; the staleness check of DTB3 compared microsecond
timestamps (pandas 3) with nanosecond constants and never fired; net liquidity is formed on Wednesdays (the H.4.1
basis) instead of mixing daily RRP with weekly balance-sheet levels; SOFR spreads are
matched by observation date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.data.base import MacroSeries, MarketData, asof
from backtest.data.rates import combine_cash_rate

# signal name -> short description (units); strategies and regime models validate names against this
SIGNALS: dict[str, str] = {
    "walcl": "Fed total assets, bn USD (H.4.1, usable Friday after the Wednesday)",
    "walcl_chg_4w": "4-week change of WALCL, bn USD",
    "walcl_chg_13w": "13-week change of WALCL, bn USD",
    "walcl_chg_26w": "26-week change of WALCL, bn USD",
    "treast": "Fed Treasury holdings TREAST, bn USD",
    "treast_chg_4w": "4-week change of Fed Treasury holdings, bn USD",
    "treast_chg_13w": "13-week change of Fed Treasury holdings, bn USD",
    "treast_chg_26w": "26-week change of Fed Treasury holdings, bn USD",
    "net_liquidity": "WALCL - TGA (WDTGAL) - ON RRP on Wednesdays, bn USD",
    "net_liquidity_chg_4w": "4-week change of net liquidity, bn USD",
    "net_liquidity_chg_13w": "13-week change of net liquidity, bn USD",
    "reserves": "reserve balances WRESBAL, bn USD",
    "reserves_chg_4w": "4-week change of reserves, bn USD",
    "reserves_chg_13w": "13-week change of reserves, bn USD",
    "sofr_iorb": "SOFR - IORB (before IORB exists, 2021-07-29: SOFR - top of target range), percent",
    "sofr_iorb_proxy": "1 where sofr_iorb uses the target-range proxy, 0 where it uses IORB",
    "curve_2s10s": "DGS10 - DGS2, percent",
    "curve_2s10s_chg_3m": "63-trading-day change of curve_2s10s, percent",
    "cash_rate": "3-month T-bill rate, bond-equivalent (DTB3 converted, DGS3MO where DTB3 is missing), percent",
    "policy_rate": "top of the fed funds target range, percent",
    "vix": "VIX close",
    "vix3m": "VIX3M close",
    "vix_term": "VIX / VIX3M (> 1 = backwardation)",
    "spy_rv_1m": "21-day realised volatility of SPY, annualised percent",
    "cpi_yoy": "CPI year-on-year, percent (usable mid-month after)",
    "cpi_yoy_chg_3m": "3-month change of cpi_yoy, percentage points",
}

# signal -> input series; a tuple lists alternatives joined by "|" (any one suffices)
SIGNAL_INPUTS: dict[str, tuple[str, ...]] = {
    "walcl": ("WALCL",),
    "walcl_chg_4w": ("WALCL",),
    "walcl_chg_13w": ("WALCL",),
    "walcl_chg_26w": ("WALCL",),
    "treast": ("TREAST",),
    "treast_chg_4w": ("TREAST",),
    "treast_chg_13w": ("TREAST",),
    "treast_chg_26w": ("TREAST",),
    "net_liquidity": ("WALCL", "WDTGAL", "RRPONTSYD"),
    "net_liquidity_chg_4w": ("WALCL", "WDTGAL", "RRPONTSYD"),
    "net_liquidity_chg_13w": ("WALCL", "WDTGAL", "RRPONTSYD"),
    "reserves": ("WRESBAL",),
    "reserves_chg_4w": ("WRESBAL",),
    "reserves_chg_13w": ("WRESBAL",),
    "sofr_iorb": ("SOFR", "IORB|DFEDTARU"),
    "sofr_iorb_proxy": ("SOFR", "IORB|DFEDTARU"),
    "curve_2s10s": ("DGS10", "DGS2"),
    "curve_2s10s_chg_3m": ("DGS10", "DGS2"),
    "cash_rate": ("DTB3|DGS3MO",),
    "policy_rate": ("DFEDTARU",),
    "vix": ("VIX|VIXCLS",),
    "vix3m": ("VIX3M",),
    "vix_term": ("VIX|VIXCLS", "VIX3M"),
    "spy_rv_1m": ("price:SPY",),
    "cpi_yoy": ("CPIAUCSL",),
    "cpi_yoy_chg_3m": ("CPIAUCSL",),
}

STALE_DAYS = 10  # a daily series older than this at a decision is considered stopped
MATCH_TOLERANCE_DAYS = 3  # a lagged observation may be this many days off its target date
RRP_MATCH_DAYS = 6  # RRPONTSYD is sparse before 2013: no observation this close = no operations


def missing_inputs(md: MarketData, names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Inputs lacking in ``md`` for each requested signal.

    Parameters
    ----------
    md : MarketData
        Loaded data.
    names : sequence of str
        Signal names (keys of :data:`SIGNALS`).

    Returns
    -------
    dict[str, str]
        ``{signal: missing series}`` for every signal that cannot be computed (alternatives
        are shown as ``A|B``; prices as ``price:TICKER``); empty when all are available.
    """
    out: dict[str, str] = {}
    for name in names:
        for need in SIGNAL_INPUTS.get(name, ()):
            alts = need.split("|")
            ok = any(
                (a.split(":", 1)[1] in md.prices.columns) if a.startswith("price:") else (a in md.macro)
                for a in alts
            )
            if not ok:
                out[name] = need
                break
    return out


# ---------------------------------------------------------------------------- observation-basis helpers

_DAY_NS = 86_400 * 10**9


def _ns(dates: pd.Index | pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (int64), whatever the datetime resolution of the input."""
    return np.asarray(pd.DatetimeIndex(dates).to_numpy(dtype="datetime64[ns]")).view("i8")



def lagged_positions(index: pd.DatetimeIndex, offset: pd.DateOffset | pd.Timedelta) -> np.ndarray:
    """Position of the observation at (or up to ``MATCH_TOLERANCE_DAYS`` before) ``d - offset``.

    -1 where no observation is close enough.
    """
    target = _ns(pd.DatetimeIndex(index - offset))
    idx = _ns(index)
    pos = np.searchsorted(idx, target, side="right") - 1
    ok = pos >= 0
    gap = np.full(len(index), np.iinfo(np.int64).max)
    gap[ok] = target[ok] - idx[pos[ok]]
    pos[gap > MATCH_TOLERANCE_DAYS * _DAY_NS] = -1
    return pos


def _change(ms: MacroSeries, offset: pd.DateOffset | pd.Timedelta, name: str, scale: float = 1.0,
            relative: bool = False) -> MacroSeries:
    """Change of ``ms`` over ``offset`` on its own observation dates (released with the newer value)."""
    v = ms.values.to_numpy(dtype=float) * scale
    pos = lagged_positions(pd.DatetimeIndex(ms.values.index), offset)
    prev = np.where(pos >= 0, v[np.maximum(pos, 0)], np.nan)
    chg = (v / prev - 1.0) * 100.0 if relative else v - prev
    return MacroSeries(name, pd.Series(chg, index=ms.values.index), ms.released)


def weeks_delta(k: int) -> pd.Timedelta:
    return pd.Timedelta(days=7 * k)


def _scaled(ms: MacroSeries, scale: float) -> MacroSeries:
    return MacroSeries(ms.name, ms.values * scale, ms.released)


def values_at_dates(ms: MacroSeries, dates: pd.DatetimeIndex, max_age_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Value and release date of the latest observation of ``ms`` on or before each date.

    NaN / NaT where the latest observation is older than ``max_age_days``.
    """
    idx, at = _ns(ms.values.index), _ns(dates)
    pos = np.searchsorted(idx, at, side="right") - 1
    ok = pos >= 0
    age = np.full(len(dates), np.iinfo(np.int64).max)
    age[ok] = at[ok] - idx[pos[ok]]
    ok &= age <= max_age_days * _DAY_NS
    vals = np.full(len(dates), np.nan)
    rel = np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[ns]")
    vals[ok] = ms.values.to_numpy(dtype=float)[pos[ok]]
    rel[ok] = ms.released.to_numpy(dtype="datetime64[ns]")[pos[ok]]
    return vals, rel


def combine_releases(base: MacroSeries, values: np.ndarray, *others_released: np.ndarray, name: str) -> MacroSeries:
    """A series on ``base``'s observation dates, released when its latest input is released."""
    rel = base.released.to_numpy(dtype="datetime64[ns]").copy()
    for r in others_released:
        rel = np.where(np.isnat(r), rel, np.maximum(rel, r))
    ok = ~np.isnan(values)
    idx = base.values.index[ok]
    return MacroSeries(name, pd.Series(values[ok], index=idx), pd.Series(pd.DatetimeIndex(rel[ok]), index=idx))


def fresh_values(ms: MacroSeries, days: pd.DatetimeIndex, max_age: int = STALE_DAYS) -> pd.Series:
    """asof, but NaN where the latest released observation is older than ``max_age`` days."""
    vals = asof(ms, days)
    obs_dates = MacroSeries(ms.name, pd.Series(_ns(ms.values.index).astype(float), index=ms.values.index), ms.released)
    last_obs = asof(obs_dates, days)
    age = (_ns(days) - last_obs.to_numpy()) / _DAY_NS
    return vals.where(age <= max_age)


# ---------------------------------------------------------------------------- signal groups


def _balance_sheet(m: dict[str, MacroSeries], days: pd.DatetimeIndex, out: dict[str, pd.Series]) -> None:
    for sid, key in (("WALCL", "walcl"), ("TREAST", "treast"), ("WRESBAL", "reserves")):
        if sid not in m:
            continue
        s = _scaled(m[sid], 1e-3)
        out[key] = asof(s, days)
        for k in (4, 13, 26):
            if key == "reserves" and k == 26:
                continue
            out[f"{key}_chg_{k}w"] = asof(_change(s, weeks_delta(k), f"{key}_chg_{k}w"), days)


def net_liquidity_series(m: dict[str, MacroSeries]) -> MacroSeries:
    """Net liquidity WALCL - WDTGAL - RRPONTSYD on WALCL's Wednesdays, bn USD.

    RRP (billions) is taken on the same date or up to ``RRP_MATCH_DAYS`` before; no
    observation that close (the sparse pre-2013 history) counts as zero operations.
    The value is released when the last of its three inputs is.
    """
    w = _scaled(m["WALCL"], 1e-3)
    dates = pd.DatetimeIndex(w.values.index)
    tga, tga_rel = values_at_dates(_scaled(m["WDTGAL"], 1e-3), dates, MATCH_TOLERANCE_DAYS)
    rrp, rrp_rel = values_at_dates(m["RRPONTSYD"], dates, RRP_MATCH_DAYS)
    rrp = np.nan_to_num(rrp, nan=0.0)
    return combine_releases(w, w.values.to_numpy(dtype=float) - tga - rrp, tga_rel, rrp_rel, name="net_liquidity")


def funding_spread_series(m: dict[str, MacroSeries]) -> tuple[MacroSeries, MacroSeries]:
    """SOFR minus the administered rate, on SOFR's observation dates.

    The administered rate is IORB where IORB has an observation for (or up to 3 days
    before) the SOFR date, else the top of the target range DFEDTARU (the proxy, flagged
    1 in the second series). Days before SOFR exists have no value (missing, not zero).
    """
    sofr = m["SOFR"]
    dates = pd.DatetimeIndex(sofr.values.index)
    admin = np.full(len(dates), np.nan)
    admin_rel = np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[ns]")
    proxy = np.full(len(dates), np.nan)
    if "DFEDTARU" in m:
        admin, admin_rel = values_at_dates(m["DFEDTARU"], dates, MATCH_TOLERANCE_DAYS)
        proxy = np.where(np.isnan(admin), np.nan, 1.0)
    if "IORB" in m:
        iorb, iorb_rel = values_at_dates(m["IORB"], dates, MATCH_TOLERANCE_DAYS)
        has = ~np.isnan(iorb)
        admin = np.where(has, iorb, admin)
        admin_rel = np.where(has, iorb_rel, admin_rel)
        proxy = np.where(has, 0.0, proxy)
    spread = sofr.values.to_numpy(dtype=float) - admin
    proxy = np.where(np.isnan(spread), np.nan, proxy)
    return (combine_releases(sofr, spread, admin_rel, name="sofr_iorb"),
            combine_releases(sofr, proxy, admin_rel, name="sofr_iorb_proxy"))


def _curve_series(m: dict[str, MacroSeries]) -> MacroSeries:
    ten = m["DGS10"]
    two, two_rel = values_at_dates(m["DGS2"], pd.DatetimeIndex(ten.values.index), 0)
    return combine_releases(ten, ten.values.to_numpy(dtype=float) - two, two_rel, name="curve_2s10s")


def _cpi(m: dict[str, MacroSeries], days: pd.DatetimeIndex, out: dict[str, pd.Series]) -> None:
    cpi = m["CPIAUCSL"]
    yoy = _change(cpi, pd.DateOffset(months=12), "cpi_yoy", relative=True)
    out["cpi_yoy"] = asof(yoy, days)
    out["cpi_yoy_chg_3m"] = asof(_change(yoy, pd.DateOffset(months=3), "cpi_yoy_chg_3m"), days)


def liquidity_signals(md: MarketData, days: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """All point-in-time signals available from ``md`` on ``days``.

    Parameters
    ----------
    md : MarketData
        Prices and macro series (with release dates).
    days : pd.DatetimeIndex, optional
        Decision days; defaults to ``md.calendar``.

    Returns
    -------
    pd.DataFrame
        Index ``days``; columns ⊂ :data:`SIGNALS` (those whose inputs exist). The value
        on day ``t`` uses only observations released by the close of ``t``.
    """
    days = md.calendar if days is None else pd.DatetimeIndex(days)
    m = md.macro
    out: dict[str, pd.Series] = {}
    _balance_sheet(m, days, out)
    if {"WALCL", "WDTGAL", "RRPONTSYD"} <= set(m):
        nl = net_liquidity_series(m)
        out["net_liquidity"] = asof(nl, days)
        for k in (4, 13):
            out[f"net_liquidity_chg_{k}w"] = asof(_change(nl, weeks_delta(k), f"nl_chg_{k}w"), days)
    if "SOFR" in m and ({"IORB", "DFEDTARU"} & set(m)):
        spread, proxy = funding_spread_series(m)
        out["sofr_iorb"] = asof(spread, days)
        out["sofr_iorb_proxy"] = asof(proxy, days)
    if {"DGS10", "DGS2"} <= set(m):
        c = asof(_curve_series(m), days)
        out["curve_2s10s"] = c
        out["curve_2s10s_chg_3m"] = c - c.shift(63)
    cash = combine_cash_rate(fresh_values(m["DTB3"], days) if "DTB3" in m else None,
                             asof(m["DGS3MO"], days) if "DGS3MO" in m else None)
    if cash is not None:
        out["cash_rate"] = cash
    if "DFEDTARU" in m:
        out["policy_rate"] = asof(m["DFEDTARU"], days)
    vix_id = "VIX" if "VIX" in m else ("VIXCLS" if "VIXCLS" in m else None)
    if vix_id is not None:
        out["vix"] = asof(m[vix_id], days)
    if "VIX3M" in m:
        out["vix3m"] = asof(m["VIX3M"], days)
        if "vix" in out:
            out["vix_term"] = out["vix"] / out["vix3m"]
    if "SPY" in md.prices.columns:
        spy = md.prices["SPY"].reindex(days)
        out["spy_rv_1m"] = spy.pct_change(fill_method=None).rolling(21).std() * np.sqrt(252) * 100
    if "CPIAUCSL" in m:
        _cpi(m, days, out)
    frame = pd.DataFrame({k: out[k] for k in SIGNALS if k in out}, index=days)
    frame.index.name = "date"
    return frame
