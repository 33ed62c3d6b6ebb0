"""Point-in-time signals of many scenario paths at once (paths as columns).

:func:`backtest.regimes.signals.liquidity_signals` computes the signals of one
``MarketData``. Calling it per path costs tens of milliseconds, too slow for 10,000
paths, so this module computes the same signals for a whole :class:`PathPanel`.

Every path of a panel shares its observation dates and release dates (history up to
``t0``, then the simulated calendar); only the values differ. All *index* logic —
which observation is known on which day (release lags), which observation lies 13 weeks
or 12 months earlier, which observations are matched across series, which are stale — is
therefore done once, by calling the very helpers ``liquidity_signals`` uses
(``asof``, ``lagged_positions``, ``values_at_dates``, ``combine_releases``, ``fresh_values``) on *template*
series whose values are observation positions; the positions they return are then used
to gather the values of all paths. Publication lags are thus the same as on history by
construction, and ``tests/test_scenarios_vector.py`` checks the result equals
``liquidity_signals`` on individual paths.

A signal this module does not know (one added to ``SIGNALS`` later) is reported by
:meth:`PathSignals.supports`; strategies that read it fall back to per-path evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.data.base import MacroSeries, asof
from backtest.data.rates import combine_cash_rate
from backtest.data.release import release_dates
from backtest.regimes import signals as S
from backtest.synthetic.model.generator import PathPanel, path_release

KNOWN: tuple[str, ...] = (
    "walcl", "walcl_chg_4w", "walcl_chg_13w", "walcl_chg_26w",
    "treast", "treast_chg_4w", "treast_chg_13w", "treast_chg_26w",
    "net_liquidity", "net_liquidity_chg_4w", "net_liquidity_chg_13w",
    "reserves", "reserves_chg_4w", "reserves_chg_13w",
    "sofr_iorb", "sofr_iorb_proxy", "curve_2s10s", "curve_2s10s_chg_3m",
    "cash_rate", "policy_rate", "vix", "vix3m", "vix_term", "spy_rv_1m", "cpi_yoy", "cpi_yoy_chg_3m",
)


@dataclass(frozen=True)
class Obs2:
    """Observations of one series for all paths.

    Attributes
    ----------
    tmpl : MacroSeries
        Observation dates and release dates; its values are the positions ``0 .. O-1``.
    values : np.ndarray, shape (P, O)
        Values per path (may be a read-only broadcast of one history row).
    """

    tmpl: MacroSeries
    values: np.ndarray

    @property
    def index(self) -> pd.DatetimeIndex:
        """Observation dates."""
        return pd.DatetimeIndex(self.tmpl.values.index)

    def scaled(self, k: float) -> Obs2:
        """Values times ``k``."""
        return Obs2(self.tmpl, self.values * k)


def _template(name: str, index: pd.DatetimeIndex, released: pd.Series | None = None) -> MacroSeries:
    idx = pd.DatetimeIndex(index)
    rel = release_dates(name, idx) if released is None else released
    return MacroSeries(name, pd.Series(np.arange(len(idx), dtype=float), index=idx), rel)


def _take(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``values[:, pos]`` as (R, P); NaN where ``pos`` is NaN or negative."""
    pos = np.asarray(pos, dtype=float)
    ok = np.isfinite(pos) & (pos >= 0)
    out = np.full((len(pos), values.shape[0]), np.nan)
    if ok.any():
        out[ok] = values[:, pos[ok].astype(np.int64)].T
    return out


def asof2(obs: Obs2, days: pd.DatetimeIndex) -> np.ndarray:
    """Value known at the close of each day, (R, P) — :func:`backtest.data.base.asof` per path."""
    return _take(obs.values, asof(obs.tmpl, days).to_numpy())


