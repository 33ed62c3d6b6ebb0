"""Statistics of Sharpe ratios: uncertainty, multiple testing, backtest overfitting.

Pure functions on numpy arrays. Conventions (see ``docs/statistics.md``):

* Sharpe ratios are **per period** (per observation: daily for daily returns), never
  annualised, unless a function says otherwise; annualise by ``sqrt(TRADING_DAYS)``.
* ``kurtosis`` is the plain (Pearson) kurtosis, not the excess: 3 for a normal law.
* Sample moments: mean, ``std(ddof=1)`` for the Sharpe ratio; biased (population)
  skewness and kurtosis as in Bailey & López de Prado.

References
----------
Lo, A. (2002). The statistics of Sharpe ratios. *Financial Analysts Journal* 58(4).
Mertens, E. (2002). Comments on variance of the IID estimator in Lo (2002). Working paper.
Bailey, D. & López de Prado, M. (2012). The Sharpe ratio efficient frontier. *Journal of
Risk* 15(2).
Bailey, D. & López de Prado, M. (2014). The deflated Sharpe ratio. *Journal of Portfolio
Management* 40(5).
Bailey, D., Borwein, J., López de Prado, M. & Zhu, Q. (2017). The probability of backtest
overfitting. *Journal of Computational Finance* 20(4).
Phipson, B. & Smyth, G. (2010). Permutation p-values should never be zero. *Statistical
Applications in Genetics and Molecular Biology* 9(1).
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations
from statistics import NormalDist

import numpy as np

from backtest.constants import TRADING_DAYS

EULER_GAMMA = 0.5772156649015329
SHARPE_INTERVAL = ("sharpe_se", "sharpe_lo", "sharpe_hi")
_STANDARD_NORMAL = NormalDist()


def normal_cdf(x: float) -> float:
    """Standard normal CDF ``Φ(x) = erfc(-x/√2)/2`` (standard library; ±inf give 1 and 0, NaN gives NaN).

    Within 2.3e-16 of ``scipy.special.ndtr`` and accurate in both tails (``tests/test_normal.py``);
    the standard library keeps ``scipy.special`` (~0.2-0.5 s to import) off the tuner's path.
    """
    return 0.5 * math.erfc(-float(x) / math.sqrt(2.0))


def normal_ppf(p: float) -> float:
    """Inverse standard normal CDF ``Φ⁻¹(p)`` (:class:`statistics.NormalDist`).

    0 and 1 give ∓inf, outside [0, 1] or NaN gives NaN (as ``scipy.special.ndtri``, which it
    matches within a relative 1.1e-15: ``tests/test_normal.py``).
    """
    p = float(p)
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if not 0.0 < p < 1.0:
        return math.nan
    return _STANDARD_NORMAL.inv_cdf(p)


def sharpe_moments(x: np.ndarray) -> tuple[float, float, float]:
    """Per-period Sharpe ratio (ddof=1), biased skewness and (non-excess) kurtosis of ``x``.

    Non-finite values are dropped; ``(nan, 0, 3)`` below 2 observations.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), 0.0, 3.0
    sd = x.std(ddof=1)
    sr = float(x.mean() / sd) if sd > 0 else float("nan")
    c = x - x.mean()
    m2 = float(np.mean(c**2))
    if m2 <= 0:
        return sr, 0.0, 3.0
    return sr, float(np.mean(c**3) / m2**1.5), float(np.mean(c**4) / m2**2)


