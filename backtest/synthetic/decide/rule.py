"""The regret statistic per scenario under path weights, and the two decision rules.

Per scenario ``s`` and strategy ``k`` the regret statistic splits into a λ-free part and a
tail part, ``stat_sk(λ) = m_sk − λ c_sk``:

* ``cvar_penalised``: ``m`` = median horizon return, ``c = max(0, −CVaR5)`` (the scorecard's
  :func:`backtest.synthetic.evaluate.distributions.cvar_penalised`);
* ``cvar_5``: ``m`` = CVaR5, ``c = 0``; ``horizon_return``, ``sharpe``, ``max_drawdown``:
  ``m`` = their mean or median over paths (the run's ``regret_summary``), ``c = 0``.

Medians are Hazen quantiles and CVaR the exact tail mean
(:func:`~backtest.synthetic.evaluate.distributions.weighted_quantiles`, :func:`~backtest.synthetic.evaluate.distributions.tail_mean`),
weighted by the paths' within-scenario weights (uniform without views: the scorecard's own
numbers).

**Least expected regret** (the choice of ``rmpbt decide``): ``argmin_k Σ_s p_s regret_sk``,
i.e. ``argmax_k Σ_s p_s stat_sk(λ)`` — linear in the probabilities and in λ.
**Minimax regret** (the run's robust choice): ``argmin_k max_{s: p_s > 0} regret_sk``,
which depends on the probabilities only through which scenarios have one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.constants import CVAR_LEVEL
from backtest.synthetic.decide.outcomes import Outcomes
from backtest.synthetic.evaluate.distributions import (
    minimax_mask,
    paired_beat,
    tail_means,
    weighted_mean,
    weighted_quantiles,
)

LAMBDA_STATISTICS = ("cvar_penalised",)
"""Statistics λ enters."""


@dataclass(frozen=True)
class Parts:
    """``stat_sk(λ) = m[s, k] − λ c[s, k]`` for the scenarios and strategies of a decision."""

    m: np.ndarray
    c: np.ndarray

    def values(self, lam: float) -> np.ndarray:
        """The statistic per scenario and strategy at ``lam``, shape (S, K)."""
        return self.m - lam * self.c


def stat_parts(x: dict[str, np.ndarray], statistic: str, summary: str,
               w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(m, c)`` of every strategy in one scenario.

    Parameters
    ----------
    x : dict
        Per-path columns (``horizon_return``, ``sharpe``, ``max_drawdown``), arrays (paths, K).
    statistic, summary : str
        The regret statistic and the summary of a per-path one.
    w : np.ndarray or None
        Path weights within the scenario, shape (paths,) (None: equal, as the scorecard).

    Returns
    -------
    tuple of np.ndarray, shape (K,)
    """
    if statistic in ("cvar_penalised", "cvar_5"):
        hr = x["horizon_return"]
        cvar = tail_means(hr.T, CVAR_LEVEL, w)
        if statistic == "cvar_5":
            return cvar, np.zeros_like(cvar)
        med = weighted_quantiles(hr, (0.5,), w)[0]
        return med, np.maximum(0.0, -cvar)
    v = x[statistic]
    if summary == "median":
        m = weighted_quantiles(v, (0.5,), w)[0]
    else:
        m = np.array([weighted_mean(v[:, k], w) for k in range(v.shape[1])])
    return m, np.zeros_like(m)


