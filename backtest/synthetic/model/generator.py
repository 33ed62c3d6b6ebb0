"""Scenario paths: regime paths from a scenario's chain, then prices and macro series per path.

One generator, two sources of daily draws (chosen by the data, not by the caller):

* **bootstrap** (real data: ``--data-dir`` / ``source: csv``): each simulated day copies a
  whole historical day of the current state's analogue periods — every asset's return
  and every macro *change* of that day — in stationary blocks
  (:mod:`backtest.synthetic.model.bootstrap`). Returns are copied in excess of that day's
  3-month bill rate and the path's own simulated bill rate is added back, so a 2019 day
  of BIL does not carry a 2019 bill yield into 2026;
* **parametric** (the ``sample`` market): each day is a draw of the calibrated per-regime
  Student-t model of :mod:`backtest.data.market_model` for the state's regime kind
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
``π - π_ref`` (:func:`backtest.synthetic.model.liquidity_beta.daily_drift_shift`), ``π_ref``
being the mean monthly WALCL growth over the state's analogue days. The beta is each
path's own draw from the estimates' joint sampling distribution
(:func:`backtest.synthetic.model.liquidity_beta.draw_betas`).

Drifts
------
Before the pace shift, each state's mean excess return is set by the scenario file's
``drift.mode`` (:mod:`backtest.synthetic.model.drift`): the bootstrap adds ``target - pool
mean`` of the day's state to every drawn day; the parametric model's means are the
targets.

Randomness
----------
Path ``i`` of scenario ``s`` draws from
``np.random.default_rng(SeedSequence(seed, spawn_key=(crc32(s), i)))``: first the chain's
uniforms, then the source's draws, then its ``N`` beta normals. A path therefore does not
depend on which other paths are generated with it (chunking, workers), and scenarios are
independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.data.base import MacroSeries, MarketData
from backtest.data.market_model import (
    DECIMALS,
    draw_states,
    staircase_levels,
)
from backtest.data.release import release_dates
from backtest.synthetic.model.bootstrap import block_indices
from backtest.synthetic.model.context import (
    ScenarioContext,
    path_rngs,
)
from backtest.synthetic.model.history import (
    BS_CHANNEL,
    BS_CHANNELS,
    BS_SERIES,
    CH,
    CHANNELS,
    FLOORS,
    MAX_SHARE,
    MIN_RATE,
    TOP_STEP,
)
from backtest.synthetic.model.liquidity_beta import draw_betas
from backtest.synthetic.scenarios import DAYS_PER_MONTH, simulate_chain

# ------------------------------------------------------------------------ numba kernels


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
    betas : np.ndarray, shape (P, N) or None
        Each path's draw of the liquidity betas.
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
    betas: np.ndarray | None = None

    @property
    def paths(self) -> int:
        """Number of paths in the chunk."""
        return int(self.states.shape[0])

    def sim_obs(self, name: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """Observation dates and (P, O) values of a simulated macro series.

        Observations dated by ``t0`` but not released then (``ctx.fill``: nowcast, the
        same on every path) come first.
        """
        if name in self.daily:
            d, v = self.ctx.days, self.daily[name]
        elif name in self.weekly:
            d, v = self.weekly_dates, self.weekly[name]
        elif name in self.monthly:
            d, v = self.monthly_dates, self.monthly[name]
        else:
            raise KeyError(name)
        fill = self.ctx.fill.get(name)
        if fill is not None and len(fill[0]):
            d = pd.DatetimeIndex(fill[0]).append(pd.DatetimeIndex(d))
            v = np.concatenate([np.broadcast_to(np.asarray(fill[1], dtype=float), (v.shape[0], len(fill[0]))), v],
                               axis=1)
        return d, v

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
                s = pd.concat([ms.values, pd.Series(v[i], index=d)]).astype(float).dropna()
                s.index = pd.DatetimeIndex(s.index).normalize()
                s.index.name = "date"
                macro[name] = MacroSeries(name, s, path_release(name, s.index, ctx.days[0], len(ms.values.dropna())))
            else:
                macro[name] = ms
        return MarketData(prices, macro, f"scenario {ctx.scenario.name} path {self.p0 + i} ({ctx.source})",
                          synthetic=True, notes=())


def path_release(name: str, obs: pd.DatetimeIndex, first_day: pd.Timestamp, n_history: int) -> pd.Series:
    """Release dates of a path's observations: history's lag rules, never before the first simulated day.

    Parameters
    ----------
    name : str
        Series id (:func:`backtest.data.release.release_dates` picks its rule).
    obs : pd.DatetimeIndex
        Observation dates: the history's, then the path's own.
    first_day : pd.Timestamp
        First simulated day.
    n_history : int
        Leading observations that are history (released by ``t0``): their rule dates stand.
        A simulated observation of a date the rule says was out by ``t0`` (a month
        not yet released at ``t0``, nowcast) is released on the first simulated day.
    """
    rel = release_dates(name, obs)
    if n_history < len(rel):
        tail = rel.iloc[n_history:]
        rel.iloc[n_history:] = tail.where(tail >= first_day, pd.Timestamp(first_day))
    return rel


def _bootstrap_draws(ctx: ScenarioContext, rngs: list[np.random.Generator], states: np.ndarray):
    t_n = ctx.horizon
    u = np.empty((len(rngs), 2, t_n))
    for k, g in enumerate(rngs):
        u[k] = g.random((2, t_n))
    rows = block_indices(states, list(ctx.pools), u[:, 0], u[:, 1], ctx.mean_block)
    ret = ctx.hist_returns[rows] - ctx.hist_rf[rows][..., None]  # excess over that day's bill rate
    if ctx.drifts is not None and ctx.drifts.mode != "raw":  # move each state's mean to its target drift
        ret += ctx.drifts.shift[states.astype(np.int64)]
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


def chain_states(ctx: ScenarioContext, seed: int, p0: int, p1: int, ids: tuple[int, ...] | None = None) -> np.ndarray:
    """State paths only (the chain's draws come first in each path's stream), shape (P, T) int8."""
    return _chain(ctx, path_rngs(seed, ctx.seed_key, p0, p1, ids))


def _chain(ctx: ScenarioContext, rngs: list[np.random.Generator]) -> np.ndarray:
    t_n = ctx.horizon
    u_chain = np.empty((len(rngs), t_n))
    for k, g in enumerate(rngs):
        u_chain[k] = g.random(t_n)
    return simulate_chain(ctx.scenario.matrix, ctx.scenario.start_state, u_chain)


def generate(ctx: ScenarioContext, seed: int, p0: int, p1: int, ids: tuple[int, ...] | None = None) -> PathPanel:
    """Generate paths ``p0 .. p1 - 1`` of a scenario (see the module docstring), or the paths ``ids``.

    Returns
    -------
    PathPanel
        Identical values for a path whatever ``p0``/``p1`` of the chunk it is in (or
        whichever other ``ids`` it is generated with).
    """
    t_n = ctx.horizon
    rngs = path_rngs(seed, ctx.seed_key, p0, p1, ids)
    states = _chain(ctx, rngs)
    if ctx.source == "bootstrap":
        ret, chg, rows = _bootstrap_draws(ctx, rngs, states)
    else:
        ret, chg, rows = _parametric_draws(ctx, rngs, states)
    st = states.astype(np.int64)
    se = ctx.beta_se if ctx.beta_se is not None else np.zeros(len(ctx.beta))
    betas = draw_betas(ctx.beta, se, rngs, ctx.beta_corr)  # (P, N): each path's own betas, drawn after its other draws
    if ctx.paced.any():
        k = ctx.pace_factor()[st, np.arange(t_n)[None, :]]  # (P, T)
        ret = ret + k[..., None] * betas[:, None, :]
    daily, bs_daily = _levels(ctx, st, chg)
    if ctx.source == "bootstrap":  # add the path's own bill rate back to the excess returns
        rf = np.empty((len(rngs), t_n))
        rf[:, 0] = (ctx.anchors["top"] - ctx.anchors["bill_spread"]) / 100.0 / TRADING_DAYS
        rf[:, 1:] = daily["DTB3"][:, :-1] / 100.0 / TRADING_DAYS
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
    return PathPanel(ctx, p0, states, ret, daily, wd, weekly, md_, monthly, rows, betas)


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


__all__ = [  # History, contexts and channel constants are re-exported from their modules
    "PathPanel",
    "chain_states",
    "generate",
    "path_release",
]
