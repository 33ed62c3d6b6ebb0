"""Regime models behind one protocol, registered by name (``regimes.model`` in the config).

Every model labels trading days causally: the label of day ``t`` uses only data
released by the close of ``t``. ``calendar`` uses the Fed calendar file (public dates),
``rules`` is the threshold classifier of :mod:`backtest.regimes.rules`, ``markov`` the
Markov-switching model of :mod:`backtest.regimes.markov` (filtered probabilities only).
Labels are ``qe / plateau / qt / rmp`` in column ``regime``, with ``regime_id`` (one id
per contiguous run) and, for the data-driven models, a boolean ``stress`` overlay.

One door. A model is one class, registered with :func:`register_model` in its own module,
plus one row of :data:`backtest.constants.REGIME_MODELS` (module and one line: the config
validates ``regimes.model`` against it without importing a model; ``tests/test_layers.py``
checks the catalogue against this registry). It builds itself from the config
(``from_config``) and labels one history (``label``). On simulated scenario paths it is
asked, never named (:mod:`backtest.synthetic.labels.sim_labels`):

* a model with a batch form (:class:`PathLabelling`: ``start_state`` after the history up to
  ``t0``, then ``label_paths`` on every path's simulated signals at once) labels the paths
  with it — ``rules`` and ``markov``;
* a model whose labels are a published schedule (:class:`Schedule`: ``dated`` and
  ``announced_by``) labels a simulated day by the schedule as announced by ``t0``, and a
  bootstrapped day by the label of the history day it was drawn from — ``calendar``;
* any other model (only ``label``) is run on each path's own market data, path by path.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from backtest.constants import REGIME_MODELS
from backtest.data.base import MarketData
from backtest.data.regime_calendar import RegimeCalendar, load_calendar
from backtest.errors import ConfigError


class RegimeModel(Protocol):
    """Labels each trading day with a regime kind (``qe``, ``plateau``, ``qt``, ``rmp``)."""

    name: str

    def label(self, md: MarketData, days: pd.DatetimeIndex) -> pd.DataFrame:
        """DataFrame indexed by ``days`` with at least a ``regime`` column (and ``regime_id``,
        ``stress``, probabilities where the model has them)."""
        ...

    def reads(self, signals: dict[str, float | None]) -> str:
        """What the model reads, in words, with today's values where it reads signals."""
        ...


class PathSignals(Protocol):
    """Point-in-time signals of ``P`` simulated paths on the paths' calendar (history rows, then simulated)."""

    H: int
    calendar: pd.DatetimeIndex

    def at(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Signal ``name`` as of calendar rows ``rows`` on every path, shape (R, P)."""
        ...


@runtime_checkable
class PathLabelling(Protocol):
    """The batch form of a regime model: labels of the simulated days of many paths at once."""

    def start_state(self, history: MarketData, t0: pd.Timestamp, history_labels: pd.DataFrame,
                    full: MarketData | None = None) -> Any | None:
        """The model's state at ``t0`` after the history, or None when it cannot be set up.

        ``history`` is the history up to ``t0`` the scenario keeps, ``history_labels`` the
        model's labels of it, ``full`` all the data (a model fitted on a long history).
        """
        ...

    def label_paths(self, signals: PathSignals, state: Any) -> np.ndarray:
        """(P, T) label codes (positions in ``REGIME_KINDS``, -1 unknown) of the simulated days."""
        ...

    def path_note(self, state: Any) -> str:
        """One sentence for the run notes: how the simulated days are labelled."""
        ...


@runtime_checkable
class Schedule(Protocol):
    """A model whose labels are a published schedule: a function of the date alone."""

    dated: bool

    def announced_by(self, t0: pd.Timestamp, days: pd.DatetimeIndex) -> pd.Series:
        """Labels of ``days`` from the schedule as announced by ``t0``."""
        ...


@dataclass(frozen=True)
class ModelSpec:
    """A registered regime model."""

    name: str
    cls: type
    doc: str


REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str):
    """Class decorator registering a regime model under ``name`` (a row of ``REGIME_MODELS``).

    The class has ``from_config(cfg: RegimeConfig)`` (a classmethod building it, one-line
    ConfigError on bad params), ``label(md, days)`` and ``reads(signals)``.
    """

    def deco(cls: type) -> type:
        doc = (cls.__doc__ or "").strip().splitlines()
        REGISTRY[name] = ModelSpec(name, cls, doc[0] if doc else "")
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return deco


def load_models() -> dict[str, ModelSpec]:
    """Import the module of every catalogued model (:data:`REGIME_MODELS`); the registry."""
    for module, _ in REGIME_MODELS.values():
        importlib.import_module(module)
    return REGISTRY


def model_spec(name: str, where: str = "regimes.model") -> ModelSpec:
    """The registered model ``name`` (its module imported on demand).

    Raises
    ------
    ConfigError
        Unknown name, with the closest known one.
    """
    if name not in REGISTRY and name in REGIME_MODELS:
        importlib.import_module(REGIME_MODELS[name][0])
    if name not in REGISTRY:
        known = sorted(load_models())
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (expected one of {', '.join(known)})"
        raise ConfigError(f"{where}: unknown regime model {name!r}{hint}")
    return REGISTRY[name]


@register_model("calendar")
class CalendarModel:
    """Labels from the Fed balance-sheet calendar, by effective or announced date."""

    name = "calendar"
    #: labels are a published schedule: a function of the date alone
    dated = True

    def __init__(self, path: str | None = None, by: str = "effective") -> None:
        self.calendar = load_calendar(path)
        self.by = by

    @classmethod
    def from_config(cls, cfg: Any) -> CalendarModel:
        """The calendar of ``regimes.calendar`` read ``regimes.by``; it takes no params."""
        if cfg.params:
            raise ConfigError(f"regimes.params: the calendar model takes no params (got {sorted(cfg.params)})")
        return cls(cfg.calendar, cfg.by)

    def label(self, md: MarketData, days: pd.DatetimeIndex) -> pd.DataFrame:
        """Calendar labels (known in advance: announced/effective dates are public)."""
        return self.calendar.label(days, by=self.by)

    def reads(self, signals: dict[str, float | None]) -> str:
        """What the model reads: the Fed's announcements, no market data."""
        return "the Fed's announcements (the regime calendar), no market data"

    def announced_by(self, t0: pd.Timestamp, days: pd.DatetimeIndex) -> pd.Series:
        """Calendar labels of ``days`` from the regimes announced by ``t0``.

        A regime announced after ``t0`` does not exist yet; an end date after ``t0`` is not
        known yet (the regime stays open).
        """
        cal = self.calendar
        known = tuple(dataclasses.replace(r, end=r.end if r.end is not None and r.end <= t0 else None)
                      for r in cal.regimes if r.announced <= t0)
        return RegimeCalendar(known, cal.stress_events, cal.path).label(pd.DatetimeIndex(days), by=self.by)["regime"]


def make_regime_model(cfg: Any) -> RegimeModel:
    """Build the regime model named in a ``RegimeConfig``.

    Parameters
    ----------
    cfg : backtest.config.RegimeConfig
        ``model`` (a registered name), ``by``, ``calendar``, ``params``.

    Raises
    ------
    ConfigError
        Unknown model, or params the model does not accept (one line naming the key).
    """
    return model_spec(cfg.model).cls.from_config(cfg)


__all__ = ["REGISTRY", "CalendarModel", "ModelSpec", "PathLabelling", "PathSignals", "RegimeModel", "Schedule",
           "load_models", "make_regime_model", "model_spec", "register_model"]
