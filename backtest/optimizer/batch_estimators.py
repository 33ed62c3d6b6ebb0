"""Point-in-time optimizer inputs for one instance, compiled with numba (batch route).

The same numbers :class:`backtest.optimizer.allocator.CvxAllocator` computes from a
trailing returns window (its ``_inputs``), written as loops over one window so that a
batch of scenario paths is estimated one instance at a time, independently of the batch
(a path's numbers never depend on which other paths share its chunk):

* availability: a column is available when it has at least ``min_obs`` valid rows since
  its first valid one; the estimation rows start at the latest first-valid row of the
  available columns (:func:`window_availability`);
* covariance: Ledoit-Wolf (2004) towards a scaled identity, or the unbiased sample
  covariance, annualised (x :data:`~backtest.constants.TRADING_DAYS`)
  (:func:`window_covariance`; the closed form of
  :func:`backtest.estimators.ledoit_wolf_covariance`);
* mean: the trailing mean, annualised, shrunk towards a prior (the cross-sectional grand
  mean when unset), minus the risk-free rate (:func:`window_mean`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.constants import TRADING_DAYS

__all__ = ["COV_LEDOIT_WOLF", "COV_SAMPLE", "window_availability", "window_covariance", "window_mean"]

COV_SAMPLE = 0
"""Code of ``estimator.covariance == "sample"``."""
COV_LEDOIT_WOLF = 1
"""Code of ``estimator.covariance == "ledoit_wolf"``."""


@njit(cache=True)
def window_availability(x: np.ndarray, min_obs: int, avail: np.ndarray) -> int:
    """Available columns of a window and the first common row.

    Parameters
    ----------
    x : ndarray, shape (T, n)
        Daily returns of the window (NaN before listing).
    min_obs : int
        Fewer valid rows since the first valid one -> unavailable.
    avail : ndarray of bool, shape (n,)
        Output: availability of each column.

    Returns
    -------
    int
        First row of the estimation rows (``T`` when nothing is available).
    """
    t_rows, n = x.shape
    start = -1
    for j in range(n):
        first = t_rows
        for t in range(t_rows):
            if not np.isnan(x[t, j]):
                first = t
                break
        avail[j] = (t_rows - first) >= min_obs
        if avail[j] and first > start:
            start = first
    return t_rows if start < 0 else start


@njit(cache=True)
def window_covariance(rows: np.ndarray, method: int, out: np.ndarray) -> None:
    """Annualised covariance of ``rows`` (T x k, no NaN) into ``out`` (k x k).

    ``method`` is :data:`COV_LEDOIT_WOLF` (biased ``1/T`` sample covariance shrunk towards
    ``mean variance x I``) or :data:`COV_SAMPLE` (``1/(T-1)``).
    """
    t_obs, k = rows.shape
    mean = np.zeros(k)
    for t in range(t_obs):
        for i in range(k):
            mean[i] += rows[t, i]
    for i in range(k):
        mean[i] /= t_obs
    xc = np.empty((t_obs, k))
    for t in range(t_obs):
        for i in range(k):
            xc[t, i] = rows[t, i] - mean[i]
    s = np.zeros((k, k))
    for t in range(t_obs):
        for i in range(k):
            xi = xc[t, i]
            for j in range(i + 1):
                s[i, j] += xi * xc[t, j]
    for i in range(k):
        for j in range(i):
            s[j, i] = s[i, j]
    if method == COV_SAMPLE:
        for i in range(k):
            for j in range(k):
                out[i, j] = s[i, j] / (t_obs - 1) * TRADING_DAYS
        return
    for i in range(k):
        for j in range(k):
            s[i, j] /= t_obs
    m = 0.0
    for i in range(k):
        m += s[i, i]
    m /= k
    d2 = 0.0
    s2 = 0.0
    for i in range(k):
        for j in range(k):
            v = s[i, j] - (m if i == j else 0.0)
            d2 += v * v
            s2 += s[i, j] * s[i, j]
    d2 /= k
    q4 = 0.0
    for t in range(t_obs):
        sq = 0.0
        for i in range(k):
            sq += xc[t, i] * xc[t, i]
        q4 += sq * sq
    b2 = (q4 - t_obs * s2) / (t_obs * t_obs * k)
    if b2 > d2:
        b2 = d2
    shrink = 0.0 if d2 <= 0.0 else b2 / d2
    for i in range(k):
        for j in range(k):
            v = (1.0 - shrink) * s[i, j]
            if i == j:
                v += shrink * m
            out[i, j] = v * TRADING_DAYS


@njit(cache=True)
def window_mean(rows: np.ndarray, shrinkage: float, prior: np.ndarray, grand: bool,
                rf: float, out: np.ndarray) -> None:
    """Annualised expected excess return of the ``k`` columns of ``rows`` into ``out``.

    ``(1 - shrinkage) * sample + shrinkage * prior - rf`` with ``sample`` the annualised
    trailing mean; the prior is the grand mean of ``sample`` when ``grand``, else ``prior``
    (k,). ``shrinkage == 0`` returns ``sample - rf``.
    """
    t_obs, k = rows.shape
    for i in range(k):
        acc = 0.0
        for t in range(t_obs):
            acc += rows[t, i]
        out[i] = acc / t_obs * TRADING_DAYS
    if shrinkage != 0.0:
        g = 0.0
        for i in range(k):
            g += out[i]
        g /= k
        for i in range(k):
            target = g if grand else prior[i]
            out[i] = (1.0 - shrinkage) * out[i] + shrinkage * target
    for i in range(k):
        out[i] -= rf
