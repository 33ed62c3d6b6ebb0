"""Scenario paths: regime paths from a scenario's chain, then prices and macro series per path.

One generator, two sources of daily draws (chosen by the data, not by the caller):

* **bootstrap** (real data: ``--data-dir`` / ``source: csv``): each simulated day copies a
  whole historical day of the current state's analogue periods — every asset's return
  and every macro *change* of that day — in stationary blocks
  (:mod:`backtest.synthetic.bootstrap`). Returns are copied in excess of that day's
  3-month bill rate and the path's own simulated bill rate is added back, so a 2019 day
  of BIL does not carry a 2019 bill yield into 2026;
* **parametric** (the ``sample`` market): each day is a draw of the calibrated per-regime
  Student-t model of :mod:`backtest.market_model` for the state's regime kind
  (optionally with the state's ``vol_scale``), plus its level-noise model.

Both produce the same daily *channels*, turned into levels by one recursion
(:func:`_levels`) and sampled like the published series (daily FRED/CBOE series every
simulated day, H.4.1 series on Wednesdays, CPI monthly), so a path is ``MarketData``:
history up to the day before the scenario starts, then the simulated days. Strategies
run on it unchanged, and its macro series get release dates from the same lag rules as
history (:meth:`PathPanel.market_data`).

Channels and levels
-------------------
=============  ==============================================  ==========================
channel        change per day                                  level
=============  ==============================================  ==========================
vix, term      Δ log VIX, Δ log(VIX3M/VIX)                     mean-reverting to state mean
dgs2, dgs10    Δ yield (percentage points)                     random walk (bootstrap) /
                                                               AR(1) (parametric), >= 0.01
top            Δ top of the fed funds range                    0.25 grid, >= 0.25
                                                               (parametric: staircase
                                                               following DGS2, as sample)
sofr_spread    Δ(SOFR − IORB); IORB = top − 0.10 (t0 offset)   mean-reverting
bill_spread    Δ(top − DTB3)                                   mean-reverting
cm_spread      Δ(DGS3MO − DTB3)                                mean-reverting
rrp            Δ ON RRP (bn)                                   random walk, >= 0
tga            Δ TGA (millions; weekly change / days of week)  mean-reverting to t0 level
walcl, treast, Δ log level (weekly change / trading days of    compounding; in *paced*
reserves       the week)                                       states demeaned + pace
cpi            Δ log CPI (monthly change / days of month)      compounding
=============  ==============================================  ==========================

Mean-reverting levels follow ``x_t = x_{t-1} + Δ_t - κ (x_{t-1} - m_s)`` with the state's
mean level ``m_s`` (bootstrap: the mean over its analogue days, changes demeaned per
state; parametric: the calibration's regime mean and ``κ = 1 - φ``). Bootstrap half-lives
are :data:`HALF_LIVES` (trading days).

The RMP pace
------------
In a *paced* state the scenario's pace ``π`` (bn USD/month) replaces the state's own
purchase flow: WALCL, TREAST and WRESBAL grow by their demeaned draws plus ``π / 21`` bn a
day, and every asset's daily return is shifted by its liquidity beta times
``π - π_ref`` (:func:`backtest.synthetic.liquidity_beta.daily_drift_shift`), ``π_ref``
being the mean monthly WALCL growth over the state's analogue days.

Randomness
----------
Path ``i`` of scenario ``s`` draws from
``np.random.default_rng(SeedSequence(seed, spawn_key=(crc32(s), i)))``: first the chain's
uniforms, then the source's draws. A path therefore does not depend on which other
paths are generated with it (chunking, workers), and scenarios are independent.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from backtest.data.base import MacroSeries, MarketData
from backtest.errors import DataError, ScenarioError
from backtest.market_model import (
    DAILY_SERIES,
    DECIMALS,
    MACRO_SERIES,
    MONTHLY_SERIES,
    WEEKLY_SERIES,
    StateModel,
    draw_states,
    level_params,
    staircase_levels,
    state_model,
)
from backtest.synthetic.bootstrap import StatePool, block_indices, build_pool
from backtest.synthetic.liquidity_beta import daily_drift_shift
from backtest.synthetic.scenarios import (
    DAYS_PER_MONTH,
    Period,
    Scenario,
    ScenarioSet,
    simulate_chain,
)

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
        rf[1:] = np.nan_to_num(rate[:-1], nan=0.0) / 100.0 / 252.0
        return cls(md, tuple(tickers), days, ret, changes, levels, walcl, rf)

    def usable(self) -> np.ndarray:
        """Days on which every simulated asset has a return and VIX is known."""
        return np.isfinite(self.returns).all(axis=1) & np.isfinite(self.levels[:, CH["vix"]])

    def need_matrix(self) -> tuple[np.ndarray, list[str]]:
        """Per day and required input, whether it exists (for analogue checks)."""
        cols = [np.isfinite(self.returns[:, j]) for j in range(len(self.tickers))]
        cols.append(np.isfinite(self.levels[:, CH["vix"]]))
        return np.column_stack(cols), [*self.tickers, "VIX"]


# ------------------------------------------------------------------------ contexts


@dataclass(frozen=True)
class LevelSpec:
    """Level recursion of each channel: pull per day, state means, floor."""

    kappa: np.ndarray  # (C,)
    mean: np.ndarray  # (S, C)
    floor: np.ndarray  # (C,) (-inf: none)


ParametricModel = StateModel
"""Per-state parameters of the calibrated parametric draw (:class:`backtest.market_model.StateModel`)."""


@dataclass(frozen=True)
class ScenarioContext:
    """Everything needed to generate any chunk of paths of one scenario (picklable).

    Attributes
    ----------
    scenario : Scenario
    states, kinds : tuple[str, ...]
        State names and regime kinds (S).
    paced : np.ndarray of bool, shape (S,)
    source : str
        ``"bootstrap"`` or ``"parametric"``.
    t0 : pd.Timestamp
        Last history day (decisions may be taken at its close).
    days : pd.DatetimeIndex
        Simulated trading days (T): business days after ``t0``.
    history : MarketData
        Real (or sample) history up to ``t0`` (prices and macro observations dated
        ``<= t0``), from ``t0 - warmup`` on.
    tickers : tuple[str, ...]
    start_prices : np.ndarray, shape (N,)
    anchors : dict
        Levels at ``t0`` (see :func:`_anchors`).
    levels : LevelSpec
    pace : np.ndarray, shape (T,)
        RMP pace per simulated day, bn USD/month.
    pace_ref : np.ndarray, shape (S,)
        Mean monthly WALCL growth of each state's analogue days, bn USD.
    beta : np.ndarray, shape (N,)
        Liquidity betas (weekly return per 100 bn).
    bs_demean : np.ndarray, shape (S, 3)
        Mean daily log growth of WALCL/TREAST/WRESBAL per state (removed in paced states).
    hist_returns, hist_changes, hist_rf : np.ndarray
        Bootstrap source arrays (empty for the parametric source): returns, channel
        changes, daily cash return of each history day.
    ch_demean : np.ndarray, shape (S, C)
        Per-state mean change removed from the mean-reverting channels (bootstrap).
    pools : tuple[StatePool, ...]
    mean_block : float
    param : ParametricModel or None
    macro : tuple[str, ...]
        Simulated macro series (those the history has).
    seed_key : int
        ``crc32`` of the scenario name (spawn key of its paths).
    """

    scenario: Scenario
    states: tuple[str, ...]
    kinds: tuple[str, ...]
    paced: np.ndarray
    source: str
    t0: pd.Timestamp
    days: pd.DatetimeIndex
    history: MarketData
    tickers: tuple[str, ...]
    start_prices: np.ndarray
    anchors: dict[str, float]
    levels: LevelSpec
    pace: np.ndarray
    pace_ref: np.ndarray
    beta: np.ndarray
    bs_demean: np.ndarray
    hist_returns: np.ndarray
    hist_changes: np.ndarray
    hist_rf: np.ndarray
    ch_demean: np.ndarray
    pools: tuple[StatePool, ...]
    mean_block: float
    param: ParametricModel | None
    macro: tuple[str, ...]
    seed_key: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def horizon(self) -> int:
        """Simulated trading days."""
        return len(self.days)

    def shift(self) -> np.ndarray:
        """Daily return shift per state and day of the pace, shape (S, T, N) (0 when unpaced)."""
        diff = self.pace[None, :] - self.pace_ref[:, None]  # (S, T)
        out = daily_drift_shift(self.beta, diff)
        out[~self.paced] = 0.0
        return out


def seed_key(name: str) -> int:
    """Spawn-key component of a scenario (stable across runs and scenario files)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def path_rngs(seed: int, key: int, p0: int, p1: int) -> list[np.random.Generator]:
    """Independent generators of paths ``p0 .. p1 - 1`` (per-path seeds)."""
    return [np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(key, p))) for p in range(p0, p1)]


