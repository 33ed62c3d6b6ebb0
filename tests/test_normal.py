"""backtest.stats.normal_cdf / normal_ppf (standard library) against scipy.special.ndtr / ndtri.

The standard normal CDF and its inverse come from the standard library (``math.erfc``,
``statistics.NormalDist``) so that the tuner's path never imports ``scipy.special``; they
replace a port of scipy's Cephes code. They agree with scipy within 2.3e-16 (CDF, absolute,
and a relative 1e-12 down to the far lower tail) and 8 ulp (inverse: a relative 1.1e-15;
two rational approximations, Wichura's AS241 and Cephes'), with scipy's conventions at 0, 1,
±inf and NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr as sp_ndtr
from scipy.special import ndtri as sp_ndtri

from backtest.stats import normal_cdf, normal_ppf


def test_cdf_within_2e16_of_scipy_everywhere_and_accurate_in_the_tails():
    rng = np.random.default_rng(20261201)
    xs = np.concatenate([np.linspace(-38.0, 38.0, 100_001), rng.normal(0.0, 3.0, 50_000),
                         [0.0, -0.0, 1e-300, 1.0, -1.0, math.sqrt(2.0), -math.sqrt(2.0)]])
    mine = np.array([normal_cdf(x) for x in xs.tolist()])
    ref = sp_ndtr(xs)
    assert np.abs(mine - ref).max() <= 2.3e-16
    tail = ref > 0
    assert (np.abs(mine - ref)[tail] / ref[tail]).max() < 1e-12  # Φ(-37) ~ 6e-300, not 0


def test_ppf_within_eight_ulp_of_scipy():
    rng = np.random.default_rng(7)
    ps = np.concatenate([np.linspace(0.0, 1.0, 100_001)[1:-1], rng.uniform(0.0, 1.0, 50_000),
                         10.0 ** -rng.uniform(0.0, 300.0, 20_000), 1.0 - 10.0 ** -rng.uniform(1.0, 15.0, 20_000),
                         [0.5, 0.95, 0.975, 0.13533528323661269189, 1e-300, 5e-324]])
    mine = np.array([normal_ppf(p) for p in ps.tolist()])
    ref = sp_ndtri(ps)
    ulp = np.spacing(np.abs(ref))
    assert (np.abs(mine - ref) <= 8 * ulp).all(), ps[np.abs(mine - ref) > 8 * ulp][:3]
    nonzero = ref != 0
    assert (np.abs(mine - ref)[nonzero] / np.abs(ref[nonzero])).max() < 1.1e-15


def test_scipys_conventions_at_the_edges():
    assert normal_cdf(0.0) == 0.5 and normal_ppf(0.5) == 0.0
    assert normal_cdf(math.inf) == 1.0 and normal_cdf(-math.inf) == 0.0 and math.isnan(normal_cdf(math.nan))
    assert normal_ppf(0.0) == -math.inf and normal_ppf(1.0) == math.inf
    for bad in (-0.5, 1.5, math.nan, math.inf, -math.inf):
        assert math.isnan(normal_ppf(bad)) and math.isnan(sp_ndtri(bad))
    assert normal_ppf(0.975) == pytest.approx(1.959963984540054, rel=1e-15)  # the familiar 1.96
    assert normal_cdf(1.959963984540054) == pytest.approx(0.975, rel=1e-15)
    assert normal_cdf(1) == float(sp_ndtr(1.0)) and isinstance(normal_ppf(0.3), float)  # ints accepted
