"""The ``rules`` classifier for many signal paths at once (days x paths), resumable.

:func:`backtest.regimes.rules.classify` labels one signal frame day by day. Scenario runs
need the same labels on thousands of simulated paths that share a history up to ``t0``
and then diverge. This module is the one home of the state machine (the raw indication,
then the confirm/min-dwell filter): a numba kernel over a ``(T, P)`` block of signals,
starting from a :class:`MachineState` (the machine's state after the history) and
returning the state reached. ``classify`` is this machine on one path;
``tests/test_regimes_rules_oracle.py`` checks it day by day against a plain-Python
transcription of the rules, on history and on random signals.

Regimes are integer codes: positions in :data:`backtest.constants.REGIME_KINDS`.
NaN signals follow Python's comparison rules exactly as in ``rules.py`` (every comparison
with NaN is False; ``max(w4, t4)`` is ``t4`` only if ``t4 > w4``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from backtest.constants import REGIME_KINDS
from backtest.regimes.rules_params import RulesParams

QE, PLATEAU, QT, RMP = (REGIME_KINDS.index(k) for k in ("qe", "plateau", "qt", "rmp"))
NO_PENDING = -1


@dataclass(frozen=True)
class MachineState:
    """State of the rules machine after a day, per path (arrays of shape (P,)).

    Attributes
    ----------
    state : np.ndarray of int
        Current regime code.
    age : np.ndarray of int
        Days the current regime has lasted (as ``classify`` counts them).
    pending : np.ndarray of int
        Candidate regime waiting for confirmation (``NO_PENDING``: none).
    count : np.ndarray of int
        Consecutive days the pending candidate has been indicated.
    """

    state: np.ndarray
    age: np.ndarray
    pending: np.ndarray
    count: np.ndarray

    @classmethod
    def initial(cls, p: RulesParams, paths: int = 1) -> MachineState:
        """The state before the first day (``p.initial``, nothing pending)."""
        return cls(np.full(paths, REGIME_KINDS.index(p.initial), dtype=np.int64), np.zeros(paths, dtype=np.int64),
                   np.full(paths, NO_PENDING, dtype=np.int64), np.zeros(paths, dtype=np.int64))

    def broadcast(self, paths: int) -> MachineState:
        """A one-path state copied to ``paths`` paths."""
        return MachineState(*(np.repeat(np.asarray(a, dtype=np.int64)[:1], paths) for a in
                              (self.state, self.age, self.pending, self.count)))


def _thresholds(p: RulesParams) -> np.ndarray:
    return np.array([p.qe_enter_walcl_13w, p.qe_min_treast_13w, p.qe_enter_treast_13w, p.qe_exit_4w,
                     p.qt_enter_treast_13w, p.qt_max_walcl_13w, p.qt_exit_treast_4w, p.rmp_enter_treast_4w,
                     p.rmp_enter_walcl_13w, p.rmp_max_walcl_13w, p.rmp_exit_treast_4w], dtype=np.float64)


@numba.njit(cache=True)
def _pick(label, allowed):  # pragma: no cover - numba
    return label if allowed[label] else PLATEAU


@numba.njit(cache=True)
def _target_code(state, w13, t13, w4, t4, recent, th, allowed):  # pragma: no cover - numba
    qe_w13, qe_min_t13, qe_t13, qe_exit = th[0], th[1], th[2], th[3]
    qt_t13, qt_max_w13, qt_exit_t4 = th[4], th[5], th[6]
    rmp_t4, rmp_w13, rmp_max_w13, rmp_exit = th[7], th[8], th[9], th[10]
    runoff = t13 <= qt_t13 and w13 <= qt_max_w13
    if state == QE:
        m = t4 if t4 > w4 else w4  # Python's max(w4, t4) with NaN
        if m >= qe_exit or (np.isnan(w4) and np.isnan(t4)):
            return QE
        return _pick(QT, allowed) if runoff else PLATEAU
    if state == RMP:
        if w13 >= rmp_max_w13:
            return _pick(QE, allowed)
        if not (t4 < rmp_exit and w4 < rmp_exit):
            return RMP
        return _pick(QT, allowed) if runoff else PLATEAU
    growing = t4 >= rmp_t4 or w13 >= rmp_w13
    if allowed[RMP] and recent and growing and not w13 >= rmp_max_w13:
        return RMP
    if (w13 >= qe_w13 and t13 >= qe_min_t13) or t13 >= qe_t13:
        return _pick(QE, allowed)
    if state == QT:
        return QT if not t4 >= qt_exit_t4 else PLATEAU
    return _pick(QT, allowed) if runoff else PLATEAU


@numba.njit(cache=True)
def _machine(w13, t13, w4, t4, recent, th, allowed, confirm, min_dwell,
             state, age, pending, count, regime, raw):  # pragma: no cover - numba
    t_n, p_n = w13.shape
    for p in range(p_n):
        s, a, pe, c = state[p], age[p], pending[p], count[p]
        for t in range(t_n):
            cand = _target_code(s, w13[t, p], t13[t, p], w4[t, p], t4[t, p], recent[t, p], th, allowed)
            raw[t, p] = cand
            if cand == s:
                pe, c = NO_PENDING, 0
            else:
                c = c + 1 if cand == pe else 1
                pe = cand
                if c >= confirm and a >= min_dwell:
                    s, a, pe, c = cand, 0, NO_PENDING, 0
            regime[t, p] = s
            a += 1
        state[p], age[p], pending[p], count[p] = s, a, pe, c


def funding_flags(sofr_iorb: np.ndarray, p: RulesParams) -> np.ndarray:
    """Funding-stress days: spread above ``funding_enter`` (NaN: no stress), same shape."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(np.asarray(sofr_iorb, dtype=float), nan=-np.inf) > p.funding_enter


