"""``decide``: re-score a saved scenario run under other probabilities, λ, statistic and views.

:func:`decide` (the command's and the API's function) loads a run's per-path outcomes
(:mod:`.outcomes`), re-weights the paths by entropy pooling when views are given
(:mod:`.pooling`), scores every strategy by least expected regret (:mod:`.rule`), finds the
exact flips in λ and in each scenario's probability and maps the choice over λ and the
probability simplex (:mod:`.flips`), estimates the Monte-Carlo noise of the margin
(:mod:`.noise`) and words the result (:mod:`.words`). Nothing is simulated again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from backtest.errors import ResultsError, ScenarioError
from backtest.synthetic.decide.flips import (
    TIE_TOL,
    Flip,
    lambda_flips,
    lambda_segments,
    names_of,
    probability_flips,
    ranked_sets,
    simplex_grid,
    simplex_regions,
)
from backtest.synthetic.decide.noise import DEFAULT_RESAMPLES, MAX_RESAMPLES, margin_noise
from backtest.synthetic.decide.outcomes import Outcomes, load_outcomes, outcomes_of_run
from backtest.synthetic.decide.pooling import PoolingFailed, effective_paths, entropy_pool
from backtest.synthetic.decide.rule import (
    LAMBDA_STATISTICS,
    Parts,
    expected_scores,
    regret_frame,
    scenario_parts,
    weighted_beat,
)
from backtest.synthetic.decide.views import View, parse_view, view_row
from backtest.synthetic.decide.words import flips_line, reading
from backtest.synthetic.distributions import REGRET_STATISTICS, mix_beat

if TYPE_CHECKING:
    from backtest.synthetic.aggregate import ScenarioRun

MAX_LAMBDA = 100.0
"""Largest λ (``--cvar-lambda`` and the flip search), as the scenario file's ``scoring.cvar_lambda``."""
LAMBDA_MAP = (0.0, 2.0)
LAMBDA_MAP_STEP = 0.25
PROB_TOL = 1e-4
"""``--probs`` must sum to 1 within this (then they are rescaled to sum to 1 exactly)."""
RULE = "least expected regret"
FLIP_COLUMNS = ("parameter", "direction", "value", "threshold", "change", "choice", "new_choice", "note")


def simplex_step(n: int) -> float:
    """Grid step of the probability map for ``n`` scenarios (about 250–500 points at most)."""
    return {1: 1.0, 2: 0.05, 3: 0.05, 4: 0.1, 5: 0.125}.get(n, 0.2 if n <= 10 else 0.5)


