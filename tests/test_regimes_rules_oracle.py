"""The rules regime classifier (numba state machine, backtest.regimes.rules_batch) against a plain-Python oracle.

The oracle below is the day-by-day Python transcription of the rules that ``classify`` was
before the state machine got one home: a second implementation, kept here as the
reference. Both label real history (``../shared/data``, when present) and random signals
built to cross every threshold, and must agree on every day: the label, the raw
indication and the funding-stress memory. ``dwell_filter`` (used by the Markov model) is
checked the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import DEFAULT_MACRO
from backtest.data.csv_source import CsvSource
from backtest.regimes.rules import RulesModel, classify, dwell_filter
from backtest.regimes.rules_params import RULE_SIGNALS, RulesParams, load_rules_params
from backtest.regimes.signals import liquidity_signals

# ---------------------------------------------------------------------------- the oracle


def oracle_rolling_any(flag: np.ndarray, window: int) -> np.ndarray:
    """True where ``flag`` was True on any of the last ``window`` days (including today)."""
    if window <= 0:
        return np.zeros(len(flag), dtype=bool)
    c = np.concatenate([[0], np.cumsum(flag.astype(int))])
    idx = np.arange(1, len(flag) + 1)
    return (c[idx] - c[np.maximum(idx - window, 0)]) > 0


def oracle_target(state: str, x: dict[str, float], recent_stress: bool, p: RulesParams) -> str:
    """Raw regime indicated by one day's signals given the current state (no dwell)."""
    w13, t13, w4, t4 = x["walcl_chg_13w"], x["treast_chg_13w"], x["walcl_chg_4w"], x["treast_chg_4w"]
    allowed = p.labels

    def pick(label: str) -> str:
        return label if label in allowed else "plateau"

    runoff = t13 <= p.qt_enter_treast_13w and w13 <= p.qt_max_walcl_13w
    if state == "qe":
        if max(w4, t4) >= p.qe_exit_4w or (np.isnan(w4) and np.isnan(t4)):
            return "qe"
        return pick("qt") if runoff else "plateau"
    if state == "rmp":
        if w13 >= p.rmp_max_walcl_13w:
            return pick("qe")
        if not (t4 < p.rmp_exit_treast_4w and w4 < p.rmp_exit_treast_4w):
            return "rmp"
        return pick("qt") if runoff else "plateau"
    growing = t4 >= p.rmp_enter_treast_4w or w13 >= p.rmp_enter_walcl_13w
    if "rmp" in allowed and recent_stress and growing and not w13 >= p.rmp_max_walcl_13w:
        return "rmp"
    if (w13 >= p.qe_enter_walcl_13w and t13 >= p.qe_min_treast_13w) or t13 >= p.qe_enter_treast_13w:
        return pick("qe")
    if state == "qt":
        return "qt" if not t4 >= p.qt_exit_treast_4w else "plateau"
    return pick("qt") if runoff else "plateau"


def oracle_classify(sig: pd.DataFrame, p: RulesParams):
    """``(regime, raw indication, funding stress recent)`` per row, one day at a time."""
    cols = {k: sig[k].to_numpy(dtype=float) if k in sig else np.full(len(sig), np.nan) for k in RULE_SIGNALS}
    with np.errstate(invalid="ignore"):
        funding = np.nan_to_num(cols["sofr_iorb"], nan=-np.inf) > p.funding_enter
    recent = oracle_rolling_any(funding, p.funding_memory_days)
    state, age, pending, count = p.initial, 0, None, 0
    regime = np.empty(len(sig), dtype=object)
    raw = np.empty(len(sig), dtype=object)
    keys = ("walcl_chg_13w", "treast_chg_13w", "walcl_chg_4w", "treast_chg_4w")
    for i in range(len(sig)):
        cand = oracle_target(state, {k: cols[k][i] for k in keys}, bool(recent[i]), p)
        raw[i] = cand
        if cand == state:
            pending, count = None, 0
        else:
            count = count + 1 if cand == pending else 1
            pending = cand
            if count >= p.confirm_days and age >= p.min_dwell_days:
                state, age, pending, count = cand, 0, None, 0
        regime[i] = state
        age += 1
    return regime, raw, recent


def oracle_dwell_filter(candidates: list[str] | np.ndarray, initial: str, confirm_days: int, min_dwell_days: int) -> np.ndarray:
    """Causal anti-flicker filter of a sequence of candidate labels.

    A switch to a new label happens once it has been the candidate ``confirm_days``
    days in a row and the current label has lasted ``min_dwell_days``.
    """
    out = np.empty(len(candidates), dtype=object)
    state, age, pending, count = initial, 0, None, 0
    for i, cand in enumerate(candidates):
        if cand == state:
            pending, count = None, 0
        else:
            count = count + 1 if cand == pending else 1
            pending = cand
            if count >= confirm_days and age >= min_dwell_days:
                state, age, pending, count = cand, 0, None, 0
        out[i] = state
        age += 1
    return out


# ---------------------------------------------------------------------------- the checks


