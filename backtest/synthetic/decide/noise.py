"""Monte-Carlo noise of the margin between the choice and the runner-up: a paired path bootstrap.

The paths of each scenario are resampled with replacement ``B`` times, **paired** (the
choice and the runner-up get the same resampled paths, as in the run's ``choice_share``);
each resample recomputes both strategies' regret statistic per scenario on the drawn
paths (:func:`~.rule.row_parts`: the same Hazen median and exact tail mean as :mod:`.rule`
and the run's ``choice_share``; with views each drawn path keeps its posterior weight) and the
probability-weighted margin ``Σ_s p_s (stat_s,choice − stat_s,runner-up)``. The standard
deviation of the ``B`` margins is the margin's standard error; a margin within
:data:`NOISE_Z` standard errors of zero is within Monte-Carlo noise. The draws come from
``default_rng([seed, DECIDE_STREAM])`` (the run's seed), so a decision is reproducible.
It measures path noise only, not doubt about the scenario model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.synthetic.decide.outcomes import Outcomes
from backtest.synthetic.decide.rule import row_parts

DECIDE_STREAM = 0x44454349
"""Second entry of the seed sequence of the resamples (``"DECI"``)."""
DEFAULT_RESAMPLES = 200
MAX_RESAMPLES = 2000
NOISE_Z = 2.0
"""A margin below this many standard errors is "within Monte-Carlo noise"."""


@dataclass(frozen=True)
class MarginNoise:
    """The bootstrap of the margin: its standard error and the share of resamples the choice stays ahead."""

    se: float
    share_ahead: float
    resamples: int


def margin_noise(out: Outcomes, scenarios: list[str], probs: np.ndarray, pair: tuple[int, int], statistic: str,
                 summary: str, lam: float, within: dict[str, np.ndarray | None], resamples: int,
                 seed: int) -> MarginNoise:
    """Paired bootstrap of ``Σ_s p_s (stat_s,a − stat_s,b)`` for the strategies ``pair = (a, b)``.

    Parameters
    ----------
    out : Outcomes
        The run's per-path outcomes.
    scenarios : list of str
        Scenarios of the decision.
    probs : np.ndarray, shape (S,)
        Their probabilities.
    pair : tuple of int
        Indices of the choice and the runner-up.
    statistic, summary : str
        The regret statistic.
    lam : float
        λ.
    within : dict
        Posterior path weights within each scenario (None: equal).
    resamples : int
        ``B`` (0: no bootstrap; NaN results).
    seed : int
        The run seed.
    """
    if resamples <= 0:
        return MarginNoise(float("nan"), float("nan"), 0)
    rng = np.random.default_rng([int(seed), DECIDE_STREAM])
    margins = np.zeros(resamples)
    col = "horizon_return" if statistic in ("cvar_penalised", "cvar_5") else statistic
    for j, sc in enumerate(scenarios):
        n = out.paths(sc)
        idx = rng.integers(0, n, size=(resamples, n))  # one draw per scenario, shared by both strategies
        if probs[j] <= 0:
            continue
        counts = np.bincount((idx + n * np.arange(resamples)[:, None]).ravel(),
                             minlength=resamples * n).reshape(resamples, n)
        w = within.get(sc)
        vals = []
        for k in pair:
            x = np.asarray(out.values[col][sc][:, k], dtype=float)
            o = np.argsort(x, kind="stable")
            # each resample's paths in increasing order of x: repeat the sorted paths by their counts
            rows = np.repeat(np.tile(o, resamples), counts[:, o].ravel()).reshape(resamples, n)
            m, c = row_parts(x[rows], statistic, summary, None if w is None else np.asarray(w, dtype=float)[rows])
            vals.append(m - lam * c)
        margins += probs[j] * (vals[0] - vals[1])
    return MarginNoise(float(np.std(margins, ddof=1)) if resamples > 1 else float("nan"),
                       float(np.mean(margins > 0)), resamples)


__all__ = ["DECIDE_STREAM", "DEFAULT_RESAMPLES", "MAX_RESAMPLES", "NOISE_Z", "MarginNoise", "margin_noise"]
