"""Causal regime labels on simulated days: what the configured regime model would say.

A strategy of a scenario run must see the label its regime model (``regimes.model`` of the
run config) would give each simulated day *at the close of that day* — never the hidden
state of the scenario's chain, which no causal model could know (``qe`` would start the
day after a crash low). :class:`SimLabeler` produces these labels for a whole chunk of
paths; both routes of :mod:`backtest.synthetic.evaluate.vector_strategies` (batch and per path) use
them, so they see the same labels.

The labeler asks the model object what it can do, never its name
(:mod:`backtest.regimes.models`; scenario-file key ``labels: model``, the default):

* a model with a batch form (:class:`~backtest.regimes.models.PathLabelling`) labels every
  path's simulated days at once, from its state after the history up to ``t0``:
  ``rules`` runs its classifier (thresholds, confirm / min-dwell state machine) on each
  path's simulated point-in-time signals (:class:`PathSignals`: H.4.1 flows with their
  Thursday release lag, SOFR - IORB), so a planted regime change is seen ``confirm_days``
  (or more) days late, as it would be; ``markov`` runs its Hamilton filter forward with the
  parameters fitted on the history up to ``t0`` (frozen: no refits during the simulation),
  then its confirm / min-dwell filter continuing from the label at ``t0``. A model whose
  start cannot be set up (a markov fit that fails) holds the ``t0`` label.
* a model whose labels are a published schedule (:class:`~backtest.regimes.models.Schedule`:
  ``calendar``) knows only announcements, and a simulation announces nothing. A
  bootstrapped day carries the label that drawn history day had; a parametric day (sample
  market: no history day) gets the schedule *as announced by* ``t0``: regimes announced on
  or before ``t0`` apply from their start (an end date after ``t0`` is not known yet), so a
  programme announced before the start and effective after it counts, and with nothing
  scheduled the ``t0`` label is held.
* any other model (only ``label``) is run on each path's own market data (history, then
  the simulated days), path by path: slow, and the run notes say so.

``labels: state`` restores the old labels (each day's hidden state kind): optimistic
(perfect foresight of the chain), kept to measure what honest labels cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import REGIME_KINDS
from backtest.data.base import MarketData
from backtest.regimes.models import PathLabelling, Schedule
from backtest.regimes.rules import regime_ids
from backtest.regimes.rules_batch import kinds_of
from backtest.synthetic.labels.path_signals import PathSignals
from backtest.synthetic.model.context import ScenarioContext
from backtest.synthetic.model.generator import PathPanel

LABEL_MODES = ("model", "state")
UNKNOWN = -1


def label_codes(labels: pd.Series | np.ndarray) -> np.ndarray:
    """Codes (positions in ``REGIME_KINDS``) of regime labels; ``UNKNOWN`` for missing/other."""
    lut = {k: i for i, k in enumerate(REGIME_KINDS)}
    raw = labels.to_numpy(dtype=object) if isinstance(labels, pd.Series) else np.asarray(labels, dtype=object)
    return np.array([lut.get(x, UNKNOWN) if isinstance(x, str) else UNKNOWN for x in raw], dtype=np.int64)


@dataclass(frozen=True)
class SimLabeler:
    """Labels of the simulated days of a scenario's paths (see the module docstring).

    Attributes
    ----------
    mode : {"model", "state"}
    model_name : str
        ``regimes.model`` of the run config (for the notes).
    method : {"paths", "per_path", "history_day", "schedule", "state"}
        How simulated days are labelled: the model's batch form, the model run on each
        path's market data, the drawn history day's label, a schedule the same on every
        path, the hidden state's kind.
    kinds : tuple[str, ...]
        Regime kind of each chain state (``state`` method).
    model : RegimeModel or None
        The run's regime model (``paths``, ``per_path``).
    start : object or None
        The model's state at ``t0`` (``paths``: :meth:`PathLabelling.start_state`).
    hist_codes : np.ndarray or None
        Label code of every history day (rows of ``History.dates``; ``history_day``).
    schedule : np.ndarray or None
        (T,) label codes of the simulated days, the same on every path (``schedule``).
    note : str
        One sentence for the run notes and ``provenance.json``.
    """

    mode: str
    model_name: str
    method: str
    kinds: tuple[str, ...]
    model: Any = None
    start: Any = None
    hist_codes: np.ndarray | None = None
    schedule: np.ndarray | None = None
    note: str = ""

    def codes(self, panel: PathPanel, ps: PathSignals | None = None) -> np.ndarray:
        """(P, T) label codes of the simulated days (``UNKNOWN``: no label).

        Parameters
        ----------
        panel : PathPanel
        ps : PathSignals, optional
            The panel's signals (``paths``; built if not given).
        """
        p_n, t_n = panel.states.shape
        if self.method == "state":
            lut = np.array(label_codes(np.asarray(self.kinds, dtype=object)), dtype=np.int64)
            return lut[panel.states.astype(np.int64)]
        if self.method == "history_day":
            if panel.rows is None or self.hist_codes is None:
                raise ValueError("history-day labels need bootstrapped rows")
            return self.hist_codes[panel.rows]
        if self.method == "schedule":
            assert self.schedule is not None
            return np.broadcast_to(self.schedule, (p_n, t_n)).copy()
        if self.method == "paths":
            ps = PathSignals(panel) if ps is None else ps
            return np.asarray(self.model.label_paths(ps, self.start), dtype=np.int64)
        if self.method == "per_path":
            days = panel.ctx.days
            out = np.empty((p_n, t_n), dtype=np.int64)
            for i in range(p_n):
                md = panel.market_data(i)
                out[i] = label_codes(self.model.label(md, md.calendar)["regime"].reindex(days))
            return out
        raise ValueError(f"unknown label method {self.method!r}")

    def labels(self, panel: PathPanel, ps: PathSignals | None = None) -> np.ndarray:
        """(P, T) regime labels of the simulated days (object; None where unknown)."""
        c = self.codes(panel, ps)
        out = np.full(c.shape, None, dtype=object)
        ok = c >= 0
        out[ok] = kinds_of(c[ok])
        return out


def make_labeler(mode: str, model: object, model_name: str, ctx: ScenarioContext, history_labels: pd.DataFrame,
                 all_history_labels: pd.DataFrame | None = None, history: MarketData | None = None) -> SimLabeler:
    """The labeler of one scenario: what the model object can do decides how (see the module docstring).

    Parameters
    ----------
    mode : {"model", "state"}
        Scenario-file key ``labels``.
    model : RegimeModel
        The run's regime model.
    model_name : str
        ``regimes.model`` (for the notes).
    ctx : ScenarioContext
    history_labels : pd.DataFrame
        The model's labels of the context's history (``regime`` column), up to ``t0``.
    all_history_labels : pd.DataFrame, optional
        The model's labels of every day of ``History.dates`` (bootstrap of a schedule).
    history : MarketData, optional
        All the history (a model fitted on it up to ``t0``: ``markov``).
    """
    kinds = tuple(ctx.kinds)
    if mode == "state":
        return SimLabeler("state", model_name, "state", kinds,
                          note="labels: state - simulated days carry their hidden state's regime kind "
                               "(perfect foresight of the chain: optimistic)")
    if mode != "model":
        raise ValueError(f"labels: unknown mode {mode!r} (expected one of {', '.join(LABEL_MODES)})")
    if isinstance(model, PathLabelling):
        start = model.start_state(ctx.history, ctx.t0, history_labels, history)
        if start is not None:
            return SimLabeler("model", model_name, "paths", kinds, model=model, start=start,
                              note=model.path_note(start))
    elif not isinstance(model, Schedule):
        return SimLabeler("model", model_name, "per_path", kinds, model=model,
                          note=f"simulated days are labelled by the {model_name} model run on each path's market "
                               "data, path by path (it has no batch form: slow)")
    reg = history_labels["regime"] if "regime" in history_labels else pd.Series(dtype=object)
    t0_code = int(label_codes(reg.iloc[-1:])[0]) if len(reg) else UNKNOWN
    if ctx.source == "bootstrap" and all_history_labels is not None:
        return SimLabeler("model", model_name, "history_day", kinds,
                          hist_codes=label_codes(all_history_labels["regime"]),
                          note=f"simulated days carry the {model_name} label their bootstrapped history day had "
                               "(a simulation announces nothing)")
    if isinstance(model, Schedule):
        codes = label_codes(model.announced_by(ctx.t0, ctx.days))
        seen = ", ".join(f"{k} {int((codes == i).sum())} d" for i, k in enumerate(REGIME_KINDS) if (codes == i).any())
        return SimLabeler("model", model_name, "schedule", kinds, schedule=codes,
                          note=f"parametric source: simulated days carry the calendar as announced by t0 "
                               f"({seen}; a simulation announces nothing)")
    return SimLabeler("model", model_name, "schedule", kinds, schedule=np.full(len(ctx.days), t0_code),
                      note=f"simulated days keep the {model_name} label of t0 "
                           f"({reg.iloc[-1] if len(reg) else 'unknown'}; the {model_name} model could not be fitted "
                           "on the history up to t0)")


def all_history_labels(model: object, model_name: str, mode: str, source: str, md: object,
                       dates: pd.DatetimeIndex) -> pd.DataFrame | None:
    """The model's labels of every history day a bootstrap can draw (``history_day`` method), else None.

    Only a schedule's labels (a function of the date) carry over to a drawn day.
    """
    if mode != "model" or source != "bootstrap" or not isinstance(model, Schedule):
        return None
    return model.label(md, pd.DatetimeIndex(dates))  # type: ignore[attr-defined]


def path_labels(history_labels: pd.DataFrame, t0: pd.Timestamp, days: pd.DatetimeIndex,
                sim: np.ndarray) -> pd.DataFrame:
    """History labels up to ``t0`` then one path's simulated labels, with ``regime_id`` per run."""
    hist = history_labels.loc[:t0, "regime"]
    reg = np.concatenate([hist.to_numpy(dtype=object), np.asarray(sim, dtype=object)])
    idx = pd.DatetimeIndex(hist.index).append(pd.DatetimeIndex(days))
    known = pd.notna(reg)
    ids = np.full(len(reg), None, dtype=object)
    if known.any():
        ids[known] = regime_ids(reg[known], idx[known])
    h = len(hist)
    if "regime_id" in history_labels and h:
        ids[:h] = history_labels.loc[:t0, "regime_id"].to_numpy(dtype=object)
        i = h
        while i < len(reg) and known[i] and reg[i] == reg[h - 1]:  # the run going on at t0 keeps its id
            ids[i] = ids[h - 1]
            i += 1
    out = pd.DataFrame({"regime": reg, "regime_id": ids}, index=idx)
    out.index.name = "date"
    return out


def provenance_entry(labelers: dict[str, SimLabeler], model_name: str) -> str:
    """The ``regime_model`` text of ``provenance.json``."""
    notes = sorted({lab.note for lab in labelers.values()})
    if not notes:
        return f"scenario states (history: {model_name})"
    return f"{model_name}: " + "; ".join(notes)


__all__ = ["LABEL_MODES", "SimLabeler", "all_history_labels", "label_codes", "make_labeler", "path_labels",
           "provenance_entry"]
