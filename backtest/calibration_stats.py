"""Statistics of a calibration backtest: PITs, band coverage, the two tail tests, the PIT's shape.

Pure functions on PITs (probability integral transforms: the share of simulated outcomes
below the realised one). A calibrated model gives uniform PITs. Outcomes of overlapping
windows are not independent, so every test runs on the *effective count*
``m = round(n / overlap)`` (``overlap`` = windows per independent outcome, 4 for one-year
windows starting every quarter), never on the raw ``n``:

* **lower tail**: the share of PITs below 0.05 (realised below the simulated p5) against
  5%, an exact two-sided binomial test of ``round(share * m)`` of ``m``
  (:func:`tail_p_value`);
* **upper tail**: the share of PITs above 0.95 (realised above the simulated p95), the same
  test;
* **shape**: a Cramér–von Mises test of uniformity with the effective count
  (:func:`cvm_uniform`): the statistic ``m * ∫ (F_n(u) - u)^2 du`` of the PITs' empirical
  distribution ``F_n`` (no bins: with ``m`` about 12 a 10-bin chi-square would expect 1.2
  outcomes per bin), its p-value from the Cramér–von Mises law of ``m`` independent
  uniforms. It tolerates PITs of exactly 0 or 1 (a realised outcome beyond every simulated
  one), which break Anderson–Darling.

The verdict (:func:`pit_verdict`) follows the three tests, each at ``alpha / 3``
(Bonferroni: a calibrated model is called miscalibrated at most ``alpha`` of the time).
See ``docs/scenarios.md`` §8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ALPHA",
    "CALIBRATED",
    "INCONCLUSIVE",
    "NOT_UNIFORM",
    "OVERCONFIDENT",
    "PIT_BINS",
    "TAIL",
    "TOO_HIGH",
    "TOO_LOW",
    "UNDERCONFIDENT",
    "VERDICT_TONE",
    "VERDICTS",
    "PitTests",
    "band_p_value",
    "cvm_sf",
    "cvm_uniform",
    "effective_count",
    "empty_tail",
    "in_band",
    "pit",
    "pit_histogram",
    "pit_tests",
    "pit_verdict",
    "tail_p_value",
    "verdict_reason",
]

PIT_BINS = 10
ALPHA = 0.05
TAIL = 0.05  # each tail of the simulated distribution: below p5, above p95
OVERCONFIDENT = "overconfident"
UNDERCONFIDENT = "underconfident"
TOO_HIGH = "too optimistic"
TOO_LOW = "too pessimistic"
NOT_UNIFORM = "PIT not uniform"
INCONCLUSIVE = "inconclusive"
CALIBRATED = "calibrated within sampling error"
VERDICTS = (CALIBRATED, INCONCLUSIVE, OVERCONFIDENT, UNDERCONFIDENT, TOO_HIGH, TOO_LOW, NOT_UNIFORM)
#: what a verdict says about the model: good (green), neutral (amber: cannot tell), bad (red)
VERDICT_TONE = {CALIBRATED: "good", INCONCLUSIVE: "neutral", OVERCONFIDENT: "bad", UNDERCONFIDENT: "bad",
                TOO_HIGH: "bad", TOO_LOW: "bad", NOT_UNIFORM: "bad"}


# ------------------------------------------------------------------------ PITs


def pit(sim: np.ndarray, realised: float, weights: np.ndarray | None = None) -> float:
    """Weighted share of simulated outcomes below ``realised`` (ties count half).

    Parameters
    ----------
    sim : np.ndarray, shape (n,)
        Simulated outcomes.
    realised : float
        The realised outcome.
    weights : np.ndarray, shape (n,), optional
        Weights of the outcomes (mixture probabilities / paths); equal by default.

    Returns
    -------
    float
        PIT in [0, 1] (NaN when ``realised`` is not finite or nothing was simulated).
    """
    x = np.asarray(sim, dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(x)
    x, w = x[ok], w[ok]
    if not np.isfinite(realised) or len(x) == 0 or w.sum() <= 0:
        return float("nan")
    below = w[x < realised].sum() + 0.5 * w[x == realised].sum()
    return float(below / w.sum())


def in_band(p: np.ndarray, level: float) -> np.ndarray:
    """Whether each PIT lies in the central ``level`` band, ``[(1-level)/2, (1+level)/2]``."""
    p = np.asarray(p, dtype=float)
    lo, hi = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    return (p >= lo - 1e-12) & (p <= hi + 1e-12)


def pit_histogram(p: np.ndarray, bins: int = PIT_BINS) -> np.ndarray:
    """Counts of PITs in ``bins`` equal bins of [0, 1] (1.0 falls in the last bin)."""
    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p)]
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    return np.bincount(idx, minlength=bins)


# ------------------------------------------------------------------------ tests on the effective count


def effective_count(n_eff: float) -> int:
    """Independent outcomes a test counts: ``n_eff`` rounded (0 when nothing was observed)."""
    return int(round(n_eff)) if np.isfinite(n_eff) and n_eff > 0 else 0


def band_p_value(cover: float, n_eff: float, level: float) -> float:
    """Two-sided exact binomial p-value of a share ``cover`` against ``level`` on ``n_eff`` outcomes.

    ``round(cover * m)`` successes of ``m = max(1, round(n_eff))`` trials
    (``scipy.stats.binomtest``); NaN when ``cover`` is not finite or ``n_eff <= 0``.
    """
    # scipy.stats on first use: the workers that simulate start dates never load it
    from scipy.stats import binomtest

    if not np.isfinite(cover) or n_eff <= 0:
        return float("nan")
    m = max(1, effective_count(n_eff))
    return float(binomtest(int(round(cover * m)), m, level).pvalue)


def tail_p_value(share: float, n_eff: float) -> float:
    """Exact two-sided binomial p-value of a tail's share (beyond p5 or p95) against 5%.

    Small when realised outcomes land beyond the simulated quantile too often (the
    simulated tail is too thin on that side) or too rarely (too fat).
    """
    return band_p_value(share, n_eff, TAIL)


def cvm_sf(statistic: float, m: int) -> float:
    """P(W^2 >= ``statistic``) for the Cramér–von Mises statistic of ``m`` independent uniforms.

    The law is scipy's (Csörgő & Faraway 1996, finite ``m``): ``scipy.stats.cramervonmises``
    is given ``m`` points whose distances to the uniform grid ``(2i - 1) / 2m`` all equal
    ``d``, so its statistic ``1/(12m) + m d^2`` is ``statistic`` and its p-value is the
    survival function there. NaN for ``m < 2`` (scipy's minimum).
    """
    from scipy.stats import cramervonmises  # on first use (see band_p_value)

    if m < 2 or not np.isfinite(statistic):
        return float("nan")
    d = float(np.sqrt(max(statistic - 1.0 / (12.0 * m), 0.0) / m))
    grid = (2.0 * np.arange(1, m + 1) - 1.0) / (2.0 * m)
    res = cramervonmises(np.arange(m, dtype=float), lambda _x: grid + d)
    return float(min(1.0, max(0.0, res.pvalue)))


def cvm_uniform(p: np.ndarray, n_eff: float) -> tuple[float, float]:
    """Cramér–von Mises test that PITs are uniform, on the effective count.

    Parameters
    ----------
    p : np.ndarray
        PITs (non-finite values dropped).
    n_eff : float
        Effective count (``m = round(n_eff)``).

    Returns
    -------
    tuple
        ``(statistic, p_value)``: ``m * ∫_0^1 (F_n(u) - u)^2 du`` (``F_n``: the empirical
        distribution of the ``n`` PITs; ``= (m / n) * W_n^2`` with ``W_n^2 = 1/(12n) +
        Σ (p_(i) - (2i - 1)/2n)^2``) and its :func:`cvm_sf`. NaN when ``m < 2``.
    """
    x = np.sort(np.asarray(p, dtype=float)[np.isfinite(np.asarray(p, dtype=float))])
    n, m = len(x), effective_count(n_eff)
    if n == 0 or m < 2:
        return float("nan"), float("nan")
    w_n = 1.0 / (12.0 * n) + float(np.sum((x - (2.0 * np.arange(1, n + 1) - 1.0) / (2.0 * n)) ** 2))
    stat = m / n * w_n
    return stat, cvm_sf(stat, m)


# ------------------------------------------------------------------------ the verdict


@dataclass(frozen=True)
class PitTests:
    """The tests of one set of PITs (one strategy, or pooled) and their verdict."""

    n: int
    n_eff: float
    below_p5: float
    above_p95: float
    p_lower_tail: float
    p_upper_tail: float
    cvm: float
    p_pit_uniform: float
    verdict: str


def _side(share: float, p: float, level: float) -> int:
    """+1: beyond the quantile significantly too often; -1: too rarely; 0: within sampling error."""
    if not np.isfinite(p) or p >= level:
        return 0
    return 1 if share > TAIL else -1


def pit_verdict(below: float, above: float, p_lower: float, p_upper: float, p_uniform: float, m: int,
                alpha: float = ALPHA) -> str:
    """The verdict of the three tests (each at ``alpha / 3``), in plain words.

    * both tails hit too often: :data:`OVERCONFIDENT` (simulated spread too narrow); both
      too rarely: :data:`UNDERCONFIDENT`;
    * realised below the simulated p5 too often, or above the p95 too rarely:
      :data:`TOO_HIGH` ("too optimistic": the simulated distribution sits too high); the
      mirror image: :data:`TOO_LOW`;
    * tails within sampling error but the uniformity test rejects: :data:`NOT_UNIFORM`;
    * no test rejects, but fewer than 2 effective outcomes, or a tail empty on the
      effective count (:func:`empty_tail`: the share rounds to 0 of ``m``, the count its
      test sees, which cannot tell a missing tail from chance): :data:`INCONCLUSIVE`. A
      model that misses on one side only is never called calibrated;
    * otherwise :data:`CALIBRATED`.
    """
    level = alpha / 3.0
    lo, hi = _side(below, p_lower, level), _side(above, p_upper, level)
    if lo == 1 and hi == 1:
        return OVERCONFIDENT
    if lo == -1 and hi == -1:
        return UNDERCONFIDENT
    if lo == 1 or hi == -1:
        return TOO_HIGH
    if hi == 1 or lo == -1:
        return TOO_LOW
    if np.isfinite(p_uniform) and p_uniform < level:
        return NOT_UNIFORM
    if m < 2 or not (np.isfinite(below) and np.isfinite(above)) or empty_tail(below, m) or empty_tail(above, m):
        return INCONCLUSIVE
    return CALIBRATED


def empty_tail(share: float, m: int) -> bool:
    """Whether a tail holds no outcome on the effective count (``round(share * m) == 0``: what its test sees)."""
    return int(round(share * m)) == 0


def pit_tests(p: np.ndarray, n_test: int, overlap: float, alpha: float = ALPHA) -> PitTests:
    """Tail shares, the three tests and the verdict of a set of PITs.

    Parameters
    ----------
    p : np.ndarray
        PITs (non-finite values dropped).
    n_test : int
        Outcomes the effective count is made of: the number of PITs for one strategy,
        the number of start dates for a pooled set (strategies' outcomes at one start are
        strongly correlated).
    overlap : float
        Overlapping windows per independent outcome (``n_eff = n_test / overlap``).
    alpha : float
        Family-wise level of the verdict.
    """
    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p)]
    n = len(p)
    n_eff = float(n_test / max(overlap, 1.0))
    below = float((p < TAIL).mean()) if n else float("nan")
    above = float((p > 1.0 - TAIL).mean()) if n else float("nan")
    p_lo, p_hi = tail_p_value(below, n_eff), tail_p_value(above, n_eff)
    stat, p_unif = cvm_uniform(p, n_eff)
    m = effective_count(n_eff) if n else 0
    v = pit_verdict(below, above, p_lo, p_hi, p_unif, m, alpha)
    return PitTests(n, n_eff, below, above, p_lo, p_hi, stat, p_unif, v)


def verdict_reason(row: Any) -> str:
    """One plain sentence saying why a summary row got its verdict.

    ``row``: a row of ``calibration_summary.csv`` (a namedtuple or Series with ``verdict,
    below_p5, above_p95, mean_pit, cover50, n, n_eff``).
    """
    verdict, below, above = row.verdict, float(row.below_p5), float(row.above_p95)
    mean_pit, cover50, n, n_eff = float(row.mean_pit), float(row.cover50), int(row.n), float(row.n_eff)
    lo, hi = f"{below:.0%} below the simulated p5", f"{above:.0%} above the p95"
    tails = f"{lo} and {hi} (5% each expected)"
    if verdict == OVERCONFIDENT:
        return f"{tails}: realised outcomes leave the simulated band too often on both sides"
    if verdict == UNDERCONFIDENT:
        return f"{tails}: the simulated spread is too wide"
    if verdict == TOO_HIGH:
        return f"{tails}: the simulated distribution sits too high (realised outcomes fall short of it)"
    if verdict == TOO_LOW:
        return f"{tails}: the simulated distribution sits too low (realised outcomes beat it)"
    if verdict == NOT_UNIFORM:
        return (f"{tails}, but the PITs are not spread evenly (mean {mean_pit:.2f}, 0.50 expected; "
                f"{cover50:.0%} of realised outcomes inside the simulated p25-p75 band, 50% expected)")
    if verdict == INCONCLUSIVE:
        if n == 0:
            return "no outcome to test"
        if effective_count(n_eff) < 2:
            return f"{n} outcomes are {n_eff:.1f} effective ones: too few to test"
        m = effective_count(n_eff)
        lo_e, hi_e = empty_tail(below, m), empty_tail(above, m)
        which = "both tails hold" if lo_e and hi_e else ("the lower tail holds" if lo_e else "the upper tail holds")
        return f"{tails}: {which} 0 of {m} effective outcomes, too few to tell a missing tail from chance"
    return f"{tails}; PITs spread evenly within sampling error"