def scenario_t0(hist: History, sc: Scenario) -> pd.Timestamp:
    """Last history day before a scenario starts (``latest``: the last day of the data)."""
    days = hist.dates
    if sc.start == "latest":
        return days[-1]
    start = pd.Timestamp(sc.start)
    before = days[days < start]
    if len(before) < 60:
        raise ScenarioError(f"scenario {sc.name}: starts {start.date()}, but the data have only "
                            f"{len(before)} trading days before it (data cover {days[0].date()}..{days[-1].date()})")
    if start > days[-1] + pd.Timedelta(days=10):
        raise ScenarioError(f"scenario {sc.name}: starts {start.date()}, after the end of the data ({days[-1].date()})")
    return before[-1]


def _cut_history(md: MarketData, t0: pd.Timestamp, warmup_days: int, tickers: tuple[str, ...]) -> MarketData:
    lo = t0 - pd.Timedelta(days=warmup_days)
    p = md.prices.loc[(md.prices.index >= lo) & (md.prices.index <= t0), list(tickers)]
    macro = {}
    for k, ms in md.macro.items():
        keep = (ms.values.index >= lo) & (ms.values.index <= t0)
        macro[k] = MacroSeries(k, ms.values[keep], ms.released[keep])
    return MarketData(p, macro, md.source, md.synthetic, md.notes)


