"""Regime models behind one protocol, selected by ``regimes.model`` in the config.

Every model labels trading days causally: the label of day ``t`` uses only data
released by the close of ``t``. ``calendar`` uses the Fed calendar file (public dates),
``rules`` is the threshold classifier of :mod:`backtest.regimes.rules`, ``markov`` the
Markov-switching model of :mod:`backtest.regimes.markov` (filtered probabilities only).
Labels are ``qe / plateau / qt / rmp`` in column ``regime``, with ``regime_id`` (one id
per contiguous run) and, for the data-driven models, a boolean ``stress`` overlay.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from backtest.data.base import MarketData
from backtest.errors import ConfigError
from backtest.regimes.calendar import load_calendar
from backtest.regimes.markov import MarkovModel
from backtest.regimes.rules import RulesModel


class RegimeModel(Protocol):
    """Labels each trading day with a regime kind (``qe``, ``plateau``, ``qt``, ``rmp``)."""

    name: str

    def label(self, md: MarketData, days: pd.DatetimeIndex) -> pd.DataFrame:
        """DataFrame indexed by ``days`` with at least a ``regime`` column (and ``regime_id``,
        ``stress``, probabilities where the model has them)."""
        ...


class CalendarModel:
    """Labels from the Fed balance-sheet calendar, by effective or announced date."""

    name = "calendar"

    def __init__(self, path: str | None = None, by: str = "effective") -> None:
        self.calendar = load_calendar(path)
        self.by = by

    def label(self, md: MarketData, days: pd.DatetimeIndex) -> pd.DataFrame:
        """Calendar labels (known in advance: announced/effective dates are public)."""
        return self.calendar.label(days, by=self.by)


MODELS = ("calendar", "rules", "markov")


def make_regime_model(cfg) -> RegimeModel:
    """Build the regime model named in a ``RegimeConfig``.

    Parameters
    ----------
    cfg : backtest.config.RegimeConfig
        ``model`` (calendar | rules | markov), ``by``, ``calendar``, ``params``.

    Raises
    ------
    ConfigError
        Unknown model, or params the model does not accept (one line naming the key).
    """
    if cfg.model == "calendar":
        if cfg.params:
            raise ConfigError(f"regimes.params: the calendar model takes no params (got {sorted(cfg.params)})")
        return CalendarModel(cfg.calendar, cfg.by)
    if cfg.model == "rules":

        return RulesModel(cfg.params)
    if cfg.model == "markov":

        return MarkovModel(cfg.params)
    raise ConfigError(f"regimes.model: unknown model {cfg.model!r} (expected one of {', '.join(MODELS)})")
