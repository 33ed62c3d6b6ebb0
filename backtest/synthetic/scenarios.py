"""Scenario definitions: regime states, Markov chains over them, RMP paces; YAML + validation.

A *scenario file* (``configs/scenarios.yaml``) names

* **states** — regime states such as "calm RMP repair" or "funding stress". Each has the
  Fed balance-sheet regime ``kind`` strategies see on its days (``qe``, ``plateau``,
  ``qt``, ``rmp``), its *historical analogue periods* (regime-calendar ids and/or explicit
  date ranges: the days a bootstrap draws from), and whether the scenario's RMP pace
  applies to it (``paced``);
* **scenarios** — each a Markov chain over the states (a start state plus either a daily
  transition matrix or expected durations with exit probabilities), a horizon, an RMP
  pace (bn USD/month, constant or a dated schedule) and an optional probability. The
  scenarios with a probability form the probability-weighted *mix*; their probabilities
  must sum to 1. A scenario without one is scored but kept out of the mix.

Everything is validated once, here, by pydantic models with ``extra="forbid"``; every
problem is one line naming the file and the key (:class:`~backtest.errors.ScenarioError`).
Checks that need market data (an analogue period with no trading day in the data) are
made by :func:`resolve_analogues` when the data are loaded.

Chains are daily: with an expected duration ``d`` (trading days) a state stays with
probability ``p_ii = 1 - 1/d`` per day, so the mean dwell time is ``1 / (1 - p_ii) = d``,
and leaves to state ``j`` with probability ``(1/d) * exits[j]``. :func:`simulate_chain`
draws paths from per-path uniforms, so a path's states depend only on its own draws.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from backtest.config import STRICT_INPUT, IsoDate, format_validation_error, read_yaml
from backtest.errors import ConfigError, ScenarioError
from backtest.safe_io import find_non_finite

MIX = "mix"
PROB_TOL = 1e-6
ROW_TOL = 1e-9
DAYS_PER_MONTH = 21.0
MAX_PACE = 2000.0  # bn USD/month: --pace and every pace of a scenario file (March 2020: ~1,500)
MAX_BETA = 1.0  # |liquidity beta| and its standard error (weekly return per 100 bn/week; estimates are ~0.01)
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "configs" / "scenarios.yaml"


class _Strict(BaseModel):
    model_config = STRICT_INPUT


class RuleSpec(_Strict):
    """An ex-ante pool rule: the trading days on which every given condition held.

    Every condition uses what was known by the close of the day: the regime calendar's
    dates (``regime_kind``, ``regime``, ``first_days``, ``after_first_days``,
    ``announced_in_stress``) and the point-in-time signal frame (``stress`` of the rules
    classifier, ``vix``, ``hiking``). See :mod:`backtest.synthetic.model.pools`.
    """

    regime_kind: list[Literal["qe", "plateau", "qt", "rmp"]] | None = Field(None, description="calendar kinds")
    regime: list[str] | None = Field(None, description="calendar ids (whole periods)")
    stress: bool | None = Field(None, description="stress flag of the rules classifier on the day")
    vix_below: float | None = Field(None, gt=0, le=200, description="VIX close below this")
    vix_above: float | None = Field(None, gt=0, le=200, description="VIX close above this")
    hiking: bool | None = Field(None, description="policy rate (DFEDTARU) above its level 63 trading days before")
    announced_in_stress: bool | None = Field(None, description="the regime was announced on a stress day")
    first_days: int | None = Field(None, ge=1, le=12_600, description="only the first N trading days of each regime")
    after_first_days: int | None = Field(None, ge=1, le=12_600, description="only days after the first N of each regime")
    exclude_states: list[str] = Field(default_factory=list, description="drop days in these states' rule pools")

    def label(self) -> str:
        """Compact text of the rule (``rule{regime_kind=[qe], first_days=60}``)."""
        def show(v: Any) -> str:
            return "[" + ", ".join(map(str, v)) + "]" if isinstance(v, list) else str(v).lower()

        items = [f"{k}={show(v)}" for k, v in self.model_dump(exclude_defaults=True).items()]
        return "rule{" + ", ".join(items) + "}"


class AnalogueSpec(_Strict):
    """One historical analogue of a state: a rule, a calendar period or a date range.

    ``rule`` selects days by ex-ante conditions (:class:`RuleSpec`). ``regime`` takes the
    dates of a regime-calendar id (``end: null`` = open, i.e. up to the end of the data);
    ``start``/``end`` clip it. Without ``regime`` or ``rule`` both dates are required: a
    hand-written date range is a user override and is warned about.
    """

    rule: RuleSpec | None = None
    regime: str | None = Field(None, description="regime calendar id, e.g. RMP2019")
    start: IsoDate | None = None
    end: IsoDate | None = None
    note: str = ""

    @model_validator(mode="after")
    def _dates(self) -> AnalogueSpec:
        if self.rule is not None:
            if self.regime is not None or self.start is not None or self.end is not None:
                raise ValueError("an analogue with a rule takes no regime, start or end")
            return self
        if self.regime is None and (self.start is None or self.end is None):
            raise ValueError("an analogue needs a rule, a regime id or both start and end")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"analogue ends {self.end} before it starts {self.start}")
        return self

    @property
    def hand_written(self) -> bool:
        """Whether the analogue's dates were chosen by hand (a clipped period or a range)."""
        return self.rule is None and (self.start is not None or self.end is not None)

    def label(self) -> str:
        """Short text for messages: ``RMP2019 [.. 2020-02-19]`` or ``2019-09-10..2019-10-14``."""
        if self.rule is not None:
            return self.rule.label()
        if self.regime is None:
            return f"{self.start}..{self.end}"
        clip = ""
        if self.start is not None or self.end is not None:
            clip = f" [{self.start or ''}..{self.end or ''}]"
        return f"{self.regime}{clip}"