def row_parts(x: np.ndarray, statistic: str, summary: str, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(m, c)`` of one strategy on each row of resampled paths (the bootstrap's form of :func:`stat_parts`).

    Parameters
    ----------
    x : np.ndarray, shape (B, paths)
        The per-path column the statistic reads (``horizon_return`` for the CVaR ones),
        one resample per row.
    statistic, summary : str
        The regret statistic.
    w : np.ndarray, shape (B, paths), optional
        The drawn paths' weights (None: equal).

    Returns
    -------
    tuple of np.ndarray, shape (B,)
        The same definitions as :func:`stat_parts` (weighted Hazen median, exact tail mean).
    """
    if statistic in ("cvar_penalised", "cvar_5"):
        n = x.shape[1]
        if w is None and n and np.isfinite(x).all() and (np.diff(x, axis=1) >= 0).all():
            # rows sorted, equal weights: the tail lies in the first m paths; the same mass on them
            m = min(n, int(np.ceil(CVAR_LEVEL * n)) + 1)
            cvar = tail_means(x[:, :m], CVAR_LEVEL * n / m)
        else:
            cvar = tail_means(x, CVAR_LEVEL, w)
        if statistic == "cvar_5":
            return cvar, np.zeros_like(cvar)
        return weighted_quantiles(x, (0.5,), w, axis=1)[0], np.maximum(0.0, -cvar)
    if summary == "median":
        m = weighted_quantiles(x, (0.5,), w, axis=1)[0]
    else:
        ok = np.isfinite(x)
        ww = np.where(ok, 1.0 if w is None else w, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = (np.where(ok, x, 0.0) * ww).sum(axis=1) / ww.sum(axis=1)
    return m, np.zeros_like(m)


def scenario_parts(out: Outcomes, scenarios: list[str], statistic: str, summary: str,
                   within: dict[str, np.ndarray | None]) -> Parts:
    """:func:`stat_parts` of every scenario of the decision, stacked (S, K)."""
    ms, cs = [], []
    for sc in scenarios:
        m, c = stat_parts({k: v[sc] for k, v in out.values.items()}, statistic, summary, within.get(sc))
        ms.append(m)
        cs.append(c)
    return Parts(np.vstack(ms), np.vstack(cs))


def expected_scores(values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``Σ_s p_s stat_sk`` per strategy (higher is better; the choice is its argmax)."""
    return np.asarray(probs, dtype=float) @ values


def regret_frame(values: np.ndarray, probs: np.ndarray, scenarios: list[str], strategies: list[str]) -> pd.DataFrame:
    """Both rules' table: per strategy the statistic and regret per scenario, expected and maximum regret.

    Returns
    -------
    pd.DataFrame
        ``strategy, score, expected_regret, max_regret, minimax, stat_<s>..., regret_<s>...``;
        ``score`` is the probability-weighted statistic, ``max_regret`` runs over the
        scenarios with a positive probability (as the run's ``scenario_regret.csv``).
    """
    p = np.asarray(probs, dtype=float)
    reg = np.nanmax(values, axis=1, keepdims=True) - values
    basis = p > 0
    mx = np.max(reg[basis], axis=0) if basis.any() else np.full(values.shape[1], np.nan)
    df = pd.DataFrame({"strategy": strategies, "score": p @ values, "expected_regret": p @ reg,
                       "max_regret": mx, "minimax": minimax_mask(mx)})
    for i, sc in enumerate(scenarios):
        df[f"stat_{sc}"] = values[i]
    for i, sc in enumerate(scenarios):
        df[f"regret_{sc}"] = reg[i]
    return df


def weighted_beat(x: np.ndarray, ref: np.ndarray, w: np.ndarray | None) -> tuple[float, float]:
    """Weighted share of paths with ``x > ref`` and the effective number of pairs (Kish).

    With ``w`` None this is :func:`backtest.synthetic.evaluate.distributions.paired_beat` (``n`` pairs).
    """
    if w is None:
        p, _, n = paired_beat(x, ref)
        return p, float(n)
    x, ref, ww = np.asarray(x, dtype=float), np.asarray(ref, dtype=float), np.asarray(w, dtype=float)
    ok = np.isfinite(x) & np.isfinite(ref) & (ww > 0)
    if not ok.any():
        return float("nan"), 0.0
    ww = ww[ok] / ww[ok].sum()
    return float(ww @ (x[ok] > ref[ok])), float(1.0 / np.sum(ww**2))


__all__ = ["LAMBDA_STATISTICS", "Parts", "expected_scores", "regret_frame", "row_parts", "scenario_parts", "stat_parts",
           "weighted_beat"]
