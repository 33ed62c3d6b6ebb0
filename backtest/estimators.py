"""Point-in-time estimators of expected returns and covariance (pure numpy/pandas).

Every function sees only the rows it is given: the caller passes a trailing window that
ends at the decision date, so nothing here can look ahead. Inputs are *daily simple
returns*; functions return *daily* moments unless their name or docstring says otherwise
(:func:`annualise_mean` / :func:`annualise_cov` scale by :data:`PERIODS_PER_YEAR`).

This module must not import cvxpy (the optimizer's solver modules are
:mod:`backtest.optimizer.problem` and :mod:`backtest.optimizer.solve`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS

PERIODS_PER_YEAR = TRADING_DAYS
"""Trading days per year used to annualise daily moments."""

__all__ = [
    "PERIODS_PER_YEAR",
    "annualise_cov",
    "annualise_mean",
    "black_litterman",
    "ewma_covariance",
    "ewma_weights",
    "implied_returns",
    "ledoit_wolf_covariance",
    "psd_factor",
    "regime_mean",
    "sample_covariance",
    "shrink_mean",
    "trailing_mean",
    "view_matrices",
]


# ----------------------------------------------------------------------------- helpers
def _values(returns: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Return a float 2-D array (T x n) view of ``returns``."""
    arr = np.asarray(returns, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"returns must be 2-D (T x n), got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"need at least 2 observations, got {arr.shape[0]}")
    return arr


def _wrap_cov(cov: np.ndarray, like: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
    """Label ``cov`` (n x n) with the columns of ``like`` when it is a DataFrame."""
    if isinstance(like, pd.DataFrame):
        return pd.DataFrame(cov, index=like.columns, columns=like.columns)
    return cov


def _wrap_vec(vec: np.ndarray, like: pd.DataFrame | np.ndarray) -> pd.Series | np.ndarray:
    """Label ``vec`` (n,) with the columns of ``like`` when it is a DataFrame."""
    if isinstance(like, pd.DataFrame):
        return pd.Series(vec, index=like.columns)
    return vec


def annualise_mean(mu: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
    """Scale a daily mean vector (n,) to annual units (x 252)."""
    return mu * PERIODS_PER_YEAR


def annualise_cov(cov: np.ndarray | pd.DataFrame) -> np.ndarray | pd.DataFrame:
    """Scale a daily covariance matrix (n x n) to annual units (x 252)."""
    return cov * PERIODS_PER_YEAR


# -------------------------------------------------------------------------- covariance
def sample_covariance(
    returns: pd.DataFrame | np.ndarray, *, ddof: int = 1
) -> pd.DataFrame | np.ndarray:
    """Sample covariance of daily returns.

    Parameters
    ----------
    returns : DataFrame or ndarray, shape (T, n)
        Daily simple returns, oldest first. NaN propagates (no pairwise deletion).
    ddof : int, default 1
        Delta degrees of freedom (``1`` = unbiased).

    Returns
    -------
    DataFrame or ndarray, shape (n, n)
        Daily covariance (same container type as the input).
    """
    x = _values(returns)
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / (x.shape[0] - ddof)
    return _wrap_cov(cov, returns)


def ledoit_wolf_covariance(
    returns: pd.DataFrame | np.ndarray,
) -> tuple[pd.DataFrame | np.ndarray, float]:
    """Ledoit–Wolf (2004) shrinkage towards a scaled identity, closed form.

    With demeaned returns ``X`` (T x n), ``S = XᵀX / T``, ``m = tr(S)/n``,
    ``d² = ‖S − mI‖²_F / n``, ``b̄² = (1/T²) Σ_t ‖x_t x_tᵀ − S‖²_F / n`` and
    ``b² = min(b̄², d²)``, the estimate is ``(b²/d²)·mI + (1 − b²/d²)·S``.
    This is the same estimator as ``sklearn.covariance.ledoit_wolf`` (biased ``1/T``
    sample covariance, as in the paper).

    Parameters
    ----------
    returns : DataFrame or ndarray, shape (T, n)
        Daily simple returns, oldest first, no NaN.

    Returns
    -------
    cov : DataFrame or ndarray, shape (n, n)
        Shrunk daily covariance.
    shrinkage : float
        Weight on the identity target, in [0, 1].
    """
    x = _values(returns)
    t_obs, n = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t_obs
    m = np.trace(s) / n
    d2 = np.sum((s - m * np.eye(n)) ** 2) / n
    # Σ_t ‖x_t x_tᵀ − S‖²_F = Σ_t ‖x_t‖⁴ − T‖S‖²_F  (expanding the square)
    sq_norms = np.sum(xc**2, axis=1)
    b2_bar = (np.sum(sq_norms**2) - t_obs * np.sum(s**2)) / (t_obs**2 * n)
    b2 = min(b2_bar, d2)
    shrinkage = 0.0 if d2 <= 0.0 else float(b2 / d2)
    cov = shrinkage * m * np.eye(n) + (1.0 - shrinkage) * s
    return _wrap_cov(cov, returns), shrinkage


def ewma_weights(n_obs: int, halflife: float) -> np.ndarray:
    """Normalised exponential weights, oldest first.

    Parameters
    ----------
    n_obs : int
        Number of observations T.
    halflife : float
        Half-life in observations (days): weight halves every ``halflife`` rows back.

    Returns
    -------
    ndarray, shape (T,)
        Non-negative weights summing to 1; the newest row has the largest weight.
    """
    if halflife <= 0:
        raise ValueError(f"halflife must be > 0, got {halflife}")
    decay = 0.5 ** (1.0 / halflife)
    w = decay ** np.arange(n_obs - 1, -1, -1, dtype=float)
    return w / w.sum()


def ewma_covariance(
    returns: pd.DataFrame | np.ndarray, halflife: float
) -> pd.DataFrame | np.ndarray:
    """Exponentially weighted covariance with a half-life.

    ``Σ = Σ_t a_t (r_t − m)(r_t − m)ᵀ`` with weights ``a_t ∝ 0.5^{(T−1−t)/h}`` summing
    to one and the weighted mean ``m = Σ_t a_t r_t`` (no bias correction; equals the last
    row of ``DataFrame.ewm(halflife=h, adjust=True).cov(bias=True)``).

    Parameters
    ----------
    returns : DataFrame or ndarray, shape (T, n)
        Daily simple returns, oldest first, no NaN.
    halflife : float
        Half-life in days.

    Returns
    -------
    DataFrame or ndarray, shape (n, n)
        Daily covariance.
    """
    x = _values(returns)
    a = ewma_weights(x.shape[0], halflife)
    xc = x - a @ x
    cov = (xc * a[:, None]).T @ xc
    return _wrap_cov(cov, returns)


def psd_factor(cov: np.ndarray) -> np.ndarray:
    """A square factor ``F`` (n x n) with ``F Fᵀ = cov`` (up to clipping).

    Tries a Cholesky factorisation; if ``cov`` is not positive definite (e.g. zero rows
    for unavailable assets, or rank deficiency), falls back to an eigen-decomposition with
    negative eigenvalues clipped to zero, ``F = V·diag(√max(λ, 0))``. The shape is always
    n x n, so a compiled optimisation problem never changes shape.

    Parameters
    ----------
    cov : ndarray, shape (n, n)
        Symmetric covariance, finite.

    Returns
    -------
    ndarray, shape (n, n)
    """
    sym = 0.5 * (cov + cov.T)
    try:
        return np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(sym)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))


# ---------------------------------------------------------------------- expected return
def trailing_mean(returns: pd.DataFrame | np.ndarray) -> pd.Series | np.ndarray:
    """Arithmetic mean of daily returns over the window, shape (n,) (NaN propagates)."""
    x = _values(returns)
    return _wrap_vec(x.mean(axis=0), returns)


def shrink_mean(
    mean: np.ndarray | pd.Series, target: np.ndarray | pd.Series | float, weight: float
) -> np.ndarray | pd.Series:
    """James–Stein-style linear shrinkage ``(1 − weight)·mean + weight·target``.

    Parameters
    ----------
    mean : ndarray or Series, shape (n,)
        Sample means (any units, same as ``target``).
    target : ndarray, Series or float
        Prior (shrinkage target), broadcast to (n,). A common choice is the cross-sectional
        grand mean ``mean.mean()``.
    weight : float
        Shrinkage weight in [0, 1]; 0 returns ``mean``, 1 returns ``target``.

    Returns
    -------
    ndarray or Series, shape (n,)
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"shrinkage weight must be in [0, 1], got {weight}")
    return (1.0 - weight) * mean + weight * target


def regime_mean(
    returns: pd.DataFrame,
    regimes: pd.Series,
    current: str | None = None,
    *,
    k: float = 63.0,
) -> tuple[pd.Series, int]:
    """Regime-conditional mean shrunk towards the all-regime mean.

    Only the rows of ``returns`` are used; ``regimes`` is aligned to ``returns.index``
    (labels for dates not in the window are ignored, missing labels match nothing).
    With ``n`` rows in the current regime, the estimate is
    ``n/(n+k)·mean(regime rows) + k/(n+k)·mean(all rows)``.

    Parameters
    ----------
    returns : DataFrame, shape (T, n)
        Daily simple returns, oldest first.
    regimes : Series, shape (T,)
        Regime label per date of ``returns``.
    current : str, optional
        Current regime; defaults to the label of the last row.
    k : float, default 63
        Pseudo-count (days) of the all-regime prior; 0 gives the raw regime mean.

    Returns
    -------
    mean : Series, shape (n,)
        Daily mean.
    n_rows : int
        Number of rows in the current regime.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    labels = regimes.reindex(returns.index)
    if current is None:
        current = labels.iloc[-1]
    mask = (labels == current).to_numpy()
    all_mean = returns.mean(axis=0, skipna=False)
    n_rows = int(mask.sum())
    if n_rows == 0:
        return all_mean, 0
    reg_mean = returns.loc[mask].mean(axis=0, skipna=False)
    lam = n_rows / (n_rows + k)
    return lam * reg_mean + (1.0 - lam) * all_mean, n_rows


def implied_returns(
    cov: np.ndarray | pd.DataFrame,
    weights: np.ndarray | pd.Series,
    risk_aversion: float,
) -> np.ndarray | pd.Series:
    """Equilibrium (reverse-optimised) expected returns ``π = δ Σ w``.

    Parameters
    ----------
    cov : ndarray or DataFrame, shape (n, n)
        Covariance (units of ``π`` follow: annual cov gives annual returns).
    weights : ndarray or Series, shape (n,)
        Reference (market / base) weights.
    risk_aversion : float
        δ > 0.

    Returns
    -------
    ndarray or Series, shape (n,)
    """
    pi = risk_aversion * (np.asarray(cov, dtype=float) @ np.asarray(weights, dtype=float))
    if isinstance(weights, pd.Series):
        return pd.Series(pi, index=weights.index)
    return pi


def black_litterman(
    prior: np.ndarray,
    cov: np.ndarray,
    p: np.ndarray,
    q: np.ndarray,
    omega: np.ndarray | None = None,
    *,
    tau: float = 0.05,
) -> np.ndarray:
    """Black–Litterman posterior mean (closed form).

    ``μ = [(τΣ)⁻¹ + PᵀΩ⁻¹P]⁻¹ [(τΣ)⁻¹π + PᵀΩ⁻¹Q]``, computed in the equivalent form
    ``μ = π + τΣPᵀ(PτΣPᵀ + Ω)⁻¹(Q − Pπ)`` that needs no inverse of Σ.

    Parameters
    ----------
    prior : ndarray, shape (n,)
        Prior mean π (e.g. annualised trailing or implied returns).
    cov : ndarray, shape (n, n)
        Covariance Σ in the same units as ``prior``.
    p : ndarray, shape (k, n)
        View pick matrix.
    q : ndarray, shape (k,)
        View values.
    omega : ndarray, shape (k, k), optional
        View uncertainty; default He–Litterman ``diag(P τΣ Pᵀ)``.
    tau : float, default 0.05
        Scale of the prior uncertainty.

    Returns
    -------
    ndarray, shape (n,)
        Posterior mean.
    """
    prior = np.asarray(prior, dtype=float)
    p = np.atleast_2d(np.asarray(p, dtype=float))
    q = np.asarray(q, dtype=float).reshape(-1)
    ts = tau * np.asarray(cov, dtype=float)
    pts = p @ ts
    if omega is None:
        omega = np.diag(np.diag(pts @ p.T))
    gain = np.linalg.solve(pts @ p.T + omega, q - p @ prior)
    return prior + pts.T @ gain


def view_matrices(views: pd.Series, assets: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Absolute views per asset → (P, Q).

    Parameters
    ----------
    views : Series
        Expected (annualised) return per asset label; NaN entries are dropped.
    assets : sequence of str, length n
        Asset order of the columns of P.

    Returns
    -------
    p : ndarray, shape (k, n)
    q : ndarray, shape (k,)
    """
    views = views.dropna()
    pos = {a: i for i, a in enumerate(assets)}
    unknown = [a for a in views.index if a not in pos]
    if unknown:
        raise KeyError(f"views for unknown assets: {unknown}")
    p = np.zeros((len(views), len(assets)))
    for row, name in enumerate(views.index):
        p[row, pos[name]] = 1.0
    return p, views.to_numpy(dtype=float)