class ParametricSpec(_Strict):
    """Adjustments used only by the parametric (sample-market) generator."""

    vol_scale: float = Field(1.0, gt=0, le=10, description="multiplies the kind's daily vols")


class StateSpec(_Strict):
    """A regime state of the chains."""

    kind: Literal["qe", "plateau", "qt", "rmp"] = Field(..., description="regime label strategies see")
    description: str = ""
    paced: bool = Field(False, description="the scenario's RMP pace sets this state's purchases")
    analogues: list[AnalogueSpec] = Field(..., min_length=1)
    parametric: ParametricSpec = Field(default_factory=ParametricSpec)


class PaceStep(_Strict):
    """Pace in force up to and including ``until`` (``null``: to the end of the horizon)."""

    until: IsoDate | None = None
    bn_month: float = Field(..., ge=0, le=MAX_PACE)


class ScenarioSpec(_Strict):
    """One scenario: a chain over the states, a pace, a probability."""

    title: str = ""
    probability: float | None = Field(None, ge=0, le=1, description="weight in the mix (null: not in it)")
    pace_bn_month: float | list[PaceStep] = Field(..., description="RMP purchases, bn USD/month")
    start_state: str
    start: IsoDate | None = Field(None, description="first simulated day (default: file-level start)")
    horizon_days: int | None = Field(None, description="trading days (default: file-level horizon)")
    transitions: dict[str, dict[str, float]] | None = Field(None, description="daily matrix, rows sum to 1")
    durations: dict[str, float | None] | None = Field(None, description="expected trading days per visit")
    exits: dict[str, dict[str, float]] = Field(default_factory=dict, description="where a state goes on leaving")

    @field_validator("pace_bn_month")
    @classmethod
    def _pace(cls, v: float | list[PaceStep]) -> float | list[PaceStep]:
        if isinstance(v, list):
            if not v:
                raise ValueError("pace schedule is empty")
            dates = [s.until for s in v]
            if any(d is None for d in dates[:-1]) or dates[-1] is not None:
                raise ValueError("pace schedule: every step but the last needs 'until'; the last has none")
            if any(b <= a for a, b in zip(dates[:-2], dates[1:-1], strict=False)):
                raise ValueError("pace schedule: 'until' dates must increase")
        elif not (math.isfinite(v) and 0 <= v <= MAX_PACE):
            raise ValueError(f"pace must be a finite number in 0..{MAX_PACE:g} bn USD/month, as --pace allows (got {v:g})")
        return v


