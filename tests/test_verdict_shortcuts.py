"""Shortcuts of the tuner's verdict and of backtest.stats give the same bits as the plain forms."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from backtest.stats import deflated_sharpe_ratio, effective_trials, pbo_logits, sharpe_moments
from backtest.tune.folds import Fold
from backtest.tune.verdict import assess, deflate_active


def market(t: int = 400, n: int = 12, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.0003 + rng.normal(0, 0.01, (t, 1)) + rng.normal(0, 0.003, (t, n)) * rng.uniform(0.1, 1, (1, n))


def plain_effective_trials(m: np.ndarray) -> float:
    """The textbook participation ratio from the eigenvalues of the correlation matrix."""
    m = np.nan_to_num(m)
    m = m[:, m.std(axis=0) > 0]
    if m.shape[1] < 2:
        return float(max(m.shape[1], 1))
    lam = np.linalg.eigvalsh(np.corrcoef(m, rowvar=False))
    return float(np.clip(lam.sum() ** 2 / (lam**2).sum(), 1.0, m.shape[1]))


def test_effective_trials_matches_the_eigenvalues_with_nan_and_constant_columns():
    m = market()
    m[3, 2] = np.nan
    m[:, 5] = 0.0  # constant: dropped
    assert abs(effective_trials(m) - plain_effective_trials(m)) < 1e-9
    assert effective_trials(np.asfortranarray(m)) == effective_trials(m)
    assert effective_trials(m[:, [0]]) == 1.0 and effective_trials(np.zeros((50, 4))) == 1.0


def test_pbo_logits_with_nan_rows_equal_those_of_the_zero_filled_matrix():
    m = market(t=160, n=9)
    z = m.copy()
    m[[4, 77], [1, 8]] = np.nan
    z[[4, 77], [1, 8]] = 0.0
    assert np.array_equal(pbo_logits(m, 8), pbo_logits(z, 8))
    assert np.array_equal(pbo_logits(np.asfortranarray(m), 8), pbo_logits(z, 8))
    assert len(pbo_logits(m, 8)) == len(list(combinations(range(8), 4)))


def test_deflate_active_on_consecutive_rows_equals_the_plain_computation():
    r = market()
    ref = market(n=1, seed=9)[:, 0]
    rows = np.arange(37, 311)
    d = deflate_active(r, ref, rows, 4, "ref")
    act = r[rows] - ref[rows, None]  # the fancy-indexed copy
    sd = act.std(axis=0, ddof=1)
    srs = act.mean(axis=0) / sd
    var = float(np.var(srs, ddof=1))
    n_eff = effective_trials(act)
    sr, g3, g4 = sharpe_moments(act[:, 4])
    assert d.n_eff == n_eff and d.trial_sr_variance == var and d.skew == g3 and d.kurtosis == g4
    assert d.dsr == deflated_sharpe_ratio(sr, var, n_eff, len(rows), g3, g4)
    # a gap in the rows takes the copying path, still right
    gap = np.r_[np.arange(10, 100), np.arange(120, 300)]
    assert deflate_active(r, ref, gap, 4, "ref").n_obs == len(gap)
    act = r[gap] - ref[gap, None]
    assert deflate_active(r, ref, gap, 4, "ref").n_eff == effective_trials(act)


def test_assess_with_the_tuners_choices_given_equals_assess_computing_them():
    r = market(t=600, n=10)
    folds = [Fold(np.arange(i * 100, i * 100 + 200), np.arange(i * 100 + 200, i * 100 + 300)) for i in range(4)]
    free = assess(r, None, folds)
    ex = r  # rf = 0
    train = np.array([ex[f.train].mean(axis=0) / ex[f.train].std(axis=0, ddof=1) for f in folds])
    chosen = [int(np.argmax(s)) for s in train]
    best = int(np.argmax(train.mean(axis=0)))
    given = assess(r, None, folds, chosen=chosen, best=best, fold_rank_corr=free.fold_rank_corr)
    assert given.to_dict() == free.to_dict()
    assert np.array_equal(given.logits, free.logits)
