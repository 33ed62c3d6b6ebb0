"""Tests of backtest.estimators against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest import estimators as est


def _frame(seed: int = 0, t_rows: int = 120, n: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.01, size=(t_rows, 1))
    x = 2e-4 + common + rng.normal(0, 0.01, size=(t_rows, n)) * rng.uniform(0.5, 2, size=n)
    idx = pd.bdate_range("2015-01-01", periods=t_rows)
    return pd.DataFrame(x, index=idx, columns=[f"A{i}" for i in range(n)])


def test_sample_covariance_matches_numpy():
    df = _frame(1)
    cov = est.sample_covariance(df)
    assert isinstance(cov, pd.DataFrame) and list(cov.index) == list(df.columns)
    np.testing.assert_allclose(cov.to_numpy(), np.cov(df.to_numpy().T, ddof=1), rtol=1e-12)


def _ledoit_wolf_by_hand(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit & Wolf (2004), Lemma 3.2-3.4, with an explicit loop over observations."""
    t_rows, n = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t_rows
    m = np.trace(s) / n
    target = m * np.eye(n)
    d2 = np.linalg.norm(s - target, "fro") ** 2 / n
    b2_bar = 0.0
    for t in range(t_rows):
        outer = np.outer(xc[t], xc[t])
        b2_bar += np.linalg.norm(outer - s, "fro") ** 2 / n
    b2_bar /= t_rows**2
    b2 = min(b2_bar, d2)
    return b2 / d2 * target + (1 - b2 / d2) * s, b2 / d2


@pytest.mark.parametrize(("seed", "t_rows", "n"), [(2, 120, 5), (3, 30, 12), (4, 500, 3)])
def test_ledoit_wolf_matches_hand_computation(seed, t_rows, n):
    x = _frame(seed, t_rows, n).to_numpy()
    cov, shrink = est.ledoit_wolf_covariance(x)
    ref_cov, ref_shrink = _ledoit_wolf_by_hand(x)
    assert shrink == pytest.approx(ref_shrink, rel=1e-10)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-16)
    assert 0.0 <= shrink <= 1.0


def test_ledoit_wolf_matches_sklearn():
    covariance = pytest.importorskip("sklearn.covariance")
    x = _frame(5, 80, 10).to_numpy()
    cov, shrink = est.ledoit_wolf_covariance(x)
    ref_cov, ref_shrink = covariance.ledoit_wolf(x)
    assert shrink == pytest.approx(ref_shrink, rel=1e-10)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-16)


def test_ewma_matches_plain_pandas_loop():
    df = _frame(6, 60, 4)
    halflife = 10.0
    got = est.ewma_covariance(df, halflife)
    # plain loop: weight 0.5 ** (age / halflife), normalised
    lam = 0.5 ** (1 / halflife)
    t_rows = len(df)
    weights = pd.Series([lam ** (t_rows - 1 - i) for i in range(t_rows)], index=df.index)
    weights /= weights.sum()
    mean = pd.Series(0.0, index=df.columns)
    for date, row in df.iterrows():
        mean += weights[date] * row
    ref = pd.DataFrame(0.0, index=df.columns, columns=df.columns)
    for date, row in df.iterrows():
        dev = row - mean
        ref += weights[date] * np.outer(dev, dev)
    pd.testing.assert_frame_equal(got, ref, rtol=1e-12, atol=1e-18)
    # and pandas' own EWM (adjust=True, bias=True), last date
    ewm = df.ewm(halflife=halflife, adjust=True).cov(bias=True).loc[df.index[-1]]
    np.testing.assert_allclose(got.to_numpy(), ewm.to_numpy(), rtol=1e-10)


def test_ewma_weights_halve_every_halflife():
    w = est.ewma_weights(41, 20.0)
    assert w.sum() == pytest.approx(1.0)
    assert w[-21] / w[-1] == pytest.approx(0.5)
    assert w[0] / w[-1] == pytest.approx(0.25)


def test_psd_factor_reconstructs():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(6, 6))
    pd_cov = a @ a.T
    f = est.psd_factor(pd_cov)
    np.testing.assert_allclose(f @ f.T, pd_cov, rtol=1e-12, atol=1e-12)
    low_rank = a[:, :2] @ a[:, :2].T  # rank 2: Cholesky fails, eigen path
    f = est.psd_factor(low_rank)
    assert f.shape == (6, 6)
    np.testing.assert_allclose(f @ f.T, low_rank, atol=1e-10)


