"""The Fed balance-sheet regime calendar: re-exported from :mod:`backtest.data.regime_calendar`.

The calendar is data (the sample market labels its days with it), so it lives in the data
layer; the regime models import it from here.
"""

from __future__ import annotations

from backtest.constants import REGIME_KINDS
from backtest.data.regime_calendar import DEFAULT_CALENDAR, Regime, RegimeCalendar, load_calendar

__all__ = ["DEFAULT_CALENDAR", "REGIME_KINDS", "Regime", "RegimeCalendar", "load_calendar"]
