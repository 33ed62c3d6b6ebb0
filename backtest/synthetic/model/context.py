"""Per-scenario preparation: :class:`ScenarioContext` and :func:`build_context`.

A context holds everything needed to generate any chunk of paths of one scenario (it is
picklable, for worker processes): the history cut at ``t0``, the anchors (levels at
``t0``), the level recursions, the RMP pace, and the source's inputs (bootstrap pools or
the calibrated per-state model of :mod:`backtest.data.market_model`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any

import numpy as np
import pandas as pd

from backtest.data.base import MacroSeries, MarketData
from backtest.data.exchange_calendar import exchange_days_after
from backtest.data.market_model import StateModel, level_params, state_model
from backtest.errors import DataError, ScenarioError
from backtest.synthetic.model.bootstrap import StatePool, build_pool
from backtest.synthetic.model.drift import StateDrifts, bootstrap_drifts, parametric_drifts
from backtest.synthetic.model.history import (
    BS_CHANNELS,
    BS_SERIES,
    CH,
    CHANNELS,
    FLOORS,
    HALF_LIVES,
    IORB_MINUS_TOP,
    SIM_SERIES,
    History,
)
from backtest.synthetic.model.liquidity_beta import PER, WEEKS_PER_MONTH, daily_drift_shift
from backtest.synthetic.model.pools import clip_before
from backtest.synthetic.model.release_cut import cpi_nowcast, unreleased_fill
from backtest.synthetic.scenarios import DAYS_PER_MONTH, Period, Scenario, ScenarioSet

__all__ = ["NEUTRAL_CHANNELS", "LevelSpec", "ParametricModel", "ScenarioContext", "build_context",
           "neutral_paces", "path_rngs", "pool_fields", "scenario_t0", "seed_key", "t0_before", "with_periods"]

ParametricModel = StateModel
"""Per-state parameters of the calibrated parametric draw (:class:`backtest.data.market_model.StateModel`)."""


@dataclass(frozen=True)
class LevelSpec:
    """Level recursion of each channel: pull per day, state means, floor."""

    kappa: np.ndarray  # (C,)
    mean: np.ndarray  # (S, C)
    floor: np.ndarray  # (C,) (-inf: none)


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
        Mean monthly WALCL growth of each state's analogue days, bn USD (its pool's own
        purchase flow).
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
    notes : tuple[str, ...]
    beta_se : np.ndarray, shape (N,)
        Standard errors of ``beta``: each path draws its own betas
        ``N(beta, diag(beta_se) beta_corr diag(beta_se))``.
    beta_corr : np.ndarray, shape (N, N) or None
        Correlation of the betas' estimation errors (None: independent).
    drifts : StateDrifts or None
        Target mean of each state (:mod:`backtest.synthetic.model.drift`); the bootstrap adds
        ``drifts.shift`` to its drawn days, the parametric model's means are already set.
    neutral_pace : np.ndarray, shape (S,)
        Pace (bn USD/month) at which the liquidity channel shifts nothing, per state: the
        file's ``liquidity.neutral_pace_bn_month``, or the purchase flow the state's target
        drift already carries, ``w_s pace_ref_s + (1 - w_s) pace_uncond`` (``w_s`` the
        drift weight of the pool's own mean, ``pace_uncond`` the mean WALCL growth of the
        days the unconditional mean averages; :func:`neutral_paces`). Empty: ``pace_ref``.
    fill : dict
        Series -> (dates, values) of observations dated by ``t0`` but not released then,
        nowcast (:func:`backtest.synthetic.model.release_cut.cpi_nowcast`); every path carries
        them before its own, released no earlier than the first simulated day.
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
    beta_se: np.ndarray | None = None
    beta_corr: np.ndarray | None = None
    drifts: StateDrifts | None = None
    fill: dict[str, tuple[pd.DatetimeIndex, np.ndarray]] = field(default_factory=dict)
    neutral_pace: np.ndarray | None = None

    @property
    def horizon(self) -> int:
        """Simulated trading days."""
        return len(self.days)

    @property
    def neutral(self) -> np.ndarray:
        """Neutral pace of each state (:attr:`neutral_pace`, else ``pace_ref``), shape (S,)."""
        return self.pace_ref if self.neutral_pace is None else self.neutral_pace

    def shift(self) -> np.ndarray:
        """Daily return shift per state and day of the pace, shape (S, T, N) (0 when unpaced)."""
        diff = self.pace[None, :] - self.neutral[:, None]  # (S, T)
        out = daily_drift_shift(self.beta, diff)
        out[~self.paced] = 0.0
        return out

    def pace_factor(self) -> np.ndarray:
        """Daily return per unit of beta of each state and day, shape (S, T): ``shift() = factor * beta``."""
        diff = self.pace[None, :] - self.neutral[:, None]
        out = diff / WEEKS_PER_MONTH / 5.0 / PER
        out[~self.paced] = 0.0
        return out

    def with_pace(self, bn_month: float) -> ScenarioContext:
        """The same context (same paths, draws and beta draws) under a constant pace."""
        return dc_replace(self, pace=np.full(self.horizon, float(bn_month)))

    def without_channel(self) -> ScenarioContext:
        """The same context (same paths and draws) with the liquidity channel off (betas 0)."""
        zero = np.zeros_like(np.asarray(self.beta, dtype=float))
        return dc_replace(self, beta=zero, beta_se=zero.copy())


def seed_key(name: str) -> int:
    """Spawn-key component of a scenario (stable across runs and scenario files)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def path_rngs(seed: int, key: int, p0: int, p1: int, ids: tuple[int, ...] | None = None) -> list[np.random.Generator]:
    """Independent generators of paths ``p0 .. p1 - 1`` (per-path seeds), or of the paths ``ids``."""
    which = range(p0, p1) if ids is None else ids
    return [np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(key, int(p)))) for p in which]


