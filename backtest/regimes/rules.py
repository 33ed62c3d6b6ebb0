"""The ``rules`` regime model: a transparent, data-driven classifier with hysteresis.

Each trading day is classified into ``qe / plateau / qt / rmp`` from balance-sheet flows
(13- and 4-week changes of WALCL and TREAST), with a ``stress`` overlay flag from the
funding spread (SOFR - IORB) and VIX. All inputs are point in time (see
:mod:`backtest.regimes.signals`), and the state machine only looks backwards, so the
label of day ``t`` depends on data released by the close of ``t`` only.

Why Treasuries as well as total assets: loans, repo and swap lines move WALCL without
any asset-purchase decision (Lehman 2008, end-2011 swap lines, SVB 2023), so growth
counts as ``qe`` only when Treasuries are not being run off, and runoff counts as
``qt`` only when Treasuries shrink. What the data cannot tell apart: a bill-only reserve
management programme (``rmp``) and QE have the same sign in both series; the only
handles are the pace and the context, so growth within ``funding_memory_days`` of a
funding-stress day, from a qt/plateau state and below a QE-sized pace, is called
``rmp``. Before SOFR exists (2018-04) there is no funding signal and ``rmp`` cannot be
detected. See ``docs/regimes.md``.

Thresholds live in ``configs/regimes/rules.yaml`` (commented) and can be overridden by
``regimes.params``; :class:`RulesParams` validates them (unknown keys are errors).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backtest.data.base import MarketData
from backtest.errors import RegimeError
from backtest.regimes.models import register_model
from backtest.regimes.rules_batch import (
    NO_PENDING,
    MachineState,
    dwell_batch,
    funding_flags,
    kinds_of,
    recent_stress,
    run_rules,
)
from backtest.regimes.rules_params import (
    RULE_SIGNALS,
    RulesParams,
    load_rules_params,
)
from backtest.regimes.signals import liquidity_signals, missing_inputs

__all__ = [ "RULE_INPUTS", "RulesModel", "classify",
           "dwell_filter", "hysteresis", "regime_ids", "require_signals", "stress_overlay",]


# ---------------------------------------------------------------------------- shared helpers


def require_signals(md: MarketData, names: tuple[str, ...] | list[str], model: str) -> None:
    """Raise a one-line ``RegimeError`` if a series needed by ``model`` is not loaded."""
    miss = missing_inputs(md, list(names))
    if miss:
        sig, series = next(iter(miss.items()))
        what = " or ".join(series.split("|"))
        raise RegimeError(
            f"regime model {model!r} needs macro series {what} (for signal {sig}), "
            f"which is not in the loaded data ({md.source}); add it to data.macro")


def regime_ids(labels: np.ndarray, days: pd.DatetimeIndex) -> np.ndarray:
    """Id of each contiguous run of a label: ``<LABEL>@<first day>``, e.g. ``QE@2010-11-19``."""
    labels = np.asarray(labels, dtype=object)
    ids = np.empty(len(labels), dtype=object)
    if not len(labels):
        return ids
    new = np.ones(len(labels), dtype=bool)
    new[1:] = labels[1:] != labels[:-1]
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    names = np.array([f"{str(labels[s]).upper()}@{days[s]:%Y-%m-%d}" for s in starts], dtype=object)
    ids[:] = names[run]
    return ids


def hysteresis(on: np.ndarray, off: np.ndarray, min_days: int = 1) -> np.ndarray:
    """Causal on/off flag: switches on where ``on``, off where ``off`` (after ``min_days`` on)."""
    flag = np.zeros(len(on), dtype=bool)
    state, age = False, 0
    for i in range(len(on)):
        if not state and on[i]:
            state, age = True, 0
        elif state and off[i] and age >= min_days:
            state = False
        flag[i] = state
        age += 1
    return flag


def stress_overlay(sig: pd.DataFrame, funding_enter: float, funding_exit: float, vix_enter: float,
                   vix_exit: float, min_days: int) -> pd.Series:
    """Stress flag: funding spread above ``funding_enter`` or VIX above ``vix_enter``.

    Each part has its own hysteresis (off again below its exit level, after at least
    ``min_days``); a missing signal never raises the flag.
    """
    spread = sig["sofr_iorb"].to_numpy(dtype=float) if "sofr_iorb" in sig else np.full(len(sig), np.nan)
    vix = sig["vix"].to_numpy(dtype=float) if "vix" in sig else np.full(len(sig), np.nan)
    with np.errstate(invalid="ignore"):
        funding = hysteresis(spread > funding_enter, ~(spread > funding_exit), min_days)
        market = hysteresis(vix > vix_enter, ~(vix >= vix_exit), min_days)
    return pd.Series(funding | market, index=sig.index, name="stress")


def dwell_filter(candidates: list[str] | np.ndarray, initial: str, confirm_days: int, min_dwell_days: int) -> np.ndarray:
    """Causal anti-flicker filter of a sequence of candidate labels (any hashable labels).

    A switch to a new label happens once it has been the candidate ``confirm_days``
    days in a row and the current label has lasted ``min_dwell_days``: the filter of the
    rules machine (:func:`backtest.regimes.rules_batch.dwell_batch`), on labels.
    """
    names = list(dict.fromkeys([initial, *candidates]))
    lut = {k: i for i, k in enumerate(names)}
    codes = np.array([lut[c] for c in candidates], dtype=np.int64).reshape(1, len(candidates))
    start = MachineState(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.full(1, NO_PENDING),
                         np.zeros(1, dtype=np.int64))
    out, _ = dwell_batch(codes, start, confirm_days, min_dwell_days)
    labels = np.empty(len(names), dtype=object)
    labels[:] = names
    return labels[out[0]]


# ---------------------------------------------------------------------------- the classifier


def classify(sig: pd.DataFrame, p: RulesParams) -> pd.DataFrame:
    """Label each row of a signal frame (point in time) with the rules.

    Parameters
    ----------
    sig : pd.DataFrame
        Signals from :func:`~backtest.regimes.signals.liquidity_signals` (needs
        :data:`RULE_SIGNALS`; ``sofr_iorb`` and ``vix`` may be NaN).
    p : RulesParams
        Thresholds.

    Returns
    -------
    pd.DataFrame
        Index of ``sig``; columns ``regime``, ``regime_id``, ``stress`` (bool),
        ``raw_regime`` (the rule's indication before the dwell filter) and
        ``funding_stress_recent`` (bool).
    """
    cols = {k: sig[k].to_numpy(dtype=float) if k in sig else np.full(len(sig), np.nan) for k in RULE_SIGNALS}
    recent = recent_stress(funding_flags(cols["sofr_iorb"], p), p.funding_memory_days)
    codes, raw_codes, _ = run_rules({k: cols[k] for k in RULE_SIGNALS[:4]}, recent, p)
    regime, raw = kinds_of(codes[:, 0]), kinds_of(raw_codes[:, 0])
    stress = stress_overlay(sig, p.funding_enter, p.funding_exit, p.vix_enter, p.vix_exit, p.stress_min_days)
    out = pd.DataFrame({
        "regime": regime,
        "regime_id": regime_ids(regime, pd.DatetimeIndex(sig.index)),
        "stress": stress.to_numpy(),
        "raw_regime": raw,
        "funding_stress_recent": recent[:, 0],
    }, index=sig.index)
    out.index.name = "date"
    return out


#: Signals the rules machine reads on simulated paths (besides the funding spread).
RULE_INPUTS = ("walcl_chg_13w", "treast_chg_13w", "walcl_chg_4w", "treast_chg_4w")


@register_model("rules")
class RulesModel:
    """Data-driven classifier of balance-sheet flows and funding stress, with hysteresis.

    See the module docstring.

    Parameters
    ----------
    params : dict, optional
        Overrides of the defaults in ``configs/regimes/rules.yaml``.

    Notes
    -----
    Its batch form (:class:`backtest.regimes.models.PathLabelling`) runs the same state
    machine on every simulated path's point-in-time signals at once, continuing from the
    machine's state after the history up to ``t0`` (:mod:`backtest.regimes.rules_batch`):
    a path's labels equal :meth:`label` on that path's market data.
    """

    name = "rules"
    #: the signals ``rmpbt now`` shows next to its label
    shown_signals = ("walcl_chg_13w", "treast_chg_13w", "walcl_chg_4w", "treast_chg_4w", "sofr_iorb", "vix")

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = load_rules_params(params)

    @classmethod
    def from_config(cls, cfg: Any) -> RulesModel:
        """The classifier with ``regimes.params`` over the defaults (ConfigError naming a bad key)."""
        return cls(cfg.params)

    def label(self, md: MarketData, days: pd.DatetimeIndex) -> pd.DataFrame:
        """Labels per day in ``days`` (columns ``regime, regime_id, stress, ...``).

        Raises
        ------
        RegimeError
            A macro series the model needs is not loaded (named).
        """
        require_signals(md, ("walcl_chg_13w", "treast_chg_13w", "sofr_iorb", "vix"), self.name)
        sig = liquidity_signals(md, pd.DatetimeIndex(days))
        return classify(sig, self.params)

    def reads(self, signals: dict[str, float | None]) -> str:
        """Balance-sheet flows and funding stress, in words, with today's values."""
        return (f"balance-sheet flows (WALCL 13w {_val(signals, 'walcl_chg_13w')}, Treasuries 4w "
                f"{_val(signals, 'treast_chg_4w')}) and funding stress (SOFR-IORB {_val(signals, 'sofr_iorb', ' pp', 2)}): "
                "growth soon after stress is rmp")

    # ------------------------------------------------------------------ simulated paths

    def start_state(self, history: MarketData, t0: pd.Timestamp, history_labels: pd.DataFrame,
                    full: MarketData | None = None) -> MachineState:
        """The machine's state after ``history`` (the scenario's history up to ``t0``)."""
        p = self.params
        sig = liquidity_signals(history, pd.DatetimeIndex(history.calendar))
        recent = recent_stress(funding_flags(sig["sofr_iorb"].to_numpy(dtype=float) if "sofr_iorb" in sig
                                             else np.full(len(sig), np.nan), p), p.funding_memory_days)
        _, _, st = run_rules({k: sig[k].to_numpy(dtype=float) for k in RULE_INPUTS}, recent, p)
        return st

    def label_paths(self, signals: Any, state: MachineState) -> np.ndarray:
        """(P, T) label codes of the simulated days of every path, continuing from ``state``."""
        p = self.params
        h, n = signals.H, len(signals.calendar)
        lo = max(0, h - p.funding_memory_days)
        flags = funding_flags(signals.at("sofr_iorb", np.arange(lo, n)), p)
        recent = recent_stress(flags, p.funding_memory_days, skip=h - lo)
        sim = np.arange(h, n)
        reg, _, _ = run_rules({k: signals.at(k, sim) for k in RULE_INPUTS}, recent, p, state)
        return np.ascontiguousarray(reg.T)

    def path_note(self, state: MachineState) -> str:
        """How the simulated days are labelled."""
        return ("simulated days are labelled by the rules classifier run on each path's simulated "
                "point-in-time signals, continuing from its state at t0")


def _val(signals: dict[str, float | None], key: str, unit: str = " bn", digits: int = 1) -> str:
    x = signals.get(key)
    return "n/a" if x is None else f"{x:+,.{digits}f}{unit}"
