"""The cash-rate series: one convention (bond-equivalent yield) for every simulator.

FRED's DTB3 is a 3-month T-bill *discount* yield ``d``; DGS3MO is a constant-maturity
3-month *bond-equivalent* yield. The cash rate is DTB3 converted to a bond-equivalent
yield,

    BEY = 365 * d / (360 - d * t),   d in decimal, t = 91 days to maturity,

with DGS3MO (already bond-equivalent, no conversion) used only where DTB3 is missing.
:func:`backtest.regimes.signals` (calendar form) and
:mod:`backtest.synthetic.labels.path_signals` (per path) both call :func:`combine_cash_rate`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Days to maturity of a 3-month bill in the discount-to-BEY conversion.
BILL_DAYS = 91


def discount_to_bey(d_pct: np.ndarray | pd.Series | float, days: int = BILL_DAYS) -> np.ndarray | pd.Series | float:
    """Bond-equivalent yield of a T-bill discount yield.

    Parameters
    ----------
    d_pct : array-like or float
        Discount yield in percent a year (DTB3). NaN stays NaN.
    days : int
        Days to maturity ``t`` (91 for a 3-month bill).

    Returns
    -------
    Same type as ``d_pct``
        ``100 * 365 * d / (360 - d * t)`` with ``d = d_pct / 100``, percent a year.
    """
    d = d_pct / 100.0
    return 100.0 * 365.0 * d / (360.0 - d * days)


def combine_cash_rate(dtb3_pct: np.ndarray | pd.Series | None,
                      dgs3mo_pct: np.ndarray | pd.Series | None) -> np.ndarray | pd.Series | None:
    """The cash rate: DTB3 as a bond-equivalent yield, DGS3MO where DTB3 is missing.

    Parameters
    ----------
    dtb3_pct : array-like or None
        DTB3 (discount yield, percent) on the rows, NaN where not known/fresh.
    dgs3mo_pct : array-like or None
        DGS3MO (bond-equivalent, percent) on the same rows; used as is.

    Returns
    -------
    array-like or None
        Percent a year (bond-equivalent); None when neither series is given.
    """
    if dtb3_pct is None:
        return dgs3mo_pct
    bey = discount_to_bey(dtb3_pct)
    if dgs3mo_pct is None:
        return bey
    if isinstance(bey, pd.Series):
        return bey.fillna(dgs3mo_pct)
    return np.where(np.isnan(bey), dgs3mo_pct, bey)