def scenario_t0(hist: History, sc: Scenario) -> pd.Timestamp:
    """Last history day before a scenario starts (``latest``: the last day of the data)."""
    return t0_before(hist.dates, sc)


def t0_before(days: pd.DatetimeIndex, sc: Scenario) -> pd.Timestamp:
    """Last of the trading ``days`` before a scenario starts (``latest``: the last one).

    Raises
    ------
    ScenarioError
        Fewer than 60 trading days before the start, or a start after the data.
    """
    days = pd.DatetimeIndex(days)
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
                  periods: Mapping[str, list[Period]], calib: Mapping | None = None,
                  beta_se: np.ndarray | None = None, beta_corr: np.ndarray | None = None) -> ScenarioContext:
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
    beta_se : np.ndarray, shape (N,), optional
        Standard errors of the betas (default 0: every path uses ``beta``).
    beta_corr : np.ndarray, shape (N, N), optional
        Correlation of their estimation errors (default: independent).
    """
    spec = sset.spec
    t0 = scenario_t0(hist, sc)
    days = exchange_days_after(t0, sc.horizon_days).rename("date")  # NYSE trading days after t0
    hmd = _cut_history(hist.md, t0, spec.warmup_days, hist.tickers)
    px0 = hist.md.prices.loc[:t0, list(hist.tickers)].ffill().iloc[-1].to_numpy(dtype=float)
    bad = [t for t, x in zip(hist.tickers, px0, strict=True) if not np.isfinite(x)]
    if bad:
        raise DataError(f"scenario {sc.name}: {bad[0]} has no price on or before {t0.date()}")
    anchors = _anchors(hist.md, t0)
    cpi_level = cpi_nowcast(hist.md.macro.get("CPIAUCSL"), t0)[0]
    if np.isfinite(cpi_level):  # the CPI of t0's month (nowcast when not released by t0)
        anchors["cpi"] = cpi_level
    fill = unreleased_fill(hist.md, t0, [s for s in SIM_SERIES if s in hist.md.macro])
    for c in ("walcl", "treast", "reserves", "cpi"):
        if not np.isfinite(anchors[c]):
            raise DataError(f"scenario {sc.name}: no {BS_SERIES.get(c, 'CPIAUCSL')} observation on or before {t0.date()}")
    fields = pool_fields(hist, sset, source=source, t0=t0, days=days, anchors=anchors, periods=periods, calib=calib)
    return ScenarioContext(
        scenario=sc, states=sset.states, kinds=sset.kinds, paced=sset.paced.copy(), source=source, t0=t0,
        days=days, history=hmd, tickers=hist.tickers, start_prices=px0, anchors=anchors, pace=sc.pace_on(days),
        beta=np.asarray(beta, dtype=float), mean_block=float(sset.spec.mean_block_days),
        macro=tuple(s for s in SIM_SERIES if s in hist.md.macro), seed_key=seed_key(sc.name),
        beta_se=np.zeros(len(hist.tickers)) if beta_se is None else np.nan_to_num(np.asarray(beta_se, dtype=float)),
        beta_corr=None if beta_corr is None else np.asarray(beta_corr, dtype=float), fill=fill, **fields,
    )


def with_periods(ctx: ScenarioContext, hist: History, sset: ScenarioSet, periods: Mapping[str, list[Period]],
                 calib: Mapping | None = None) -> ScenarioContext:
    """The same scenario with other pools: everything the pools shape is recomputed (:func:`pool_fields`).

    Cheaper than :func:`build_context` (the history window, anchors and fills are kept);
    the pool-sensitivity reruns use it.
    """
    return dc_replace(ctx, **pool_fields(hist, sset, source=ctx.source, t0=ctx.t0, days=ctx.days, anchors=ctx.anchors,
                                         periods=periods, calib=calib))


def pool_fields(hist: History, sset: ScenarioSet, *, source: str, t0: pd.Timestamp, days: pd.DatetimeIndex,
                anchors: Mapping[str, Any], periods: Mapping[str, list[Period]],
                calib: Mapping | None = None) -> dict[str, Any]:
    """The :class:`ScenarioContext` fields the pools shape.

    Pools (cut before the first simulated day), their purchase flows (``pace_ref``) and the
    neutral paces, the balance-sheet and channel demeaning, the level recursions' state
    means, the drifts, the source's arrays (or the parametric model) and the notes.

    Raises
    ------
    ScenarioError
        A state without a usable pool day (before the start, unless the forecast period
        is allowed).
    """
    spec = sset.spec
    n_s = len(sset.states)
    # the parametric source draws nothing from history: its pools only measure the pace
    usable = hist.usable() if source == "bootstrap" else np.ones(len(hist.dates), dtype=bool)
    if not spec.include_forecast_period:  # no peeking: no pool day on or after the first simulated day
        periods = {s: clip_before(list(periods[s]), days[0]) for s in sset.states}
    pools = tuple(build_pool(hist.dates, usable, list(periods[s])) for s in sset.states)
    empty_parametric = [s for s, p in zip(sset.states, pools, strict=True) if len(p.days) == 0 and source != "bootstrap"]
    if empty_parametric:  # synthetic signals need not meet every pool rule: the pace reference uses every day
        whole = [Period(s, hist.dates[0], hist.dates[-1], "all days (no day of the synthetic market meets the rule)")
                 for s in sset.states]
        pools = tuple(build_pool(hist.dates, usable, [whole[i]]) if s in empty_parametric else p
                      for i, (s, p) in enumerate(zip(sset.states, pools, strict=True)))
    for s, pool in zip(sset.states, pools, strict=True):
        if len(pool.days) == 0:
            peek = "" if spec.include_forecast_period else f" before the scenario's start {days[0].date()}"
            raise ScenarioError(f"{sset.path}: states.{s}: its analogue periods have no usable day in the data{peek} "
                                f"(every asset of the universe and VIX must have data)")
    walcl = np.nan_to_num(hist.walcl_bn_day, nan=0.0)
    pace_ref = np.array([walcl[p.days].mean() * DAYS_PER_MONTH for p in pools])
    ch = np.nan_to_num(hist.changes, nan=0.0)
    bs_idx = [CH[c] for c in BS_CHANNELS]
    notes: list[str] = [f"state {s}: no day of the synthetic market meets its pool rule; its pace reference uses every day"
                        for s in empty_parametric]
    kappa = np.zeros(len(CHANNELS))
    means = np.zeros((n_s, len(CHANNELS)))
    floor = np.full(len(CHANNELS), -np.inf)
    for c, v in FLOORS.items():
        floor[CH[c]] = v
    ch_demean = np.zeros((n_s, len(CHANNELS)))
    param = None
    # unconditional mean: every usable day up to t0 (with include_forecast_period: every usable day)
    upto = usable if spec.include_forecast_period and source == "bootstrap" else usable & np.asarray(hist.dates <= t0)
    pace_uncond = float(walcl[upto].mean() * DAYS_PER_MONTH) if upto.any() else float(pace_ref.mean())
    if source == "bootstrap":
        bs_demean = np.array([ch[p.days][:, bs_idx].mean(axis=0) for p in pools])
        for c in NEUTRAL_CHANNELS:  # random-walk rates and RRP: no drift the scenario does not state
            j = CH[c]
            for i, p in enumerate(pools):
                ch_demean[i, j] = ch[p.days, j].mean()
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
        excess = np.where(np.isfinite(h_ret), h_ret - h_rf[:, None], 0.0)
        rows = np.flatnonzero(upto)
        drifts = bootstrap_drifts(spec.drift.mode, excess, [p.days for p in pools], rows, float(spec.mean_block_days))
        if len(rows):
            drifts = dc_replace(drifts, span=f"every usable day {hist.dates[rows[0]].date()}..{hist.dates[rows[-1]].date()}")
    elif source == "parametric":
        if calib is None:
            raise DataError("the parametric scenario source needs the sample calibration")
        param, lspec, bs_demean = _parametric_model(calib, sset, hist.tickers)
        kappa, means, floor = lspec
        for c in NEUTRAL_CHANNELS:  # AR(1) rates and RRP revert to the start's level, not the kind's mean
            if c in anchors and np.isfinite(anchors[c]) and kappa[CH[c]] > 0:
                means[:, CH[c]] = anchors[c]
        drifts = dc_replace(parametric_drifts(spec.drift.mode, calib, sset.kinds),
                            span="the sample calibration's regime kinds, day-weighted")
        mean = param.mean.copy()
        mean[:, : param.n_assets] = drifts.target
        param = dc_replace(param, mean=mean)
        h_ret, h_ch, h_rf = np.zeros((0, len(hist.tickers))), np.zeros((0, len(CHANNELS))), np.zeros(0)
        notes.append("parametric source: per-regime-kind calibrated model (sample market)")
    else:
        raise ValueError(f"unknown source {source!r}")
    neutral = neutral_paces(spec.liquidity.neutral_pace_bn_month, pace_ref, pace_uncond, drifts.weight)
    return {"levels": LevelSpec(kappa, means, floor), "pace_ref": pace_ref, "bs_demean": bs_demean,
            "hist_returns": h_ret, "hist_changes": h_ch, "hist_rf": h_rf, "ch_demean": ch_demean, "pools": pools,
            "param": param, "notes": tuple(notes), "drifts": drifts, "neutral_pace": neutral}


NEUTRAL_CHANNELS = ("dgs2", "dgs10", "top", "rrp")
"""Level channels kept driftless: the random-walk yields, policy rate and ON RRP (bootstrap:
their draws are demeaned per state; parametric: their AR(1) reverts to the start's level)."""


def neutral_paces(fixed: float | None, pace_ref: np.ndarray, pace_uncond: float,
                  weights: np.ndarray | None) -> np.ndarray:
    """Pace of each state at which the liquidity channel shifts nothing (bn USD/month).

    Parameters
    ----------
    fixed : float or None
        ``liquidity.neutral_pace_bn_month`` of the scenario file (the same for every state).
    pace_ref : np.ndarray, shape (S,)
        Each pool's own mean monthly WALCL growth.
    pace_uncond : float
        Mean monthly WALCL growth of the days the unconditional drift averages.
    weights : np.ndarray, shape (S,), optional
        Drift weight of each pool's own mean (:class:`~backtest.synthetic.model.drift.StateDrifts`);
        None: 1 (each state keeps its pool's drift, hence its pool's flow).

    Returns
    -------
    np.ndarray, shape (S,)
        ``fixed`` everywhere, else ``w_s pace_ref_s + (1 - w_s) pace_uncond``: the flow the
        state's target drift already carries, so a pace equal to it changes nothing.
    """
    ref = np.asarray(pace_ref, dtype=float)
    if fixed is not None:
        return np.full(len(ref), float(fixed))
    w = np.ones(len(ref)) if weights is None else np.asarray(weights, dtype=float)
    return w * ref + (1.0 - w) * float(pace_uncond)


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