def random_signals(n: int, seed: int) -> pd.DataFrame:
    """Signals of a random sequence of regime-like episodes, noisy enough to flicker at every threshold.

    Each episode (40-200 days) has the levels of a QE, QT, plateau or reserve-management
    phase (with a funding-stress burst); noise makes the raw indication cross the
    thresholds near the levels, and NaN gaps cover missing and not-yet-started series.
    """
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2010-01-01", periods=n)
    #            w13    t13   w4    t4   stress
    levels = {"qe": (300, 200, 80, 60, 0.0), "qt": (-100, -80, -30, -25, 0.0),
              "plateau": (0, 0, 0, 0, 0.0), "rmp": (100, 60, 20, 15, 1.0)}
    rows, kinds = [], list(levels)
    while len(rows) < n:
        lv = levels[kinds[rng.integers(0, 4)]]
        rows += [lv] * int(rng.integers(40, 200))
    base = np.array(rows[:n], dtype=float)
    noise = rng.normal(0.0, 1.0, (n, 4)) * np.array([60.0, 40.0, 15.0, 10.0])
    sig = pd.DataFrame(base[:, :4] + noise, index=days,
                       columns=["walcl_chg_13w", "treast_chg_13w", "walcl_chg_4w", "treast_chg_4w"])
    burst = (base[:, 4] > 0) & (rng.random(n) < 0.05)
    sig["sofr_iorb"] = np.where(burst, 0.25, -0.05) + rng.normal(0.0, 0.02, n)
    sig["vix"] = 18 + np.abs(rng.normal(0.0, 8.0, n))
    for c in sig.columns:  # NaN gaps (before a series starts, and holes)
        sig.loc[sig.index[: rng.integers(0, n // 10)], c] = np.nan
        sig.loc[sig.index[rng.integers(0, n, n // 50)], c] = np.nan
    return sig


def check_same(sig: pd.DataFrame, p: RulesParams) -> None:
    regime, raw, recent = oracle_classify(sig, p)
    got = classify(sig, p)
    assert list(got["regime"]) == list(regime)
    assert list(got["raw_regime"]) == list(raw)
    assert got["funding_stress_recent"].to_numpy().tolist() == list(recent)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_classify_equals_the_oracle_on_random_signals(seed):
    p = load_rules_params()
    sig = random_signals(1500, seed)
    check_same(sig, p)
    # other thresholds and label sets: fast switching, no rmp, no qt
    check_same(sig, load_rules_params({"confirm_days": 1, "min_dwell_days": 0, "funding_memory_days": 0}))
    check_same(sig, load_rules_params({"labels": ["qe", "plateau", "qt"], "initial": "qt"}))
    check_same(sig, load_rules_params({"labels": ["plateau", "rmp"], "confirm_days": 3}))


def test_random_signals_reach_every_regime():
    """The random check above is not vacuous: the oracle visits every regime and switches often."""
    regime, raw, recent = oracle_classify(random_signals(1500, 0), load_rules_params())
    assert set(regime) == {"qe", "plateau", "qt", "rmp"}
    assert (regime[1:] != regime[:-1]).sum() >= 4 and (raw != regime).sum() >= 100  # switches, flicker
    assert recent.any() and not recent.all()


def test_classify_equals_the_oracle_on_history(shared_data):
    md = CsvSource(shared_data).load(["SPY"], list(DEFAULT_MACRO), pd.Timestamp("2007-06-01"), None)
    sig = liquidity_signals(md, md.calendar[md.calendar >= pd.Timestamp("2009-01-01")])
    p = RulesModel().params
    check_same(sig, p)
    assert set(oracle_classify(sig, p)[0]) == {"qe", "plateau", "qt", "rmp"}  # history visits every regime


def test_empty_signals():
    sig = random_signals(10, 0).iloc[:0]
    out = classify(sig, load_rules_params())
    assert out.empty and list(out.columns) == ["regime", "regime_id", "stress", "raw_regime", "funding_stress_recent"]


@pytest.mark.parametrize("seed", range(3))
def test_dwell_filter_equals_the_oracle(seed):
    rng = np.random.default_rng(seed)
    kinds = np.array(["qe", "plateau", "qt", "rmp"])
    cand = list(kinds[np.minimum(np.cumsum(rng.random(600) < 0.08) % 4, 3)])
    cand = [c if rng.random() > 0.1 else kinds[rng.integers(0, 4)] for c in cand]  # flicker
    for confirm, dwell in ((1, 0), (3, 5), (10, 21)):
        assert list(dwell_filter(cand, "plateau", confirm, dwell)) == list(oracle_dwell_filter(cand, "plateau", confirm, dwell))


def test_dwell_filter_takes_any_labels():
    seq = ["x", "y", "y", (1, 2), (1, 2), (1, 2), "x"]
    assert list(dwell_filter(seq, "x", 2, 0)) == list(oracle_dwell_filter(seq, "x", 2, 0))
    assert list(dwell_filter([], "x", 2, 0)) == []


def test_rule_signals_are_the_oracles_inputs():
    assert set(RULE_SIGNALS) == {"walcl_chg_4w", "walcl_chg_13w", "treast_chg_4w", "treast_chg_13w", "sofr_iorb", "vix"}