def _last(ms: MacroSeries | None, t0: pd.Timestamp) -> tuple[float, pd.Timestamp | None]:
    if ms is None:
        return np.nan, None
    v = ms.values[ms.values.index <= t0].dropna()
    if not len(v):
        return np.nan, None
    return float(v.iloc[-1]), pd.Timestamp(v.index[-1])


def _anchors(md: MarketData, t0: pd.Timestamp) -> dict[str, Any]:
    """Levels at ``t0``: the last observation on or before it of every series."""
    m = md.macro
    lv = {name: _last(m.get(name), t0)[0] for name in SIM_SERIES}
    top = lv["DFEDTARU"] if np.isfinite(lv["DFEDTARU"]) else 0.25
    iorb_off = lv["IORB"] - top if np.isfinite(lv["IORB"]) else IORB_MINUS_TOP
    dtb3 = lv["DTB3"] if np.isfinite(lv["DTB3"]) else lv["DGS3MO"]
    if not np.isfinite(dtb3):
        dtb3 = top - 0.1
    cm = lv["DGS3MO"] - dtb3 if np.isfinite(lv["DGS3MO"]) else 0.0
    vix = lv["VIX"] if np.isfinite(lv["VIX"]) else 18.0
    vix3m = lv["VIX3M"] if np.isfinite(lv["VIX3M"]) else vix * 1.1
    sofr = lv["SOFR"] if np.isfinite(lv["SOFR"]) else top + iorb_off
    out: dict[str, Any] = {
        "vix": float(np.log(vix)), "term": float(np.log(vix3m / vix)),
        "dgs2": lv["DGS2"] if np.isfinite(lv["DGS2"]) else top, "dgs10": lv["DGS10"] if np.isfinite(lv["DGS10"]) else top + 1,
        "top": top, "iorb_off": iorb_off, "sofr_spread": sofr - (top + iorb_off),
        "bill_spread": top - dtb3, "cm_spread": cm,
        "rrp": lv["RRPONTSYD"] if np.isfinite(lv["RRPONTSYD"]) else 0.0,
        "tga": lv["WDTGAL"] if np.isfinite(lv["WDTGAL"]) else 500_000.0,
        "walcl": lv["WALCL"], "treast": lv["TREAST"], "reserves": lv["WRESBAL"],
        "cpi": lv["CPIAUCSL"],
    }
    return out


