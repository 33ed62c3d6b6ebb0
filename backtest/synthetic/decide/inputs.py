"""The inputs of a decision: ``--probs``, ``--cvar-lambda`` and ``--statistic``, checked.

Every number is finite and in its documented range (``docs/config.md``); a bad one is a
one-line :class:`~backtest.errors.ScenarioError` naming the flag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from backtest.errors import ScenarioError
from backtest.synthetic.decide.outcomes import Outcomes
from backtest.synthetic.evaluate.distributions import REGRET_STATISTICS

MAX_LAMBDA = 100.0
"""Largest λ (``--cvar-lambda`` and the flip search), as the scenario file's ``scoring.cvar_lambda``."""
PROB_TOL = 1e-4
"""``--probs`` must sum to 1 within this (then they are rescaled to sum to 1 exactly)."""


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


__all__ = ["MAX_LAMBDA", "PROB_TOL", "check_lambda", "check_statistic", "parse_probs"]
