"""The verdict of ``rmpbt tune``: did tuning add anything that is not luck?

Built on :mod:`backtest.stats` (conventions in ``docs/statistics.md``); see
``docs/tuning.md`` for what is printed. Two layers:

* :func:`assess` — pure, on a ``(T, N)`` matrix of the variants' daily returns, the
  untuned strategy's returns, an optional benchmark's and the folds. Used by the tests on
  synthetic markets.
* :func:`attach_verdict` — called at the end of :func:`backtest.tune.orchestrate.run_tune`: gathers
  the variants' returns and target weights of a :class:`~backtest.tune.orchestrate.TuneResult`, adds
  the ``turnover`` column to its table, charges the trades at fold switches to the
  stitched out-of-sample track and stores the :class:`TuneVerdict`.

What the verdict measures:

* **Deflated Sharpe of the active return** of the selected (best in-sample) variant over
  the untuned strategy as configured, on the in-sample days, deflated for the selection
  among the variants: the trial variance is the cross-variant variance of the per-period
  Sharpe ratios of their active returns, and the number of trials is the *effective*
  number of independent variants, the participation ratio ``(Σλ)²/Σλ²`` of the
  eigenvalues of the correlation matrix of the variants' active returns
  (:func:`backtest.stats.effective_trials`). The same against a named benchmark.
* **PBO** by CSCV over the variants' daily excess returns (Sharpe ratio as the measure).
* The **IS/OOS rank correlation** per fold (training window vs the test window after it,
  which never overlap) and the median over folds.
* The **out-of-sample comparison** of the stitched tuned track with the untuned strategy
  and the benchmark: the active return in bp/yr and the information ratio of the
  difference with its 90% confidence interval (Mertens' standard error).
* **PBO** again over the variants' *active* returns (over the untuned strategy), the one
  the verdict reads: on total returns a common market beta ranks the variants the same
  way in every half of the data and makes PBO look small.
* The **noise null** (:mod:`backtest.tune.null`, ``--null-runs``): the selection and the
  two figures above rerun on sign-flipped active returns; where the observed deflated
  Sharpe and out-of-sample gain fall in those distributions (p-values) decides the words.
* Optionally **CPCV** (:mod:`backtest.tune.cpcv`, ``--cv cpcv:N,K``): the distribution of
  the out-of-sample Sharpe ratio over the combinatorial purged cross-validation paths.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.errors import SweepError
from backtest.stats import (
    deflated_sharpe_ratio,
    effective_trials,
    expected_max_sharpe,
    normal_cdf,
    pbo_logits,
    sharpe_confidence_interval,
    sharpe_moments,
    sharpe_standard_error,
    spearman_corr,
)
from backtest.tune.chunks import Chunk, chunk_targets
from backtest.tune.cpcv import CpcvResult, CpcvSpec, parse_cv, run_cpcv
from backtest.tune.folds import Fold
from backtest.tune.null import NULL_RUNS, NullResult, noise_null

LEVEL = 0.9
NULL_ALPHA = 0.05  # the verdict's one-sided level for the noise null's p-values (set ex ante)
PBO_SPLITS = 16
MAX_VARIANTS = 2000
COLOURS = {"green": "green", "amber": "dark_orange", "red": "red"}


@dataclass(frozen=True)
class Comparison:
    """Out-of-sample active return of the tuned track over one reference.

    Attributes
    ----------
    reference : str
        Name of the reference (the untuned strategy, a benchmark, or ``cash``).
    bp_per_year : float
        Mean daily active return x 252 x 1e4.
    ir, ir_lo, ir_hi : float
        Annualised information ratio of the active return and its confidence interval.
    days : int
        Out-of-sample days compared.
    p : float
        One-sided p-value of a gain above zero, ``1 - Φ(IR / SE)`` (Mertens' standard error).
    """

    reference: str
    bp_per_year: float
    ir: float
    ir_lo: float
    ir_hi: float
    days: int
    p: float = float("nan")

    @property
    def sign(self) -> int:
        """+1 (interval above 0), -1 (below 0) or 0 (spans 0 or undefined)."""
        if np.isfinite(self.ir_lo) and self.ir_lo > 0:
            return 1
        if np.isfinite(self.ir_hi) and self.ir_hi < 0:
            return -1
        return 0


@dataclass(frozen=True)
class Deflated:
    """Deflated Sharpe ratio of the selected variant's in-sample active return over ``reference``.

    ``ir`` and ``sr0`` are annualised; ``dsr`` is a probability.
    """

    reference: str
    dsr: float
    ir: float
    sr0: float
    n_trials: int
    n_eff: float
    n_obs: int
    skew: float
    kurtosis: float
    trial_sr_variance: float
    days: str = "in-sample days"


@dataclass
class TuneVerdict:
    """Everything the tuner's verdict is made of (see the module docstring).

    ``pbo``/``logits`` are over the variants' total returns (in excess of cash),
    ``pbo_active``/``logits_active`` over their active returns (the verdict's); ``null`` is
    ``None`` with ``--null-runs 0``, ``cv`` without ``--cv``.
    """

    deflated: list[Deflated]
    pbo: float
    logits: np.ndarray
    pbo_splits: int
    fold_rank_corr: list[float]
    median_rank_corr: float
    oos: list[Comparison]
    level: str
    headline: str
    text: str
    switch_costs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    conf: float = LEVEL
    pbo_active: float = float("nan")
    logits_active: np.ndarray = field(default_factory=lambda: np.array([]))
    null: NullResult | None = None
    cv: CpcvResult | None = None
    weakest: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def colour(self) -> str:
        """Rich colour name of :attr:`level`."""
        return COLOURS[self.level]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``provenance.json``."""
        nan = float("nan")
        return {
            "level": self.level, "text": self.text, "weakest": self.weakest,
            "deflated_active": [vars(d) for d in self.deflated],
            "pbo": self.pbo, "pbo_active": self.pbo_active, "pbo_splits": self.pbo_splits,
            "pbo_logits_n": len(self.logits),
            "null_runs": self.null.runs if self.null is not None else 0,
            "null_p_dsr": self.null.p_dsr if self.null is not None else nan,
            "null_p_oos": self.null.p_oos if self.null is not None else nan,
            "null": self.null.to_dict() if self.null is not None else None,
            "cv": self.cv.to_dict() if self.cv is not None else None,
            "rank_corr_by_fold": self.fold_rank_corr, "rank_corr_median": self.median_rank_corr,
            "oos_active": [vars(c) for c in self.oos],
            "switch_costs": self.switch_costs, "notes": self.notes,
        }


# ----------------------------------------------------------------------------- pure layer


def _sharpe_cols(x: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratio (ddof=1) of each column; NaN when flat."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = x.std(axis=0, ddof=1)
        return np.where(sd > 0, x.mean(axis=0) / sd, np.nan)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return spearman_corr(a[ok], b[ok])


def _finite(x: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(x)`` as floats, without the copy when ``x`` is already finite."""
    a = np.asarray(x, dtype=float)
    return a if np.isfinite(a).all() else np.nan_to_num(a)


def _rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]``, as a view when ``rows`` is a run of consecutive indices (the usual in-sample days)."""
    rows = np.asarray(rows)
    if (rows.dtype.kind in "iu" and rows.ndim == 1 and len(rows) and rows[0] >= 0
            and rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all()):
        return x[int(rows[0]) : int(rows[-1]) + 1]
    return x[rows]


def _median(x: Sequence[float]) -> float:
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if len(a) else float("nan")


def deflate_active(returns: np.ndarray, reference: np.ndarray, rows: np.ndarray, selected: int,
                   name: str) -> Deflated:
    """Deflated Sharpe of ``returns[:, selected] - reference`` on ``rows``, over all variants.

    Parameters
    ----------
    returns : np.ndarray
        ``(T, N)`` daily returns of the variants.
    reference : np.ndarray
        ``(T,)`` daily returns of the reference (untuned strategy, benchmark or cash).
    rows : np.ndarray
        Row indices of the selection (in-sample) days.
    selected : int
        Column of the selected variant.
    name : str
        Name of the reference, for display.
    """
    act = _rows(returns, rows) - _rows(reference, rows)[:, None]
    srs = _sharpe_cols(act)
    ok = np.isfinite(srs)
    var = float(np.var(srs[ok], ddof=1)) if ok.sum() > 1 else 0.0
    n_eff = effective_trials(act) if returns.shape[1] > 1 else 1.0
    sr, g3, g4 = sharpe_moments(act[:, selected])
    dsr = deflated_sharpe_ratio(sr, var, n_eff, len(rows), g3, g4)
    k = math.sqrt(TRADING_DAYS)
    return Deflated(reference=name, dsr=dsr, ir=sr * k, sr0=expected_max_sharpe(var, n_eff) * k,
                    n_trials=returns.shape[1], n_eff=n_eff, n_obs=len(rows), skew=g3, kurtosis=g4,
                    trial_sr_variance=var)


def compare(track: np.ndarray, reference: np.ndarray, name: str, level: float = LEVEL) -> Comparison:
    """Active return of ``track`` over ``reference`` (same days): bp/yr, IR and its interval."""
    a = np.asarray(track, float) - np.asarray(reference, float)
    a = a[np.isfinite(a)]
    k = math.sqrt(TRADING_DAYS)
    if len(a) < 3 or not a.std() > 0:
        nan = float("nan")
        return Comparison(name, float(a.mean() * TRADING_DAYS * 1e4) if len(a) else nan, nan, nan, nan, len(a))
    lo, hi = sharpe_confidence_interval(a, level)
    sr = float(a.mean() / a.std(ddof=1))
    se = sharpe_standard_error(a)
    p = float(1.0 - normal_cdf(sr / se)) if np.isfinite(se) and se > 0 else float("nan")
    return Comparison(name, float(a.mean() * TRADING_DAYS * 1e4), sr * k, lo * k, hi * k, len(a), p)


def _p(x: float) -> str:
    """A p-value for display: two decimals, three below 0.01."""
    if not np.isfinite(x):
        return "n/a"
    return "< 0.001" if x < 0.001 else (f"{x:.3f}" if x < 0.01 else f"{x:.2f}")


def weakest_figure(oos: Comparison, pbo_active: float, null: NullResult | None) -> tuple[str, float, str]:
    """The figure of the verdict that supports tuning least: ``(name, value, display)``.

    Each candidate is measured against the value at which it would support tuning: the
    noise null's p-values of the out-of-sample gain and of the deflated Sharpe (without the
    null: the out-of-sample gain's one-sided p-value) against :data:`NULL_ALPHA`, PBO on
    active returns against 0.5 (its value under noise). The one furthest above its bar
    (largest ratio) is the weakest.
    """
    if null is not None:
        cands = [("the out-of-sample gain", null.p_oos / NULL_ALPHA, f"null p {_p(null.p_oos)}"),
                 ("the deflated Sharpe of the in-sample gain", null.p_dsr / NULL_ALPHA, f"null p {_p(null.p_dsr)}")]
    else:
        cands = [("the out-of-sample gain", oos.p / NULL_ALPHA, f"one-sided p {_p(oos.p)}")]
    cands.append(("PBO on active returns", pbo_active / 0.5, f"{pbo_active:.2f}" if np.isfinite(pbo_active) else "n/a"))
    ok = [c for c in cands if np.isfinite(c[1])]
    return max(ok, key=lambda c: c[1]) if ok else ("none", float("nan"), "n/a")


def judge(deflated: Deflated, oos: Comparison, pbo_active: float, pbo_total: float = float("nan"),
          null: NullResult | None = None, level: float = LEVEL) -> tuple[str, str, str]:
    """Level (green/amber/red), headline and one-line text of the verdict.

    The words follow the p-values (one-sided, level :data:`NULL_ALPHA`), never a fixed
    deflated-Sharpe threshold:

    * *evidence that tuning helps* needs the noise null: both the out-of-sample gain and
      the deflated Sharpe of the in-sample gain beat at least 95% of the noise tunes
      (p <= 0.05). Green, amber when PBO on active returns is 0.5 or more (figures disagree).
    * *tuning hurt out of sample* (red): the out-of-sample gain's interval lies below zero,
      or the gain is below that of 95% of the noise tunes.
    * without the null (``--null-runs 0``) and an out-of-sample interval above zero:
      *an out-of-sample gain, selection not tested against noise* (amber).
    * otherwise *no evidence that tuning helps* (amber).

    The text gives each figure with its p-value and names the weakest
    (:func:`weakest_figure`).
    """
    sign = oos.sign
    if sign < 0 or (null is not None and null.p_oos_low <= NULL_ALPHA):
        lvl, head = "red", "tuning hurt out of sample"
    elif null is not None and null.p_oos <= NULL_ALPHA and null.p_dsr <= NULL_ALPHA:
        lvl, head = ("amber" if pbo_active >= 0.5 else "green"), "evidence that tuning helps"
    elif null is None and sign > 0:
        lvl, head = "amber", "an out-of-sample gain, selection not tested against noise"
    else:
        lvl, head = "amber", "no evidence that tuning helps"
    bp = f"{oos.bp_per_year:+.0f}" if np.isfinite(oos.bp_per_year) else "n/a"
    ci = (f"IR {oos.ir:+.2f}, {level:.0%} CI {oos.ir_lo:+.2f} to {oos.ir_hi:+.2f}" if np.isfinite(oos.ir)
          else "IR n/a")
    dsr = f"{deflated.dsr:.2f}" if np.isfinite(deflated.dsr) else "n/a"
    trials = f"{deflated.n_eff:.1f} effective of {deflated.n_trials} variants"
    text = f"{head}: tuning added {bp} bp/yr out of sample vs {oos.reference} ({ci})"
    if null is not None:
        med = null.quantiles(null.dsr)["q50"]
        text += (f"; against {null.runs} noise tunes, null p {_p(null.p_oos)} for the out-of-sample gain and "
                 f"{_p(null.p_dsr)} for the deflated Sharpe of the gain on the {deflated.days} ({dsr}, "
                 f"noise median {med:.2f}; {trials})")
    else:
        text += (f", one-sided p {_p(oos.p)}; deflated Sharpe of the gain on the {deflated.days} {dsr} "
                 f"({trials}), not calibrated against noise (--null-runs 0)")
    pa = f"{pbo_active:.2f}" if np.isfinite(pbo_active) else "n/a"
    pt = f"{pbo_total:.2f}" if np.isfinite(pbo_total) else "n/a"
    text += f"; PBO {pa} on active returns, {pt} on total returns"
    name, _, shown = weakest_figure(oos, pbo_active, null)
    text += f"; weakest figure: {name} ({shown})"
    return lvl, head, text


def assess(returns: np.ndarray, untuned: np.ndarray | None, folds: Sequence[Any], *,
           rf: np.ndarray | None = None, benchmark: np.ndarray | None = None,
           names: tuple[str, str] = ("untuned", "benchmark"), chosen: Sequence[int] | None = None,
           best: int | None = None, stitched: np.ndarray | None = None,
           fold_rank_corr: Sequence[float] | None = None, n_splits: int = PBO_SPLITS,
           level: float = LEVEL, in_regime: np.ndarray | None = None, regime: str | None = None,
           metric: str = "sharpe", null_runs: int = NULL_RUNS, seed: int = 0, cv: CpcvSpec | None = None,
           variant_ids: np.ndarray | None = None) -> TuneVerdict:
    """The verdict of a tune from the variants' daily returns.

    Parameters
    ----------
    returns : np.ndarray
        ``(T, N)`` daily returns of the ``N`` variants over the run's days.
    untuned : np.ndarray or None
        ``(T,)`` daily returns of the strategy as configured; ``None``: cash (``rf``).
    folds : sequence
        Objects with ``train`` and ``test`` row-index arrays (:class:`backtest.tune.folds.Fold`).
    rf : np.ndarray, optional
        ``(T,)`` daily cash return (default 0).
    benchmark : np.ndarray, optional
        ``(T,)`` daily returns of a benchmark.
    names : (str, str)
        Display names of the untuned strategy and the benchmark.
    chosen : sequence of int, optional
        Variant chosen on each training window (default: best training Sharpe).
    best : int, optional
        The selected variant (default: best mean training Sharpe).
    stitched : np.ndarray, optional
        Out-of-sample track on the test days in fold order (default: the chosen
        variants' returns, without switching costs).
    fold_rank_corr : sequence of float, optional
        Per-fold rank correlations (default: Spearman of training and test Sharpe ratios).
    n_splits : int
        CSCV blocks for PBO (reduced for short samples).
    level : float
        Confidence level of the intervals.
    in_regime : np.ndarray, optional
        ``(T,)`` mask of the days of ``regime`` when the tuning metric was restricted to a
        regime (``sharpe@rmp``): the deflated Sharpe is then computed on the in-sample days
        of that regime, and PBO on that regime's days, what the selection looked at.
    regime : str, optional
        Its name, for display.
    metric : str
        The tuning metric without ``@regime`` (the noise null and CPCV select with it;
        ``chosen``/``best`` computed here are by Sharpe ratio).
    null_runs : int
        Runs of the noise null (:func:`backtest.tune.null.noise_null`); 0: off.
    seed : int
        Seed of the noise null's signs.
    cv : CpcvSpec, optional
        Run combinatorial purged cross-validation (:func:`backtest.tune.cpcv.run_cpcv`).
    variant_ids : np.ndarray, optional
        Variant number of each column (for CPCV's report).
    """
    r = _finite(returns)
    t, n = r.shape
    rf = np.zeros(t) if rf is None else np.nan_to_num(np.asarray(rf, dtype=float))
    ex = r - rf[:, None]
    if chosen is None or best is None or fold_rank_corr is None:  # the tuner passes all three
        train_sr = np.array([_sharpe_cols(ex[f.train]) for f in folds])
        test_sr = np.array([_sharpe_cols(ex[f.test]) for f in folds])
        if chosen is None:
            chosen = [int(np.nanargmax(np.where(np.isfinite(s), s, -np.inf))) for s in train_sr]
        if best is None:
            best = int(np.nanargmax(np.where(np.isfinite(train_sr), train_sr, 0.0).mean(axis=0)))
        if fold_rank_corr is None:
            fold_rank_corr = [_spearman(a, b) for a, b in zip(train_sr, test_sr, strict=True)]
    is_rows = np.unique(np.concatenate([f.train for f in folds]))
    if in_regime is not None:
        is_rows = is_rows[np.asarray(in_regime, dtype=bool)[is_rows]]
    oos_rows = np.concatenate([f.test for f in folds])
    if stitched is None:
        stitched = np.concatenate([r[f.test, c] for f, c in zip(folds, chosen, strict=True)])
    notes: list[str] = []
    ref = rf if untuned is None else np.nan_to_num(np.asarray(untuned, dtype=float))
    ref_name = "cash" if untuned is None else names[0]
    if untuned is None:
        notes.append("untuned strategy not run (--no-benchmarks): active returns are over cash")
    deflated = [deflate_active(r, ref, is_rows, best, ref_name)]
    if regime is not None:
        deflated = [replace(deflated[0], days=f"in-sample {regime} days")]
    oos = [compare(stitched, ref[oos_rows], ref_name, level)]
    if benchmark is not None:
        b = np.nan_to_num(np.asarray(benchmark, dtype=float))
        deflated.append(deflate_active(r, b, is_rows, best, names[1]))
        if regime is not None:
            deflated[-1] = replace(deflated[-1], days=f"in-sample {regime} days")
        oos.append(compare(stitched, b[oos_rows], names[1], level))
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    start = int(min(f.train[0] for f in folds))
    keep = None if in_regime is None else np.asarray(in_regime, dtype=bool)[start:]  # the days the selection saw
    perf = ex[start:] if keep is None else ex[start:][keep]
    splits = n_splits
    while splits > 2 and len(perf) // splits < 4:
        splits -= 2
    if n >= 2 and len(perf) // splits >= 2:
        logits = pbo_logits(perf, splits)
        p = float(np.mean(logits <= 0.0))
        if untuned is None:  # active returns are over cash: the same matrix
            logits_a, p_a = logits, p
        else:
            act = r[start:] - ref[start:, None]
            logits_a = pbo_logits(act if keep is None else act[keep], splits)
            p_a = float(np.mean(logits_a <= 0.0))
    else:
        logits, p, logits_a, p_a = np.array([]), float("nan"), np.array([]), float("nan")
        notes.append("PBO needs at least 2 variants and 4 days")
    timings["pbo"] = time.perf_counter() - clock
    null = None
    clock = time.perf_counter()
    if null_runs > 0 and n >= 2:
        gross = np.concatenate([r[f.test, c] for f, c in zip(folds, chosen, strict=True)]) - ref[oos_rows]
        null = noise_null(r, ref, rf, folds, runs=null_runs, seed=seed, n_eff=deflated[0].n_eff,
                          observed_dsr=deflated[0].dsr, observed_oos_bp=float(gross.mean() * TRADING_DAYS * 1e4),
                          metric=metric, in_regime=in_regime)
    timings["null"] = time.perf_counter() - clock
    cv_result = None
    clock = time.perf_counter()
    if cv is not None:
        cv_result = run_cpcv(r, rf, ref, cv, metric=metric, metric_reference=None if untuned is None else ref,
                             in_regime=in_regime, variant_ids=variant_ids, reference_name=ref_name)
        timings["cpcv"] = time.perf_counter() - clock
    lvl, head, text = judge(deflated[0], oos[0], p_a, p, null, level)
    return TuneVerdict(deflated=deflated, pbo=p, logits=logits, pbo_splits=splits,
                       fold_rank_corr=[float(x) for x in fold_rank_corr],
                       median_rank_corr=_median(fold_rank_corr), oos=oos, level=lvl, headline=head,
                       text=text, notes=notes, conf=level, pbo_active=p_a, logits_active=logits_a,
                       null=null, cv=cv_result, weakest=weakest_figure(oos[0], p_a, null)[0], timings=timings)


# ----------------------------------------------------------------------------- TuneResult layer


def held_targets(tg: np.ndarray, execute: np.ndarray) -> np.ndarray:
    """Targets held after each fill (V x K x N): the last executed target (0 before any)."""
    held = np.zeros_like(tg)
    cur = np.zeros((tg.shape[0], tg.shape[2]))
    for k in range(tg.shape[1]):
        ex = execute[:, k]
        cur[ex] = tg[ex, k]
        held[:, k] = cur
    return held


def holdings_of(chunk_of: dict[int, Any], ids: Sequence[int]) -> dict[int, pd.DataFrame]:
    """Targets held after each fill (rows: fill day index into the run's days) of variants ``ids``."""
    out: dict[int, pd.DataFrame] = {}
    by_chunk: dict[int, list[int]] = {}
    for i in ids:
        by_chunk.setdefault(id(chunk_of[i]), []).append(int(i))
    for members in by_chunk.values():
        c = chunk_of[members[0]]
        pos = [int(np.flatnonzero(c.ids == i)[0]) for i in members]
        sub = Chunk(c.ctx, c.ids[pos], [c.params[p] for p in pos], parallel=False)
        tg, execute, cols = chunk_targets(sub)
        held = held_targets(tg, execute)
        for j, i in enumerate(members):
            out[i] = pd.DataFrame(held[j], index=np.asarray(c.ctx.fill_idx), columns=cols)
    return out


def _holding_at(h: pd.DataFrame, day: int) -> pd.Series:
    past = h.loc[h.index <= day]
    return past.iloc[-1] if len(past) else pd.Series(0.0, index=h.columns)


def switch_costs(result: Any, holdings: dict[int, pd.DataFrame]) -> list[dict[str, Any]]:
    """Cost of moving from the previous fold's variant to the next one's at each fold switch.

    ``Costs.trade_cost(Σ|w_new - w_old|)`` (fee + slippage on the traded fraction), both variants' targets as held at the close
    before the first test day (the new variant's position is what its returns on that
    day assume). A documented approximation: drift since the last fill is ignored.
    """
    chosen = [int(c) for c in result.folds["chosen"]]
    folds = _folds_of(result)
    out = []
    for f in range(1, len(chosen)):
        a, b = chosen[f - 1], chosen[f]
        day = int(folds[f].test[0])
        if a == b:
            continue
        wa, wb = _holding_at(holdings[a], day - 1), _holding_at(holdings[b], day - 1)
        wa, wb = wa.align(wb, fill_value=0.0)
        ctx = result.chunks[b].ctx
        traded = float(np.abs(wb - wa).sum())
        out.append({"fold": f + 1, "date": str(result.days[day].date()), "from": a, "to": b,
                    "traded": traded, "cost": ctx.spec.costs.trade_cost(traded)})
    return out


def _folds_of(result: Any) -> list[Any]:
    days = pd.DatetimeIndex(result.days)
    out = []
    for _, row in result.folds.iterrows():
        def rows(a: Any, b: Any) -> np.ndarray:
            return np.flatnonzero((days >= pd.Timestamp(a)) & (days <= pd.Timestamp(b)))
        out.append(Fold(rows(row["train_start"], row["train_end"]), rows(row["test_start"], row["test_end"])))
    return out


def attach_verdict(result: Any, base_returns: pd.DataFrame | None, turnover: np.ndarray | None = None,
                   returns: dict[int, np.ndarray] | None = None) -> TuneVerdict:
    """Compute and store ``result.verdict``; add ``turnover`` to ``result.table``; charge
    fold-switch costs to the stitched track in ``result.oos_returns``/``oos_metrics``.

    Parameters
    ----------
    result : backtest.tune.orchestrate.TuneResult
        A finished tune.
    base_returns : pd.DataFrame or None
        Daily returns of the config's strategies as configured
        (:func:`backtest.tune.paths.configured_returns`), or
        ``None`` when the benchmarks were not run.
    turnover : np.ndarray, optional
        Per-variant turnover computed with the simulation (:func:`backtest.tune.chunks.target_turnover`).
    returns : dict, optional
        Daily returns of variants kept from the simulation; missing ones are recomputed.

    Raises
    ------
    SweepError
        ``--benchmark`` names no strategy of the config.
    """
    from backtest.metrics import summary

    t0 = time.perf_counter()
    days = pd.DatetimeIndex(result.days)
    n = len(result.table)
    req = result.request
    bench_name = getattr(req, "benchmark", None)
    explicit = bench_name is not None
    bench_name = bench_name or getattr(result.cfg, "benchmark", None)
    if bench_name is None and base_returns is not None and "sixty_forty" in base_returns.columns:
        bench_name = "sixty_forty"
    bench = None
    if base_returns is not None and bench_name:
        if bench_name not in base_returns.columns:
            if explicit:
                raise SweepError(f"--benchmark {bench_name}: no such strategy in the config "
                                 f"({', '.join(map(str, base_returns.columns))})")
        elif bench_name != result.strategy:
            bench = base_returns[bench_name].reindex(days).fillna(0.0).to_numpy()
    elif explicit and base_returns is None:
        raise SweepError(f"--benchmark {bench_name}: needs the benchmarks (drop --no-benchmarks)")
    untuned = None
    if base_returns is not None and result.strategy in base_returns.columns:
        untuned = base_returns[result.strategy].reindex(days).fillna(0.0).to_numpy()
    chosen = [int(c) for c in result.folds["chosen"]]
    folds = _folds_of(result)
    notes: list[str] = []
    ids = np.arange(n)
    if n > MAX_VARIANTS:
        rng = np.random.default_rng(0)
        extra = rng.choice(n, MAX_VARIANTS, replace=False)
        ids = np.unique(np.concatenate([extra, chosen, [result.best]]))
        notes.append(f"PBO, effective trials, the noise null and CPCV on {len(ids)} of {n} variants "
                     "(random subset, seed 0)")
    pos = {int(v): i for i, v in enumerate(ids)}
    returns = returns or {}
    if all(int(i) in returns for i in ids):
        rets = np.column_stack([returns[int(i)] for i in ids])
    else:
        rets = result.variant_returns(list(ids)).to_numpy()
    if turnover is not None:
        result.table["turnover"] = turnover
    holdings = holdings_of(result.chunks, sorted(set(chosen)))
    costs = switch_costs(result, holdings)
    col = result.oos_returns.columns[0]
    track = result.oos_returns[col].copy()
    for c in costs:
        d = pd.Timestamp(c["date"])
        track.loc[d] = (1.0 + track.loc[d]) * (1.0 - c["cost"]) - 1.0
    result.oos_returns[col] = track
    rf = result.chunks[result.best].ctx.rf
    result.oos_metrics.loc[col] = pd.Series(summary(track, pd.Series(rf, index=days)))[result.oos_metrics.columns]
    _, _, regime = str(result.metric).partition("@")
    in_regime = (np.asarray(result.chunks[result.best].ctx.regime) == regime) if regime else None
    seed = getattr(req, "seed", None)
    cv = getattr(req, "cv", None)
    verdict = assess(rets, untuned, folds, rf=rf, benchmark=bench, in_regime=in_regime, regime=regime or None,
                     names=(f"{result.strategy} (as configured)", str(bench_name)),
                     chosen=[pos[c] for c in chosen], best=pos[result.best], stitched=track.to_numpy(),
                     fold_rank_corr=list(result.fold_rank_corr), metric=str(result.metric).partition("@")[0],
                     null_runs=int(getattr(req, "null_runs", 0)), seed=int(result.cfg.seed if seed is None else seed),
                     cv=parse_cv(cv) if cv else None, variant_ids=ids)
    verdict.switch_costs = costs
    verdict.notes = notes + verdict.notes
    if costs:
        verdict.notes.append(f"stitched track pays {len(costs)} fold switch(es): "
                             f"{sum(c['cost'] for c in costs) * 1e4:.1f} bp in total")
    result.verdict = verdict
    result.timings["verdict"] = time.perf_counter() - t0
    result.timings.update({f"verdict_{k}": v for k, v in verdict.timings.items()})
    return verdict