def build_context(hist: History, sset: ScenarioSet, sc: Scenario, *, source: str, beta: np.ndarray,
                  periods: Mapping[str, list[Period]], calib: Mapping | None = None) -> ScenarioContext:
    """Prepare one scenario for generation (see :class:`ScenarioContext`).

    Parameters
    ----------
    hist : History
    sset : ScenarioSet
    sc : Scenario
    source : {"bootstrap", "parametric"}
    beta : np.ndarray, shape (N,)
        Liquidity betas of ``hist.tickers``.
    periods : mapping
        Resolved analogue periods per state (:func:`~backtest.synthetic.scenarios.resolve_analogues`).
    calib : mapping, optional
        Sample calibration (parametric source).
    """
    spec = sset.spec
    t0 = scenario_t0(hist, sc)
    days = pd.bdate_range(t0 + pd.Timedelta(days=1), periods=sc.horizon_days, name="date")
    hmd = _cut_history(hist.md, t0, spec.warmup_days, hist.tickers)
    px0 = hist.md.prices.loc[:t0, list(hist.tickers)].ffill().iloc[-1].to_numpy(dtype=float)
    bad = [t for t, x in zip(hist.tickers, px0, strict=True) if not np.isfinite(x)]
    if bad:
        raise DataError(f"scenario {sc.name}: {bad[0]} has no price on or before {t0.date()}")
    anchors = _anchors(hist.md, t0)
    for c in ("walcl", "treast", "reserves", "cpi"):
        if not np.isfinite(anchors[c]):
            raise DataError(f"scenario {sc.name}: no {BS_SERIES.get(c, 'CPIAUCSL')} observation on or before {t0.date()}")
    n_s = len(sset.states)
    # the parametric source draws nothing from history: its pools only measure the pace
    usable = hist.usable() if source == "bootstrap" else np.ones(len(hist.dates), dtype=bool)
    pools = tuple(build_pool(hist.dates, usable, list(periods[s])) for s in sset.states)
    for s, pool in zip(sset.states, pools, strict=True):
        if len(pool.days) == 0:
            raise ScenarioError(f"{sset.path}: states.{s}: its analogue periods have no usable day in the data "
                                f"(every asset of the universe and VIX must have data)")
    walcl = np.nan_to_num(hist.walcl_bn_day, nan=0.0)
    pace_ref = np.array([walcl[p.days].mean() * DAYS_PER_MONTH for p in pools])
    ch = np.nan_to_num(hist.changes, nan=0.0)
    bs_idx = [CH[c] for c in BS_CHANNELS]
    notes: list[str] = []
    kappa = np.zeros(len(CHANNELS))
    means = np.zeros((n_s, len(CHANNELS)))
    floor = np.full(len(CHANNELS), -np.inf)
    for c, v in FLOORS.items():
        floor[CH[c]] = v
    ch_demean = np.zeros((n_s, len(CHANNELS)))
    param = None
    if source == "bootstrap":
        bs_demean = np.array([ch[p.days][:, bs_idx].mean(axis=0) for p in pools])
        for c, hl in HALF_LIVES.items():
            j = CH[c]
            kappa[j] = 1.0 - 0.5 ** (1.0 / hl)
            for i, p in enumerate(pools):
                lv = hist.levels[p.days, j]
                lv = lv[np.isfinite(lv)]
                ch_demean[i, j] = ch[p.days, j].mean()
                means[i, j] = lv.mean() if len(lv) else anchors[c]
        means[:, CH["tga"]] = anchors["tga"]  # TGA reverts to today's level (its size grew 100x since 2008)
        h_ret, h_ch, h_rf = hist.returns, ch, hist.rf
    elif source == "parametric":
        if calib is None:
            raise DataError("the parametric scenario source needs the sample calibration")
        param, lspec, bs_demean = _parametric_model(calib, sset, hist.tickers)
        kappa, means, floor = lspec
        h_ret, h_ch, h_rf = np.zeros((0, len(hist.tickers))), np.zeros((0, len(CHANNELS))), np.zeros(0)
        notes.append("parametric source: per-regime-kind calibrated model (sample market)")
    else:
        raise ValueError(f"unknown source {source!r}")
    return ScenarioContext(
        scenario=sc, states=sset.states, kinds=sset.kinds, paced=sset.paced.copy(), source=source, t0=t0,
        days=days, history=hmd, tickers=hist.tickers, start_prices=px0, anchors=anchors,
        levels=LevelSpec(kappa, means, floor), pace=sc.pace_on(days), pace_ref=pace_ref,
        beta=np.asarray(beta, dtype=float), bs_demean=bs_demean, hist_returns=h_ret, hist_changes=h_ch, hist_rf=h_rf,
        ch_demean=ch_demean, pools=pools, mean_block=float(spec.mean_block_days), param=param,
        macro=tuple(s for s in SIM_SERIES if s in hist.md.macro), seed_key=seed_key(sc.name), notes=tuple(notes),
    )


