"""The calibration verdict's statistics: tail tests, PIT uniformity, verdicts (backtest/calibration_stats.py).

Second implementations: ``scipy.stats.binomtest`` and a hand-written exact binomial test for
the tails, ``scipy.stats.cramervonmises`` and a numerical integral for the uniformity test.
Null tests (calibrated models pass at about their nominal rate over seeds, also with
overlapping windows) and planted ones (a model whose upper tail is cut is flagged on the
upper side; one that never reaches a tail is not called calibrated) run on the statistics
functions directly, not on scenario runs.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import binomtest, cramervonmises, norm

from backtest.calibration_stats import (
    CALIBRATED,
    INCONCLUSIVE,
    NOT_UNIFORM,
    OVERCONFIDENT,
    TOO_HIGH,
    TOO_LOW,
    UNDERCONFIDENT,
    VERDICT_TONE,
    VERDICTS,
    band_p_value,
    cvm_sf,
    cvm_uniform,
    empty_tail,
    pit,
    pit_tests,
    pit_verdict,
    tail_p_value,
    verdict_reason,
)

LEVEL = 0.05 / 3  # each test's level in the verdict (Bonferroni over three)


def _binom_two_sided(k: int, n: int, p: float) -> float:
    """Two-sided exact binomial p-value: outcomes no more likely than k (a second implementation)."""
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(x for x in pmf if x <= pmf[k] * (1 + 1e-7)))


def _overlapping_pits(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """PITs of a calibrated model on ``n`` windows that overlap ``k``-fold (each spans k periods).

    The outcome of window i is the sum of the independent shocks of periods i..i+k-1, which
    the model (knowing nothing of them at the start) forecasts as N(0, k): its PIT is
    Phi(sum / sqrt(k)), uniform but correlated with its neighbours'.
    """
    z = rng.standard_normal(n + k - 1)
    return norm.cdf(np.convolve(z, np.ones(k), "valid") / np.sqrt(k))


# ------------------------------------------------------------------------ second implementations


@pytest.mark.parametrize(("share", "n_eff"), [(0.0, 11.75), (3 / 47, 11.75), (9 / 47, 11.75), (0.25, 12.0),
                                              (0.5, 10.0), (0.02, 100.0), (0.14, 200.0), (1.0, 2.0)])
def test_tail_p_values_are_exact_binomial_tests_on_the_effective_count(share, n_eff):
    m = round(n_eff)
    k = round(share * m)
    want = binomtest(k, m, 0.05).pvalue
    assert tail_p_value(share, n_eff) == pytest.approx(want, rel=1e-12)
    assert tail_p_value(share, n_eff) == pytest.approx(_binom_two_sided(k, m, 0.05), rel=1e-9)


def test_tail_p_value_by_hand():
    # 3 of 12 beyond the p5: P(X >= 3) for Bin(12, 0.05); no outcome in the lower tail is as unlikely
    upper = 1 - sum(math.comb(12, i) * 0.05**i * 0.95 ** (12 - i) for i in range(3))
    assert tail_p_value(0.25, 12) == pytest.approx(upper, rel=1e-9)
    assert tail_p_value(0.0, 12) == pytest.approx(1.0)  # 0 of 12 (p = 0.54) is the likeliest outcome
    assert math.isnan(tail_p_value(float("nan"), 12)) and math.isnan(band_p_value(0.5, 0.0, 0.9))


def test_uniformity_test_matches_scipy_on_independent_outcomes():
    rng = np.random.default_rng(3)
    for n, power in ((12, 1.0), (47, 1.6), (200, 0.8)):
        x = rng.random(n) ** power
        x[:2] = [0.0, 1.0]  # realised beyond every simulated outcome: fine for Cramér–von Mises
        stat, p = cvm_uniform(x, n)
        ref = cramervonmises(x, "uniform")
        assert stat == pytest.approx(ref.statistic, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-9)


def test_uniformity_statistic_on_the_effective_count_is_the_integral_by_hand():
    x = np.array([0.02, 0.1, 0.11, 0.3, 0.31, 0.32, 0.5, 0.9])
    u = np.linspace(0.0, 1.0, 400_001)
    ecdf = np.searchsorted(np.sort(x), u, side="right") / len(x)
    integral = float(np.mean((ecdf - u) ** 2))  # ∫_0^1 (F_n(u) - u)^2 du on a fine grid
    stat, p = cvm_uniform(x, n_eff=2.0)  # 8 overlapping outcomes, 2 effective
    assert stat == pytest.approx(2 * integral, rel=1e-4)
    # the p-value is the Cramér–von Mises law of 2 uniforms at that statistic (scipy's, on a sample of 2)
    y = np.array([0.05, 0.4])
    assert cvm_sf(cramervonmises(y, "uniform").statistic, 2) == pytest.approx(cramervonmises(y, "uniform").pvalue)
    assert math.isnan(cvm_uniform(x, n_eff=1.2)[1])  # one effective outcome: no test


# ------------------------------------------------------------------------ verdict words


def test_verdict_follows_each_tail_and_the_shape():
    ok = 0.5  # a p-value that rejects nothing
    assert pit_verdict(0.2, 0.2, 1e-4, 1e-4, ok, 40) == OVERCONFIDENT
    assert pit_verdict(0.0, 0.0, 1e-4, 1e-4, ok, 200) == UNDERCONFIDENT
    assert pit_verdict(0.2, 0.05, 1e-4, ok, ok, 40) == TOO_HIGH  # realised below p5 too often
    assert pit_verdict(0.05, 0.0, ok, 1e-4, ok, 200) == TOO_HIGH  # never above p95, significantly
    assert pit_verdict(0.05, 0.2, ok, 1e-4, ok, 40) == TOO_LOW
    assert pit_verdict(0.05, 0.05, ok, ok, 1e-4, 40) == NOT_UNIFORM
    assert pit_verdict(0.08, 0.0, ok, 1.0, ok, 12) == INCONCLUSIVE  # an empty tail the test cannot see
    # 3 of 235 pooled outcomes above the p95 are 0 of the 12 effective outcomes the test counts
    assert empty_tail(3 / 235, 12) and not empty_tail(3 / 47, 12) and not empty_tail(3 / 235, 200)
    assert pit_verdict(0.10, 3 / 235, ok, 1.0, ok, 12) == INCONCLUSIVE
    assert pit_verdict(0.05, 0.05, ok, ok, float("nan"), 1) == INCONCLUSIVE  # one effective outcome
    assert pit_verdict(0.05, 0.05, ok, ok, ok, 12) == CALIBRATED
    assert pit_verdict(0.05, 0.05, 0.02, ok, ok, 12) == CALIBRATED  # 0.02 > 0.05 / 3: not a rejection
    assert set(VERDICT_TONE) == set(VERDICTS)
    assert {VERDICT_TONE[v] for v in (CALIBRATED, INCONCLUSIVE, TOO_HIGH)} == {"good", "neutral", "bad"}


# ------------------------------------------------------------------------ planted one-sided models


def _cut_top_pits(rng: np.random.Generator, n: int, sims: int = 400) -> np.ndarray:
    """PITs of realised N(0, 1) outcomes in a model that never produces their top 10%."""
    out = np.empty(n)
    for i in range(n):
        sim = norm.ppf(rng.random(sims) * 0.9)  # N(0, 1) below its 90th percentile
        out[i] = pit(sim, float(rng.standard_normal()))
    return out


def test_a_model_with_its_upper_tail_cut_is_flagged_on_the_upper_side():
    p = _cut_top_pits(np.random.default_rng(11), 300)
    assert (p == 1.0).mean() > 0.05  # realised above every simulated outcome about 10% of the time
    r = pit_tests(p, 300, overlap=1.0)
    assert r.above_p95 > 0.10 and r.p_upper_tail < LEVEL  # about 14.5% above the simulated p95
    assert abs(r.below_p5 - 0.045) < 0.04 and r.p_lower_tail > LEVEL  # the lower side is fine
    assert r.verdict == TOO_LOW and r.verdict != CALIBRATED  # realised outcomes beat the simulations


def test_the_cut_upper_tail_is_found_over_seeds():
    rng = np.random.default_rng(12)
    flagged = [pit_tests(np.minimum(rng.random(200) / 0.9, 1.0), 200, 1.0) for _ in range(60)]
    # (the PIT of a realised outcome in a model cut at its 90th percentile: U / 0.9, capped at 1)
    assert np.mean([r.p_upper_tail < LEVEL for r in flagged]) > 0.9
    assert not any(r.verdict == CALIBRATED for r in flagged if r.p_upper_tail < LEVEL)


def test_never_above_p95_in_47_quarterly_starts_is_not_called_calibrated():
    # the real-data pattern: 4 of 47 below the simulated p5, none above the p95, 12 effective outcomes
    p = np.concatenate([[0.01, 0.02, 0.03, 0.04], np.linspace(0.08, 0.9, 43)])
    r = pit_tests(p, 47, overlap=4.0)
    assert r.above_p95 == 0 and r.p_upper_tail == pytest.approx(binomtest(0, 12, 0.05).pvalue)
    assert r.p_upper_tail > LEVEL and r.p_lower_tail > LEVEL  # 12 effective outcomes cannot reject ...
    assert r.verdict == INCONCLUSIVE  # ... so the verdict says it cannot tell, not "calibrated"
    row = SimpleNamespace(verdict=r.verdict, below_p5=r.below_p5, above_p95=r.above_p95, mean_pit=0.45,
                          cover50=0.6, n=47, n_eff=r.n_eff)
    assert verdict_reason(row) == ("9% below the simulated p5 and 0% above the p95 (5% each expected): the upper "
                                   "tail holds 0 of 12 effective outcomes, too few to tell a missing tail from chance")


# ------------------------------------------------------------------------ null: calibrated models pass


def test_a_calibrated_model_passes_at_its_nominal_rate_over_seeds():
    rng = np.random.default_rng(2026)
    runs = [pit_tests(rng.random(200), 200, 1.0) for _ in range(200)]
    passed = np.mean([r.verdict == CALIBRATED for r in runs])
    assert 0.92 <= passed <= 0.995  # nominal 95% (Bonferroni: at least 95% in theory); sd 1.5%
    for attr in ("p_lower_tail", "p_upper_tail", "p_pit_uniform"):  # each test near its own level
        assert np.mean([getattr(r, attr) < LEVEL for r in runs]) < LEVEL + 0.03


def test_overlapping_windows_of_a_calibrated_model_are_rarely_called_miscalibrated():
    rng = np.random.default_rng(7)
    runs = [pit_tests(_overlapping_pits(rng, 47, 4), 47, 4.0) for _ in range(150)]
    red = np.mean([VERDICT_TONE[r.verdict] == "bad" for r in runs])
    assert red <= 0.06  # n / 4 effective outcomes keeps the false alarms at (or below) the nominal 5%
    # and with 12 effective outcomes an empty tail is common: amber, never red, for that reason alone
    assert 0.4 < np.mean([r.verdict == INCONCLUSIVE for r in runs]) < 0.95