def skew_kurtosis(x: np.ndarray) -> tuple[float, float]:
    """Biased skewness and (non-excess) kurtosis of ``x``, as ``scipy.stats`` computes them.

    The same central moments and roundings as ``scipy.stats.skew(x)`` and
    ``scipy.stats.kurtosis(x, fisher=False)`` (bias included), in numpy so that the tuner
    does not load ``scipy.stats``.

    Parameters
    ----------
    x : np.ndarray
        1-D sample (finite values; at least one).

    Returns
    -------
    tuple of float
        ``(skewness, kurtosis)``; both NaN when the sample is constant.
    """
    a = np.asarray(x, dtype=float)
    mean = a.mean()
    c = a - mean
    c2 = c**2
    m2 = c2.mean()
    if m2 <= (np.finfo(float).eps * mean) ** 2:
        return float("nan"), float("nan")
    return float((c2 * c).mean() / m2**1.5), float((c2**2).mean() / m2**2.0)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their average rank (``scipy.stats.rankdata``)."""
    a = np.asarray(x, dtype=float)
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    new = np.r_[True, s[1:] != s[:-1]]
    dense = np.cumsum(new) - 1
    bounds = np.r_[np.flatnonzero(new), len(a)]
    avg = 0.5 * (bounds[:-1] + 1 + bounds[1:])
    out = np.empty(len(a))
    out[order] = avg[dense]
    return out


def spearman_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two finite samples (``scipy.stats.spearmanr``'s statistic).

    Pearson correlation of the average ranks; NaN when either sample is constant or has
    fewer than 2 values.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or (a[0] == a).all() or (b[0] == b).all():
        return float("nan")
    return float(np.corrcoef(np.column_stack((average_ranks(a), average_ranks(b))), rowvar=False)[1, 0])


def _sr_variance_factor(sr: float, skew: float, kurtosis: float) -> float:
    """``1 - γ3 SR + (γ4 - 1)/4 SR²`` (Mertens 2002; equals ``1 + SR²/2`` for normal returns)."""
    return 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr


def probabilistic_sharpe_ratio(sr: float, sr_benchmark: float, n_obs: int, skew: float = 0.0,
                               kurtosis: float = 3.0) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (Bailey & López de Prado 2012).

    ``PSR = Φ((SR - SR*) sqrt(n - 1) / sqrt(1 - γ3 SR + (γ4 - 1)/4 SR²))``.

    Parameters
    ----------
    sr, sr_benchmark : float
        Observed and benchmark Sharpe ratios, per period.
    n_obs : int
        Number of return observations.
    skew, kurtosis : float
        Skewness and (non-excess) kurtosis of the returns.

    Returns
    -------
    float
        In [0, 1]; NaN when undefined (fewer than 2 observations, non-finite input).
    """
    den = _sr_variance_factor(sr, skew, kurtosis)
    if n_obs < 2 or not np.isfinite(sr) or not np.isfinite(sr_benchmark) or not den > 0:
        return float("nan")
    return float(normal_cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(den)))