class LiquiditySpec(_Strict):
    """Estimation of the liquidity betas (see :mod:`backtest.synthetic.model.liquidity_beta`)."""

    beta_start: IsoDate = date(2009, 1, 1)
    beta_end: IsoDate | None = None
    beta_scale: float = Field(1.0, ge=0, le=10, description="multiplies every estimated beta (0 = no pace effect)")
    neutral_pace_bn_month: float | None = Field(
        None, ge=0, le=500, description="pace at which the liquidity channel shifts no drift (null: the flow the "
                                        "state's target drift already carries)")
    newey_west_lags: int = Field(4, ge=0, le=52)
    sample_betas: dict[str, float] = Field(
        default_factory=dict,
        description="betas (weekly return per 100 bn of weekly net-liquidity change) used on the synthetic sample market",
    )
    sample_ses: dict[str, float] = Field(
        default_factory=dict,
        description="standard errors of sample_betas (per-path beta draws on the sample market; missing: 0)",
    )

    @field_validator("sample_betas")
    @classmethod
    def _betas(cls, v: dict[str, float]) -> dict[str, float]:
        for k, b in v.items():
            if not abs(b) <= MAX_BETA:
                raise ValueError(f"{k}: beta {b:g} is outside -{MAX_BETA:g}..{MAX_BETA:g} "
                                 "(weekly return per 100 bn of weekly net-liquidity change)")
        return v

    @field_validator("sample_ses")
    @classmethod
    def _ses(cls, v: dict[str, float]) -> dict[str, float]:
        for k, se in v.items():
            if not 0 < se <= MAX_BETA:
                raise ValueError(f"{k}: standard error {se:g} must be positive and at most {MAX_BETA:g}")
        return v


DRIFT_MODES = ("raw", "shrunk", "demeaned")


class DriftSpec(_Strict):
    """How a state's mean daily return is set (see :mod:`backtest.synthetic.model.drift`)."""

    mode: Literal["raw", "shrunk", "demeaned"] = Field(
        "shrunk", description="raw: the pool's mean; demeaned: the unconditional mean; shrunk: empirical Bayes between")


DEFAULT_CHOICE_RESAMPLES = 200
MAX_CHOICE_RESAMPLES = 2000


class ScoringSpec(_Strict):
    """How scenarios are scored."""

    regret_statistic: Literal["cvar_penalised", "horizon_return", "sharpe", "max_drawdown", "cvar_5"] = "cvar_penalised"
    regret_summary: Literal["mean", "median"] = "mean"
    cvar_lambda: float = Field(1.0, ge=0, le=100, description="cvar_penalised: median return - lambda * CVaR-5 loss")
    choice_resamples: int = Field(DEFAULT_CHOICE_RESAMPLES, ge=0, le=MAX_CHOICE_RESAMPLES,
                                  description="paired path resamples of the robust choice's stability (0: off)")


