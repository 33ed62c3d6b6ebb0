"""The built-in ``sample`` market and the per-regime parametric generator (no network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter

from backtest.config import DEFAULT_UNIVERSE
from backtest.data import sample as sample_mod
from backtest.data.market_model import (
    JOINT_MACRO,
    MACRO_SERIES,
    REGIME_KINDS,
    simulate,
    simulate_paths,
    simulate_returns,
)
from backtest.data.market_model.draws import ar1
from backtest.data.sample import SampleSource, load_calibration, sample_calendar, sample_regimes
from backtest.errors import DataError, RegimeError

ROOT = Path(__file__).resolve().parents[1]
UNIVERSE = list(DEFAULT_UNIVERSE)


@pytest.fixture(scope="module")
def calib() -> dict:
    return load_calibration()


def block_path(days_per_kind: int, start: str = "2030-01-01") -> pd.Series:
    """A synthetic regime path: one block of each kind, in REGIME_KINDS order."""
    kinds = np.repeat(np.array(REGIME_KINDS, dtype=object), days_per_kind)
    return pd.Series(kinds, index=pd.bdate_range(start, periods=len(kinds)))


# --------------------------------------------------------------------------- calibration


def test_calibration_is_small_and_well_formed(calib: dict) -> None:
    assert sample_mod.CALIBRATION_PATH.stat().st_size < 300_000
    cols = calib["joint"]["columns"]
    assert cols[: len(UNIVERSE)] == UNIVERSE and tuple(cols[-len(JOINT_MACRO) :]) == JOINT_MACRO
    for kind in REGIME_KINDS:
        r = calib["joint"]["regimes"][kind]
        c = np.asarray(r["corr"])
        assert c.shape == (len(cols), len(cols))
        np.testing.assert_allclose(c, c.T)
        np.testing.assert_allclose(np.diag(c), 1.0)
        assert np.linalg.eigvalsh(c).min() > 0  # PSD after eigenvalue clipping
        assert 3.0 <= r["dof"] <= 30.0
        assert all(v > 0 for v in r["vol"])


# --------------------------------------------------------------------------- moments


def test_joint_moments_match_calibration_per_regime(calib: dict) -> None:
    """Means, vols and correlations of the joint draw (returns + macro innovations).

    Draws are iid given the regime, so with n draws per kind the standard errors are
    mean: sigma/sqrt(n); std: sigma/2 * sqrt((k + 2)/n); corr (elliptical law):
    (1 - rho^2) * sqrt((1 + k/3)/n), with k = 6/(nu - 4) the t excess kurtosis. The
    tolerance is 5 standard errors: about 1,200 comparisons, so by Bonferroni a false
    alarm has probability < 1e-3 (and the seed is fixed, so the test is deterministic).
    The 1e-6 slack covers the 8-digit rounding of the stored values.
    """
    regimes = block_path(2500)
    sp = simulate_paths(calib, regimes, np.random.default_rng(11), paths=40)
    x = np.concatenate([sp.returns, sp.innovations], axis=2)
    cols = calib["joint"]["columns"]
    for i, kind in enumerate(REGIME_KINDS):
        r = calib["joint"]["regimes"][kind]
        d = x[:, sp.regimes == i].reshape(-1, len(cols))
        n = d.shape[0]
        mu, sd, rho = np.asarray(r["mean"]), np.asarray(r["vol"]), np.asarray(r["corr"])
        k = 6.0 / (r["dof"] - 4.0) if r["dof"] > 4.5 else 12.0
        z_mean = (d.mean(0) - mu) / (sd / np.sqrt(n))
        z_vol = (d.std(0) - sd) / (sd / 2 * np.sqrt((k + 2) / n))
        emp = np.corrcoef(d, rowvar=False)
        se_c = (1 - rho**2) * np.sqrt((1 + k / 3) / n) + 1e-6
        z_corr = (emp - rho) / se_c
        assert np.abs(z_mean).max() < 5, (kind, cols[int(np.abs(z_mean).argmax())], z_mean.max())
        assert np.abs(z_vol).max() < 5, (kind, cols[int(np.abs(z_vol).argmax())])
        worst = np.unravel_index(np.abs(z_corr).argmax(), z_corr.shape)
        assert np.abs(z_corr).max() < 5, (kind, cols[worst[0]], cols[worst[1]], z_corr[worst])


def test_return_distribution_has_fat_tails(calib: dict) -> None:
    """The common chi-square mixing gives excess kurtosis near 6/(nu - 4) (> 0)."""
    sp = simulate_returns(
        calib, block_path(2000), np.random.default_rng(3), paths=20, tickers=["SPY"]
    )
    x = sp[:, :2000, 0].ravel()  # qe block
    z = (x - x.mean()) / x.std()
    assert np.mean(z**4) - 3 > 2.0


def test_simulate_returns_matches_paths_and_selection(calib: dict) -> None:
    regimes = block_path(60)
    full = simulate_returns(calib, regimes, np.random.default_rng(5), paths=7)
    assert full.shape == (7, 240, len(calib["assets"]["tickers"]))
    sub = simulate_returns(
        calib, regimes, np.random.default_rng(5), paths=7, tickers=["TLT", "SPY"]
    )
    np.testing.assert_array_equal(sub, full[..., [10, 0]])
    sp = simulate_paths(calib, regimes, np.random.default_rng(5), paths=7)
    np.testing.assert_array_equal(sp.returns, full)
    multi = simulate(calib, regimes, np.random.default_rng(5), tickers=["SPY"], paths=7)
    np.testing.assert_array_equal(multi.returns[..., 0], full[..., 0])


# --------------------------------------------------------------------------- sample source


def test_same_seed_identical_different_seed_differs() -> None:
    sample_mod._generate.cache_clear()
    a = SampleSource(7).load(UNIVERSE, list(MACRO_SERIES), None, None)
    sample_mod._generate.cache_clear()
    b = SampleSource(7).load(UNIVERSE, list(MACRO_SERIES), None, None)
    assert a.prices.to_numpy().tobytes() == b.prices.to_numpy().tobytes()
    assert a.fingerprint() == b.fingerprint()
    c = SampleSource(8).load(UNIVERSE, list(MACRO_SERIES), None, None)
    assert not np.allclose(a.prices["SPY"].to_numpy(), c.prices["SPY"].to_numpy())
    assert a.fingerprint()["macro:VIX"] != c.fingerprint()["macro:VIX"]
    assert a.synthetic and a.source == "sample (synthetic market, seed 7)"


def test_subset_of_tickers_and_dates_does_not_change_values() -> None:
    full = SampleSource(7).load(UNIVERSE + ["XLK", "VXX"], ["VIX", "DGS10"], None, None)
    sub = SampleSource(7).load(
        ["TLT", "SPY"], ["DGS10"], pd.Timestamp("2015-01-01"), pd.Timestamp("2016-12-31")
    )
    exp = full.prices.loc["2015-01-01":"2016-12-31", ["TLT", "SPY"]]
    pd.testing.assert_frame_equal(sub.prices, exp, check_exact=True)
    assert list(sub.macro) == ["DGS10"]
    m = full.macro["DGS10"].values
    pd.testing.assert_series_equal(
        sub.macro["DGS10"].values, m[m.index <= "2016-12-31"], check_exact=True
    )


def test_generation_from_a_cold_cache() -> None:
    sample_mod._generate.cache_clear()  # its speed: benchmarks/bench_test_timings.py
    md = SampleSource(123).load(UNIVERSE, list(MACRO_SERIES), None, None)
    assert list(md.prices.columns) == list(UNIVERSE)


def test_calendar_late_starts_and_frequencies(calib: dict) -> None:
    md = SampleSource().load(UNIVERSE + ["VXX"], list(MACRO_SERIES), None, None)
    days = md.calendar
    assert len(days) == calib["calendar"]["n_days"] == len(sample_calendar(calib))
    assert days[0] == pd.Timestamp("2008-01-02") and days[-1] == pd.Timestamp("2026-07-13")
    assert (days.day_of_week < 5).all() and days.is_unique and days.is_monotonic_increasing
    assert (
        pd.Timestamp("2025-12-25") not in days and pd.Timestamp("2012-10-29") not in days
    )  # Sandy
    p = md.prices
    for t, first in (("SVXY", "2011-10-04"), ("VIXY", "2011-01-04"), ("VXX", "2018-01-25")):
        assert p.loc[p.index < first, t].isna().all()
        assert p.loc[p.index >= first, t].notna().all()
    assert p.loc[:, ["SPY", "TLT", "BIL"]].notna().all().all() and (p.fillna(1.0) > 0).all().all()
    sofr = md.macro["SOFR"].values
    assert sofr.index[0] == pd.Timestamp("2018-04-03")
    assert md.macro["IORB"].values.index[0] == pd.Timestamp("2021-07-29")
    for name in ("WALCL", "WRESBAL", "TREAST", "WDTGAL"):
        assert (md.macro[name].values.index.day_of_week == 2).all()
    cpi = md.macro["CPIAUCSL"].values
    assert (cpi.index.day == 1).all() and cpi.index[0] == pd.Timestamp("2008-01-01")
    vix = md.macro["VIX"].values
    assert vix.index.equals(pd.DatetimeIndex(days, name="date"))
    assert (md.macro["DTB3"].values >= 0.01).all() and (md.macro["DGS2"].values > 0).all()
    top = md.macro["DFEDTARU"].values
    np.testing.assert_allclose((top * 4) % 1, 0.0, atol=1e-9)  # 0.25 staircase
    iorb = md.macro["IORB"].values
    np.testing.assert_allclose(iorb, top.reindex(iorb.index) - 0.10, atol=1e-9)
    # Units: H.4.1 in millions (trillions of USD -> 1e6), RRP in billions.
    assert 1.5e6 < md.macro["WALCL"].values.iloc[0] < 3e6
    assert md.macro["RRPONTSYD"].values.max() < 1e4


def test_unknown_ticker_or_series_is_named() -> None:
    with pytest.raises(DataError, match="NOPE"):
        SampleSource().load(["SPY", "NOPE"], [], None, None)
    with pytest.raises(DataError, match="FOOBAR"):
        SampleSource().load(["SPY"], ["FOOBAR"], None, None)
    with pytest.raises(RegimeError, match="boom"):
        simulate(
            load_calibration(),
            pd.Series(["qe", "boom"], index=pd.bdate_range("2030-01-01", periods=2)),
            np.random.default_rng(0),
        )


def test_regime_labels_come_from_the_calendar(calib: dict) -> None:
    reg = sample_regimes(calib)
    assert (
        reg.loc["2013-06-03"] == "qe"
        and reg.loc["2023-06-01"] == "qt"
        and reg.loc["2026-01-05"] == "rmp"
    )
    assert set(reg.unique()) == set(REGIME_KINDS)


# --------------------------------------------------------------------------- plausibility


def test_regime_signatures(calib: dict) -> None:
    """Sign relations of the calibration show up in simulated macro levels per regime."""
    n_days = 1260
    sp = simulate_paths(calib, block_path(n_days), np.random.default_rng(21), paths=20)
    settled = np.zeros(len(sp.days), dtype=bool)
    for i in range(len(REGIME_KINDS)):  # drop each block's first 250 days (transients)
        settled[i * n_days + 250 : (i + 1) * n_days] = True

    def by_kind(a: np.ndarray) -> dict[str, float]:
        return {
            k: float(a[:, settled & (sp.regimes == i)].mean()) for i, k in enumerate(REGIME_KINDS)
        }

    # Balance sheet: 13-week log change of WALCL.
    wk = pd.DatetimeIndex(sp.weekly_dates)
    wcode = sp.regimes[np.searchsorted(sp.days, wk, side="right") - 1]
    g13 = np.log(sp.weekly["WALCL"][:, 13:] / sp.weekly["WALCL"][:, :-13])
    same = wcode[13:] == wcode[:-13]
    g = {k: float(g13[:, same & (wcode[13:] == i)].mean()) for i, k in enumerate(REGIME_KINDS)}
    assert g["qe"] > 0.02 and g["qt"] < -0.01
    assert 0 < g["rmp"] < g["qe"] and abs(g["plateau"]) < 0.25 * g["qe"]
    # VIX: every ordering of regime means that the calibration has (by > 5 %).
    vix = by_kind(sp.daily["VIX"])
    m = calib["levels"]["vix"]["mean"]
    for a in REGIME_KINDS:
        for b in REGIME_KINDS:
            if m[a] - m[b] > 0.05:
                assert vix[a] > vix[b], (a, b, vix)
    # Funding: SOFR - IORB higher in qt than qe (as calibrated).
    spread = by_kind(sp.daily["SOFR"] - sp.daily["IORB"])
    assert (
        calib["levels"]["sofr_spread"]["mean"]["qt"] > calib["levels"]["sofr_spread"]["mean"]["qe"]
    )
    assert spread["qt"] > spread["qe"]
    # Rates: orderings of the 2-year yield's regime means that differ by > 1 point (qt and
    # rmp above qe and plateau in this calibration); the policy rate follows the 2-year.
    dgs2, top = by_kind(sp.daily["DGS2"]), by_kind(sp.daily["DFEDTARU"])
    m2 = calib["levels"]["dgs2"]["mean"]
    pairs = [(a, b) for a in REGIME_KINDS for b in REGIME_KINDS if m2[a] - m2[b] > 1.0]
    assert pairs
    for a, b in pairs:
        assert dgs2[a] > dgs2[b] and top[a] > top[b], (a, b, dgs2, top)
    # Levels stay plausible.
    assert sp.daily["VIX"].min() > 5 and sp.daily["VIX"].max() < 150
    assert sp.daily["DGS2"].min() >= calib["levels"]["dgs2"]["floor"] - 1e-12
    assert (sp.weekly["WRESBAL"] <= sp.weekly["WALCL"]).all()


# --------------------------------------------------------------------------- calibration script


def _shared_data() -> Path | None:
    for p in (os.environ.get("RMPBT_SHARED_DATA"), ROOT.parent / "shared" / "data"):
        if p and Path(p).is_dir() and (Path(p) / "prices" / "SPY.csv").exists():
            return Path(p)
    return None


@pytest.mark.realdata
def test_calibration_script_reproduces_committed_json(tmp_path: Path) -> None:
    data = _shared_data()
    if data is None:
        pytest.skip("real data folder not found (set RMPBT_SHARED_DATA or provide ../shared/data)")
    out = tmp_path / "calib.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "calibrate_sample.py"),
            "--data-dir",
            str(data),
            "--out",
            str(out),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    if out.read_bytes() == sample_mod.CALIBRATION_PATH.read_bytes():
        return
    # Not byte-identical: allow only last-digit float noise (another BLAS/eigensolver).
    _assert_close(json.loads(out.read_text()), load_calibration(), "calibration")


def _assert_close(a: object, b: object, where: str) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9), where
    else:
        assert a == b, where


def test_initial_levels_and_short_scenario_paths(calib: dict) -> None:
    """A scenario engine can start from today's levels and simulate a short horizon."""
    regimes = pd.Series("rmp", index=pd.bdate_range("2026-07-14", periods=3))
    ini = {"VIX": 15.0, "DGS2": 3.9, "DFEDTARU": 3.75, "WALCL": 6.7e6, "CPIAUCSL": 330.0}
    sp = simulate_paths(calib, regimes, np.random.default_rng(0), paths=4, initial=ini)
    assert sp.returns.shape == (4, 3, len(calib["assets"]["tickers"]))
    np.testing.assert_allclose(sp.daily["VIX"][:, 0], 15.0)
    np.testing.assert_allclose(sp.daily["DGS2"][:, 0], 3.9)
    np.testing.assert_allclose(sp.daily["DFEDTARU"], 3.75)
    np.testing.assert_allclose(sp.weekly["WALCL"][:, 0], 6.7e6)
    np.testing.assert_allclose(sp.monthly["CPIAUCSL"][:, 0], 330.0)
    with pytest.raises(DataError, match="NOPE"):
        simulate_paths(calib, regimes, np.random.default_rng(0), initial={"NOPE": 1.0})