def expected_max_sharpe(trial_sr_variance: float, n_trials: float) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` independent unskilled trials.

    ``sqrt(V) ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))`` (Bailey & López de Prado 2014,
    eq. 2; γ the Euler–Mascheroni constant). ``n_trials`` may be fractional (an effective
    number of trials); 0 for at most one trial, and floored at 0 (the asymptotic formula
    turns negative below N ≈ 1.8, where the true expected maximum is still >= 0).

    Parameters
    ----------
    trial_sr_variance : float
        Variance of the trials' per-period Sharpe ratios.
    n_trials : float
        Number of (independent) trials.

    Returns
    -------
    float
        Per-period Sharpe ratio.
    """
    if n_trials <= 1 or not np.isfinite(trial_sr_variance) or trial_sr_variance <= 0:
        return 0.0
    z1 = normal_ppf(1.0 - 1.0 / n_trials)
    z2 = normal_ppf(1.0 - 1.0 / (n_trials * math.e))
    return max(0.0, float(math.sqrt(trial_sr_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)))


def deflated_sharpe_ratio(sr: float, trial_sr_variance: float, n_trials: float, n_obs: int,
                          skew: float = 0.0, kurtosis: float = 3.0) -> float:
    """Deflated Sharpe ratio (Bailey & López de Prado 2014, eq. 1–2).

    The PSR of ``sr`` against the expected maximum Sharpe ratio of ``n_trials`` unskilled
    trials whose Sharpe ratios have variance ``trial_sr_variance`` (all per period).

    Returns
    -------
    float
        Probability that the selected strategy's true Sharpe ratio beats that of the best
        of ``n_trials`` unskilled ones.
    """
    return probabilistic_sharpe_ratio(sr, expected_max_sharpe(trial_sr_variance, n_trials), n_obs, skew, kurtosis)


def min_track_record_length(sr: float, sr_benchmark: float, skew: float = 0.0, kurtosis: float = 3.0,
                            prob: float = 0.95) -> float:
    """Minimum track record length (Bailey & López de Prado 2012, eq. 11).

    ``MinTRL = 1 + (1 - γ3 SR + (γ4 - 1)/4 SR²) (Φ⁻¹(prob) / (SR - SR*))²``: the number of
    observations needed for ``PSR(SR*) >= prob``. ``inf`` when ``sr <= sr_benchmark``.

    Returns
    -------
    float
        Observations (of the period of the Sharpe ratios).
    """
    if not (np.isfinite(sr) and np.isfinite(sr_benchmark)) or sr <= sr_benchmark:
        return float("inf")
    return float(1.0 + _sr_variance_factor(sr, skew, kurtosis) * (normal_ppf(prob) / (sr - sr_benchmark)) ** 2)


def sharpe_standard_error(returns: np.ndarray) -> float:
    """Standard error of the per-period Sharpe ratio of ``returns`` (Lo 2002, Mertens 2002).

    ``sqrt((1 - γ3 SR + (γ4 - 1)/4 SR²) / n)``, which is Lo's IID ``sqrt((1 + SR²/2) / n)``
    for normal returns. NaN below 3 finite observations.
    """
    x = np.asarray(returns, dtype=float)
    n = int(np.isfinite(x).sum())
    sr, g3, g4 = sharpe_moments(x)
    v = _sr_variance_factor(sr, g3, g4)
    if n < 3 or not np.isfinite(sr) or not v > 0 or near_constant(x):
        return float("nan")
    return float(math.sqrt(v / n))


NEAR_CONSTANT = 1e-9  # sample sd at or below this fraction of |mean|: rounding noise, not risk


def near_constant(returns: np.ndarray) -> bool:
    """Whether ``returns`` are constant up to floating-point rounding (a degenerate series).

    True when the sample standard deviation of the finite values is at most
    :data:`NEAR_CONSTANT` times their absolute mean (or zero): the Sharpe ratio of such a
    series (cash at a fixed rate) is rounding noise divided by a tiny number, and its
    standard error and interval are NaN (:func:`sharpe_standard_error`), never a huge
    finite number. :func:`degenerate_note` says so in a run's notes.
    """
    x = np.asarray(returns, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return False
    sd = float(x.std(ddof=1))
    return sd == 0.0 or sd <= NEAR_CONSTANT * abs(float(x.mean()))


def degenerate_note(name: str, returns: np.ndarray) -> str | None:
    """The note of a run whose strategy ``name`` has near-constant returns (else None)."""
    if not near_constant(returns):
        return None
    return (f"{name}: returns are constant up to rounding; its Sharpe standard error and interval are "
            "NaN (undefined), not a number")


def sharpe_confidence_interval(returns: np.ndarray, level: float = 0.9) -> tuple[float, float]:
    """Two-sided normal confidence interval of the per-period Sharpe ratio of ``returns``.

    ``SR ± Φ⁻¹((1 + level)/2) SE`` with :func:`sharpe_standard_error`.
    """
    sr, _, _ = sharpe_moments(returns)
    se = sharpe_standard_error(returns)
    z = normal_ppf(0.5 + level / 2.0)
    return float(sr - z * se), float(sr + z * se)


def sharpe_interval(excess: np.ndarray, level: float = 0.9, periods: int = TRADING_DAYS) -> dict[str, float]:
    """Annualised standard error and ``level`` interval of the Sharpe ratio of excess returns.

    For metric tables: ``{"sharpe_se", "sharpe_lo", "sharpe_hi"}``, each the per-period
    value times ``sqrt(periods)``.
    """
    lo, hi = sharpe_confidence_interval(excess, level)
    k = math.sqrt(periods)
    return {"sharpe_se": sharpe_standard_error(excess) * k, "sharpe_lo": lo * k, "sharpe_hi": hi * k}


def null_p_value(observed: float, null: np.ndarray) -> float:
    """Share of a simulated null distribution at least as large as ``observed``.

    ``(1 + #{null >= observed}) / (1 + n)`` over the ``n`` finite null values (Phipson &
    Smyth 2010: never 0, exact for a randomisation test whose ``n`` runs are exchangeable
    with the observation under the null).

    Parameters
    ----------
    observed : float
        The observed statistic (larger = stronger evidence).
    null : np.ndarray
        The statistic in each null run.

    Returns
    -------
    float
        In ``(0, 1]``; NaN when ``observed`` is not finite or no null value is.
    """
    a = np.asarray(null, dtype=float)
    a = a[np.isfinite(a)]
    if not np.isfinite(observed) or not len(a):
        return float("nan")
    return float((1 + np.count_nonzero(a >= observed)) / (1 + len(a)))


# ----------------------------------------------------------------------------- PBO (CSCV)


def _sharpe_or_worst(s1: np.ndarray, s2: np.ndarray, n: int) -> np.ndarray:
    """Sharpe ratios (ddof=1) from sums ``s1``, sums of squares ``s2`` over ``n`` rows; ``-inf`` where
    undefined (flat or non-finite). Overwrites ``s1`` and ``s2`` (returns ``s1``).

    The same operations, in the same order, as ``mean = s1 / n``, ``var = (s2 - n * mean * mean)
    / (n - 1)``, ``mean / sqrt(var)`` where ``var > 0``: where ``var <= 0`` or is NaN the square
    root or the division is not finite, so the result is ``-inf`` there as well.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.divide(s1, n, out=s1)
        tmp = mean * n
        tmp *= mean
        var = np.subtract(s2, tmp, out=s2)
        var /= n - 1
        sd = np.sqrt(var, out=var)
        out = np.divide(mean, sd, out=mean)
    out[~np.isfinite(out)] = -np.inf
    return out


@lru_cache(maxsize=8)
def _cscv_members(n_splits: int) -> np.ndarray:
    """``C(S, S/2) x S`` 0/1 matrix: the training blocks of each split, in lexicographic order (read-only)."""
    combos = np.array(list(combinations(range(n_splits), n_splits // 2)))
    member = np.zeros((len(combos), n_splits))
    member[np.arange(len(combos))[:, None], combos] = 1.0
    member.flags.writeable = False
    return member


def _rank_logits(is_sr: np.ndarray, oos_sr: np.ndarray, n: int) -> np.ndarray:
    """Per row: logit of the testing rank (ties averaged) of the trial best in training."""
    best = is_sr.argmax(axis=1)
    v = oos_sr[np.arange(len(is_sr)), best][:, None]
    rank = np.count_nonzero(oos_sr < v, axis=1) + (np.count_nonzero(oos_sr == v, axis=1) + 1) / 2.0
    w = rank / (n + 1.0)
    return np.log(w / (1.0 - w))


def pbo_logits(performance: np.ndarray, n_splits: int = 16) -> np.ndarray:
    """Logits of the out-of-sample relative rank of the in-sample best, over all CSCV splits.

    Combinatorially symmetric cross-validation (Bailey, Borwein, López de Prado & Zhu 2017,
    section 2): the ``T`` rows are cut into ``n_splits`` contiguous blocks (the last rows
    dropped so that all blocks have ``T // n_splits`` rows); for each of the
    ``C(n_splits, n_splits/2)`` ways of choosing half the blocks as the training set (the
    rest the testing set), the trial with the highest training Sharpe ratio is found, its
    testing Sharpe ratio is ranked among all trials' (``ω = rank / (N + 1)``, ties averaged)
    and ``λ = log(ω / (1 - ω))`` recorded.

    Parameters
    ----------
    performance : np.ndarray
        ``(T, N)`` per-period returns of ``N`` trials.
    n_splits : int
        Even number of blocks ``S``.

    Returns
    -------
    np.ndarray
        One logit per split (``C(S, S/2)`` values).
    """
    m = np.asarray(performance, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("performance must be a (T, N) matrix with N >= 2 trials")
    if n_splits < 2 or n_splits % 2:
        raise ValueError(f"n_splits must be an even number >= 2, got {n_splits}")
    t, n = m.shape
    size = t // n_splits
    if size < 2:
        raise ValueError(f"{t} rows cannot make {n_splits} blocks of at least 2 rows")
    head = m[: size * n_splits]
    head = np.ascontiguousarray(head if np.isfinite(head).all() else np.nan_to_num(head))
    blocks = head.reshape(n_splits, size, n)
    g1, g2 = blocks.sum(axis=1), (blocks**2).sum(axis=1)  # S x N
    member = _cscv_members(n_splits)
    half = size * n_splits // 2
    n_c = len(member)
    out = np.empty(n_c)
    # In lexicographic order the complement of split i is split n_c - 1 - i (its testing
    # half is i's training half): the Sharpe ratios of both halves of the first n_c / 2
    # splits serve their complements too, with the roles swapped.
    step = max(1, 1_000_000 // max(n, 1))
    tot1, tot2 = g1.sum(axis=0), g2.sum(axis=0)
    for s in range(0, n_c // 2, step):
        mk = member[s : min(s + step, n_c // 2)]
        p1, p2 = mk @ g1, mk @ g2
        r1, r2 = tot1 - p1, tot2 - p2  # the testing half: all blocks less the training ones
        a = _sharpe_or_worst(p1, p2, half)
        b = _sharpe_or_worst(r1, r2, half)
        out[s : s + len(mk)] = _rank_logits(a, b, n)
        out[n_c - s - len(mk) : n_c - s] = _rank_logits(b, a, n)[::-1]
    return out


def pbo(performance: np.ndarray, n_splits: int = 16) -> float:
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, López de Prado & Zhu 2017).

    The share of splits in which the trial chosen on the training half ranks at or below
    the median of the trials on the testing half (logit ``λ <= 0``), with Sharpe ratio as
    the performance measure. About 0.5 for pure noise, near 0 when one trial truly
    dominates. See :func:`pbo_logits`.

    Parameters
    ----------
    performance : np.ndarray
        ``(T, N)`` per-period returns of ``N`` trials.
    n_splits : int
        Even number of blocks (16 by default: 12,870 splits).

    Returns
    -------
    float
        In [0, 1].
    """
    return float(np.mean(pbo_logits(performance, n_splits) <= 0.0))


def effective_trials(returns: np.ndarray) -> float:
    """Effective number of independent trials from the correlation of their returns.

    The participation ratio of the eigenvalues of the trials' correlation matrix,
    ``(Σ λ)² / Σ λ²`` (= N for uncorrelated trials, 1 for identical ones). Constant or
    all-NaN columns are dropped. See ``docs/statistics.md``.

    Parameters
    ----------
    returns : np.ndarray
        ``(T, N)`` returns of ``N`` trials.

    Returns
    -------
    float
        In [1, N].
    """
    m = np.asarray(returns, dtype=float)
    if not np.isfinite(m).all():
        m = np.nan_to_num(m)
    m = m[:, m.std(axis=0) > 0]  # (a column copy: column-major, so its sums below run down each column)
    if m.shape[1] < 2:
        return float(max(m.shape[1], 1))
    # z = (m - mean) / std with the mean computed once: the same operations as m.std(axis=0)
    z = m - m.mean(axis=0)
    np.divide(z, np.sqrt(np.square(z).sum(axis=0) / len(z)), out=z)
    # Σλ = trace(C) and Σλ² = ||C||_F² (C symmetric PSD): no eigendecomposition needed
    c = z.T @ z / len(z) if m.shape[1] <= m.shape[0] else z @ z.T / len(z)  # same non-zero eigenvalues
    return float(np.clip(np.trace(c) ** 2 / np.sum(c * c), 1.0, m.shape[1]))
