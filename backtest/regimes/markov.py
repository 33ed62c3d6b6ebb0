"""The ``markov`` regime model: Markov-switching regression, filtered probabilities only.

A statsmodels ``MarkovRegression`` (switching mean; common variance by default, optionally
switching) is fitted to one point-in-time signal (default: the 13-week change of WALCL
through a saturating ``tanh(x / 100 bn)``, so that 2020's trillions do not swamp
everything else and a 150 bn and a 3 tn quarter both read as "full QE"; with an
unbounded transform or switching variances the three states tend to split QE into
"some" and "huge" and lump plateau with QT).

Causality, step by step:

* The signal is sampled on a fixed grid, every ``step_days`` trading days from its first
  valid day (the grid never depends on later data).
* Expanding-window refits: the first once ``min_history`` trading days of signal exist,
  then every ``refit_every`` trading days, each on the grid observations up to the refit
  day only (warm-started from the previous fit).
* Between refits the last fitted parameters run the Hamilton filter forward; a day
  between two grid points gets a one-step filter update with its own observation
  ("nowcast"). Filtered probabilities at ``t`` use observations up to ``t`` only.
* Smoothed probabilities (Kim smoother) condition on the whole sample and would leak the
  future into the labels: there is deliberately no option to request them, and params
  that mention them are rejected (``ConfigError``).

Labels are stable across refits: states are ordered by their fitted mean and mapped to
``labels`` in that order (default ``qt < plateau < qe``). Days before the first fit are
``plateau`` with ``regime_id`` ``WARMUP`` and NaN probabilities.

The Hamilton filter is implemented here in numpy (a few lines) so that it can be run
with fixed parameters over any prefix; it reproduces statsmodels' filtered marginal
probabilities (steady-state initialisation; tested).

Simulated scenario paths (the model's batch form, :class:`MarkovFit`): the parameters are
fitted once on the history up to ``t0`` and frozen, and the filter runs forward on every
path's simulated signal at once (see the section at the end of this module).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from backtest.constants import REGIME_KINDS
from backtest.data.base import MarketData
from backtest.errors import RegimeError
from backtest.regimes.models import register_model
from backtest.regimes.rules import dwell_filter, regime_ids, require_signals, stress_overlay
from backtest.regimes.rules_batch import NO_PENDING, MachineState, dwell_batch
from backtest.regimes.rules_params import RegimeParams, check_labels, validate_params
from backtest.regimes.signals import SIGNALS, liquidity_signals


class MarkovParams(RegimeParams):
    """Params of the markov model (``regimes.params``); unknown keys are errors."""

    signal: str = "walcl_chg_13w"
    transform: Literal["tanh", "asinh", "none"] = "tanh"
    scale: float = Field(100.0, gt=0, le=1e6)
    labels: list[str] = Field(default_factory=lambda: ["qt", "plateau", "qe"])
    switching_variance: bool = False
    step_days: int = Field(5, ge=1, le=63)
    refit_every: int = Field(63, ge=1, le=2520)
    min_history: int = Field(504, ge=20, le=5040)
    em_iter: int = Field(10, ge=1, le=500)
    confirm_days: int = Field(5, ge=1, le=252)
    min_dwell_days: int = Field(10, ge=0, le=252)
    funding_enter: float = 0.10
    funding_exit: float = 0.0
    vix_enter: float = Field(30.0, gt=0, le=200)
    vix_exit: float = Field(25.0, gt=0, le=200)
    stress_min_days: int = Field(3, ge=1, le=252)

    @model_validator(mode="before")
    @classmethod
    def _no_smoothing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, val in data.items():
                if "smooth" in str(key).lower() or (isinstance(val, str) and "smooth" in val.lower()):
                    raise ValueError(
                        f"{key}: smoothed probabilities use data after the decision date and are not "
                        "available; the markov model reports filtered probabilities only")
        return data

    @field_validator("signal")
    @classmethod
    def _signal(cls, v: str) -> str:
        if v not in SIGNALS:
            raise ValueError(f"unknown signal {v!r}")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        if not 2 <= len(v) <= 4:
            raise ValueError("labels must name 2 to 4 regimes (one per Markov state, by increasing mean)")
        return check_labels(v)

    @model_validator(mode="after")
    def _check(self) -> "MarkovParams":
        if self.refit_every < self.step_days:
            raise ValueError("refit_every must be at least step_days")
        if self.min_history < 10 * self.step_days * len(self.labels):
            raise ValueError(f"min_history must be at least {10 * self.step_days * len(self.labels)} days "
                             "(10 grid observations per state)")
        if self.funding_exit > self.funding_enter or self.vix_exit > self.vix_enter:
            raise ValueError("stress exit levels must not exceed the enter levels")
        return self


# ---------------------------------------------------------------------------- filter


def _normal_pdf(y: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Densities, shape ``(len(y), k)``."""
    y = np.asarray(y, dtype=float)[:, None]
    return np.exp(-0.5 * (y - mu) ** 2 / var) / np.sqrt(2.0 * np.pi * var)