def _parametric_model(calib: Mapping, sset: ScenarioSet, tickers: tuple[str, ...]):
    """Per-state parameters from the sample calibration (state -> its regime kind)."""
    kinds = list(sset.kinds)
    vs = np.array([st.parametric.vol_scale for st in sset.spec.states.values()])
    model = state_model(calib, kinds, tickers, vs)
    kappa = np.zeros(len(CHANNELS))
    means = np.zeros((len(kinds), len(CHANNELS)))
    floor = np.full(len(CHANNELS), -np.inf)
    for c, v in FLOORS.items():
        floor[CH[c]] = v
    for c, lp in level_params(calib, kinds).items():
        kappa[CH[c]] = lp.kappa
        means[:, CH[c]] = lp.mean
        if lp.floor is not None:
            floor[CH[c]] = lp.floor
    return model, (kappa, means, floor), model.bs_mean


# ------------------------------------------------------------------------ numba kernels


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
def _ar_levels(x0, d, kappa, means, states, floor, out):  # pragma: no cover - numba
    p_n, t_n = d.shape
    for p in range(p_n):
        x = x0
        for t in range(t_n):
            x = x + d[p, t] - kappa * (x - means[states[p, t]])
            if x < floor:
                x = floor
            out[p, t] = x


@numba.njit(cache=True)
def _bs_levels(x0, g, demean, paced, states, add_per_day, out):  # pragma: no cover - numba
    p_n, t_n = g.shape
    for p in range(p_n):
        x = x0
        for t in range(t_n):
            s = states[p, t]
            if paced[s]:
                x = x * np.exp(g[p, t] - demean[s]) + add_per_day[t]
            else:
                x = x * np.exp(g[p, t])
            out[p, t] = x



# ------------------------------------------------------------------------ generation


