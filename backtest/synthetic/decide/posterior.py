"""The path weights of a decision: the prior ``p_s / n_s``, re-weighted by the views (entropy pooling).

:func:`pooled_weights` turns parsed views (:mod:`.views`) into constraints on the paths of
the decision's scenarios, solves them by :func:`~.pooling.entropy_pool`, and returns the
posterior scenario probabilities and the weights within each scenario (None where they
stay equal, so the scorecard's own numbers are reproduced exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from backtest.errors import ScenarioError
from backtest.synthetic.decide.outcomes import Outcomes
from backtest.synthetic.decide.pooling import PoolingFailed, effective_paths, entropy_pool
from backtest.synthetic.decide.views import View, view_row


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


__all__ = ["Weights", "pooled_weights"]