def test_trailing_and_shrunk_mean():
    df = _frame(8)
    m = est.trailing_mean(df)
    np.testing.assert_allclose(m.to_numpy(), df.to_numpy().sum(axis=0) / len(df))
    grand = m.mean()
    pd.testing.assert_series_equal(est.shrink_mean(m, grand, 0.0), m)
    np.testing.assert_allclose(est.shrink_mean(m, grand, 1.0).to_numpy(), grand)
    half = est.shrink_mean(m, grand, 0.25)
    np.testing.assert_allclose(half.to_numpy(), 0.75 * m.to_numpy() + 0.25 * grand)
    with pytest.raises(ValueError):
        est.shrink_mean(m, grand, 1.5)


def test_regime_mean_by_hand():
    df = _frame(9, 10, 2)
    labels = pd.Series(
        ["QE", "QT", "QE", "QE", "QT", "RMP", "QE", "QT", "QE", "QT"], index=df.index
    )
    got, n_rows = est.regime_mean(df, labels, "QE", k=4.0)
    rows = [0, 2, 3, 6, 8]
    assert n_rows == 5
    reg = df.iloc[rows].sum() / 5
    allm = df.sum() / 10
    pd.testing.assert_series_equal(got, 5 / 9 * reg + 4 / 9 * allm)
    # current defaults to the last label
    got_last, n_last = est.regime_mean(df, labels, None, k=0.0)
    assert n_last == 4
    pd.testing.assert_series_equal(got_last, df.iloc[[1, 4, 7, 9]].mean())
    # unseen regime -> all-regime mean
    got_none, n_none = est.regime_mean(df, labels, "ZIRP", k=4.0)
    assert n_none == 0
    pd.testing.assert_series_equal(got_none, df.mean())


def test_regime_mean_uses_only_rows_passed():
    df = _frame(10, 40, 3)
    window = df.iloc[:25]
    labels = pd.Series(np.where(np.arange(40) % 2 == 0, "QE", "QT"), index=df.index)
    got, n_rows = est.regime_mean(window, labels, "QE", k=5.0)
    assert n_rows == 13
    future = df.copy()
    future.iloc[25:] = 1.0  # wild data after the window must not matter
    again, _ = est.regime_mean(future.iloc[:25], labels, "QE", k=5.0)
    pd.testing.assert_series_equal(got, again)
    # labels given only for the window give the same answer as labels for all dates
    trimmed, _ = est.regime_mean(window, labels.iloc[:25], "QE", k=5.0)
    pd.testing.assert_series_equal(got, trimmed)


def test_black_litterman_matches_textbook_form():
    rng = np.random.default_rng(11)
    a = rng.normal(size=(4, 8)) * 0.1
    sigma = a @ a.T + 0.01 * np.eye(4)
    prior = np.array([0.05, 0.04, 0.06, 0.03])
    p = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    q = np.array([0.02, 0.10])
    tau = 0.05
    omega = np.diag([0.001, 0.002])
    got = est.black_litterman(prior, sigma, p, q, omega, tau=tau)
    ts_inv = np.linalg.inv(tau * sigma)
    o_inv = np.linalg.inv(omega)
    ref = np.linalg.inv(ts_inv + p.T @ o_inv @ p) @ (ts_inv @ prior + p.T @ o_inv @ q)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    # He–Litterman default omega
    got_hl = est.black_litterman(prior, sigma, p, q, tau=tau)
    omega_hl = np.diag(np.diag(p @ (tau * sigma) @ p.T))
    o_inv = np.linalg.inv(omega_hl)
    ref_hl = np.linalg.inv(ts_inv + p.T @ o_inv @ p) @ (ts_inv @ prior + p.T @ o_inv @ q)
    np.testing.assert_allclose(got_hl, ref_hl, rtol=1e-10)
    # near-certain views are met
    sure = est.black_litterman(prior, sigma, p, q, np.eye(2) * 1e-12, tau=tau)
    np.testing.assert_allclose(p @ sure, q, atol=1e-8)


def test_view_matrices_and_implied_returns():
    p, q = est.view_matrices(pd.Series({"B": 0.1, "D": np.nan}), ["A", "B", "C"])
    np.testing.assert_array_equal(p, [[0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(q, [0.1])
    with pytest.raises(KeyError):
        est.view_matrices(pd.Series({"Z": 0.1}), ["A"])
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    np.testing.assert_allclose(est.implied_returns(cov, np.array([0.5, 0.5]), 2.0), [0.05, 0.1])


def test_annualise():
    assert est.annualise_mean(np.array([0.001]))[0] == pytest.approx(0.252)
    assert est.annualise_cov(np.array([[1e-4]]))[0, 0] == pytest.approx(0.0252)
