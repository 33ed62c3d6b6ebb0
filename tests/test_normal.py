"""backtest.normal: bit-identical to scipy.special.ndtr / ndtri (the implementation it ports)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr as sp_ndtr
from scipy.special import ndtri as sp_ndtri

from backtest.normal import ndtr, ndtri

SQRT2 = math.sqrt(2.0)


def around(v: float, k: int = 40) -> np.ndarray:
    """``v`` and its ``k`` neighbouring doubles on either side."""
    return v + np.arange(-k, k + 1) * np.spacing(v)


def same_bits(mine: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Element-wise: the same IEEE bits (so 0.0 != -0.0), any NaN equal to any NaN."""
    return (mine.view(np.int64) == ref.view(np.int64)) | (np.isnan(mine) & np.isnan(ref))


def check(fn, ref_fn, xs: np.ndarray) -> None:
    mine = np.array([fn(x) for x in xs.tolist()], dtype=float)
    ref = ref_fn(xs)
    bad = ~same_bits(mine, ref)
    assert not bad.any(), (f"{int(bad.sum())} of {len(xs)} differ, e.g. at {xs[bad][:3].tolist()}: "
                           f"{mine[bad][:3].tolist()} vs scipy {ref[bad][:3].tolist()}")


def test_ndtr_bit_identical_to_scipy_over_half_a_million_points():
    rng = np.random.default_rng(20261201)
    # ndtr's branches: |a| < sqrt(2) (erf), erfc for x = |a|/sqrt(2) in [1, 8) and >= 8, the
    # cut-off of exp(-x^2) (x^2 > MAXLOG) and the underflow of the result (a near -37.5)
    edges = [SQRT2, 8 * SQRT2, 37.519379347, math.sqrt(7.097827128933839730962063185871e2) * SQRT2]
    xs = np.concatenate([
        np.linspace(-40.0, 40.0, 200_001),
        rng.normal(0.0, 3.0, 100_000),
        rng.uniform(-40.0, 40.0, 100_000),
        rng.uniform(-1e-3, 1e-3, 20_000),
        *(around(s * e) for e in edges for s in (1.0, -1.0)),
        [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1.0, -1.0, 1e300, -1e300, np.inf, -np.inf, np.nan],
    ])
    check(ndtr, sp_ndtr, xs)


def test_ndtri_bit_identical_to_scipy_over_half_a_million_points():
    rng = np.random.default_rng(7)
    e2 = 0.13533528323661269189  # exp(-2): the branch point of ndtri (and 1 - exp(-2))
    ys = np.concatenate([
        np.linspace(0.0, 1.0, 200_001),
        rng.uniform(0.0, 1.0, 100_000),
        10.0 ** -rng.uniform(0.0, 300.0, 100_000),  # left tail, both rational approximations
        1.0 - 10.0 ** -rng.uniform(0.0, 16.0, 50_000),  # right tail
        around(e2, 200), around(1.0 - e2, 200), around(math.exp(-32.0), 200), around(0.5, 200),
        [0.0, 1.0, 1e-300, 5e-324, 1.0 - 1e-16, 1.0 - 2**-53, 2**-1074, -0.0, -0.1, 1.1, np.inf, -np.inf, np.nan],
    ])
    check(ndtri, sp_ndtri, ys)


def test_known_values_and_scalar_type():
    assert ndtr(0.0) == 0.5 and ndtri(0.5) == 0.0
    assert ndtr(np.inf) == 1.0 and ndtr(-np.inf) == 0.0 and math.isnan(ndtr(np.nan))
    assert ndtri(0.0) == -np.inf and ndtri(1.0) == np.inf
    assert math.isnan(ndtri(-0.5)) and math.isnan(ndtri(1.5)) and math.isnan(ndtri(np.nan))
    assert ndtri(0.975) == pytest.approx(1.959963984540054, rel=1e-15)  # the familiar 1.96
    assert ndtr(1.959963984540054) == pytest.approx(0.975, rel=1e-15)
    assert isinstance(ndtr(0.3), np.float64) and isinstance(ndtri(0.3), np.float64)
    assert isinstance(ndtr(1), np.float64) and ndtr(1) == sp_ndtr(1.0)  # ints accepted
