"""Causal regime labels on simulated days: what the configured regime model would say.

A strategy of a scenario run must see the label its regime model (``regimes.model`` of the
run config) would give each simulated day *at the close of that day* — never the hidden
state of the scenario's chain, which no causal model could know (``qe`` would start the
day after a crash low). :class:`SimLabeler` produces these labels for a whole chunk of
paths; both routes of :mod:`backtest.synthetic.vector_strategies` (batch and per path) use
them, so they see the same labels.

By model (scenario-file key ``labels: model``, the default):

* ``rules``: the rules classifier (its thresholds and its confirm / min-dwell state machine)
  run on each path's simulated point-in-time signals (:class:`PathSignals`: H.4.1 flows
  with their Thursday release lag, SOFR - IORB), continuing from the machine's state at
  ``t0`` on history (:mod:`backtest.regimes.rules_batch`). A planted regime change is
  therefore seen ``confirm_days`` (or more) days late, as it would be.
* ``calendar``: a calendar knows only announcements, and a simulation announces nothing.
  A bootstrapped day carries the label that drawn history day had under the calendar;
  a parametric day (sample market: no history day) gets the calendar *as announced by*
  ``t0``: regimes announced on or before ``t0`` apply from their start (an end date after
  ``t0`` is not known yet), so a programme announced before the start and effective after
  it counts, and with nothing scheduled the ``t0`` label is held.
* ``markov``: the Hamilton filter run forward on each path's simulated signal with the
  parameters fitted on the history up to ``t0`` (frozen: no refits during the simulation),
  on the model's grid (every ``step_days``, a one-step nowcast in between), then its
  confirm / min-dwell filter continuing from the label at ``t0`` (:class:`MarkovFit`).

``labels: state`` restores the old labels (each day's hidden state kind): optimistic
(perfect foresight of the chain), kept to measure what honest labels cost.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.constants import REGIME_KINDS
from backtest.data.base import MarketData
from backtest.regimes.calendar import RegimeCalendar
from backtest.regimes.markov import MarkovModel
from backtest.regimes.rules import RulesModel, RulesParams, regime_ids
from backtest.regimes.rules_batch import (
    MachineState,
    funding_flags,
    kinds_of,
    recent_stress,
    run_rules,
)
from backtest.regimes.signals import liquidity_signals
from backtest.synthetic.context import ScenarioContext
from backtest.synthetic.generator import PathPanel
from backtest.synthetic.path_signals import PathSignals
from backtest.synthetic.sim_markov import MarkovFit, fit_markov

LABEL_MODES = ("model", "state")
RULE_INPUTS = ("walcl_chg_13w", "treast_chg_13w", "walcl_chg_4w", "treast_chg_4w")
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
    model : str
        ``regimes.model`` of the run config.
    method : {"rules", "markov", "history_day", "schedule", "state"}
        How simulated days are labelled.
    kinds : tuple[str, ...]
        Regime kind of each chain state (``state`` method).
    hist_codes : np.ndarray or None
        Label code of every history day (rows of ``History.dates``; ``history_day``).
    schedule : np.ndarray or None
        (T,) label codes of the simulated days, the same on every path (``schedule``).
    params : RulesParams or None
    start : MachineState or None
        Rules machine after the history up to ``t0`` (one path).
    markov : MarkovFit or None
    note : str
        One sentence for the run notes and ``provenance.json``.
    """

    mode: str
    model: str
    method: str
    kinds: tuple[str, ...]
    hist_codes: np.ndarray | None = None
    schedule: np.ndarray | None = None
    params: RulesParams | None = None
    start: MachineState | None = None
    markov: MarkovFit | None = None
    note: str = ""

    def codes(self, panel: PathPanel, ps: PathSignals | None = None) -> np.ndarray:
        """(P, T) label codes of the simulated days (``UNKNOWN``: no label).

        Parameters
        ----------
        panel : PathPanel
        ps : PathSignals, optional
            The panel's signals (``rules``; built if not given).
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
        if self.method == "rules":
            assert self.params is not None
            ps = PathSignals(panel) if ps is None else ps
            return rules_codes(ps, self.params, self.start)
        if self.method == "markov":
            assert self.markov is not None
            ps = PathSignals(panel) if ps is None else ps
            return self.markov.codes(ps)
        raise ValueError(f"unknown label method {self.method!r}")

    def labels(self, panel: PathPanel, ps: PathSignals | None = None) -> np.ndarray:
        """(P, T) regime labels of the simulated days (object; None where unknown)."""
        c = self.codes(panel, ps)
        out = np.full(c.shape, None, dtype=object)
        ok = c >= 0
        out[ok] = kinds_of(c[ok])
        return out


def rules_codes(ps: PathSignals, p: RulesParams, start: MachineState | None) -> np.ndarray:
    """(P, T) rules labels of the simulated days of every path, continuing from ``start``."""
    h, n = ps.H, len(ps.calendar)
    sim = np.arange(h, n)
    lo = max(0, h - p.funding_memory_days)
    flags = funding_flags(ps.at("sofr_iorb", np.arange(lo, n)), p)
    recent = recent_stress(flags, p.funding_memory_days, skip=h - lo)
    sig = {k: ps.at(k, sim) for k in RULE_INPUTS}
    reg, _, _ = run_rules(sig, recent, p, start)
    return np.ascontiguousarray(reg.T)


def history_machine(ctx: ScenarioContext, p: RulesParams) -> tuple[MachineState, np.ndarray]:
    """Rules machine state at ``t0`` after the context's history, and its history labels (codes)."""
    sig = liquidity_signals(ctx.history, pd.DatetimeIndex(ctx.history.calendar))
    recent = recent_stress(funding_flags(sig["sofr_iorb"].to_numpy(dtype=float) if "sofr_iorb" in sig
                                         else np.full(len(sig), np.nan), p), p.funding_memory_days)
    reg, _, st = run_rules({k: sig[k].to_numpy(dtype=float) for k in RULE_INPUTS}, recent, p)
    return st, reg[:, 0]