def change2(obs: Obs2, offset: pd.DateOffset | pd.Timedelta, relative: bool = False) -> Obs2:
    """Change over ``offset`` on the observation basis (``_change`` per path)."""
    pos = S.lagged_positions(obs.index, offset)
    v = obs.values
    prev = np.where(pos[None, :] >= 0, v[:, np.maximum(pos, 0)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        chg = (v / prev - 1.0) * 100.0 if relative else v - prev
    return Obs2(obs.tmpl, chg)


def at_dates2(obs: Obs2, dates: pd.DatetimeIndex, max_age_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, len(dates)) values and release dates of the latest observation on or before each date."""
    pos, rel = S.values_at_dates(obs.tmpl, dates, max_age_days)
    return _take(obs.values, pos).T, rel


def combine2(base: Obs2, values: np.ndarray, *others_released: np.ndarray, name: str) -> Obs2:
    """``combine_releases`` per path: keep base observations where the value exists, latest release."""
    nan = np.isnan(values)
    col = nan.all(axis=0)
    if (nan.any(axis=0) != col).any():  # pragma: no cover - index-determined by construction
        raise AssertionError(f"{name}: missing values differ across paths")
    pattern = np.where(col, np.nan, 0.0)
    kept = S.combine_releases(base.tmpl, pattern, *others_released, name=name)
    tmpl = MacroSeries(name, pd.Series(np.arange(len(kept.values), dtype=float), index=kept.values.index),
                       kept.released)
    return Obs2(tmpl, values[:, ~col])


class PathSignals:
    """Signals of every path of a panel, on any rows of the paths' calendar.

    Parameters
    ----------
    panel : PathPanel

    Notes
    -----
    The calendar of path ``i`` is ``history days (H) + simulated days (T)``, the calendar
    of ``panel.market_data(i)``; :meth:`at` takes row numbers into it.
    """

    def __init__(self, panel: PathPanel) -> None:
        ctx = panel.ctx
        self.panel = panel
        self.P = panel.paths
        hist = ctx.history
        self.H = len(hist.calendar)
        self.calendar = pd.DatetimeIndex(hist.calendar.append(ctx.days), name="date")
        self._hist_prices = hist.prices
        self._obs: dict[str, Obs2] = {}
        self._px: dict[str, np.ndarray] = {}
        self._cache: dict[tuple[str, bytes], np.ndarray] = {}
        self.macro = set(hist.macro)

    # ------------------------------------------------------------------ inputs

    def obs(self, name: str) -> Obs2:
        """Observations of macro series ``name`` (history, then the simulated ones)."""
        if name not in self._obs:
            ctx = self.panel.ctx
            ms = ctx.history.macro[name]
            hv = ms.values.to_numpy(dtype=float)
            if name in ctx.macro:
                d, v = self.panel.sim_obs(name)
                idx = pd.DatetimeIndex(ms.values.index).append(pd.DatetimeIndex(d))
                vals = np.concatenate([np.broadcast_to(hv, (self.P, len(hv))), v], axis=1)
                rel = path_release(name, idx, ctx.days[0], len(hv))
            else:
                idx = pd.DatetimeIndex(ms.values.index)
                vals = np.broadcast_to(hv, (self.P, len(hv)))
                rel = None
            self._obs[name] = Obs2(_template(name, idx, rel), vals)
        return self._obs[name]

    def _sim_prices(self, ticker: str) -> np.ndarray:
        """(P, T) simulated closes of ``ticker`` (cached)."""
        key = f"px:{ticker}"
        if key not in self._px:
            ctx = self.panel.ctx
            j = ctx.tickers.index(ticker)
            self._px[key] = ctx.start_prices[j] * np.cumprod(1.0 + self.panel.returns[:, :, j], axis=1)
        return self._px[key]

    def prices(self, ticker: str, rows: np.ndarray) -> np.ndarray:
        """(R, P) closes of ``ticker`` on calendar rows (NaN where not priced)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.full((len(rows), self.P), np.nan)
        h = rows < self.H
        if h.any():
            col = self._hist_prices[ticker].to_numpy(dtype=float)
            out[h] = col[rows[h]][:, None]
        s = ~h
        if s.any():
            out[s] = self._sim_prices(ticker)[:, rows[s] - self.H].T
        return out

    def price_block(self, tickers: list[str], lo: int, hi: int) -> np.ndarray:
        """(hi - lo, P, n) closes of ``tickers`` on calendar rows ``lo .. hi - 1`` (NaN before row 0)."""
        rows = np.arange(lo, hi)
        out = np.full((len(rows), self.P, len(tickers)), np.nan)
        ok = rows >= 0
        for j, t in enumerate(tickers):
            out[ok, :, j] = self.prices(t, rows[ok])
        return out

    # ------------------------------------------------------------------ signals

    def supports(self, name: str) -> bool:
        """Whether :meth:`at` can compute signal ``name`` for this data."""
        if name not in KNOWN:
            return False
        need = S.SIGNAL_INPUTS.get(name, ())
        for alts in need:
            ok = False
            for a in alts.split("|"):
                ok |= (a[6:] in self._hist_prices.columns) if a.startswith("price:") else (a in self.macro)
            if not ok:
                return False
        return True

    def at(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Signal ``name`` on calendar ``rows`` for all paths, shape (R, P).

        Rows before the first row (negative) give NaN. Signals whose inputs are missing
        give NaN (as ``SignalFrame.signal`` does).
        """
        rows = np.asarray(rows, dtype=np.int64)
        key = (name, rows.tobytes())
        if key in self._cache:
            return self._cache[key]
        out = np.full((len(rows), self.P), np.nan)
        ok = (rows >= 0) & (rows < len(self.calendar))
        if ok.any() and self.supports(name):
            out[ok] = self._compute(name, rows[ok])
        self._cache[key] = out
        return out

    def _days(self, rows: np.ndarray) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.calendar[rows])

    def _compute(self, name: str, rows: np.ndarray) -> np.ndarray:
        days = self._days(rows)
        m = self.macro
        for sid, key in (("WALCL", "walcl"), ("TREAST", "treast"), ("WRESBAL", "reserves")):
            if name == key:
                return asof2(self.obs(sid).scaled(1e-3), days)
            if name.startswith(f"{key}_chg_") and name.endswith("w"):
                k = int(name[len(key) + 5 : -1])
                return asof2(change2(self.obs(sid).scaled(1e-3), S.weeks_delta(k)), days)
        if name.startswith("net_liquidity"):
            nl = self._net_liquidity()
            if name == "net_liquidity":
                return asof2(nl, days)
            k = int(name[len("net_liquidity_chg_") : -1])
            return asof2(change2(nl, S.weeks_delta(k)), days)
        if name in ("sofr_iorb", "sofr_iorb_proxy"):
            spread, proxy = self._funding()
            return asof2(spread if name == "sofr_iorb" else proxy, days)
        if name == "curve_2s10s":
            return asof2(self._curve(), days)
        if name == "curve_2s10s_chg_3m":
            c = self._curve()
            prev = np.full((len(rows), self.P), np.nan)
            back = rows - 63
            okb = back >= 0
            if okb.any():
                prev[okb] = asof2(c, self._days(back[okb]))
            return asof2(c, days) - prev
        if name == "cash_rate":
            dtb3 = None
            if "DTB3" in m:
                o = self.obs("DTB3")
                dtb3 = _take(o.values, S.fresh_values(o.tmpl, days).to_numpy())
            return combine_cash_rate(dtb3, asof2(self.obs("DGS3MO"), days) if "DGS3MO" in m else None)
        if name == "policy_rate":
            return asof2(self.obs("DFEDTARU"), days)
        if name == "vix":
            return asof2(self.obs("VIX" if "VIX" in m else "VIXCLS"), days)
        if name == "vix3m":
            return asof2(self.obs("VIX3M"), days)
        if name == "vix_term":
            with np.errstate(divide="ignore", invalid="ignore"):
                return self.at("vix", rows) / self.at("vix3m", rows)
        if name == "spy_rv_1m":
            return self._spy_rv(rows)
        if name in ("cpi_yoy", "cpi_yoy_chg_3m"):
            yoy = change2(self.obs("CPIAUCSL"), pd.DateOffset(months=12), relative=True)
            if name == "cpi_yoy":
                return asof2(yoy, days)
            return asof2(change2(yoy, pd.DateOffset(months=3)), days)
        raise KeyError(name)  # pragma: no cover - guarded by supports()

    def _net_liquidity(self) -> Obs2:
        if "_nl" not in self._obs:
            w = self.obs("WALCL").scaled(1e-3)
            dates = w.index
            tga, tga_rel = at_dates2(self.obs("WDTGAL").scaled(1e-3), dates, S.MATCH_TOLERANCE_DAYS)
            rrp, rrp_rel = at_dates2(self.obs("RRPONTSYD"), dates, S.RRP_MATCH_DAYS)
            rrp = np.nan_to_num(rrp, nan=0.0)
            self._obs["_nl"] = combine2(w, w.values - tga - rrp, tga_rel, rrp_rel, name="net_liquidity")
        return self._obs["_nl"]

    def _funding(self) -> tuple[Obs2, Obs2]:
        if "_sofr" not in self._obs:
            sofr = self.obs("SOFR")
            dates = sofr.index
            n = len(dates)
            admin = np.full((self.P, n), np.nan)
            admin_rel = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
            proxy = np.full((self.P, n), np.nan)
            if "DFEDTARU" in self.macro:
                admin, admin_rel = at_dates2(self.obs("DFEDTARU"), dates, S.MATCH_TOLERANCE_DAYS)
                proxy = np.where(np.isnan(admin), np.nan, 1.0)
            if "IORB" in self.macro:
                iorb, iorb_rel = at_dates2(self.obs("IORB"), dates, S.MATCH_TOLERANCE_DAYS)
                has = ~np.isnan(iorb)
                admin = np.where(has, iorb, admin)
                admin_rel = np.where(has[0], iorb_rel, admin_rel)
                proxy = np.where(has, 0.0, proxy)
            spread = sofr.values - admin
            proxy = np.where(np.isnan(spread), np.nan, proxy)
            self._obs["_sofr"] = combine2(sofr, spread, admin_rel, name="sofr_iorb")
            self._obs["_proxy"] = combine2(sofr, proxy, admin_rel, name="sofr_iorb_proxy")
        return self._obs["_sofr"], self._obs["_proxy"]

    def _curve(self) -> Obs2:
        if "_curve" not in self._obs:
            ten = self.obs("DGS10")
            two, two_rel = at_dates2(self.obs("DGS2"), ten.index, 0)
            self._obs["_curve"] = combine2(ten, ten.values - two, two_rel, name="curve_2s10s")
        return self._obs["_curve"]

    def _spy_rv(self, rows: np.ndarray) -> np.ndarray:
        """21-day realised vol of SPY (pandas ``rolling(21).std()`` of simple returns)."""
        out = np.full((len(rows), self.P), np.nan)
        for r_i, r in enumerate(rows):
            lo = r - 21
            if lo < 0:
                continue
            px = self.prices("SPY", np.arange(lo, r + 1))  # (22, P)
            ret = px[1:] / px[:-1] - 1.0
            good = np.isfinite(ret).all(axis=0)
            sd = np.std(ret, axis=0, ddof=1)
            out[r_i] = np.where(good, sd * np.sqrt(TRADING_DAYS) * 100, np.nan)
        return out


__all__ = ["KNOWN", "Obs2", "PathSignals", "asof2", "at_dates2", "change2", "combine2"]
