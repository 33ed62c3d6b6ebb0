"""Liquidity betas: how each asset's return co-moves with changes in Fed net liquidity.

Estimation (documented in ``docs/scenarios.md``)
------------------------------------------------
* Net liquidity ``NL = WALCL - WDTGAL - RRPONTSYD`` in bn USD on the H.4.1 Wednesdays
  (:func:`backtest.regimes.signals.net_liquidity_series`, the signal strategies read).
* Weekly asset returns from one Wednesday close to the next (the last trading day on or
  before each Wednesday), over the same weeks as the NL change ``ΔNL_w``.
* Per asset, ordinary least squares ``r_{i,w} = a_i + b_i ΔNL_w / 100 + e_{i,w}``
  (contemporaneous: markets trade on the flows as they happen, not on their publication),
  on the weeks between ``beta_start`` and ``beta_end``; the standard error is
  Newey–West (statsmodels HAC, Bartlett kernel, ``lags`` weeks) because weekly NL changes are
  autocorrelated (TGA and RRP swings mean-revert).
* ``beta`` is the weekly return per 100 bn USD of weekly net-liquidity change.

How the scenarios use them
--------------------------
A scenario's RMP pace ``π`` (bn USD/month) replaces the purchase flow of its *paced*
states. The flow those states already carry is their analogue periods' mean monthly
WALCL growth ``π_ref`` (measured in the data). Each asset's daily drift in a paced state
is shifted by ``beta * (π - π_ref) * (12 / 52) / 100 / 5``: the pace difference as a
weekly flow, times the beta, spread over five trading days. This assumes one bn of bill
purchases adds one bn of net liquidity (no TGA/RRP offset) and that the historical
co-movement is structural, which it is not proven to be: betas are descriptive (R² of a
few percent) and their t-statistics are reported in every run's provenance.

Because the betas are estimates, each simulated path draws its own beta vector from
their joint sampling distribution, ``N(beta, diag(se) R diag(se))`` (:func:`draw_betas`),
from the path's own random stream: the pace's effect on a path is as uncertain as the
estimate it rests on. ``R`` is the correlation of the assets' OLS score series
``(x_w - x̄) e_{i,w}`` over the weeks both have (the estimation errors of, say, SPY's and
QQQ's betas move together because their residuals do); it is eigenvalue-clipped to a
valid correlation. Fixed betas without ``R`` are drawn independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.data.base import MarketData
from backtest.data.market_model import cholesky_corr
from backtest.errors import DataError
from backtest.regimes.signals import net_liquidity_series

WEEKS_PER_MONTH = 52.0 / 12.0
PER = 100.0  # betas are per 100 bn USD
NEED = ("WALCL", "WDTGAL", "RRPONTSYD")


@dataclass(frozen=True)
class LiquidityBetas:
    """Estimated betas of asset returns on net-liquidity changes.

    Attributes
    ----------
    beta : pd.Series
        Weekly return per 100 bn USD of weekly net-liquidity change, by ticker.
    se, t : pd.Series
        Newey–West standard error and t-statistic.
    r2 : pd.Series
        R² of each regression.
    n_weeks : int
        Weeks used.
    start, end : str
        First and last Wednesday used (ISO dates); ``""`` when not estimated.
    method : str
        How the betas were obtained.
    corr : pd.DataFrame or None
        Correlation of the estimation errors (tickers x tickers); None: independent.
    """

    beta: pd.Series
    se: pd.Series
    t: pd.Series
    r2: pd.Series
    n_weeks: int
    start: str
    end: str
    method: str
    corr: pd.DataFrame | None = None

    def scaled(self, factor: float) -> LiquidityBetas:
        """Betas multiplied by ``factor`` (the file's ``beta_scale``)."""
        if factor == 1.0:
            return self
        return LiquidityBetas(self.beta * factor, self.se * factor, self.t, self.r2, self.n_weeks,
                              self.start, self.end, f"{self.method} x {factor:g}", self.corr)

    def vector(self, tickers: list[str]) -> np.ndarray:
        """Betas for ``tickers`` (0 for a ticker without an estimate)."""
        return self.beta.reindex(tickers).fillna(0.0).to_numpy(dtype=float)

    def se_vector(self, tickers: list[str]) -> np.ndarray:
        """Standard errors for ``tickers`` (0 where unknown: that beta is not drawn)."""
        return self.se.reindex(tickers).fillna(0.0).to_numpy(dtype=float)

    def corr_matrix(self, tickers: list[str]) -> np.ndarray:
        """Error correlation for ``tickers`` (identity where unknown)."""
        n = len(tickers)
        if self.corr is None:
            return np.eye(n)
        c = self.corr.reindex(index=tickers, columns=tickers).to_numpy(dtype=float)
        c = np.where(np.isfinite(c), c, 0.0)
        np.fill_diagonal(c, 1.0)
        return c

    def to_dict(self) -> dict:
        """JSON-ready record for provenance."""
        rows = {
            t: {"beta_per_100bn": _r(self.beta[t]), "se": _r(self.se.get(t)), "t": _r(self.t.get(t)),
                "r2": _r(self.r2.get(t))}
            for t in self.beta.index
        }
        out = {"method": self.method, "units": "weekly return per 100 bn USD of weekly net-liquidity change",
               "start": self.start, "end": self.end, "n_weeks": self.n_weeks, "assets": rows}
        if self.corr is not None:
            out["error_corr"] = {t: {u: _r(round(float(v), 4)) for u, v in row.items()}
                                 for t, row in self.corr.to_dict(orient="index").items()}
        return out


def _r(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return round(v, 8) if np.isfinite(v) else None


def weekly_panel(md: MarketData, tickers: list[str]) -> tuple[pd.Series, pd.DataFrame]:
    """Weekly net-liquidity changes and the matching weekly asset returns.

    Returns
    -------
    (pd.Series, pd.DataFrame)
        ``ΔNL`` (bn USD) indexed by the later Wednesday, and simple returns over the same
        weeks (NaN where an asset has no price at either end).
    """

    missing = [s for s in NEED if s not in md.macro]
    if missing:
        raise DataError(f"liquidity betas need {', '.join(NEED)}; missing {', '.join(missing)}")
    nl = net_liquidity_series(md.macro).values.astype(float)
    nl = nl[~nl.index.duplicated()].sort_index()
    wed = pd.DatetimeIndex(nl.index)
    gap = np.diff(wed.to_numpy().astype("datetime64[D]").astype(np.int64))  # unit-safe (pandas 3: us)
    consec = np.concatenate([[False], np.abs(gap - 7.0) < 0.5])  # the previous obs is a week before
    px = md.prices.reindex(columns=tickers)
    pos = px.index.searchsorted(wed, side="right") - 1
    ok = pos >= 0
    lv = np.full((len(wed), len(tickers)), np.nan)
    lv[ok] = px.to_numpy(dtype=float)[pos[ok]]
    lv[~ok] = np.nan
    # the Wednesday must be (close to) a trading day we have: the close on or before it
    stale = np.ones(len(wed), dtype=bool)
    stale[ok] = (wed[ok] - px.index[pos[ok]]).days > 3
    lv[stale] = np.nan
    ret = lv[1:] / lv[:-1] - 1.0
    dnl = np.diff(nl.to_numpy())
    keep = consec[1:]
    idx = wed[1:][keep]
    return (pd.Series(dnl[keep], index=idx, name="d_net_liquidity"),
            pd.DataFrame(ret[keep], index=idx, columns=tickers))


def newey_west_ols(y: np.ndarray, x: np.ndarray, lags: int) -> tuple[float, float, float]:
    """Slope, Newey–West standard error and R² of ``y = a + b x + e``.

    statsmodels' OLS with a HAC covariance (Bartlett kernel, ``maxlags = min(lags, n - 1)``,
    no small-sample correction): the slope's variance is
    ``sum_{|k|<=L} (1 - |k|/(L+1)) sum_t u_t u_{t-k} / sxx^2`` with ``u_t = (x_t - x̄) e_t``.

    Parameters
    ----------
    y, x : np.ndarray, shape (n,)
        Observations (finite).
    lags : int
        Bartlett-kernel lags.

    Returns
    -------
    (float, float, float)
        Slope, its standard error and R²; NaN for fewer than 3 points or a constant ``x``.
    """
    from statsmodels.regression.linear_model import OLS

    n = len(y)
    xc = x - x.mean()
    if n < 3 or float(xc @ xc) == 0:
        return np.nan, np.nan, np.nan
    design = np.column_stack([np.ones(n), x])
    fit = OLS(y, design).fit(cov_type="HAC", cov_kwds={"maxlags": min(lags, n - 1), "use_correction": False})
    return float(fit.params[1]), float(fit.bse[1]), float(fit.rsquared)


def estimate_betas(md: MarketData, tickers: list[str], start: pd.Timestamp | None = None,
                   end: pd.Timestamp | None = None, lags: int = 4) -> LiquidityBetas:
    """Liquidity beta of each ticker (see the module docstring).

    Parameters
    ----------
    md : MarketData
        History with prices and WALCL, WDTGAL, RRPONTSYD.
    tickers : list of str
    start, end : pd.Timestamp, optional
        Estimation window (Wednesdays of the later week).
    lags : int
        Newey–West lags (weeks).

    Raises
    ------
    DataError
        Missing series, or fewer than 52 usable weeks.
    """
    dnl, ret = weekly_panel(md, tickers)
    sel = np.ones(len(dnl), dtype=bool)
    if start is not None:
        sel &= dnl.index >= start
    if end is not None:
        sel &= dnl.index <= end
    sel &= np.isfinite(ret.to_numpy()).any(axis=1)  # weeks with prices (the macro data may run longer)
    dnl, ret = dnl[sel], ret[sel]
    if len(dnl) < 52:
        raise DataError(f"liquidity betas: only {len(dnl)} weeks of net-liquidity changes in the window")
    beta, se, r2 = {}, {}, {}
    x_all = dnl.to_numpy() / PER
    scores = np.full((len(x_all), len(tickers)), np.nan)
    for j, t in enumerate(tickers):
        y = ret[t].to_numpy()
        ok = np.isfinite(y) & np.isfinite(x_all)
        beta[t], se[t], r2[t] = newey_west_ols(y[ok], x_all[ok], lags) if ok.sum() >= 52 else (np.nan,) * 3
        if np.isfinite(beta[t]):
            xc = x_all[ok] - x_all[ok].mean()
            scores[ok, j] = xc * (y[ok] - y[ok].mean() - beta[t] * xc)
    b = pd.Series(beta, dtype=float)
    s = pd.Series(se, dtype=float)
    return LiquidityBetas(
        beta=b, se=s, t=b / s, r2=pd.Series(r2, dtype=float), n_weeks=int(len(dnl)),
        start=str(dnl.index[0].date()), end=str(dnl.index[-1].date()),
        method=f"OLS of weekly returns on weekly net-liquidity change, Newey-West({lags}) SE",
        corr=pd.DataFrame(scores, columns=tickers).corr(min_periods=52),
    )


def fixed_betas(values: dict[str, float], tickers: list[str], method: str,
                ses: dict[str, float] | None = None) -> LiquidityBetas:
    """Betas given in a config (missing tickers: 0), with optional standard errors (missing: NaN)."""
    b = pd.Series({t: float(values.get(t, 0.0)) for t in tickers}, dtype=float)
    nan = pd.Series(np.nan, index=b.index)
    se = nan if not ses else pd.Series({t: float(ses[t]) if t in ses else np.nan for t in tickers}, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = b / se
    return LiquidityBetas(b, se, t, nan, 0, "", "", method)


def draw_betas(beta: np.ndarray, se: np.ndarray, rngs: list[np.random.Generator],
               corr: np.ndarray | None = None) -> np.ndarray:
    """One beta vector per path, ``beta + se * (L z)`` with ``z ~ N(0, I)`` from each path's generator.

    Parameters
    ----------
    beta, se : np.ndarray, shape (N,)
    rngs : list of np.random.Generator
        One per path; each draws ``N`` standard normals (also when ``se`` is 0, so a
        path's later draws never depend on the standard errors).
    corr : np.ndarray, shape (N, N), optional
        Correlation of the estimation errors (``L`` its Cholesky factor, after eigenvalue
        clipping); None: independent.

    Returns
    -------
    np.ndarray, shape (P, N)
    """
    beta = np.asarray(beta, dtype=float)
    se = np.nan_to_num(np.asarray(se, dtype=float))
    z = np.empty((len(rngs), len(beta)))
    for k, g in enumerate(rngs):
        z[k] = g.standard_normal(len(beta))
    if corr is not None and len(beta) > 1:
        z = z @ cholesky_corr(np.asarray(corr, dtype=float)).T
    return beta[None, :] + se[None, :] * z


def daily_drift_shift(beta: np.ndarray, pace_diff_bn_month: np.ndarray | float) -> np.ndarray:
    """Daily return shift of each asset for a pace difference (bn USD/month).

    ``beta / 100 * pace_diff / (52/12) / 5``: the monthly flow as a weekly flow, times the
    weekly beta per 100 bn, over five trading days. Broadcasts ``pace_diff[..., None]``
    against ``beta``.
    """
    pd_ = np.asarray(pace_diff_bn_month, dtype=float)
    return np.asarray(beta, dtype=float) / PER * (pd_[..., None] / WEEKS_PER_MONTH) / 5.0


__all__ = ["LiquidityBetas", "daily_drift_shift", "draw_betas", "estimate_betas", "fixed_betas", "newey_west_ols",
           "weekly_panel"]
