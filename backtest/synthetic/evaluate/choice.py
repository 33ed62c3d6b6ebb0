"""Stability of the robust (minimax-regret) choice under resampling of the paths.

The robust choice of :func:`backtest.synthetic.evaluate.scoring.regret_table` is an argmin over
Monte-Carlo estimates. :func:`choice_shares` resamples the paths of each scenario ``B``
times with replacement, **paired**: within a resample and a scenario every strategy is
scored on the same resampled path indices (paths are shared by all strategies of a
scenario). Each resample recomputes the configured regret statistic and summary
(:func:`resampled_statistic`, the same functions as the scorecard), the regret against the
best strategy of each basis scenario, the maximum regret and the minimax choice
(:func:`backtest.synthetic.evaluate.distributions.minimax_mask`; ``k`` tied strategies count ``1/k``
each). A strategy's ``choice_share`` is its share of the ``B`` resamples.

The draws come from ``np.random.default_rng([seed, CHOICE_STREAM])`` and use the
aggregated arrays, so the shares depend on the run seed only (not on chunking or workers).
"""

from __future__ import annotations

import warnings

import numpy as np

from backtest.synthetic.evaluate.distributions import (
    DEFAULT_CVAR_LAMBDA,
    cvar_penalised,
    minimax_mask,
    tail_mean,
    weighted_quantiles,
)
from backtest.synthetic.evaluate.scoring import weighted_mean
from backtest.synthetic.scenarios import DEFAULT_CHOICE_RESAMPLES, MAX_CHOICE_RESAMPLES

CHOICE_STREAM = 0x43484F49
"""Second entry of the seed sequence of the resamples (``"CHOI"``), apart from the paths' streams."""


def resampled_statistic(stats: dict[str, np.ndarray], idx: np.ndarray, statistic: str, summary: str = "mean",
                        cvar_lambda: float = DEFAULT_CVAR_LAMBDA) -> np.ndarray:
    """The regret statistic of one strategy in one scenario on each row of resampled paths.

    Parameters
    ----------
    stats : dict
        Per-path statistics of the strategy in the scenario (``horizon_return``, ``sharpe``, ...).
    idx : np.ndarray of int, shape (B, P)
        Path indices of each resample.
    statistic : str
        ``cvar_penalised``, ``cvar_5`` or a per-path statistic.
    summary : str
        ``mean`` or ``median`` of a per-path statistic (ignored for the single-number ones).
    cvar_lambda : float
        λ of :func:`backtest.synthetic.evaluate.distributions.cvar_penalised`.

    Returns
    -------
    np.ndarray, shape (B,)
        What :func:`backtest.synthetic.evaluate.scoring.summarise` gives on each resample's paths.
    """
    if statistic in ("cvar_penalised", "cvar_5"):
        hr = np.asarray(stats["horizon_return"], dtype=float)[idx]
        cvar = np.array([tail_mean(row) for row in hr])
        if statistic == "cvar_5":
            return cvar
        med = weighted_quantiles(hr, (0.5,), axis=1)[0]
        return np.array([cvar_penalised(m, c, cvar_lambda) for m, c in zip(med, cvar, strict=True)])
    x = np.asarray(stats[statistic], dtype=float)[idx]
    if summary == "median":
        return weighted_quantiles(x, (0.5,), axis=1)[0]
    return np.array([weighted_mean(row) for row in x])


def shares_from_values(values: np.ndarray) -> np.ndarray:
    """Share of resamples in which each strategy is the minimax-regret choice.

    Parameters
    ----------
    values : np.ndarray, shape (B, strategies, scenarios)
        The regret statistic per resample (higher is better).

    Returns
    -------
    np.ndarray, shape (strategies,)
        Ties share (``1/k`` each); a resample without any finite value counts for nobody.
    """
    v = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN, never chosen
        regret = np.nanmax(v, axis=1, keepdims=True) - v
        mx = np.nanmax(regret, axis=2)
    chosen = minimax_mask(mx).astype(float)
    k = chosen.sum(axis=1, keepdims=True)
    return (chosen / np.maximum(k, 1.0)).sum(axis=0) / v.shape[0]


def choice_shares(stats: dict[str, dict[str, dict[str, np.ndarray]]], strategies: list[str], basis: list[str], *,
                  statistic: str, summary: str = "mean", cvar_lambda: float = DEFAULT_CVAR_LAMBDA,
                  resamples: int = DEFAULT_CHOICE_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Share of paired path resamples in which each strategy is the robust choice.

    Parameters
    ----------
    stats : dict
        ``stats[scenario][strategy][statistic]``: per-path values (paths in order).
    strategies : list of str
        Strategies of the regret table (its row order).
    basis : list of str
        Scenarios the maximum regret runs over (the mix's scenarios).
    statistic, summary : str
        The configured ``scoring.regret_statistic`` and ``scoring.regret_summary``.
    cvar_lambda : float
        ``scoring.cvar_lambda``.
    resamples : int
        ``B`` (``scoring.choice_resamples``); 0: off (all NaN).
    seed : int
        The run seed.

    Returns
    -------
    np.ndarray, shape (len(strategies),)
        Shares summing to 1 (NaN when off or without strategies/scenarios).
    """
    if resamples <= 0 or not strategies or not basis:
        return np.full(len(strategies), np.nan)
    return shares_from_values(resample_values(stats, strategies, basis, statistic=statistic, summary=summary,
                                              cvar_lambda=cvar_lambda, resamples=resamples, seed=seed))


def resample_values(stats: dict[str, dict[str, dict[str, np.ndarray]]], strategies: list[str], basis: list[str], *,
                    statistic: str, summary: str = "mean", cvar_lambda: float = DEFAULT_CVAR_LAMBDA,
                    resamples: int = DEFAULT_CHOICE_RESAMPLES, seed: int = 0) -> np.ndarray:
    """The regret statistic on each paired path resample (the draws of :func:`choice_shares`).

    Returns
    -------
    np.ndarray, shape (resamples, len(strategies), len(basis))
    """
    rng = np.random.default_rng([int(seed), CHOICE_STREAM])
    values = np.empty((resamples, len(strategies), len(basis)))
    for j, n in enumerate(basis):
        p = len(stats[n][strategies[0]]["horizon_return"])
        idx = rng.integers(0, p, size=(resamples, p))  # one draw per scenario, shared by every strategy
        for i, s in enumerate(strategies):
            values[:, i, j] = resampled_statistic(stats[n][s], idx, statistic, summary, cvar_lambda)
    return values


__all__ = ["CHOICE_STREAM", "DEFAULT_CHOICE_RESAMPLES", "MAX_CHOICE_RESAMPLES", "choice_shares",
           "resample_values", "resampled_statistic", "shares_from_values"]
