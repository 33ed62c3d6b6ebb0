"""Vectorised scoring of scenario paths: simulation, per-path metrics, distributions, regret.

* :func:`simulate_paths` — drift-and-rebalance with fees, slippage, borrow and cash yield
  for every path of a chunk: a thin caller of the public batch kernel
  :func:`backtest.kernel.simulate_batch` (the engine's vectorbt semantics, one item per
  path), so a path's value is what ``backtest.engine.simulate`` gives on its
  ``MarketData`` (tested).
* per-path metrics are :func:`backtest.metrics_batch.path_metrics` (the batch form of
  :mod:`backtest.metrics`).
* :func:`summarise` / :func:`tail_mean` / :func:`weighted_quantiles` — distribution
  summaries. Percentiles use Hazen plotting positions ``(i - 1/2) / n``, weighted for the
  probability-weighted mix (path weight ``p_s / n_s``), so a scenario and the mix are
  summarised the same way. ``cvar_5`` is the mean of the worst 5 % of the probability
  mass of horizon returns (exactly 500 of 10,000 equally weighted paths).
* :func:`regret_table` — each strategy's shortfall against the best strategy of each
  scenario on one statistic, its maximum and expected regret over the mix's scenarios,
  and the minimax-regret (robust) choice. The default statistic is risk-adjusted:
  ``cvar_penalised`` = median horizon return − λ · max(0, −CVaR-5) (λ =
  ``scoring.cvar_lambda``, default 1: a strategy whose worst 5 % of paths lose 10 % on
  average gives up 10 points of median return).
* :func:`benchmark_6040` / :func:`paired_beat` / :func:`mix_beat` — P(beat 60/40): the
  share of paths on which a strategy's horizon return is strictly above 60/40's on the
  *same* path, with its binomial Monte-Carlo standard error (stratified over the mix).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd

from backtest.constants import BENCHMARK_60_40, CVAR_LEVEL
from backtest.execution.drift import fill_plan
from backtest.execution.spec import PathSpec, fill_rows
from backtest.kernel import simulate_batch
from backtest.synthetic.evaluate.distributions import (  # one home for the numba-free summaries (rmpbt decide)
    DEFAULT_CVAR_LAMBDA,
    cvar_penalised,
    minimax_mask,
    tail_mean,
    weighted_mean,
    weighted_quantiles,
)

QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
STAT_COLUMNS = ("mean", "median", "p5", "p25", "p75", "p95")
# per-path statistics (one value per path) and scalar statistics (one per distribution)
PATH_STATS = ("horizon_return", "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar",
              "hit_rate", "worst_day", "best_day", "daily_cvar_5")
SCENARIO_STATS = ("horizon_return", "max_drawdown", "sharpe", "ann_vol", "prob_loss", "cvar_5", "cvar_penalised",
                  "prob_beat_6040", "prob_beat_6040_se")
# single-number statistics: ``mean`` and ``median`` hold the value, the percentiles are empty
SCALAR_STATS = ("prob_loss", "cvar_5", "cvar_penalised", "prob_beat_6040", "prob_beat_6040_se")
DEFAULT_REGRET_STATISTIC = "cvar_penalised"
INTERNAL_6040 = "_sixty_forty_internal"
"""Name of the 60/40 added to the evaluation when the config has none (dropped from tables)."""


# ------------------------------------------------------------------------ simulation


def simulate_paths(start_prices: np.ndarray, returns: np.ndarray, targets: np.ndarray, dec_rows: np.ndarray,
                   spec: PathSpec, assets: Sequence[str], *, cash_growth: np.ndarray | None = None,
                   parallel: bool = True) -> np.ndarray:
    """Portfolio values of one strategy on every path (the engine's semantics, per path).

    A thin caller of the batch kernel (:func:`backtest.kernel.simulate_batch`, one item per
    path; targets at the fills and drift band :func:`backtest.execution.drift.fill_plan`; fills
    :func:`backtest.execution.spec.fill_rows`).

    Parameters
    ----------
    start_prices : np.ndarray, shape (N,)
        Closes on the first run day (``t0``).
    returns : np.ndarray, shape (P, T1, N)
        Daily simple returns on the run days; row 0 (``t0``) is ignored (0).
    targets : np.ndarray, shape (P, K, N)
        Target weights decided at ``dec_rows`` (NaN rows: hold; NaN entries: 0).
    dec_rows : np.ndarray of int, shape (K,)
        Run-day rows of the decisions (strictly increasing).
    spec : backtest.execution.spec.PathSpec
        The execution rules: ``lag_days`` (decisions whose fill falls after the last day are
        dropped), ``drift_band`` and the costs (the kernel's view, :meth:`PathSpec.kernel_view`).
    assets : sequence of str, length N
        The columns (their short legs' borrow accrual).
    cash_growth : np.ndarray, shape (P, T1), optional
        Daily growth factors of the cash asset (``g_0 = 1``); None: cash earns nothing
        (leveraged longs are then financed at 0 %, as in the engine).
    parallel : bool
        Spread paths over threads (results are identical either way).

    Returns
    -------
    np.ndarray, shape (P, T1)
        Value at each close (1 before the first day); NaN from a day vectorbt would
        reject (negative cash).
    """
    growth = 1.0 + np.asarray(returns, dtype=np.float64)
    growth[:, 0] = 1.0
    # closes compound sequentially from the start prices: px_t = px_{t-1} * (1 + r_t)
    growth[:, 0] *= np.asarray(start_prices, dtype=np.float64)[None, :]
    prices = np.cumprod(growth, axis=1, out=growth)
    t_n = prices.shape[1]
    dec = np.asarray(dec_rows, dtype=np.int64)
    keep, fill_idx = fill_rows(dec, spec.lag_days, t_n)
    tg, _, execute = fill_plan(targets, np.flatnonzero(keep), dec[keep], fill_idx, prices, spec.drift_band)
    return simulate_batch(prices, tg, spec.kernel_view(assets, fill_idx, cash_growth), execute=execute,
                          parallel=parallel)


# ------------------------------------------------------------------------ distributions


@numba.njit(cache=True)
def _merge_quantiles(xs, counts, wts, q, out):  # pragma: no cover - numba
    s_n, m, _ = xs.shape
    ptr = np.zeros(s_n, dtype=np.int64)
    for j in range(m):
        tot = 0.0
        for s in range(s_n):
            ptr[s] = 0
            tot += counts[s, j] * wts[s]
        if tot <= 0.0:
            for k in range(q.shape[0]):
                out[k, j] = np.nan
            continue
        k = 0
        cw = 0.0
        c_prev = -1.0
        x_prev = np.nan
        while k < q.shape[0]:
            best = -1
            for s in range(s_n):  # smallest head; ties go to the first group (stable order)
                if ptr[s] < counts[s, j] and (best < 0 or xs[s, j, ptr[s]] < xs[best, j, ptr[best]]):
                    best = s
            if best < 0:
                break
            x = xs[best, j, ptr[best]]
            ptr[best] += 1
            w = wts[best]
            c = (cw + w / 2.0) / tot
            cw += w
            while k < q.shape[0] and c >= q[k]:
                if c_prev < 0.0:
                    out[k, j] = x
                elif c > c_prev:
                    t = (q[k] - c_prev) / (c - c_prev)
                    t = min(max(t, 0.0), 1.0)
                    out[k, j] = x_prev + t * (x - x_prev)
                else:
                    out[k, j] = x_prev
                k += 1
            c_prev = c
            x_prev = x
        while k < q.shape[0]:
            out[k, j] = x_prev
            k += 1


def mixture_quantiles(groups: list[np.ndarray], weights: list[float], q: tuple[float, ...]) -> np.ndarray:
    """Hazen quantiles of a mixture of groups of paths, column by column (fan charts).

    The same definition as :func:`weighted_quantiles` with every path of group ``g``
    weighted ``weights[g]``, computed by merging the groups sorted separately (fast for
    the (paths x days) wealth matrices of several scenarios).

    Parameters
    ----------
    groups : list of np.ndarray, each shape (n_g, m)
        Paths (rows) of each group; columns are days.
    weights : list of float
        Weight of one path of each group.
    q : sequence of float
        Increasing probabilities.

    Returns
    -------
    np.ndarray, shape (len(q), m)
    """
    if len(groups) == 1 and groups[0].shape[0] > 0 and np.isfinite(groups[0]).all():
        return _single_group_quantiles(np.asarray(groups[0], dtype=float), np.asarray(q, dtype=float))
    m = groups[0].shape[1]
    nmax = max(g.shape[0] for g in groups)
    xs = np.full((len(groups), m, nmax), np.nan)
    counts = np.zeros((len(groups), m), dtype=np.int64)
    for i, g in enumerate(groups):
        srt = np.sort(np.ascontiguousarray(np.asarray(g, dtype=float).T), axis=1)  # NaN last
        xs[i, :, : g.shape[0]] = srt
        counts[i] = np.isfinite(srt).sum(axis=1)
    out = np.empty((len(q), m))
    _merge_quantiles(xs, counts, np.asarray(weights, dtype=float), np.asarray(q, dtype=float), out)
    return out


def _single_group_quantiles(g: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:func:`mixture_quantiles` of one group without NaN: the same positions, by partial sorting.

    Path ``i`` (0-based, in sorted order) sits at ``c_i = (i + 1/2) / n``; a quantile
    interpolates between the two order statistics around it (ends clamp), so only those
    ranks are needed (``np.partition``, linear time) rather than a full sort per column.
    """
    n = g.shape[0]
    c = (np.arange(n, dtype=float) + 0.5) / n
    hi = np.searchsorted(c, q, side="left")  # first position with c_i >= q (n: beyond the last)
    ranks = sorted({int(r) for h in hi for r in (h - 1, h) if 0 <= r < n})
    part = np.partition(np.ascontiguousarray(g.T), ranks, axis=1)  # (m, n)
    out = np.empty((len(q), g.shape[1]))
    for k, (qk, h) in enumerate(zip(q, hi, strict=True)):
        if h >= n:
            out[k] = part[:, n - 1]
        elif h == 0:
            out[k] = part[:, 0]
        else:
            c0, c1 = c[h - 1], c[h]
            t = min(max((qk - c0) / (c1 - c0), 0.0), 1.0) if c1 > c0 else 0.0
            x0, x1 = part[:, h - 1], part[:, h]
            out[k] = x0 + t * (x1 - x0)
    return out


def _scalar(v: float) -> dict[str, float]:
    return {"mean": v, "median": v, **{f"p{int(q * 100)}": np.nan for q in QUANTILES if q != 0.5}}


def summarise(stats: dict[str, np.ndarray], w: np.ndarray | None = None,
              cvar_lambda: float = DEFAULT_CVAR_LAMBDA) -> dict[str, dict[str, float]]:
    """Rows of ``scenario_metrics.csv`` for one strategy in one scenario (or the mix).

    ``prob_loss`` (share of paths losing money over the horizon), ``cvar_5`` (mean
    horizon return of the worst 5 %) and ``cvar_penalised`` (:func:`cvar_penalised`)
    are single numbers: they fill ``mean`` and ``median``, the percentiles are left
    empty. The paired ``prob_beat_6040`` rows are added by the aggregation (they need
    the benchmark's paths).
    """
    out: dict[str, dict[str, float]] = {}
    hr = stats["horizon_return"]
    for st in SCENARIO_STATS:
        if st == "prob_loss":
            out[st] = _scalar(weighted_mean((hr < 0).astype(float), w))
        elif st == "cvar_5":
            out[st] = _scalar(tail_mean(hr, CVAR_LEVEL, w))
        elif st == "cvar_penalised":
            out[st] = _scalar(cvar_penalised(out["horizon_return"]["median"], out["cvar_5"]["mean"], cvar_lambda))
        elif st in ("prob_beat_6040", "prob_beat_6040_se"):
            continue
        else:
            x = stats[st]
            qs = weighted_quantiles(x, QUANTILES, w)
            out[st] = {"mean": weighted_mean(x, w), "median": float(qs[2]), "p5": float(qs[0]),
                       "p25": float(qs[1]), "p75": float(qs[3]), "p95": float(qs[4])}
    return out


def is_6040(strategy: dict) -> bool:
    """True for a ``fixed_weights`` strategy holding exactly :data:`BENCHMARK_60_40`."""
    if strategy.get("kind") != "fixed_weights":
        return False
    w = {k: float(v) for k, v in ((strategy.get("params") or {}).get("weights") or {}).items() if float(v) != 0.0}
    return set(w) == set(BENCHMARK_60_40) and all(abs(w[k] - v) < 1e-12 for k, v in BENCHMARK_60_40.items())


def benchmark_6040(strategies: list[dict], benchmark: str | None, tickers: list[str]) -> tuple[str | None, dict | None]:
    """The 60/40 that P(beat 60/40) pairs against.

    The config's ``benchmark`` if it is a 60/40 (:func:`is_6040`), else the first 60/40
    strategy of the config, else a ``fixed_weights`` 60/40 named :data:`INTERNAL_6040`
    to add to the evaluation (and drop from the tables) when SPY and IEF are loaded.

    Parameters
    ----------
    strategies : list of dict
        The config's strategies (``StrategyConfig.model_dump()``).
    benchmark : str or None
        The config's ``benchmark``.
    tickers : list of str
        Tickers the paths carry.

    Returns
    -------
    tuple
        ``(name, extra)``: the benchmark's name (None: no 60/40 possible) and the strategy
        to add to the evaluation (None when the config has one).
    """
    by_name = {s["name"]: s for s in strategies}
    if benchmark in by_name and is_6040(by_name[benchmark]):
        return benchmark, None
    for s in strategies:
        if is_6040(s):
            return s["name"], None
    if not all(t in tickers for t in BENCHMARK_60_40):
        return None, None
    return INTERNAL_6040, {"name": INTERNAL_6040, "kind": "fixed_weights",
                           "params": {"weights": dict(BENCHMARK_60_40)}}


def regret_table(values: pd.DataFrame, mix: dict[str, float], statistic: str) -> pd.DataFrame:
    """Regret of each strategy against the best one per scenario, and the minimax choice.

    Parameters
    ----------
    values : pd.DataFrame
        Index strategies, columns scenarios (``mix`` may be one), the statistic's summary
        value (higher is better for every statistic used: returns, Sharpe, drawdown and
        CVaR are all "less negative is better").
    mix : dict
        Scenario probabilities (empty: no mix; maximum over every scenario then).
    statistic : str
        Name written in the table.

    Returns
    -------
    pd.DataFrame
        ``strategy, statistic, <regret per scenario>..., max_regret, expected_regret,
        robust`` — ``robust`` is True for the strategy (or tied strategies) with the
        smallest maximum regret over the mix's scenarios.
    """
    reg = values.max(axis=0) - values
    basis = [s for s in mix if s in reg.columns] or [c for c in reg.columns if c != "mix"]
    out = pd.DataFrame({"strategy": values.index.astype(str), "statistic": statistic})
    for c in reg.columns:
        out[f"regret_{c}"] = reg[c].to_numpy()
    mx = reg[basis].max(axis=1).to_numpy()
    out["max_regret"] = mx
    out["expected_regret"] = (reg[list(mix)] * pd.Series(mix)).sum(axis=1).to_numpy() if mix else np.nan
    out["robust"] = minimax_mask(mx)
    return out


__all__ = [
    "DEFAULT_REGRET_STATISTIC",
    "INTERNAL_6040",
    "PATH_STATS",
    "QUANTILES",
    "SCALAR_STATS",
    "SCENARIO_STATS",
    "STAT_COLUMNS",
    "benchmark_6040",
    "is_6040",
    "mixture_quantiles",
    "regret_table",
    "simulate_paths",
    "summarise",
]
