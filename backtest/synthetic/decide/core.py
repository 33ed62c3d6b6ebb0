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
    Flip,
    decision_map,
    lambda_flips,
    lambda_segments,
    names_of,
    probability_flips,
    ranked_sets,
    simplex_regions,
)
from backtest.synthetic.decide.inputs import MAX_LAMBDA, check_lambda, check_statistic, parse_probs
from backtest.synthetic.decide.noise import DEFAULT_RESAMPLES, MAX_RESAMPLES, margin_noise
from backtest.synthetic.decide.outcomes import Outcomes, load_outcomes, outcomes_of_run
from backtest.synthetic.decide.posterior import pooled_weights
from backtest.synthetic.decide.rule import (
    LAMBDA_STATISTICS,
    expected_scores,
    regret_frame,
    scenario_parts,
    weighted_beat,
)
from backtest.synthetic.decide.views import parse_view
from backtest.synthetic.decide.words import flips_line, reading
from backtest.synthetic.evaluate.distributions import mix_beat

if TYPE_CHECKING:
    from backtest.synthetic.evaluate.aggregate import ScenarioRun

LAMBDA_MAP = (0.0, 2.0)
LAMBDA_MAP_STEP = 0.25
RULE = "least expected regret"
FLIP_COLUMNS = ("parameter", "direction", "value", "threshold", "change", "choice", "new_choice", "note")


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
    run_record: dict[str, Any] = field(default_factory=dict)

    def run_line(self) -> str:
        """Where the decision comes from: the simulated horizon and the data it was drawn from."""
        rec = self.run_record
        first, last, end = rec.get("first_day"), rec.get("last_day"), rec.get("data_last_date")
        what = "SIMULATED paths" + (f" {first} … {last}" if first and last else "")
        data = ("the SYNTHETIC sample market" if rec.get("synthetic_data")
                else f"data to {end}" if end else "the run's data")
        return f"Re-scored {what} of {self.run_dir or 'a run in memory'} ({data}; nothing simulated again)."

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
            "run_dir": None if self.run_dir is None else str(self.run_dir), "run": self.run_line(),
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
                   table, flip_df, segments, dmap, regions, out.benchmark, notes=notes,
                   run_record={k: out.record.get(k) for k in ("first_day", "last_day", "data_last_date",
                                                              "synthetic_data")})
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


__all__ = ["FLIP_COLUMNS", "LAMBDA_MAP", "RULE", "Decision", "decide", "decide_outcomes", "matches_run_table",
           "run_decision_lines"]