def test_sample_source_does_not_import_the_scenario_package() -> None:
    """``backtest.data`` uses the market model, never ``backtest.synthetic`` (one-way layering)."""
    code = (
        "import sys\n"
        "from backtest.data.sample import SampleSource\n"
        "SampleSource(seed=3).load(['SPY'], ['VIX', 'WALCL'], None, None)\n"
        "print(sorted(m for m in sys.modules if m.startswith('backtest.synthetic')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_ar1_recursion_equals_lfilter_bit_for_bit():
    """The numpy AR(1) recursion of the market model equals scipy.signal.lfilter (the oracle)."""
    rng = np.random.default_rng(5)
    for phi in (0.0, 0.5, 0.98, 1.0):
        eps = rng.normal(size=(3, 200)) * 0.1
        target = rng.normal(size=200)
        x0 = rng.normal(size=3)
        got = ar1(x0, phi, target, eps)
        u = eps[:, 1:] + (1.0 - phi) * target[None, 1:]
        want, _ = lfilter([1.0], [1.0, -phi], u, axis=1, zi=(phi * x0)[:, None])
        assert np.array_equal(got[:, 0], x0) and np.array_equal(got[:, 1:], want)
    floored = ar1(0.0, 0.9, np.zeros(50), rng.normal(size=(2, 50)), floor=0.0)
    assert (floored >= 0).all()
    # one path (a scalar loop) equals the same path among several (the vector loop)
    for floor in (None, 0.0):
        eps = rng.normal(size=(1, 300))
        one = ar1(0.2, 0.95, np.full(300, 0.1), eps, floor=floor)
        two = ar1(0.2, 0.95, np.full(300, 0.1), np.vstack([eps, -eps]), floor=floor)
        assert np.array_equal(one[0], two[0])
        if floor is None:
            u = eps[:, 1:] + (1.0 - 0.95) * 0.1
            assert np.array_equal(one[:, 1:], lfilter([1.0], [1.0, -0.95], u, axis=1, zi=[[0.95 * 0.2]])[0])
