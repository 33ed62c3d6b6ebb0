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

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backtest.config import format_validation_error
from backtest.constants import REGIME_KINDS
from backtest.data.base import MarketData
from backtest.errors import ConfigError, RegimeError
from backtest.regimes.signals import liquidity_signals, missing_inputs
from backtest.safe_io import load_yaml_text, read_text_file

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "configs" / "regimes" / "rules.yaml"
RULE_SIGNALS = ("walcl_chg_4w", "walcl_chg_13w", "treast_chg_4w", "treast_chg_13w", "sofr_iorb", "vix")


# ---------------------------------------------------------------------------- params


class RegimeParams(BaseModel):
    """Base of regime-model params: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def check_labels(labels: list[str], required: tuple[str, ...] = ()) -> list[str]:
    """Validate regime labels (known kinds, unique, containing ``required``)."""
    for lab in labels:
        if lab not in REGIME_KINDS:
            raise ValueError(f"unknown regime label {lab!r} (expected one of {', '.join(REGIME_KINDS)})")
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate regime label in {labels}")
    for req in required:
        if req not in labels:
            raise ValueError(f"labels must include {req!r}")
    return labels


class RulesParams(RegimeParams):
    """Thresholds of the rules classifier (see ``configs/regimes/rules.yaml``)."""

    labels: list[str] = Field(default_factory=lambda: list(REGIME_KINDS))
    initial: str = "plateau"
    qe_enter_walcl_13w: float = 100.0
    qe_min_treast_13w: float = 0.0
    qe_enter_treast_13w: float = 100.0
    qe_exit_4w: float = 20.0
    qt_enter_treast_13w: float = Field(-20.0, le=0)
    qt_max_walcl_13w: float = 0.0
    qt_exit_treast_4w: float = 5.0
    rmp_enter_treast_4w: float = 10.0
    rmp_enter_walcl_13w: float = 50.0
    rmp_max_walcl_13w: float = 400.0
    rmp_exit_treast_4w: float = 0.0
    funding_enter: float = 0.10
    funding_exit: float = 0.0
    vix_enter: float = Field(30.0, gt=0)
    vix_exit: float = Field(25.0, gt=0)
    funding_memory_days: int = Field(126, ge=0)
    confirm_days: int = Field(10, ge=1)
    min_dwell_days: int = Field(21, ge=0)
    stress_min_days: int = Field(3, ge=1)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        return check_labels(v, required=("plateau",))

    @field_validator("initial")
    @classmethod
    def _initial(cls, v: str) -> str:
        check_labels([v])
        return v

    @model_validator(mode="after")
    def _order(self) -> "RulesParams":
        if self.initial not in self.labels:
            raise ValueError(f"initial regime {self.initial!r} is not in labels {self.labels}")
        if self.funding_exit > self.funding_enter:
            raise ValueError("funding_exit must not exceed funding_enter")
        if self.vix_exit > self.vix_enter:
            raise ValueError("vix_exit must not exceed vix_enter")
        if self.rmp_max_walcl_13w <= self.rmp_enter_walcl_13w:
            raise ValueError("rmp_max_walcl_13w must exceed rmp_enter_walcl_13w")
        return self


def validate_params(model: type[BaseModel], raw: dict[str, Any], origin: str = "", prefix: str = "regimes.params") -> Any:
    """Validate ``raw`` against a params model.

    Raises
    ------
    ConfigError
        One line ``[origin: ]prefix.key: message`` (with a did-you-mean for unknown keys).
    """

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        msg = format_validation_error(exc, "", model, prefix=prefix).removeprefix(": ")
        raise ConfigError(f"{origin}: {msg}" if origin else msg) from None


def load_rules_params(overrides: dict[str, Any] | None = None, path: str | Path | None = None) -> RulesParams:
    """Defaults from ``configs/regimes/rules.yaml`` updated with ``overrides`` (``regimes.params``).

    Raises
    ------
    ConfigError
        Unreadable defaults file, unknown key, bad value or unknown regime label.
    """
    p = Path(path) if path is not None else DEFAULT_RULES
    base = load_yaml_text(read_text_file(p, "rules thresholds file"), str(p)) or {}
    if not isinstance(base, dict):
        raise ConfigError(f"{p}: expected a mapping of thresholds")
    validate_params(RulesParams, base, str(p), prefix="")
    merged = {**base, **(overrides or {})}
    return validate_params(RulesParams, merged)


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


# ---------------------------------------------------------------------------- the classifier


def _rolling_any(flag: np.ndarray, window: int) -> np.ndarray:
    """True where ``flag`` was True on any of the last ``window`` days (including today)."""
    if window <= 0:
        return np.zeros(len(flag), dtype=bool)
    c = np.concatenate([[0], np.cumsum(flag.astype(int))])
    idx = np.arange(1, len(flag) + 1)
    return (c[idx] - c[np.maximum(idx - window, 0)]) > 0


def _target(state: str, x: dict[str, float], recent_stress: bool, p: RulesParams) -> str:
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
    with np.errstate(invalid="ignore"):
        funding = np.nan_to_num(cols["sofr_iorb"], nan=-np.inf) > p.funding_enter
    recent = _rolling_any(funding, p.funding_memory_days)
    state, age, pending, count = p.initial, 0, None, 0
    regime = np.empty(len(sig), dtype=object)
    raw = np.empty(len(sig), dtype=object)
    keys = ("walcl_chg_13w", "treast_chg_13w", "walcl_chg_4w", "treast_chg_4w")
    for i in range(len(sig)):
        cand = _target(state, {k: cols[k][i] for k in keys}, bool(recent[i]), p)
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
    stress = stress_overlay(sig, p.funding_enter, p.funding_exit, p.vix_enter, p.vix_exit, p.stress_min_days)
    out = pd.DataFrame({
        "regime": regime,
        "regime_id": regime_ids(regime, pd.DatetimeIndex(sig.index)),
        "stress": stress.to_numpy(),
        "raw_regime": raw,
        "funding_stress_recent": recent,
    }, index=sig.index)
    out.index.name = "date"
    return out


class RulesModel:
    """The data-driven ``rules`` classifier (see the module docstring).

    Parameters
    ----------
    params : dict, optional
        Overrides of the defaults in ``configs/regimes/rules.yaml``.
    """

    name = "rules"

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = load_rules_params(params)

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