class ScenarioFile(_Strict):
    """The whole scenario file."""

    version: Literal[1] = 1
    start: IsoDate | Literal["latest"] = Field(date(2025, 12, 12), description="first simulated day, or 'latest'")
    horizon_days: int = Field(252, description="trading days simulated")
    mean_block_days: float = Field(10.0, ge=1, le=252, description="mean block length of the bootstrap")
    warmup_days: int = Field(800, ge=100, le=5000, description="calendar days of real history before the start")
    calendar: str | None = Field(None, description="regime calendar file (default: configs/regimes/...)")
    include_forecast_period: bool = Field(False, description="let pools use days on or after a scenario's start")
    labels: Literal["model", "state"] = Field("model", description="simulated days' regime labels: the run's "
                                              "regime model (causal) or the hidden state kind (optimistic)")
    liquidity: LiquiditySpec = Field(default_factory=LiquiditySpec)
    drift: DriftSpec = Field(default_factory=DriftSpec)
    scoring: ScoringSpec = Field(default_factory=ScoringSpec)
    states: dict[str, StateSpec] = Field(..., min_length=1)
    precedence: list[str] | None = Field(
        None, description="states in order of precedence: a history day in several states' pools belongs to the "
                          "first (default: the order of 'states')")
    scenarios: dict[str, ScenarioSpec] = Field(..., min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ScenarioFile:
        _check_horizon(self.horizon_days, "horizon_days")
        states = list(self.states)
        for name in [*states, *self.scenarios]:
            if not name or any(c in name for c in " ./=,") or name == MIX:
                raise ValueError(f"name {name!r}: use letters, digits, '-' or '_' (and not {MIX!r})")
        probs = {n: s.probability for n, s in self.scenarios.items() if s.probability is not None}
        if probs:
            total = sum(probs.values())
            if abs(total - 1.0) > PROB_TOL:
                terms = " + ".join(f"{n} {p:g}" for n, p in probs.items())
                raise ValueError(f"scenarios: probabilities sum to {total:.6g} ({terms}), must sum to 1")
        horizons = {n: sc.horizon_days or self.horizon_days for n, sc in self.scenarios.items()}
        if len(set(horizons.values())) > 1:
            listing = ", ".join(f"{n} {h}" for n, h in horizons.items())
            raise ValueError(f"scenarios: horizon_days differ ({listing} trading days); scenarios are scored "
                             "together (one mix, one regret table): give them one horizon")
        for name, sc in self.scenarios.items():
            where = f"scenarios.{name}"
            if sc.horizon_days is not None:
                _check_horizon(sc.horizon_days, f"{where}.horizon_days")
            if sc.start_state not in self.states:
                raise ValueError(f"{where}.start_state: unknown state {sc.start_state!r}{_hint(states)}")
            transition_matrix(sc, states, where)
        if self.precedence is not None and sorted(self.precedence) != sorted(states):
            missing = [x for x in states if x not in self.precedence]
            extra = [x for x in self.precedence if x not in states or self.precedence.count(x) > 1]
            what = f"missing {', '.join(missing)}" if missing else f"unknown or repeated {', '.join(dict.fromkeys(extra))}"
            raise ValueError(f"precedence: must list every state exactly once ({what}){_hint(states)}")
        for name, st in self.states.items():
            for i, a in enumerate(st.analogues):
                for x in (a.rule.exclude_states if a.rule is not None else []):
                    if x not in self.states or x == name:
                        raise ValueError(f"states.{name}.analogues[{i}].rule.exclude_states: {x!r} is not "
                                         f"another state{_hint(states)}")
        return self


def _hint(known: list[str]) -> str:
    return f" (states: {', '.join(known)})"


MAX_HORIZON = 12_600  # trading days (50 years)


def _check_horizon(h: int, where: str) -> None:
    if h < 1:
        raise ValueError(f"{where}: the horizon must be at least 1 trading day (got {h})")
    if h > MAX_HORIZON:
        raise ValueError(f"{where}: the horizon must be at most {MAX_HORIZON} trading days (got {h})")


# ------------------------------------------------------------------------ chain


def transition_matrix(sc: ScenarioSpec, states: list[str], where: str = "scenario") -> np.ndarray:
    """Daily transition matrix of a scenario over ``states`` (rows: from, columns: to).

    Either ``transitions`` (rows must be probability vectors; missing entries are 0) or
    ``durations`` + ``exits``: ``p_ii = 1 - 1/d_i`` and ``p_ij = (1/d_i) exits_i[j]``; a
    duration of ``null`` makes the state absorbing. A state without a row must not be
    reachable from the start state.

    Raises
    ------
    ValueError
        One line naming the key: unknown state, negative or non-finite entry, a row that
        does not sum to 1 (not a stochastic matrix), a duration below 1 day, a reachable
        state without a row.
    """
    n = len(states)
    col = {s: i for i, s in enumerate(states)}
    mat = np.full((n, n), np.nan)
    if (sc.transitions is None) == (sc.durations is None):
        raise ValueError(f"{where}: give exactly one of 'transitions' or 'durations' (+ 'exits')")
    if sc.transitions is not None:
        if sc.exits:
            raise ValueError(f"{where}.exits: only used with 'durations'")
        for frm, row in sc.transitions.items():
            w = f"{where}.transitions.{frm}"
            if frm not in col:
                raise ValueError(f"{w}: unknown state {frm!r}{_hint(states)}")
            vec = np.zeros(n)
            for to, p in row.items():
                if to not in col:
                    raise ValueError(f"{w}.{to}: unknown state {to!r}{_hint(states)}")
                if not (math.isfinite(p) and 0 <= p <= 1):
                    raise ValueError(f"{w}.{to}: probability {p} is not in [0, 1]")
                vec[col[to]] = p
            total = vec.sum()
            if abs(total - 1.0) > ROW_TOL:
                raise ValueError(f"{w}: row sums to {total:.6g}, must sum to 1 (the transition matrix must be stochastic)")
            mat[col[frm]] = vec
    else:
        assert sc.durations is not None
        for frm, d in sc.durations.items():
            w = f"{where}.durations.{frm}"
            if frm not in col:
                raise ValueError(f"{w}: unknown state {frm!r}{_hint(states)}")
            vec = np.zeros(n)
            if d is None:
                if frm in sc.exits:
                    raise ValueError(f"{where}.exits.{frm}: state is absorbing (duration null)")
                vec[col[frm]] = 1.0
            else:
                if not (math.isfinite(d) and d >= 1):
                    raise ValueError(f"{w}: expected duration must be >= 1 trading day (got {d})")
                ex = sc.exits.get(frm)
                if not ex:
                    if d > 1e12:
                        vec[col[frm]] = 1.0
                    else:
                        raise ValueError(f"{where}.exits.{frm}: a state with a finite duration needs exits")
                else:
                    tot = 0.0
                    for to, p in ex.items():
                        we = f"{where}.exits.{frm}.{to}"
                        if to not in col:
                            raise ValueError(f"{we}: unknown state {to!r}{_hint(states)}")
                        if to == frm:
                            raise ValueError(f"{we}: a state cannot exit to itself (use its duration)")
                        if not (math.isfinite(p) and 0 <= p <= 1):
                            raise ValueError(f"{we}: probability {p} is not in [0, 1]")
                        vec[col[to]] = p / d
                        tot += p
                    if abs(tot - 1.0) > ROW_TOL:
                        raise ValueError(f"{where}.exits.{frm}: exit probabilities sum to {tot:.6g}, must sum to 1")
                    vec[col[frm]] = 1.0 - 1.0 / d
            mat[col[frm]] = vec
        extra = sorted(set(sc.exits) - set(sc.durations))
        if extra:
            raise ValueError(f"{where}.exits.{extra[0]}: state has no duration")
    # every state reachable from the start needs a row
    start = col[sc.start_state] if sc.start_state in col else 0
    seen, todo = {start}, [start]
    while todo:
        i = todo.pop()
        if np.isnan(mat[i]).any():
            raise ValueError(f"{where}: state {states[i]!r} is reachable but has no "
                             f"{'transitions row' if sc.transitions is not None else 'duration'}")
        for j in np.flatnonzero(mat[i] > 0):
            if int(j) not in seen:
                seen.add(int(j))
                todo.append(int(j))
    for i in range(n):
        if np.isnan(mat[i]).any():
            mat[i] = 0.0
            mat[i, i] = 1.0  # unreachable: never used
    return mat


def simulate_chain(matrix: np.ndarray, start: int, u: np.ndarray) -> np.ndarray:
    """States of many paths of a daily Markov chain.

    Parameters
    ----------
    matrix : np.ndarray, shape (S, S)
        Row-stochastic transition matrix.
    start : int
        State of day 0.
    u : np.ndarray, shape (P, T)
        Uniforms in [0, 1), one per path and day (``u[:, 0]`` unused).

    Returns
    -------
    np.ndarray of int8, shape (P, T)
        State index per path and day; day ``t`` moves from day ``t - 1`` to the first
        state ``j`` with ``u[:, t] < cumsum(matrix[state])[j]``.
    """
    cum = np.cumsum(matrix, axis=1)
    cum[:, -1] = 1.0 + 1e-12  # absorb rounding: some state is always chosen
    p_n, t_n = u.shape
    out = np.empty((p_n, t_n), dtype=np.int8)
    out[:, 0] = start
    cur = np.full(p_n, start, dtype=np.int64)
    for t in range(1, t_n):
        cur = (u[:, t, None] >= cum[cur]).sum(axis=1)
        out[:, t] = cur
    return out


# ------------------------------------------------------------------------ compiled set


@dataclass(frozen=True)
class Scenario:
    """A compiled scenario."""

    name: str
    title: str
    probability: float | None
    start_state: int
    matrix: np.ndarray  # (S, S)
    pace: tuple[tuple[pd.Timestamp | None, float], ...]  # (until, bn/month) steps
    start: date | Literal["latest"]
    horizon_days: int

    def pace_on(self, days: pd.DatetimeIndex) -> np.ndarray:
        """RMP pace (bn USD/month) in force on each of ``days``."""
        out = np.full(len(days), self.pace[-1][1])
        for until, bn in reversed(self.pace[:-1]):
            out[np.asarray(days <= until)] = bn
        return out

    def mean_dwell(self) -> np.ndarray:
        """Expected days per visit of each state, ``1 / (1 - p_ii)`` (inf when absorbing)."""
        stay = np.diag(self.matrix)
        with np.errstate(divide="ignore"):
            return np.where(stay < 1, 1.0 / (1.0 - stay), np.inf)


@dataclass(frozen=True)
class ScenarioSet:
    """States and scenarios of a scenario file, compiled to arrays."""

    path: str
    spec: ScenarioFile
    states: tuple[str, ...]
    kinds: tuple[str, ...]
    paced: np.ndarray  # (S,) bool
    scenarios: tuple[Scenario, ...]
    pace_override: dict[str, float] = dataclasses.field(default_factory=dict)
    """Paces set on the command line (``--pace``), by scenario (bn USD/month)."""

    @property
    def precedence(self) -> tuple[str, ...]:
        """States in order of precedence: a day several pools' rules select belongs to the first."""
        return tuple(self.spec.precedence) if self.spec.precedence else self.states

    @property
    def mix(self) -> dict[str, float]:
        """Scenario name -> probability, for the scenarios in the mix (empty: no mix)."""
        return {s.name: float(s.probability) for s in self.scenarios if s.probability is not None}

    def scenario(self, name: str) -> Scenario:
        """A scenario by name."""
        for s in self.scenarios:
            if s.name == name:
                return s
        raise ScenarioError(f"{self.path}: no scenario {name!r} (scenarios: {', '.join(s.name for s in self.scenarios)})")

    def with_forecast_period(self, include: bool) -> ScenarioSet:
        """The same set, its pools allowed days on or after the start when ``include``."""

        if not include:
            return self
        return dataclasses.replace(self, spec=self.spec.model_copy(update={"include_forecast_period": True}))

    def with_horizon(self, horizon: int | None) -> ScenarioSet:
        """The same set with every scenario's horizon replaced (``--horizon``)."""
        if horizon is None:
            return self
        if not 1 <= horizon <= MAX_HORIZON:
            raise ScenarioError(
                f"--horizon {horizon}: the horizon must be 1..{MAX_HORIZON} trading days")
        sc = tuple(dataclasses.replace(s, horizon_days=int(horizon)) for s in self.scenarios)
        return dataclasses.replace(self, scenarios=sc)

    def with_start(self, start: date, start_state: int | None = None) -> ScenarioSet:
        """The same set, every scenario starting on ``start`` (and in ``start_state`` when given)."""
        sc = tuple(dataclasses.replace(s, start=start, start_state=s.start_state if start_state is None
                                       else int(start_state)) for s in self.scenarios)
        return dataclasses.replace(self, scenarios=sc)

    def only(self, names: list[str] | None) -> ScenarioSet:
        """Keep the named scenarios (the mix is then over those kept that have a probability)."""
        if not names:
            return self
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ScenarioError(f"--only {','.join(names)}: scenario {dup[0]!r} is named twice")
        keep = tuple(self.scenario(n) for n in names)
        return dataclasses.replace(self, scenarios=keep,
                                   pace_override={k: v for k, v in self.pace_override.items() if k in names})

    def with_drift(self, mode: str | None) -> ScenarioSet:
        """The same set with the drift mode replaced (``--drift``; None keeps the file's)."""
        if mode is None:
            return self
        if mode not in DRIFT_MODES:
            raise ScenarioError(f"--drift {mode}: must be one of {', '.join(DRIFT_MODES)}")
        drift = self.spec.drift.model_copy(update={"mode": mode})
        return dataclasses.replace(self, spec=self.spec.model_copy(update={"drift": drift}))

    def with_paces(self, text: str | None) -> ScenarioSet:
        """The same set with constant paces set from ``--pace A=25,B=45,C=3.5`` (None: unchanged).

        Raises
        ------
        ScenarioError
            One line: a malformed item, an unknown scenario, a pace that is not a finite
            number in 0..500 bn USD/month.
        """
        if text is None:
            return self
        paces = parse_paces(text, [s.name for s in self.scenarios])
        sc = tuple(dataclasses.replace(s, pace=((None, paces[s.name]),)) if s.name in paces else s
                   for s in self.scenarios)
        return dataclasses.replace(self, scenarios=sc, pace_override={**self.pace_override, **paces})


def parse_paces(text: str, names: list[str]) -> dict[str, float]:
    """Scenario -> pace of a ``--pace`` value ``A=25,B=45,C=3.5`` (see :meth:`ScenarioSet.with_paces`)."""
    out: dict[str, float] = {}
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise ScenarioError("--pace: give NAME=BN_PER_MONTH items, e.g. --pace A=25,B=45,C=3.5")
    for item in items:
        name, sep, val = item.partition("=")
        name = name.strip()
        if not sep:
            raise ScenarioError(f"--pace {item!r}: expected NAME=BN_PER_MONTH, e.g. A=25")
        if name not in names:
            raise ScenarioError(f"--pace {item!r}: unknown scenario {name!r} (scenarios: {', '.join(names)})")
        try:
            v = float(val)
        except ValueError:
            raise ScenarioError(f"--pace {item!r}: {val.strip()!r} is not a number") from None
        if not (math.isfinite(v) and 0.0 <= v <= MAX_PACE):
            raise ScenarioError(f"--pace {item!r}: the pace must be a finite number in 0..{MAX_PACE:g} bn USD/month")
        if name in out:
            raise ScenarioError(f"--pace {text}: scenario {name!r} is given twice ({out[name]:g} and {v:g})")
        out[name] = v
    return out


def compile_scenarios(spec: ScenarioFile, path: str = "<scenarios>") -> ScenarioSet:
    """Compile a validated :class:`ScenarioFile`."""
    states = list(spec.states)
    out = []
    for name, sc in spec.scenarios.items():
        mat = transition_matrix(sc, states, f"scenarios.{name}")
        if isinstance(sc.pace_bn_month, list):
            pace = tuple((None if s.until is None else pd.Timestamp(s.until), float(s.bn_month))
                         for s in sc.pace_bn_month)
        else:
            pace = ((None, float(sc.pace_bn_month)),)
        out.append(Scenario(
            name=name, title=sc.title or name, probability=sc.probability,
            start_state=states.index(sc.start_state), matrix=mat, pace=pace,
            start=sc.start or spec.start, horizon_days=int(sc.horizon_days or spec.horizon_days),
        ))
    return ScenarioSet(
        path=path, spec=spec, states=tuple(states), kinds=tuple(s.kind for s in spec.states.values()),
        paced=np.array([s.paced for s in spec.states.values()]), scenarios=tuple(out),
    )


def scenarios_from_dict(raw: dict[str, Any], origin: str = "<scenarios>") -> ScenarioSet:
    """Validate and compile a scenario mapping; one-line :class:`ScenarioError` on any problem."""

    bad = find_non_finite(raw)
    if bad is not None:
        raise ScenarioError(f"{origin}: {bad[0]}: must be a finite number (got {bad[1]!r})")
    try:
        spec = ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, origin, ScenarioFile)) from None
    return compile_scenarios(spec, origin)