def make_labeler(mode: str, model: object, model_name: str, ctx: ScenarioContext, history_labels: pd.DataFrame,
                 all_history_labels: pd.DataFrame | None = None, history: MarketData | None = None) -> SimLabeler:
    """The labeler of one scenario.

    Parameters
    ----------
    mode : {"model", "state"}
        Scenario-file key ``labels``.
    model : RegimeModel
        The run's regime model (a ``RulesModel`` carries its params).
    model_name : str
        ``regimes.model``.
    ctx : ScenarioContext
    history_labels : pd.DataFrame
        The model's labels of the context's history (``regime`` column), up to ``t0``.
    all_history_labels : pd.DataFrame, optional
        The model's labels of every day of ``History.dates`` (bootstrap, calendar).
    history : MarketData, optional
        All the history (``markov``: its parameters are fitted on it up to ``t0``).
    """
    kinds = tuple(ctx.kinds)
    if mode == "state":
        return SimLabeler("state", model_name, "state", kinds,
                          note="labels: state - simulated days carry their hidden state's regime kind "
                               "(perfect foresight of the chain: optimistic)")
    if mode != "model":
        raise ValueError(f"labels: unknown mode {mode!r} (expected one of {', '.join(LABEL_MODES)})")
    if model_name == "rules" and isinstance(model, RulesModel):
        st, _ = history_machine(ctx, model.params)
        return SimLabeler("model", model_name, "rules", kinds, params=model.params, start=st,
                          note="simulated days are labelled by the rules classifier run on each path's simulated "
                               "point-in-time signals, continuing from its state at t0")
    if model_name == "markov" and isinstance(model, MarkovModel) and history is not None:
        fit = fit_markov(model, history, ctx.t0, history_labels)
        if fit is not None:
            return SimLabeler("model", model_name, "markov", kinds, markov=fit,
                              note=f"simulated days are labelled by the markov model's filter on each path's "
                                   f"simulated {model.params.signal}, with the parameters fitted on history up to t0 "
                                   "(no refits during the simulation)")
    reg = history_labels["regime"] if "regime" in history_labels else pd.Series(dtype=object)
    t0_code = int(label_codes(reg.iloc[-1:])[0]) if len(reg) else UNKNOWN
    if ctx.source == "bootstrap" and all_history_labels is not None:
        return SimLabeler("model", model_name, "history_day", kinds,
                          hist_codes=label_codes(all_history_labels["regime"]),
                          note=f"simulated days carry the {model_name} label their bootstrapped history day had "
                               "(a simulation announces nothing)")
    sched = calendar_as_of(model, ctx.t0, ctx.days)
    if sched is not None:
        codes = label_codes(sched)
        seen = ", ".join(f"{k} {int((codes == i).sum())} d" for i, k in enumerate(REGIME_KINDS) if (codes == i).any())
        return SimLabeler("model", model_name, "schedule", kinds, schedule=codes,
                          note=f"parametric source: simulated days carry the calendar as announced by t0 "
                               f"({seen}; a simulation announces nothing)")
    return SimLabeler("model", model_name, "schedule", kinds, schedule=np.full(len(ctx.days), t0_code),
                      note=f"simulated days keep the {model_name} label of t0 "
                           f"({reg.iloc[-1] if len(reg) else 'unknown'}; the {model_name} model could not be fitted "
                           "on the history up to t0)")


def calendar_as_of(model: object, t0: pd.Timestamp, days: pd.DatetimeIndex) -> pd.Series | None:
    """Calendar labels of ``days`` from the regimes announced by ``t0`` (None if ``model`` is no calendar).

    A regime announced after ``t0`` does not exist yet; an end date after ``t0`` is not
    known yet (the regime stays open).
    """
    cal = getattr(model, "calendar", None)
    if not isinstance(cal, RegimeCalendar):
        return None
    known = tuple(dataclasses.replace(r, end=r.end if r.end is not None and r.end <= t0 else None)
                  for r in cal.regimes if r.announced <= t0)
    by = getattr(model, "by", "effective")
    return RegimeCalendar(known, cal.stress_events, cal.path).label(pd.DatetimeIndex(days), by=by)["regime"]


def all_history_labels(model: object, model_name: str, mode: str, source: str, md: object,
                       dates: pd.DatetimeIndex) -> pd.DataFrame | None:
    """The model's labels of every history day a bootstrap can draw (``history_day`` method), else None."""
    if mode != "model" or source != "bootstrap" or model_name != "calendar":
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


__all__ = ["LABEL_MODES", "SimLabeler", "all_history_labels", "calendar_as_of", "history_machine", "label_codes", "make_labeler", "path_labels",
           "provenance_entry", "rules_codes"]
