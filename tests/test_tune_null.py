"""The tuner's verdict calibrated against noise (issue 23): the noise null, PBO on active
returns, combinatorial purged cross-validation. On return matrices, no tune run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from backtest.errors import SweepError
from backtest.metrics_batch import window_metrics
from backtest.tune.cpcv import CpcvSpec, cpcv_paths, cpcv_splits, group_bounds, parse_cv, run_cpcv
from backtest.tune.folds import Fold
from backtest.tune.null import block_cuts, check_null_runs, noise_null
from backtest.tune.verdict import assess


def folds_of(t: int, train: int, test: int) -> list[Fold]:
    out, s = [], 0
    while s + train + 20 <= t:
        out.append(Fold(np.arange(s, s + train), np.arange(s + train, min(s + train + test, t))))
        s += test
    return out


def noise_market(seed: int, t: int = 756, n: int = 16, edge: float = 0.0):
    """Untuned strategy + variants whose active returns share a factor, are AR(1) and have no
    premium (variant 3 gets ``edge`` a day)."""
    rng = np.random.default_rng(seed)
    untuned = rng.normal(3e-4, 0.008, t)
    shock = 0.6 * rng.normal(0, 0.002, (t, 1)) + 0.8 * rng.normal(0, 0.002, (t, n))
    act = np.empty((t, n))
    act[0] = shock[0]
    for i in range(1, t):  # AR(1): serial dependence the blocks must keep
        act[i] = 0.3 * act[i - 1] + shock[i]
    act[:, 3] += edge
    rf = np.full(t, 5e-5)
    return untuned[:, None] + act, untuned, rf


def plain_sharpe(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=0) / x.std(axis=0, ddof=1)


# ----------------------------------------------------------------------------- blocks


def test_block_cuts_by_hand():
    # windows [0, 10) and [10, 30): blocks of 5 inside each; a window edge is always a block edge
    cuts, seg = block_cuts(30, [np.arange(0, 10), np.arange(10, 30)], block_days=5)
    assert cuts.tolist() == [0, 5, 10, 15, 20, 25, 30] and seg.tolist() == [0, 0, 1, 1, 1, 1]
    # an edge at row 12 that is not on the 5-day grid: 10..12 and 12..30 are segments of their own
    cuts, seg = block_cuts(30, [np.arange(0, 12), np.arange(12, 30)], block_days=5)
    assert cuts.tolist() == [0, 6, 12, 16, 21, 25, 30] and seg.tolist() == [0, 0, 1, 1, 1, 1]
    cuts, _ = block_cuts(30, [np.arange(3, 6)], block_days=21)  # short stretches stay whole
    assert cuts.tolist() == [0, 3, 6, 30]


# ----------------------------------------------------------------------------- the null


@pytest.mark.parametrize("metric,regime,with_untuned", [
    ("sharpe", False, True), ("sharpe", True, True), ("sharpe", False, False),
    ("information_ratio", False, True), ("sortino", True, True)])
def test_unit_signs_without_demeaning_reproduce_the_tune(metric, regime, with_untuned):
    """All signs +1 and no demeaning: the null's one run is the real tune, selected and scored
    by a plain numpy loop (or window_metrics for sortino) on the real returns."""
    r, untuned, rf = noise_market(1, t=900, n=12, edge=2e-4)
    folds = folds_of(len(r), 300, 150)
    ref = untuned if with_untuned else rf
    mask = (np.arange(len(r)) % 3 != 0) if regime else None
    keep = np.ones(len(r), bool) if mask is None else mask
    chosen = []
    train_scores = []
    for f in folds:
        rows = f.train[keep[f.train]]
        if metric == "sortino":
            s = window_metrics(np.ascontiguousarray(r.T), rf, [rows])[0, :, 1]
        else:
            x = r[rows] - (ref[rows] if metric == "information_ratio" else rf[rows])[:, None]
            s = plain_sharpe(x)
        chosen.append(int(np.argmax(s)))
        train_scores.append(s)
    best = int(np.argmax(np.mean(train_scores, axis=0)))
    v = assess(r, None if not with_untuned else untuned, folds, rf=rf, chosen=chosen, best=best,
               fold_rank_corr=[0.0] * len(folds), in_regime=mask, regime="x" if regime else None, null_runs=0,
               n_splits=4)
    gross = np.concatenate([r[f.test, c] - ref[f.test] for f, c in zip(folds, chosen, strict=True)])
    cuts, _ = block_cuts(len(r), [f.train for f in folds] + [f.test for f in folds])
    null = noise_null(r, ref, rf, folds, runs=1, seed=0, n_eff=v.deflated[0].n_eff, observed_dsr=v.deflated[0].dsr,
                      observed_oos_bp=0.0, metric=metric, in_regime=mask, demean=False,
                      signs=np.ones((1, len(cuts) - 1)))
    assert null.chosen[0].tolist() == chosen and int(null.best[0]) == best
    assert null.dsr[0] == pytest.approx(v.deflated[0].dsr, rel=1e-9, abs=1e-12)
    assert null.oos_bp[0] == pytest.approx(gross.mean() * 252 * 1e4, rel=1e-9)
    assert null.method == ("window metrics" if metric == "sortino" else "block sums")


def test_noise_gives_roughly_uniform_p_values_over_seeds():
    """40 markets without skill: the null's p-values of the deflated Sharpe and of the OOS gain
    are uniform (KS test), and below 0.05 about 5% of the time."""
    p_dsr, p_oos = [], []
    for seed in range(40):
        r, untuned, rf = noise_market(100 + seed)
        v = assess(r, untuned, folds_of(len(r), 250, 125), rf=rf, null_runs=99, seed=seed, n_splits=4)
        p_dsr.append(v.null.p_dsr)
        p_oos.append(v.null.p_oos)
        assert v.headline != "evidence that tuning helps" or min(v.null.p_dsr, v.null.p_oos) <= 0.05
    for p in (np.array(p_dsr), np.array(p_oos)):
        assert sps.kstest(p, "uniform").pvalue > 0.01, np.round(np.sort(p), 2)
        assert 0.35 < p.mean() < 0.65 and (p <= 0.05).mean() <= 0.15


def test_planted_skill_gets_small_p_values_and_a_green_verdict():
    r, untuned, rf = noise_market(7, t=1000, edge=4e-4)  # variant 3: +10%/yr over the untuned, IR ~ 2
    v = assess(r, untuned, folds_of(len(r), 250, 125), rf=rf, null_runs=199, seed=3, n_splits=4)
    assert v.null.p_dsr <= 0.05 and v.null.p_oos <= 0.05, v.text
    assert (v.null.best != 3).mean() > 0.8  # under the null the planted variant is no longer special
    assert v.level == "green" and v.headline == "evidence that tuning helps"


def test_null_is_reproducible_and_seeded():
    r, untuned, rf = noise_market(5)
    f = folds_of(len(r), 250, 125)
    a = noise_null(r, untuned, rf, f, runs=50, seed=1, n_eff=3.0, observed_dsr=0.5, observed_oos_bp=0.0)
    b = noise_null(r, untuned, rf, f, runs=50, seed=1, n_eff=3.0, observed_dsr=0.5, observed_oos_bp=0.0)
    c = noise_null(r, untuned, rf, f, runs=50, seed=2, n_eff=3.0, observed_dsr=0.5, observed_oos_bp=0.0)
    assert np.array_equal(a.dsr, b.dsr) and np.array_equal(a.oos_bp, b.oos_bp)
    assert not np.array_equal(a.oos_bp, c.oos_bp)
    assert a.p_oos == (1 + np.sum(a.oos_bp >= 0.0)) / 51


@pytest.mark.parametrize("bad", [-1, 10_001, 2.5, "5", True])
def test_null_runs_out_of_range_is_a_sweep_error(bad):
    with pytest.raises(SweepError, match="--null-runs"):
        check_null_runs(bad)
    assert check_null_runs(0) == 0 and check_null_runs(10_000) == 10_000


# ----------------------------------------------------------------------------- PBO, active vs total


def test_pbo_on_active_returns_differs_from_total_by_hand():
    """Two variants around an untuned strategy u: X = u + a, Y = u - a, with u = 0.01 - 0.9 a.
    On total returns X = 0.01 + 0.1 a always has the higher Sharpe ratio (PBO 0); on active
    returns (a, -a; block means 4, 1, -2, -3) the in-sample winner loses out of sample in
    every one of the C(4, 2) = 6 splits (PBO 1)."""
    s = 5e-4
    a = np.concatenate([m * 1e-3 + np.array([s, -s, s, -s]) for m in (4, 1, -2, -3)])
    u = 0.01 - 0.9 * a
    r = np.column_stack([u + a, u - a])
    v = assess(r, u, [Fold(np.arange(8), np.arange(8, 16))], rf=np.zeros(16), n_splits=4, null_runs=0)
    assert v.pbo_splits == 4 and len(v.logits) == len(v.logits_active) == 6
    assert v.pbo == 0.0 and np.allclose(v.logits, math.log(2.0))  # winner ranks 2 of 2: ω = 2/3
    assert v.pbo_active == 1.0 and np.allclose(v.logits_active, math.log(0.5))  # ω = 1/3
    assert "PBO 1.00 on active returns, 0.00 on total returns" in v.text
    assert v.to_dict()["pbo_active"] == 1.0 and v.to_dict()["pbo"] == 0.0


# ----------------------------------------------------------------------------- CPCV


def test_cpcv_splits_and_paths_by_hand():
    """N = 4 groups of 5 rows, K = 2, purge 1 day, embargo 2 days."""
    assert group_bounds(20, 4) == [(0, 5), (5, 10), (10, 15), (15, 20)]
    assert group_bounds(22, 4) == [(0, 6), (6, 12), (12, 17), (17, 22)]
    splits = cpcv_splits(20, 4, 2, purge=1, embargo=2)
    assert [s.test_groups for s in splits] == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    by = {s.test_groups: s for s in splits}
    # test groups 0 and 2: rows 0-4 and 10-14; purge row 9 (before group 2), embargo rows 5, 6 and 15, 16
    assert by[(0, 2)].test.tolist() == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]
    assert by[(0, 2)].train.tolist() == [7, 8, 17, 18, 19]
    assert by[(1, 2)].train.tolist() == [0, 1, 2, 3, 17, 18, 19]  # purge row 4, embargo 15, 16
    assert by[(2, 3)].train.tolist() == list(range(9))  # purge row 9; nothing after group 3
    assert by[(0, 1)].train.tolist() == [12, 13, 14, 15, 16, 17, 18, 19]  # embargo 10, 11
    # paths: C(4,2) * 2 / 4 = 3; group g's test returns come from its 1st, 2nd, 3rd split
    paths = cpcv_paths(4, 2)
    assert paths.tolist() == [[0, 0, 1, 2], [1, 3, 3, 4], [2, 4, 5, 5]]
    for n, k in [(6, 2), (5, 3), (8, 4)]:
        p = cpcv_paths(n, k)
        assert p.shape == (math.comb(n, k) * k // n, n)
        combos = [s.test_groups for s in cpcv_splits(10 * n, n, k, 0, 0)]
        assert all(g in combos[p[i, g]] for i in range(len(p)) for g in range(n))
        assert np.array_equal(np.bincount(p.ravel()), np.full(math.comb(n, k), k))  # each split used K times


def test_run_cpcv_against_a_plain_loop():
    rng = np.random.default_rng(3)
    t, n = 200, 5
    r = rng.normal(2e-4, 0.01, (t, n)) + np.linspace(-3e-4, 3e-4, n)
    rf = np.full(t, 1e-5)
    ref = rng.normal(1e-4, 0.008, t)
    spec = CpcvSpec(5, 2, purge=3, embargo=4, text="cpcv:5,2,purge=3,embargo=4")
    res = run_cpcv(r, rf, ref, spec, variant_ids=np.arange(10, 15), reference_name="u")
    assert (res.n_splits, res.n_paths, res.purge, res.embargo) == (10, 4, 3, 4)
    bounds = [(0, 40), (40, 80), (80, 120), (120, 160), (160, 200)]
    chosen = []
    for combo in [(a, b) for a in range(5) for b in range(a + 1, 5)]:
        train = np.ones(t, bool)
        for g in combo:
            lo, hi = bounds[g]
            train[max(0, lo - 3) : hi + 4] = False
        chosen.append(int(np.argmax(plain_sharpe(r[train] - rf[train, None]))))
    assert res.chosen.tolist() == [c + 10 for c in chosen]
    for i, row in enumerate(cpcv_paths(5, 2)):
        track = np.concatenate([r[lo:hi, chosen[s]] for (lo, hi), s in zip(bounds, row, strict=True)])
        ex = track - rf
        assert res.sharpe[i] == pytest.approx(ex.mean() / ex.std(ddof=1) * math.sqrt(252), rel=1e-12)
        assert res.active_bp[i] == pytest.approx((track - ref).mean() * 252e4, rel=1e-12)
    frame = res.frame()
    assert frame["variants"].iloc[0] == ";".join(str(chosen[s] + 10) for s in cpcv_paths(5, 2)[0])
    assert res.to_dict()["sharpe"]["median"] == pytest.approx(float(np.median(res.sharpe)))


@pytest.mark.parametrize("text,needle", [
    ("cpcv:6", "expected cpcv:N,K"), ("kfold:6,2", "expected cpcv:N,K"), ("cpcv:2,1", "N=2"),
    ("cpcv:6,0", "K=0"), ("cpcv:6,6", "K=6"), ("cpcv:20,10", "C(20,10)"),
    ("cpcv:6,2,purge=253", "purge=253"), ("cpcv:6,2,gap=3", "'gap'"), ("cpcv:6,2,purge=1,purge=2", "'purge'")])
def test_parse_cv_errors(text, needle):
    with pytest.raises(SweepError, match=f"--cv .*{needle.replace('(', '.').replace(')', '.')}"):
        parse_cv(text)


def test_parse_cv_defaults_and_gaps():
    spec = parse_cv(" cpcv:6, 2 ")
    assert (spec.groups, spec.test_groups, spec.purge, spec.embargo) == (6, 2, None, None)
    assert spec.gaps(3903) == (21, 40)  # purge one month of days, embargo ceil(1% of the days)
    assert parse_cv("CPCV:8,2,embargo=0,purge=5").gaps(1000) == (5, 0)
    r = np.random.default_rng(0).normal(0, 0.01, (100, 3))
    with pytest.raises(SweepError, match="shorter than 20 days"):
        run_cpcv(r, np.zeros(100), np.zeros(100), parse_cv("cpcv:6,2"))