def recent_stress(flags: np.ndarray, window: int, skip: int = 0) -> np.ndarray:
    """Funding stress on any of the last ``window`` days (today included), along axis 0.

    ``flags`` may start ``skip`` days before the first day wanted (the days that feed the
    window); the result drops them. Days before the first row of ``flags`` count as no
    stress, as in ``classify``.
    """
    f = np.asarray(flags, dtype=bool)
    if f.ndim == 1:
        f = f[:, None]
    if window <= 0:
        return np.zeros((f.shape[0] - skip, f.shape[1]), dtype=bool)
    c = np.concatenate([np.zeros((1, f.shape[1]), dtype=np.int64), np.cumsum(f, axis=0)])
    idx = np.arange(1, f.shape[0] + 1)
    out = (c[idx] - c[np.maximum(idx - window, 0)]) > 0
    return out[skip:]


def run_rules(signals: dict[str, np.ndarray], recent: np.ndarray, p: RulesParams,
              start: MachineState | None = None) -> tuple[np.ndarray, np.ndarray, MachineState]:
    """Run the rules machine over ``(T, P)`` signals.

    Parameters
    ----------
    signals : dict
        ``walcl_chg_13w``, ``treast_chg_13w``, ``walcl_chg_4w``, ``treast_chg_4w``, each (T, P).
    recent : np.ndarray of bool, shape (T, P)
        Funding stress within ``funding_memory_days`` (:func:`recent_stress`).
    p : RulesParams
    start : MachineState, optional
        State before the first day (default: :meth:`MachineState.initial`); one path is
        broadcast to all.

    Returns
    -------
    (np.ndarray, np.ndarray, MachineState)
        Regime codes (T, P), raw indications (T, P), and the state after the last day.
    """
    w13 = np.ascontiguousarray(signals["walcl_chg_13w"], dtype=np.float64)
    if w13.ndim == 1:
        w13 = w13[:, None]
    shape = w13.shape

    def arr(name: str) -> np.ndarray:
        a = np.asarray(signals[name], dtype=np.float64)
        return np.ascontiguousarray(np.broadcast_to(a.reshape(shape[0], -1) if a.size else a.reshape(shape), shape))

    p_n = shape[1]
    st = MachineState.initial(p, p_n) if start is None else start
    if len(st.state) != p_n:
        st = st.broadcast(p_n)
    state, age, pending, count = (np.array(a, dtype=np.int64) for a in (st.state, st.age, st.pending, st.count))
    regime = np.empty(shape, dtype=np.int64)
    raw = np.empty(shape, dtype=np.int64)
    allowed = np.array([k in p.labels for k in REGIME_KINDS])
    r = np.asarray(recent, dtype=bool)
    rec = np.ascontiguousarray(np.broadcast_to(r.reshape(shape[0], -1) if r.size else r.reshape(shape), shape))
    _machine(w13, arr("treast_chg_13w"), arr("walcl_chg_4w"), arr("treast_chg_4w"), rec, _thresholds(p), allowed,
             int(p.confirm_days), int(p.min_dwell_days), state, age, pending, count, regime, raw)
    return regime, raw, MachineState(state, age, pending, count)


def dwell_batch(cand: np.ndarray, start: MachineState, confirm_days: int, min_dwell_days: int) -> tuple[np.ndarray, MachineState]:
    """The anti-flicker filter of :func:`backtest.regimes.rules.dwell_filter` on (P, T) candidate codes.

    Resumes from ``start`` (one path is broadcast); returns the (P, T) labels and the state
    after the last day.
    """
    cand = np.asarray(cand, dtype=np.int64)
    p_n, t_n = cand.shape
    st = start if len(start.state) == p_n else start.broadcast(p_n)
    s, a, pe, cnt = (np.array(x, dtype=np.int64) for x in (st.state, st.age, st.pending, st.count))
    out = np.empty((p_n, t_n), dtype=np.int64)
    for t in range(t_n):
        c = cand[:, t]
        same = c == s
        cnt = np.where(same, 0, np.where(c == pe, cnt + 1, 1))
        pe = np.where(same, NO_PENDING, c)
        sw = ~same & (cnt >= confirm_days) & (a >= min_dwell_days)
        s = np.where(sw, c, s)
        a = np.where(sw, 0, a)
        pe = np.where(sw, NO_PENDING, pe)
        cnt = np.where(sw, 0, cnt)
        out[:, t] = s
        a = a + 1
    return out, MachineState(s, a, pe, cnt)


def kinds_of(codes: np.ndarray) -> np.ndarray:
    """Regime names of integer codes (object array, same shape)."""
    return np.asarray(REGIME_KINDS, dtype=object)[np.asarray(codes, dtype=np.int64)]


__all__ = ["MachineState", "dwell_batch", "funding_flags", "kinds_of", "recent_stress", "run_rules"]