@dataclass
class Decision:
    """The re-scored choice of a scenario run (``rmpbt decide``; ``rmpbt.decide``).

    Attributes
    ----------
    choice, runner_up : str
        The least-expected-regret choice and the runner-up (tied strategies as ``a|b``;
        ``runner_up`` empty when every strategy ties).
    margin : float
        Expected-regret difference between them (score of the choice minus the runner-up's).
    margin_se : float
        Its Monte-Carlo standard error (paired path bootstrap; NaN when not estimated).
    probs, prior_probs : dict
        Scenario probabilities used (after views) and before views.
    cvar_lambda : float
        λ.
    statistic, summary : str
        The regret statistic (and summary of a per-path one).
    views : list of dict
        The views as given and as met.
    effective_paths, effective_paths_prior : float
        ``exp`` of the entropy of the path weights, after and before the views.
    minimax_choice : str
        The run's rule (minimax regret over the scenarios with a probability) at the same inputs.
    table : pd.DataFrame
        Per strategy: score, expected and maximum regret, the statistic and regret per
        scenario, ``prob_beat_6040`` (± ``prob_beat_6040_se``).
    flips : pd.DataFrame
        :data:`FLIP_COLUMNS`: the nearest flip up and down in λ and in each probability.
    segments : list of dict
        The choice over λ in ``[0, max(2, λ)]`` at these probabilities, exact.
    map : pd.DataFrame
        ``cvar_lambda, p_<scenario>..., choice, runner_up, margin, minimax_choice`` on a grid.
    regions : dict
        λ -> list of (choice, barycentric polygon) on the simplex (three scenarios only).
    lines : list of str
        The plain-language reading; ``tone`` is ``good`` or ``neutral``.
    """

    run_dir: Path | None
    scenarios: list[str]
    strategies: list[str]
    choice: str
    runner_up: str
    margin: float
    margin_se: float
    margin_share: float
    resamples: int
    probs: dict[str, float]
    prior_probs: dict[str, float]
    cvar_lambda: float
    statistic: str
    summary: str
    views: list[dict[str, Any]]
    effective_paths: float
    effective_paths_prior: float
    relative_entropy: float
    minimax_choice: str
    table: pd.DataFrame
    flips: pd.DataFrame
    segments: list[dict[str, Any]]
    map: pd.DataFrame
    regions: dict[float, list[tuple[str, np.ndarray]]]
    benchmark: str | None
    matches_run: bool | None = None
    lines: list[str] = field(default_factory=list)
    tone: str = "neutral"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``decision.json`` record (NaN as null)."""
        row = self.table.set_index("strategy")

        def beat(name: str) -> dict[str, Any] | None:
            if not name or "|" in name or name not in row.index:
                return None
            return {"strategy": name, "p": _num(row.loc[name, "prob_beat_6040"]),
                    "se": _num(row.loc[name, "prob_beat_6040_se"])}

        return {
            "choice": self.choice, "runner_up": self.runner_up, "probs": self.probs, "cvar_lambda": self.cvar_lambda,
            "statistic": self.statistic, "views": self.views, "effective_paths": _num(self.effective_paths),
            "flips": [{k: _num(v) for k, v in r.items()} for r in self.flips.to_dict(orient="records")],
            "rule": RULE, "summary": self.summary if self.statistic not in ("cvar_penalised", "cvar_5") else None,
            "margin": _num(self.margin), "margin_se": _num(self.margin_se), "margin_share_ahead": _num(self.margin_share),
            "resamples": self.resamples, "prob_beat_6040": {"benchmark": self.benchmark, "choice": beat(self.choice),
                                                            "runner_up": beat(self.runner_up)},
            "minimax_choice": self.minimax_choice, "prior_probs": self.prior_probs,
            "effective_paths_prior": _num(self.effective_paths_prior), "relative_entropy": _num(self.relative_entropy),
            "lambda_segments": [{k: _num(v) for k, v in s.items()} for s in self.segments],
            "matches_run": self.matches_run, "reading": self.lines, "tone": self.tone, "notes": self.notes,
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "table": [{k: _num(v) for k, v in r.items()} for r in self.table.to_dict(orient="records")],
        }

    def save(self, root: str | Path | None = None) -> Path:
        """Write the decision folder (default under ``<run_dir>/decisions``) and return its path."""
        from backtest.synthetic.decide.write import write_decision

        return write_decision(self, root)


def _num(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    return v


# ------------------------------------------------------------------------ inputs


def parse_probs(spec: str | Mapping[str, float] | None, out: Outcomes) -> dict[str, float]:
    """Scenario probabilities from ``--probs A=0.4,B=0.35,C=0.25`` (None: the run's mix).

    Scenarios not named are left out of the decision. The values must be finite, in
    [0, 1], name each scenario once and sum to 1 within :data:`PROB_TOL`; they are
    rescaled to sum to 1 exactly, in the run's scenario order.

    Raises
    ------
    ScenarioError
        One line naming the bad entry.
    """
    if spec is None:
        if not out.probabilities:
            raise ScenarioError("the run has no scenario probabilities (no mix): give --probs, e.g. A=0.5,B=0.5")
        raw = dict(out.probabilities)
        tot = sum(raw.values())
        if tot <= 0:
            raise ScenarioError("the run's scenario probabilities sum to 0: give --probs")
        return {s: raw[s] / tot for s in out.scenarios if s in raw}
    items: list[tuple[str, Any]]
    if isinstance(spec, str):
        items = []
        for part in spec.split(","):
            if not part.strip():
                raise ScenarioError(f"--probs {spec!r}: empty entry (use A=0.4,B=0.35,C=0.25)")
            name, eq, val = part.partition("=")
            if not eq:
                raise ScenarioError(f"--probs {spec!r}: {part.strip()!r} is not SCENARIO=PROBABILITY")
            items.append((name.strip(), val.strip()))
    else:
        items = [(str(k), v) for k, v in spec.items()]
    got: dict[str, float] = {}
    for name, val in items:
        if name not in out.scenarios:
            raise ScenarioError(f"--probs: no scenario {name!r} in the run (scenarios: {', '.join(out.scenarios)})")
        if name in got:
            raise ScenarioError(f"--probs: scenario {name!r} given twice")
        try:
            v = float(val)
        except (TypeError, ValueError):
            raise ScenarioError(f"--probs: {name}={val!r} is not a number") from None
        if not math.isfinite(v) or v < 0 or v > 1:
            raise ScenarioError(f"--probs: {name}={val}: a probability must be finite and in [0, 1]")
        got[name] = v
    tot = sum(got.values())
    if abs(tot - 1.0) > PROB_TOL:
        raise ScenarioError(f"--probs: the probabilities sum to {tot:.6g}, not 1 (tolerance {PROB_TOL:g})")
    return {s: got[s] / tot for s in out.scenarios if s in got}


def check_lambda(lam: float | None, out: Outcomes) -> float:
    """λ (None: the run's), finite and in ``[0, MAX_LAMBDA]``."""
    if lam is None:
        return float(out.cvar_lambda)
    try:
        v = float(lam)
    except (TypeError, ValueError):
        raise ScenarioError(f"--cvar-lambda {lam!r}: not a number") from None
    if not math.isfinite(v) or not 0.0 <= v <= MAX_LAMBDA:
        raise ScenarioError(f"--cvar-lambda {lam}: must be finite and in [0, {MAX_LAMBDA:g}]")
    return v


def check_statistic(statistic: str | None, out: Outcomes) -> str:
    """The regret statistic (None: the run's), one of ``REGRET_STATISTICS``."""
    if statistic is None:
        return out.statistic
    if statistic not in REGRET_STATISTICS:
        raise ScenarioError(f"--statistic {statistic!r}: must be one of {', '.join(REGRET_STATISTICS)}")
    return statistic


# ------------------------------------------------------------------------ views -> weights


@dataclass
class Weights:
    """Path weights of a decision: scenario probabilities and weights within each scenario."""

    probs: np.ndarray
    within: dict[str, np.ndarray | None]
    effective: float
    effective_prior: float
    relative_entropy: float
    met: list[dict[str, Any]]


def pooled_weights(out: Outcomes, scenarios: list[str], prior: np.ndarray, views: list[View]) -> Weights:
    """Prior path weights ``p_s / n_s`` re-weighted by entropy pooling under ``views``.

    A view that pins a scenario's probability to 0 (``P(s)=0``, ``P(s)<=0``) or 1
    (``P(s)=1``, ``P(s)>=1``) removes the other paths before pooling (the minimum relative
    entropy solution puts no weight on them); the remaining views are solved by
    :func:`~.pooling.entropy_pool`.

    Raises
    ------
    ScenarioError
        A view, or the views together, cannot be met.
    """
    sizes = [out.paths(s) for s in scenarios]
    owner = np.repeat(np.arange(len(scenarios)), sizes)
    w0 = np.repeat(prior / np.asarray(sizes, dtype=float), sizes)
    eff_prior = effective_paths(w0)
    if not views:
        return Weights(prior.copy(), {s: None for s in scenarios}, eff_prior, eff_prior, 0.0, [])
    keep = w0 > 0
    rest: list[View] = []
    for v in views:
        j = scenarios.index(v.target) if v.kind == "P" else -1
        if v.kind == "P" and ((v.op in ("=", "<=") and v.value == 0.0) or (v.op in ("=", ">=") and v.value == 1.0)):
            keep &= (owner == j) if v.value == 1.0 else (owner != j)
        else:
            rest.append(v)
    if not keep.any():
        raise ScenarioError(f"--view: the views {', '.join(repr(v.text) for v in views)} cannot be met together "
                            "(no scenario is left with any probability)")
    base = np.where(keep, w0, 0.0)
    base = base / base.sum()
    rows = {v: view_row(v, out, scenarios) for v in rest}
    for v in rest:  # each view alone, for a message that names it
        x = rows[v][keep]
        lo, hi = float(x.min()), float(x.max())
        bad = ((v.op == "=" and not lo <= v.value <= hi) or (v.op == ">=" and hi < v.value)
               or (v.op == "<=" and lo > v.value))
        if bad:
            what = f"P({v.target})" if v.kind == "P" else v.target.partition(":")[2]
            span = (f"ranges over {lo:+.1%} … {hi:+.1%} on the paths" if v.kind == "E"
                    else f"can only be {lo:g} … {hi:g} here")
            raise ScenarioError(f"--view {v.text!r}: cannot be met: {what} {span}")
    eq = [v for v in rest if v.op == "="]
    le = [v for v in rest if v.op != "="]
    sign = {v: (1.0 if v.op == "<=" else -1.0) for v in le}
    try:
        n_keep = int(keep.sum())
        pooled = entropy_pool(base[keep],
                              np.array([rows[v][keep] for v in eq]).reshape(len(eq), n_keep),
                              np.array([v.value for v in eq]),
                              np.array([sign[v] * rows[v][keep] for v in le]).reshape(len(le), n_keep),
                              np.array([sign[v] * v.value for v in le]))
    except PoolingFailed as exc:
        listed = ", ".join(repr(v.text) for v in views)
        if not exc.feasible:
            raise ScenarioError(f"--view: the views {listed} cannot be met together by any weighting of the paths")\
                from None
        raise ScenarioError(f"--view: the views {listed} can only be met by giving some paths no weight at all "
                            "(at the edge of what the paths allow); soften them") from None
    w = np.zeros(len(w0))
    w[keep] = pooled.weights
    probs = np.array([w[owner == j].sum() for j in range(len(scenarios))])
    within: dict[str, np.ndarray | None] = {}
    for j, s in enumerate(scenarios):
        ws = w[owner == j]
        n = len(ws)
        if probs[j] <= 0:
            within[s] = None
            continue
        ws = ws / probs[j]
        within[s] = None if np.allclose(ws, 1.0 / n, rtol=1e-9, atol=0.0) else ws
    met = []
    for v in views:
        x = (owner == scenarios.index(v.target)).astype(float) if v.kind == "P" else rows[v]
        met.append({"view": v.text, "as": v.describe(), "achieved": float(x @ w),
                    "prior": float(x @ (w0 / w0.sum()))})
    return Weights(probs, within, effective_paths(w), eff_prior,
                   float(np.sum(w[w > 0] * np.log(w[w > 0] / w0[w > 0]))), met)


# ------------------------------------------------------------------------ the decision


def decide_outcomes(out: Outcomes, probs: str | Mapping[str, float] | None = None, cvar_lambda: float | None = None,
                    statistic: str | None = None, views: Sequence[str] = (),
                    resamples: int = DEFAULT_RESAMPLES) -> Decision:
    """The decision on a run's outcomes (see :func:`decide`)."""
    stat = check_statistic(statistic, out)
    lam = check_lambda(cvar_lambda, out)
    if not 0 <= int(resamples) <= MAX_RESAMPLES:
        raise ScenarioError(f"resamples {resamples}: must be in [0, {MAX_RESAMPLES}]")
    prior = parse_probs(probs, out)
    scen = list(prior)
    p0 = np.array([prior[s] for s in scen])
    parsed = [parse_view(v, out, scen) for v in views]
    wts = pooled_weights(out, scen, p0, parsed)
    q = wts.probs
    parts = scenario_parts(out, scen, stat, out.summary, wts.within)
    names = out.strategies
    values = parts.values(lam)
    scores = expected_scores(values, q)
    best, second, margin = ranked_sets(scores)
    choice, runner = names_of(best, names), names_of(second, names)
    table = regret_frame(values, q, scen, names)
    m_p, c_p = q @ parts.m, q @ parts.c  # score = base - λ·tail
    table.insert(2, "base", m_p)
    table.insert(3, "tail", c_p)
    table = _with_beat(table, out, scen, q, wts.within)
    minimax = names_of(np.flatnonzero(table["minimax"].to_numpy()), names)
    uses_lambda = stat in LAMBDA_STATISTICS
    flips: list[Flip] = []
    if uses_lambda:
        flips += lambda_flips(m_p, c_p, lam, MAX_LAMBDA, names)
    else:
        flips += [Flip("cvar_lambda", d, lam, float("nan"), choice, "", f"λ does not enter {stat}")
                  for d in ("up", "down")]
    flips += probability_flips(values, q, scen, names)
    if len(best) > 1:
        flips = [Flip(f.parameter, f.direction, f.value, f.threshold, f.choice, f.new_choice,
                      (f.note + "; " if f.note else "") + "the choice is a tie") for f in flips]
    flip_df = pd.DataFrame([{"parameter": f.parameter, "direction": f.direction, "value": f.value,
                             "threshold": f.threshold, "change": f.change, "choice": f.choice,
                             "new_choice": f.new_choice, "note": f.note} for f in flips], columns=list(FLIP_COLUMNS))
    hi = max(LAMBDA_MAP[1], lam)
    segments = (lambda_segments(m_p, c_p, LAMBDA_MAP[0], hi, names) if uses_lambda
                else [{"from": LAMBDA_MAP[0], "to": hi, "choice": choice}])
    lams = _map_lambdas(lam, uses_lambda)
    dmap = decision_map(parts, scen, names, lams)
    regions = {lm: simplex_regions(parts.values(lm), names) for lm in lams} if len(scen) == 3 else {}
    noise = margin_noise(out, scen, q, (int(best[0]), int(second[0])), stat, out.summary, lam, wts.within,
                         int(resamples), out.seed) if len(best) == 1 and len(second) >= 1 else None
    notes = []
    if out.probabilities and probs is None and abs(sum(out.probabilities.values()) - 1.0) > 1e-12:
        notes.append(f"the run's mix sums to {sum(out.probabilities.values()):g} (a subset of scenarios): "
                     "rescaled to 1")
    dec = Decision(out.run_dir, scen, names, choice, runner, margin,
                   noise.se if noise else float("nan"), noise.share_ahead if noise else float("nan"),
                   noise.resamples if noise else 0,
                   {s: float(x) for s, x in zip(scen, q, strict=True)}, {s: float(x) for s, x in prior.items()},
                   lam, stat, out.summary, wts.met, wts.effective, wts.effective_prior, wts.relative_entropy, minimax,
                   table, flip_df, segments, dmap, regions, out.benchmark, notes=notes)
    dec.lines, dec.tone = reading(dec)
    return dec


def _map_lambdas(lam: float, uses_lambda: bool) -> list[float]:
    if not uses_lambda:
        return [lam]
    grid = np.round(np.arange(LAMBDA_MAP[0], LAMBDA_MAP[1] + 1e-9, LAMBDA_MAP_STEP), 10)
    return sorted({float(x) for x in grid} | {float(lam)})


def _with_beat(table: pd.DataFrame, out: Outcomes, scen: list[str], q: np.ndarray,
               within: dict[str, np.ndarray | None]) -> pd.DataFrame:
    """``prob_beat_6040`` (± se) of every strategy in the decision's mix (paired with the run's 60/40)."""
    p = np.full(len(out.strategies), np.nan)
    se = np.full(len(out.strategies), np.nan)
    if out.benchmark is not None and out.bench_hr:
        for k, s in enumerate(out.strategies):
            if s == out.benchmark:
                continue
            parts = [weighted_beat(out.values["horizon_return"][sc][:, k], out.bench_hr[sc], within.get(sc))
                     for sc in scen]
            use = [j for j in range(len(scen)) if q[j] > 0]
            p[k], se[k] = mix_beat([parts[j] for j in use], [float(q[j]) for j in use])
    return table.assign(prob_beat_6040=p, prob_beat_6040_se=se)


def decision_map(parts: Parts, scenarios: list[str], names: list[str], lams: list[float]) -> pd.DataFrame:
    """The choice, runner-up, margin and minimax choice on a grid of λ × the probability simplex.

    Returns
    -------
    pd.DataFrame
        ``cvar_lambda, p_<scenario>..., choice, runner_up, margin, minimax_choice``.
    """
    grid = simplex_grid(len(scenarios), simplex_step(len(scenarios)))
    cols: dict[str, list[Any]] = {"cvar_lambda": [], **{f"p_{s}": [] for s in scenarios}, "choice": [],
                                  "runner_up": [], "margin": [], "minimax_choice": []}
    arr = np.asarray(names, dtype=object)
    pos = grid > 0
    for lm in lams:
        vals = parts.values(lm)
        sc = grid @ vals  # (G, K)
        reg = np.nanmax(vals, axis=1, keepdims=True) - vals  # (S, K)
        mx = np.where(pos[:, :, None], reg[None, :, :], -np.inf).max(axis=1)  # (G, K)
        top = np.nanmax(sc, axis=1, keepdims=True)
        is_best = sc >= top - TIE_TOL
        rest = np.where(is_best, -np.inf, sc)
        sec = rest.max(axis=1, keepdims=True)
        is_sec = np.isfinite(sec) & (rest >= sec - TIE_TOL)
        low = mx.min(axis=1, keepdims=True)
        is_mm = mx <= low + TIE_TOL
        for g in range(len(grid)):
            cols["cvar_lambda"].append(lm)
            for j, s in enumerate(scenarios):
                cols[f"p_{s}"].append(float(grid[g, j]))
            cols["choice"].append("|".join(arr[is_best[g]]))
            cols["runner_up"].append("|".join(arr[is_sec[g]]))
            cols["margin"].append(float(top[g, 0] - sec[g, 0]) if np.isfinite(sec[g, 0]) else float("nan"))
            cols["minimax_choice"].append("|".join(arr[is_mm[g]]))
    return pd.DataFrame(cols)


def decide(run_dir: str | Path, probs: str | Mapping[str, float] | None = None, cvar_lambda: float | None = None,
           statistic: str | None = None, views: Sequence[str] = (),
           resamples: int = DEFAULT_RESAMPLES) -> Decision:
    """Re-score a saved scenario run (``rmpbt decide``) without re-simulating.

    Parameters
    ----------
    run_dir : str or Path
        A ``rmpbt scenarios`` run folder with ``scenario_paths.parquet``.
    probs : str or mapping, optional
        Scenario probabilities (``"A=0.4,B=0.35,C=0.25"`` or a dict; default: the run's mix).
    cvar_lambda : float, optional
        λ of ``cvar_penalised`` (default: the run's), in ``[0, 100]``.
    statistic : str, optional
        Regret statistic (default: the run's): ``cvar_penalised``, ``sharpe``,
        ``horizon_return``, ``max_drawdown``, ``cvar_5``.
    views : sequence of str
        Views such as ``"P(B)>=0.5"`` or ``"E[spy]=0.08"`` (entropy pooling).
    resamples : int
        Paired path resamples of the margin's noise (0 … 2000; 0 skips it).

    Returns
    -------
    Decision

    Raises
    ------
    ResultsError
        Not a scenario run folder, or one without per-path outcomes (re-run ``rmpbt scenarios``).
    ScenarioError
        Bad probabilities, λ, statistic or a view that cannot be met.
    """
    out = load_outcomes(run_dir)
    dec = decide_outcomes(out, probs, cvar_lambda, statistic, views, resamples)
    if probs is None and cvar_lambda is None and statistic is None and not views:
        dec.matches_run = matches_run_table(dec, Path(run_dir))
        if dec.matches_run is False:
            dec.notes.append("the run's own regret table (scenario_regret.csv) is not reproduced: report this")
            dec.lines, dec.tone = reading(dec)
    return dec


def run_decision_lines(run: ScenarioRun) -> list[str]:
    """The flips and the reading printed under the verdict of ``rmpbt scenarios``.

    The run's own probabilities, λ and statistic, no views (what ``rmpbt decide RUN_DIR``
    gives), the margin's noise from the run's ``scoring.choice_resamples`` resamples (0: none);
    empty without per-path outcomes or without a mix.
    """
    out = outcomes_of_run(run)
    if out is None or not out.probabilities:
        return []
    dec = decide_outcomes(out, resamples=int(getattr(run.prep.sset.spec.scoring, "choice_resamples",
                                                        DEFAULT_RESAMPLES)))
    return [flips_line(dec), *dec.lines]


def matches_run_table(dec: Decision, run_dir: Path, tol: float = 1e-8) -> bool | None:
    """Whether the decision's regret table equals the run's ``scenario_regret.csv`` (None: no table).

    Compares every ``regret_<scenario>``, ``max_regret``, ``expected_regret`` and the
    minimax (``robust``) choice, at the run's own probabilities, λ and statistic.
    """
    path = run_dir / "scenario_regret.csv"
    if not path.is_file():
        return None
    try:
        reg = pd.read_csv(path).set_index("strategy")
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: unreadable ({type(exc).__name__})") from None
    mine = dec.table.set_index("strategy")
    cols = [f"regret_{s}" for s in dec.scenarios] + ["max_regret", "expected_regret"]
    if not set(cols) <= set(reg.columns) or not set(mine.index) <= set(reg.index):
        return False
    theirs = reg.loc[mine.index, cols].to_numpy(dtype=float)
    ours = mine[cols].to_numpy(dtype=float)
    same = np.allclose(theirs, ours, rtol=1e-8, atol=tol, equal_nan=True)
    robust = set(reg.index[reg["robust"].astype(str).str.lower().isin(["true", "1"])])
    return bool(same and robust == set(mine.index[mine["minimax"].astype(bool)]))


__all__ = ["FLIP_COLUMNS", "LAMBDA_MAP", "MAX_LAMBDA", "PROB_TOL", "RULE", "Decision", "Weights", "check_lambda",
           "check_statistic", "decide", "decide_outcomes", "decision_map", "matches_run_table", "parse_probs",
           "pooled_weights", "run_decision_lines", "simplex_step"]