def load_scenarios(path: str | Path | None = None) -> ScenarioSet:
    """Read, validate and compile a scenario file (default ``configs/scenarios.yaml``).

    Raises
    ------
    ScenarioError
        Missing or malformed file, unknown key, probabilities not summing to 1, a
        transition matrix that is not stochastic, a horizon of zero, ... (one line).
    """

    p = Path(path) if path is not None else DEFAULT_FILE
    try:
        raw = read_yaml(p)
    except ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    return scenarios_from_dict(raw, str(p))


# ------------------------------------------------------------------------ analogues


@dataclass(frozen=True)
class Period:
    """A resolved analogue period (inclusive dates) and where it came from."""

    state: str
    start: pd.Timestamp
    end: pd.Timestamp
    label: str


__all__ = [
    "DEFAULT_CHOICE_RESAMPLES",
    "DRIFT_MODES",
    "MAX_CHOICE_RESAMPLES",
    "MIX",
    "AnalogueSpec",
    "DriftSpec",
    "Period",
    "RuleSpec",
    "Scenario",
    "ScenarioFile",
    "ScenarioSet",
    "StateSpec",
    "compile_scenarios",
    "load_scenarios",
    "parse_paces",
    "scenarios_from_dict",
    "simulate_chain",
    "transition_matrix",
]