@dataclass
class PathPanel:
    """A chunk of simulated paths of one scenario (paths as the first axis).

    Attributes
    ----------
    ctx : ScenarioContext
    p0 : int
        Global index of the first path.
    states : np.ndarray of int8, shape (P, T)
    returns : np.ndarray, shape (P, T, N)
        Daily simple returns of the simulated days.
    daily : dict[str, np.ndarray]
        (P, T) levels of the daily series, rounded like the published series.
    weekly_dates : pd.DatetimeIndex
        Simulated Wednesdays (W).
    weekly : dict[str, np.ndarray]
        (P, W) H.4.1 levels (millions USD).
    monthly_dates : pd.DatetimeIndex
        First day of each simulated month (M).
    monthly : dict[str, np.ndarray]
        (P, M) CPI index.
    rows : np.ndarray, shape (P, T) or None
        Bootstrapped history rows (bootstrap source).
    """

    ctx: ScenarioContext
    p0: int
    states: np.ndarray
    returns: np.ndarray
    daily: dict[str, np.ndarray]
    weekly_dates: pd.DatetimeIndex
    weekly: dict[str, np.ndarray]
    monthly_dates: pd.DatetimeIndex
    monthly: dict[str, np.ndarray]
    rows: np.ndarray | None = None

    @property
    def paths(self) -> int:
        """Number of paths in the chunk."""
        return int(self.states.shape[0])

    def sim_obs(self, name: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """Observation dates and (P, O) values of a simulated macro series."""
        if name in self.daily:
            return self.ctx.days, self.daily[name]
        if name in self.weekly:
            return self.weekly_dates, self.weekly[name]
        if name in self.monthly:
            return self.monthly_dates, self.monthly[name]
        raise KeyError(name)

    def prices(self) -> np.ndarray:
        """(P, T, N) closes of the simulated days (from the ``t0`` closes)."""
        return self.ctx.start_prices[None, None, :] * np.cumprod(1.0 + self.returns, axis=1)

    def regime(self, i: int, history_labels: pd.Series) -> pd.Series:
        """Regime label of path ``i`` on its whole calendar (history labels, then state kinds)."""
        kinds = np.asarray(self.ctx.kinds, dtype=object)[self.states[i]]
        sim = pd.Series(kinds, index=self.ctx.days, name="regime")
        return pd.concat([history_labels.loc[: self.ctx.t0], sim])

    def market_data(self, i: int) -> MarketData:
        """Path ``i`` (chunk-local) as ``MarketData``: history to ``t0``, then the simulated days.

        Macro series are built with :meth:`MacroSeries.from_observations`, so simulated
        observations get release dates from the same lag rules as history.
        """
        ctx = self.ctx
        hist = ctx.history
        px_sim = pd.DataFrame(ctx.start_prices[None, :] * np.cumprod(1.0 + self.returns[i], axis=0),
                              index=ctx.days, columns=list(ctx.tickers))
        prices = pd.concat([hist.prices[list(ctx.tickers)], px_sim])
        prices.index.name = "date"
        macro: dict[str, MacroSeries] = {}
        for name, ms in hist.macro.items():
            if name in ctx.macro:
                d, v = self.sim_obs(name)
                s = pd.concat([ms.values, pd.Series(v[i], index=d)])
                macro[name] = MacroSeries.from_observations(name, s)
            else:
                macro[name] = ms
        return MarketData(prices, macro, f"scenario {ctx.scenario.name} path {self.p0 + i} ({ctx.source})",
                          synthetic=True, notes=())


def _bootstrap_draws(ctx: ScenarioContext, rngs: list[np.random.Generator], states: np.ndarray):
    t_n = ctx.horizon
    u = np.empty((len(rngs), 2, t_n))
    for k, g in enumerate(rngs):
        u[k] = g.random((2, t_n))
    rows = block_indices(states, list(ctx.pools), u[:, 0], u[:, 1], ctx.mean_block)
    ret = ctx.hist_returns[rows] - ctx.hist_rf[rows][..., None]  # excess over that day's bill rate
    chg = ctx.hist_changes[rows]
    chg -= ctx.ch_demean[states.astype(np.int64)]
    return ret, chg, rows


def _parametric_draws(ctx: ScenarioContext, rngs: list[np.random.Generator], states: np.ndarray):
    assert ctx.param is not None
    ret, changes = draw_states(ctx.param, rngs, states)
    chg = np.zeros((*states.shape, len(CHANNELS)))
    for name, x in changes.items():
        chg[..., CH[BS_CHANNEL.get(name, name)]] = x
    return ret, chg, None


def generate(ctx: ScenarioContext, seed: int, p0: int, p1: int) -> PathPanel:
    """Generate paths ``p0 .. p1 - 1`` of a scenario (see the module docstring).

    Returns
    -------
    PathPanel
        Identical values for a path whatever ``p0``/``p1`` of the chunk it is in.
    """
    t_n = ctx.horizon
    rngs = path_rngs(seed, ctx.seed_key, p0, p1)
    u_chain = np.empty((len(rngs), t_n))
    for k, g in enumerate(rngs):
        u_chain[k] = g.random(t_n)
    states = simulate_chain(ctx.scenario.matrix, ctx.scenario.start_state, u_chain)
    if ctx.source == "bootstrap":
        ret, chg, rows = _bootstrap_draws(ctx, rngs, states)
    else:
        ret, chg, rows = _parametric_draws(ctx, rngs, states)
    st = states.astype(np.int64)
    if ctx.paced.any():
        sh = ctx.shift()  # (S, T, N)
        ret = ret + sh[st, np.arange(t_n)[None, :]]
    daily, bs_daily = _levels(ctx, st, chg)
    if ctx.source == "bootstrap":  # add the path's own bill rate back to the excess returns
        rf = np.empty((len(rngs), t_n))
        rf[:, 0] = (ctx.anchors["top"] - ctx.anchors["bill_spread"]) / 100.0 / 252.0
        rf[:, 1:] = daily["DTB3"][:, :-1] / 100.0 / 252.0
        ret = ret + rf[..., None]
    wd = pd.DatetimeIndex([d for d in ctx.days if d.dayofweek == 2], name="date")
    widx = ctx.days.get_indexer(wd)
    weekly = {}
    for c, name in BS_SERIES.items():
        if name in ctx.macro:
            weekly[name] = bs_daily[c][:, widx]
    if "WDTGAL" in ctx.macro:
        weekly["WDTGAL"] = bs_daily["tga"][:, widx]
    for name, cap in MAX_SHARE.items():
        if name in weekly and "WALCL" in weekly:
            weekly[name] = np.minimum(weekly[name], cap * weekly["WALCL"])
    md_, monthly = _monthly(ctx, bs_daily["cpi"])
    for k in weekly:
        weekly[k] = np.round(weekly[k], DECIMALS[k])
    for k in monthly:
        monthly[k] = np.round(monthly[k], DECIMALS[k])
    daily = {k: np.round(v, DECIMALS[k]) for k, v in daily.items() if k in ctx.macro}
    return PathPanel(ctx, p0, states, ret, daily, wd, weekly, md_, monthly, rows)


def _monthly(ctx: ScenarioContext, cpi_daily: np.ndarray) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """CPI observations of the simulated months: the index at each month's last simulated day."""
    if "CPIAUCSL" not in ctx.macro:
        return pd.DatetimeIndex([], name="date"), {}
    months = pd.date_range(ctx.t0.to_period("M").to_timestamp() + pd.offsets.MonthBegin(1), ctx.days[-1], freq="MS")
    per = ctx.days.to_period("M")
    last = [int(np.flatnonzero(per == m.to_period("M"))[-1]) for m in months]
    return pd.DatetimeIndex(months, name="date"), {"CPIAUCSL": cpi_daily[:, last] if last else np.zeros((cpi_daily.shape[0], 0))}


def _levels(ctx: ScenarioContext, st: np.ndarray, chg: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Daily levels from the channel changes (see the module docstring)."""
    a = ctx.anchors
    lv = ctx.levels
    p_n, t_n = st.shape
    out: dict[str, np.ndarray] = {}

    def ar(c: str) -> np.ndarray:
        j = CH[c]
        res = np.empty((p_n, t_n))
        _ar_levels(float(a[c]), np.ascontiguousarray(chg[..., j]), float(lv.kappa[j]),
                   np.ascontiguousarray(lv.mean[:, j]), st, float(lv.floor[j]), res)
        return res

    lvix = ar("vix")
    out["VIX"] = np.exp(lvix)
    out["VIX3M"] = out["VIX"] * np.exp(ar("term"))
    out["DGS2"] = ar("dgs2")
    out["DGS10"] = ar("dgs10")
    if ctx.source == "parametric":
        pol = ctx.param.policy  # type: ignore[union-attr]
        top = np.empty((p_n, t_n))
        staircase_levels(out["DGS2"], pol["offset_state"], st, float(a["top"]), float(pol["step"]), float(pol["floor"]),
                   int(pol["meeting_every_days"]), float(pol["max_steps"]), float(pol["deadband_steps"]), top)
    else:
        top = ar("top")
        top = np.maximum(np.round(top / TOP_STEP) * TOP_STEP, FLOORS["top"])
    out["DFEDTARU"] = top
    out["IORB"] = top + a["iorb_off"]
    out["SOFR"] = np.maximum(MIN_RATE, out["IORB"] + ar("sofr_spread"))
    out["DTB3"] = np.maximum(MIN_RATE, top - ar("bill_spread"))
    out["DGS3MO"] = np.maximum(MIN_RATE, out["DTB3"] + ar("cm_spread"))
    out["RRPONTSYD"] = ar("rrp")
    bs: dict[str, np.ndarray] = {"tga": ar("tga")}
    add = ctx.pace * 1e3 / DAYS_PER_MONTH  # millions per day
    for j, c in enumerate(BS_CHANNELS):
        res = np.empty((p_n, t_n))
        _bs_levels(float(a[c]), np.ascontiguousarray(chg[..., CH[c]]), np.ascontiguousarray(ctx.bs_demean[:, j]),
                   ctx.paced, st, add, res)
        bs[c] = res
    cpi = float(a["cpi"]) * np.exp(np.cumsum(chg[..., CH["cpi"]], axis=1))
    bs["cpi"] = cpi
    return out, bs


__all__ = [
    "CHANNELS",
    "DAILY_SERIES",
    "DECIMALS",
    "MONTHLY_SERIES",
    "WEEKLY_SERIES",
    "ParametricModel",
    "History",
    "PathPanel",
    "ScenarioContext",
    "build_context",
    "generate",
    "path_rngs",
    "scenario_t0",
    "seed_key",
]
