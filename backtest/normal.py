"""The standard normal CDF and its inverse, bit-identical to ``scipy.special.ndtr``/``ndtri``.

A plain-Python port of the Cephes algorithms that SciPy evaluates (``xsf::cephes::ndtr``,
``erf``, ``erfc`` and ``ndtri``): the same rational approximations, constants, branch
thresholds and Horner evaluation order (``polevl``/``p1evl``), so every result carries
the same rounding as SciPy's. It exists so that :mod:`backtest.stats` (and the tuner's
verdict) need not import ``scipy.special`` (~0.15-0.2 s at start-up). ``exp``, ``log`` and
``sqrt`` come from :mod:`math` (the C library, as SciPy's compiled code uses).
``tests/test_normal.py`` checks bit-identity against SciPy over ~10^6 points.

Scalar functions; they return ``numpy.float64`` as ``scipy.special`` does for a scalar.

References
----------
Moshier, S. L. Cephes Math Library, release 2.2 (1992): ``ndtr.c``, ``ndtri.c``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ndtr", "ndtri"]

_F64 = np.float64
_SQRT1_2 = 0.70710678118654752440  # M_SQRT1_2
_MAXLOG = 7.097827128933839730962063185871e2  # log(DBL_MAX)
_SQRT2PI = 2.506628274631000502415765284811045253007  # sqrt(2 pi)
_EXP_M2 = 0.13533528323661269189  # exp(-2), the branch point of ndtri
_ONE_M_EXP_M2 = 1.0 - _EXP_M2

# erfc, 1 <= x < 8: P (degree 8) / Q (degree 8, leading 1 omitted)
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)
# erfc, x >= 8: R (degree 5) / S (degree 6, leading 1 omitted)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
      6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)
# erf, |x| <= 1: x T(x^2) (degree 4) / U(x^2) (degree 5, leading 1 omitted)
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)
# ndtri, |y - 0.5| <= 3/8: P0 (degree 4) / Q0 (degree 8, leading 1 omitted)
_P0 = (-5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1,
       1.39312609387279679503e1, -1.23916583867381258016e0)
_Q0 = (1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1,
       -2.25462687854119370527e2, 2.00260212380060660359e2, -8.20372256168333339912e1,
       1.59056225126211695515e1, -1.18331621121330003142e0)
# ndtri, z = sqrt(-2 log y) in [2, 8): P1 / Q1 (degree 8 each, Q1's leading 1 omitted)
_P1 = (4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1,
       4.40805073893200834700e1, 1.46849561928858024014e1, 2.18663306850790267539e0,
       -1.40256079171354495875e-1, -3.50424626827848203418e-2, -8.57456785154685413611e-4)
_Q1 = (1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1,
       1.50425385692907503408e1, 2.50464946208309415979e0, -1.42182922854787788574e-1,
       -3.80806407691578277194e-2, -9.33259480895457427372e-4)
# ndtri, z in [8, 64): P2 / Q2
_P2 = (3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0,
       1.33303460815807542389e0, 2.01485389549179081538e-1, 1.23716634817820021358e-2,
       3.01581553508235416007e-4, 2.65806974686737550832e-6, 6.23974539184983293730e-9)
_Q2 = (6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0,
       2.16236993594496635890e-1, 1.34204006088543189037e-2, 3.28014464682127739104e-4,
       2.89247864745380683936e-6, 6.79019408009981274425e-9)


def _polevl(x: float, c: tuple[float, ...]) -> float:
    """``c[0] x^N + ... + c[N]`` by Horner's rule, in Cephes ``polevl``'s order."""
    ans = c[0]
    for ci in c[1:]:
        ans = ans * x + ci
    return ans


def _p1evl(x: float, c: tuple[float, ...]) -> float:
    """``x^N + c[0] x^(N-1) + ... + c[N-1]``, in Cephes ``p1evl``'s order."""
    ans = x + c[0]
    for ci in c[1:]:
        ans = ans * x + ci
    return ans


def _erf(x: float) -> float:
    """Cephes ``erf`` (NaN handled by the caller)."""
    if x < 0.0:
        return -_erf(-x)
    if abs(x) > 1.0:
        return 1.0 - _erfc(x)
    z = x * x
    return x * _polevl(z, _T) / _p1evl(z, _U)


def _erfc(a: float) -> float:
    """Cephes ``erfc`` (NaN handled by the caller)."""
    x = -a if a < 0.0 else a
    if x < 1.0:
        return 1.0 - _erf(a)
    z = -a * a
    if z < -_MAXLOG:
        return 2.0 if a < 0 else 0.0
    z = math.exp(z)
    if x < 8.0:
        p, q = _polevl(x, _P), _p1evl(x, _Q)
    else:
        p, q = _polevl(x, _R), _p1evl(x, _S)
    y = (z * p) / q
    if a < 0:
        y = 2.0 - y
    if y != 0.0:
        return y
    return 2.0 if a < 0 else 0.0


def ndtr(a: float) -> np.float64:
    """Standard normal CDF ``Φ(a)``, bit-identical to ``scipy.special.ndtr`` (scalar).

    Parameters
    ----------
    a : float
        Argument (``±inf`` give 0 and 1; NaN gives NaN).

    Returns
    -------
    numpy.float64
        ``P(Z <= a)`` for a standard normal ``Z``.
    """
    a = float(a)
    if a != a:
        return _F64(math.nan)
    x = a * _SQRT1_2
    z = abs(x)
    if z < 1.0:
        return _F64(0.5 + 0.5 * _erf(x))
    y = 0.5 * _erfc(z)
    if x > 0:
        y = 1.0 - y
    return _F64(y)


def ndtri(y0: float) -> np.float64:
    """Inverse of the standard normal CDF ``Φ⁻¹(y0)``, bit-identical to ``scipy.special.ndtri`` (scalar).

    Parameters
    ----------
    y0 : float
        Probability in [0, 1] (0 and 1 give ``∓inf``; outside [0, 1] or NaN gives NaN).

    Returns
    -------
    numpy.float64
        ``x`` with ``Φ(x) = y0``.
    """
    y0 = float(y0)
    if y0 == 0.0:
        return _F64(-math.inf)
    if y0 == 1.0:
        return _F64(math.inf)
    if y0 < 0.0 or y0 > 1.0 or y0 != y0:
        return _F64(math.nan)
    negate = True
    y = y0
    if y > _ONE_M_EXP_M2:
        y = 1.0 - y
        negate = False
    if y > _EXP_M2:
        y = y - 0.5
        y2 = y * y
        x = y + y * (y2 * _polevl(y2, _P0) / _p1evl(y2, _Q0))
        return _F64(x * _SQRT2PI)
    x = math.sqrt(-2.0 * math.log(y))
    x0 = x - math.log(x) / x
    z = 1.0 / x
    if x < 8.0:  # y > exp(-32)
        x1 = z * _polevl(z, _P1) / _p1evl(z, _Q1)
    else:
        x1 = z * _polevl(z, _P2) / _p1evl(z, _Q2)
    x = x0 - x1
    return _F64(-x if negate else x)