def steady_state(P: np.ndarray) -> np.ndarray:
    """Ergodic probabilities of a transition matrix with ``P[i, j] = P(s_t=i | s_{t-1}=j)``."""
    k = P.shape[0]
    A = np.vstack([np.eye(k) - P, np.ones(k)])
    b = np.concatenate([np.zeros(k), [1.0]])
    pi = np.linalg.lstsq(A, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def hamilton_filter(y: np.ndarray, P: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Filtered state probabilities ``P(s_t | y_1..y_t)``, shape ``(len(y), k)``.

    Parameters
    ----------
    y : np.ndarray
        Observations (no NaN).
    P : np.ndarray
        Transition matrix, ``P[i, j] = P(s_t = i | s_{t-1} = j)`` (columns sum to 1).
    mu, var : np.ndarray
        Mean and variance of each state.
    """
    lik = _normal_pdf(y, mu, var)
    out = np.empty_like(lik)
    pred = steady_state(P)
    for t in range(len(y)):
        post = pred * lik[t]
        s = post.sum()
        post = post / s if s > 0 and np.isfinite(s) else pred
        out[t] = post
        pred = P @ post
    return out


# ---------------------------------------------------------------------------- fitting


class OrderedFit:
    """Parameters of one fit, with states ordered by increasing mean."""

    def __init__(self, raw_params: np.ndarray, model) -> None:
        k = model.k_regimes
        names = model.param_names
        p = np.asarray(raw_params, dtype=float)
        mu = np.array([p[names.index(f"const[{i}]")] for i in range(k)])
        if model.switching_variance:
            var = np.array([p[names.index(f"sigma2[{i}]")] for i in range(k)])
        else:
            var = np.full(k, p[names.index("sigma2")])
        P = np.asarray(model.regime_transition_matrix(p))[:, :, 0]
        order = np.argsort(mu, kind="stable")
        self.raw = p
        self.mu = mu[order]
        self.var = np.maximum(var[order], 1e-10)
        self.P = P[np.ix_(order, order)]


def transform_signal(x: Any, p: MarkovParams) -> Any:
    """The signal as the regression sees it: ``x / scale``, then ``tanh`` or ``asinh`` (Series or array)."""
    z = x / p.scale
    if p.transform == "tanh":
        return np.tanh(z)
    if p.transform == "asinh":
        return np.arcsinh(z)
    return z


def _quantile_start(model, y: np.ndarray) -> np.ndarray:
    """Data-driven start: state means at spread quantiles, common variance, sticky transitions."""
    k = model.k_regimes
    qs = np.quantile(y, (np.arange(k) + 0.5) / k)
    var = max(float(np.var(y)) / (k * k), 1e-6)
    start = []
    for name in model.param_names:
        if name.startswith("p["):
            i, j = (int(x) for x in name[2:-1].split("->"))
            start.append(0.95 if i == j else 0.05 / (k - 1))
        elif name.startswith("const["):
            start.append(qs[int(name[6:-1])])
        else:
            start.append(var)
    return np.asarray(start, dtype=float)


def fit_em(y: np.ndarray, k: int, switching_variance: bool, warm: np.ndarray | None, em_iter: int) -> tuple[Any, np.ndarray]:
    """EM fit from a data-driven start and (if given) from the previous fit; the better one wins.

    Returns the statsmodels model and its raw parameters (:class:`OrderedFit` orders them).

    Raises
    ------
    ValueError
        No start converged to finite parameters.
    """
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    model = MarkovRegression(y, k_regimes=k, switching_variance=switching_variance)
    best, best_llf = None, -np.inf
    starts = [(_quantile_start(model, y), 5 * em_iter)] + ([(warm, em_iter)] if warm is not None else [])
    for start, n_iter in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = model.fit(start_params=start, disp=False, search_reps=0, cov_type="none",
                                em_iter=n_iter, maxiter=0)
            except (ValueError, np.linalg.LinAlgError):
                continue
        params = np.asarray(res.params, dtype=float)
        if np.all(np.isfinite(params)) and np.isfinite(res.llf) and res.llf > best_llf:
            best, best_llf = params, float(res.llf)
    if best is None:
        raise ValueError("no start converged")
    return model, best


def filtered_probabilities(y: pd.Series, p: MarkovParams) -> tuple[pd.DataFrame, pd.Series]:
    """Causal filtered probabilities per day, states ordered by mean.

    Parameters
    ----------
    y : pd.Series
        Transformed point-in-time signal per trading day (NaN before it exists).
    p : MarkovParams
        Settings.

    Returns
    -------
    probs : pd.DataFrame
        Index of ``y``; one column per label (``p_<label>``); NaN before the first fit.
    fitted_on : pd.Series
        Date of the fit whose parameters produced each day's probabilities (NaT before).

    Raises
    ------
    RegimeError
        The first fit fails (e.g. a constant signal).
    """
    k = len(p.labels)
    vals = y.to_numpy(dtype=float)
    n = len(vals)
    probs = np.full((n, k), np.nan)
    fitted_on = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    valid = np.flatnonzero(~np.isnan(vals))
    if not len(valid):
        return _frame(probs, y.index, p.labels), pd.Series(fitted_on, index=y.index)
    first = valid[0]
    vals = pd.Series(vals).ffill().to_numpy()
    grid = np.arange(first, n, p.step_days)
    refits = [g for j, g in enumerate(grid) if g - first + 1 >= p.min_history
              and (g - first - (p.min_history - 1)) % p.refit_every < p.step_days]
    fit: OrderedFit | None = None
    start = None
    for r_i, r in enumerate(refits):
        seg_end = refits[r_i + 1] if r_i + 1 < len(refits) else n  # exclusive
        gy = vals[grid[grid <= r]]
        try:
            model, params = fit_em(gy, k, p.switching_variance, start, p.em_iter)
            fit, start = OrderedFit(params, model), params
        except Exception as exc:  # noqa: BLE001 - statsmodels raises many types
            if fit is None:
                raise RegimeError(f"markov: first fit on {len(gy)} observations of {p.signal} up to "
                                  f"{y.index[r].date()} failed ({type(exc).__name__}); check the signal "
                                  "or raise min_history") from None
        in_seg = grid[(grid >= r) & (grid < seg_end)]
        g_all = grid[grid < seg_end]
        filt = hamilton_filter(vals[g_all], fit.P, fit.mu, fit.var)
        filt_by_pos = dict(zip(g_all.tolist(), range(len(g_all)), strict=True))
        days = np.arange(r, seg_end)
        # last grid point <= each day, then a one-step update with the day's own value
        last_g = grid[np.searchsorted(grid, days, side="right") - 1]
        prior = filt[[filt_by_pos[g] for g in last_g]]
        pred = prior @ fit.P.T
        lik = _normal_pdf(vals[days], fit.mu, fit.var)
        post = pred * lik
        tot = post.sum(axis=1, keepdims=True)
        post = np.where(tot > 0, post / np.where(tot > 0, tot, 1.0), pred)
        on_grid = np.isin(days, in_seg)
        post[on_grid] = filt[[filt_by_pos[g] for g in days[on_grid]]]
        probs[days] = post
        fitted_on[days] = np.datetime64(y.index[r], "ns")
    return _frame(probs, y.index, p.labels), pd.Series(fitted_on, index=y.index)


def _frame(probs: np.ndarray, index: pd.Index, labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame(probs, index=index, columns=[f"p_{lab}" for lab in labels])


@register_model("markov")
class MarkovModel:
    """Markov-switching regime model on a point-in-time signal (filtered probabilities).

    Parameters
    ----------
    params : dict, optional
        ``regimes.params`` (see :class:`MarkovParams`).

    Notes
    -----
    Its batch form (:class:`backtest.regimes.models.PathLabelling`) labels simulated paths
    with the parameters fitted once on the history up to ``t0`` and frozen
    (:class:`MarkovFit`): no refits during the simulation, stated in the run note.
    """

    name = "markov"

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params: MarkovParams = validate_params(MarkovParams, dict(params or {}))

    @classmethod
    def from_config(cls, cfg: Any) -> MarkovModel:
        """The model with ``regimes.params`` (ConfigError naming a bad key)."""
        return cls(cfg.params)

    def reads(self, signals: dict[str, float | None]) -> str:
        """The one signal it reads, with today's value, and its states."""
        p = self.params
        x = signals.get(p.signal)
        val = "n/a" if x is None else f"{x:+,.1f} bn"
        no_rmp = "" if "rmp" in p.labels else ", no rmp state: growth is qe"
        return f"only {p.signal} ({val}), states {', '.join(p.labels)}{no_rmp}"

    def start_state(self, history: MarketData, t0: pd.Timestamp, history_labels: pd.DataFrame,
                    full: MarketData | None = None) -> MarkovFit | None:
        """The filter fitted on all the data up to ``t0`` (``full``); None without it or if the fit fails."""
        return None if full is None else fit_markov(self, full, t0, history_labels)

    def label_paths(self, signals: Any, state: MarkovFit) -> np.ndarray:
        """(P, T) label codes of the simulated days of every path (:meth:`MarkovFit.codes`)."""
        return state.codes(signals)

    def path_note(self, state: MarkovFit) -> str:
        """How the simulated days are labelled."""
        return (f"simulated days are labelled by the markov model's filter on each path's simulated "
                f"{self.params.signal}, with the parameters fitted on history up to t0 (no refits during the "
                "simulation)")

    def transform(self, x: pd.Series) -> pd.Series:
        """The signal as the regression sees it."""
        return transform_signal(x, self.params)

    def label(self, md: MarketData, days: pd.DatetimeIndex) -> pd.DataFrame:
        """Labels, stress flag and filtered probabilities per day.

        Returns
        -------
        pd.DataFrame
            Columns ``regime, regime_id, stress, p_<label>..., fitted_on``.

        Raises
        ------
        RegimeError
            A needed macro series is missing, or the first fit fails.
        """
        p = self.params
        require_signals(md, (p.signal,), self.name)
        sig = liquidity_signals(md, pd.DatetimeIndex(days))
        probs, fitted_on = filtered_probabilities(self.transform(sig[p.signal]), p)
        arr = probs.to_numpy()
        warm = np.isnan(arr).any(axis=1)
        best = np.where(warm, 0, np.nanargmax(np.where(np.isnan(arr), -1.0, arr), axis=1))
        cand = np.where(warm, "plateau", np.asarray(p.labels, dtype=object)[best])
        regime = dwell_filter(list(cand), "plateau", p.confirm_days, p.min_dwell_days)
        regime[warm] = "plateau"
        ids = regime_ids(np.where(warm, "warmup", regime), pd.DatetimeIndex(sig.index))
        ids[warm] = "WARMUP"
        stress = stress_overlay(sig, p.funding_enter, p.funding_exit, p.vix_enter, p.vix_exit, p.stress_min_days)
        out = pd.DataFrame({"regime": regime, "regime_id": ids, "stress": stress.to_numpy()}, index=sig.index)
        out = pd.concat([out, probs, fitted_on.rename("fitted_on")], axis=1)
        out.index.name = "date"
        return out


# ------------------------------------------------------------------------ simulated paths
#
# On a scenario path the parameters are fitted once, on the history up to ``t0`` (all of it,
# the grid observations every ``step_days`` from the signal's first valid day), and frozen:
# the filter then runs on each path's simulated signal, on the same grid continued past
# ``t0``, with the model's one-step nowcast on the days between grid points. The most
# probable state (states ordered by mean, mapped to ``labels``) goes through the model's
# confirm / min-dwell filter, which resumes from the label strategies saw at ``t0``. Every
# step uses data up to the day only. Differences from :meth:`MarkovModel.label`, stated in
# the run note: no refits during the simulation, and one fit from a data-driven start
# instead of the warm-started refit chain.


def transform_array(x: np.ndarray, p: MarkovParams) -> np.ndarray:
    """The signal as the regression sees it (:func:`transform_signal` on arrays)."""
    return transform_signal(np.asarray(x, dtype=float), p)


def fit_params(y: np.ndarray, p: MarkovParams) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Means, variances and transition matrix (``P[i, j] = P(s_t=i | s_{t-1}=j)``), ordered by mean.

    The history model's own EM fit (:func:`fit_em`, data-driven start, no warm start);
    None if it fails.
    """
    try:
        model, raw = fit_em(y, len(p.labels), p.switching_variance, None, p.em_iter)
    except ValueError:
        return None
    fit = OrderedFit(raw, model)
    return fit.mu, fit.var, fit.P


@dataclass(frozen=True)
class MarkovFit:
    """Everything the simulated-day filter needs (picklable).

    Attributes
    ----------
    params : MarkovParams
    mu, var : np.ndarray, shape (k,)
    trans : np.ndarray, shape (k, k)
        ``trans[i, j] = P(s_t = i | s_{t-1} = j)``.
    state_codes : np.ndarray of int, shape (k,)
        Regime code of each state (``REGIME_KINDS`` positions).
    filt : np.ndarray, shape (k,)
        Filtered probabilities at the last grid point on or before ``t0``.
    offset : int
        Grid phase: simulated day ``j`` is a grid point when ``(offset + j) % step_days == 0``.
    y_last : float
        Last transformed history value (carried over a missing simulated value).
    start : MachineState
        Dwell filter at ``t0`` (one path).
    """

    params: MarkovParams
    mu: np.ndarray
    var: np.ndarray
    trans: np.ndarray
    state_codes: np.ndarray
    filt: np.ndarray
    offset: int
    y_last: float
    start: MachineState

    def on_grid(self, t_n: int) -> np.ndarray:
        """(T,) grid-point flags of the simulated days."""
        return (self.offset + np.arange(t_n)) % self.params.step_days == 0

    def probabilities(self, y: np.ndarray) -> np.ndarray:
        """(P, T, k) filtered probabilities of transformed simulated values ``y`` (P, T)."""
        p_n, t_n = y.shape
        grid = self.on_grid(t_n)
        last = np.broadcast_to(self.filt, (p_n, len(self.mu))).copy()
        prev = np.full(p_n, self.y_last)
        out = np.empty((p_n, t_n, len(self.mu)))
        for t in range(t_n):
            yt = np.where(np.isnan(y[:, t]), prev, y[:, t])
            prev = yt
            lik = np.exp(-0.5 * (yt[:, None] - self.mu) ** 2 / self.var) / np.sqrt(2.0 * np.pi * self.var)
            pred = last @ self.trans.T
            post = pred * lik
            tot = post.sum(axis=1, keepdims=True)
            post = np.where(tot > 0, post / np.where(tot > 0, tot, 1.0), pred)
            out[:, t] = post
            if grid[t]:
                last = post
        return out

    def codes_of(self, y: np.ndarray) -> np.ndarray:
        """(P, T) labels (codes) of transformed simulated values ``y`` (P, T)."""
        prob = self.probabilities(y)
        cand = self.state_codes[np.argmax(prob, axis=2)]
        out, _ = dwell_batch(cand, self.start, self.params.confirm_days, self.params.min_dwell_days)
        return out

    def codes(self, ps: Any) -> np.ndarray:
        """(P, T) labels (codes) of the simulated days of a panel."""
        rows = np.arange(ps.H, len(ps.calendar))
        return self.codes_of(transform_array(ps.at(self.params.signal, rows).T, self.params))


def fit_markov(model: MarkovModel, md: MarketData, t0: pd.Timestamp, history_labels: pd.DataFrame) -> MarkovFit | None:
    """Fit on all history up to ``t0`` and set the filter's state at ``t0``; None if impossible.

    Parameters
    ----------
    model : MarkovModel
    md : MarketData
        All the history (cut at ``t0`` here).
    t0 : pd.Timestamp
    history_labels : pd.DataFrame
        The labels strategies saw up to ``t0`` (the dwell filter resumes from the last).
    """
    p = model.params
    days = pd.DatetimeIndex(md.calendar)
    days = days[days <= t0]
    y = transform_array(liquidity_signals(md, days)[p.signal].to_numpy(dtype=float), p)
    valid = np.flatnonzero(~np.isnan(y))
    if len(valid) < 10 * len(p.labels):
        return None
    first = int(valid[0])
    vals = pd.Series(y).ffill().to_numpy()
    grid = np.arange(first, len(vals), p.step_days)
    fit = fit_params(vals[grid], p)
    if fit is None:
        return None
    mu, var, trans = fit
    filt = hamilton_filter(vals[grid], trans, mu, var)[-1]
    lut = {k: i for i, k in enumerate(REGIME_KINDS)}
    reg = history_labels["regime"].to_numpy(dtype=object)
    s0 = lut.get(reg[-1], lut["plateau"]) if len(reg) else lut["plateau"]
    age = 0
    while age < len(reg) and reg[len(reg) - 1 - age] == reg[-1]:
        age += 1
    start = MachineState(np.array([s0]), np.array([age]), np.array([NO_PENDING]), np.array([0]))
    return MarkovFit(p, mu, var, trans, np.array([lut[x] for x in p.labels]), filt,
                     offset=len(vals) - first, y_last=float(vals[-1]), start=start)
