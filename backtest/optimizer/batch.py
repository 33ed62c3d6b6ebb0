"""Optimizer strategies solved in batches across scenario paths (no cvxpy on the hot path).

The scenario runner evaluates a strategy on thousands of simulated paths. An optimizer
block (``params.optimizer``) used to go path by path: one ``MarketData`` and one cvxpy
solve per path per decision. This module solves the *same* convex problem that
:func:`backtest.optimizer.problem.build_problem` compiles for a ``mean_variance`` or
``tracking_error`` block::

    minimise   ½·γ·wᵀΣw − μᵀw + κ·Σ|w − w_prev|       (tracking_error: γ = 0, plus ½·γ_a·(w − b)ᵀΣ(w − b))
    subject to lb ≤ w ≤ ub,  Σ|w| ≤ L (max_gross_leverage),
               (w − b)ᵀΣ(w − b) ≤ te_cap²,  Σw ≤ 1 (budget "cash") or Σw = 1 (budget "full")

for every path of a decision date at once, with the inputs the allocator would compute
(:mod:`backtest.optimizer.batch_estimators`). Each instance is solved by a primal
log-barrier method with Newton steps (:mod:`backtest.optimizer.batch_solver`; the turnover
auxiliaries are minimised out in closed form and the gross-leverage auxiliaries by a Schur
complement, so a Newton step is one k x k Cholesky with k ≤ the number of assets; about
100 steps on real decisions, 60 on random instances). An instance is computed alone, so
its weights never depend on the batch it is in (same seed, same numbers for any chunk size
or worker count).

Instances the barrier method does not take — no strictly feasible start (e.g. an
infeasible tracking-error cap), a window with gaps, no available asset, no convergence —
go through :class:`~backtest.optimizer.allocator.CvxAllocator` one by one, so infeasibility
and the configured fallback follow exactly the run path. Configs the batch solver does not
cover (other objectives, groups, turnover limits, EWMA or regime/prior means) raise :class:`backtest.errors.Unsupported`: they keep the per-path route.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from backtest.errors import Unsupported
from backtest.optimizer.batch_estimators import (
    COV_LEDOIT_WOLF,
    COV_SAMPLE,
    window_availability,
    window_covariance,
    window_mean,
)
from backtest.optimizer.batch_solver import (
    BAD_INPUT,
    NO_START,
    NOT_CONVERGED,
    OK,
    mv_objective,
    solve_mean_variance,
    solve_mean_variance_batch,
)
from backtest.optimizer.models import BIG, OptimizerConfig

__all__ = [
    "BAD_INPUT",
    "NOT_CONVERGED",
    "NO_START",
    "OK",
    "check_supported",
    "mv_objective",
    "optimise_batch",
    "solve_mean_variance",
    "solve_mean_variance_batch",
]



# ============================================================================ config
def check_supported(cfg: OptimizerConfig) -> None:
    """Raise :class:`Unsupported` unless the batch solver covers ``cfg``.

    Parameters
    ----------
    cfg : OptimizerConfig

    Raises
    ------
    Unsupported
        Objective other than ``mean_variance`` / ``tracking_error``, groups, a turnover
        limit, EWMA covariance, or a regime/prior mean.
    """
    est = cfg.estimator
    why = []
    if cfg.objective not in ("mean_variance", "tracking_error"):
        why.append(f"objective {cfg.objective}")
    if cfg.groups:
        why.append("groups")
    if cfg.turnover_limit is not None:
        why.append("turnover_limit")
    if est.covariance not in ("ledoit_wolf", "sample"):
        why.append(f"covariance {est.covariance}")
    if est.mean != "trailing":
        why.append(f"mean {est.mean}")
    if why:
        raise Unsupported(f"optimizer block without a batch form ({', '.join(why)})")


# ============================================================================ decisions
@njit(cache=True)
def _decide(rets, r_lo, r_hi, anchors, fixed_bench, use_fixed, prev, kappa, rf,  # noqa: ANN001, ANN202
            lb0, ub0, min_obs, cov_method, shrinkage, prior, grand, ra, te_cap, gross_cap, cash, full, ra_a):
    """One decision date for every path: estimates + barrier solve, status per path."""
    n_p, _, n = rets.shape
    out = np.zeros((n_p, n))
    status = np.zeros(n_p, dtype=np.int64)
    avail = np.zeros(n, dtype=np.bool_)
    full_b = np.empty(n)
    for p in range(n_p):
        x = rets[p, r_lo:r_hi]
        start = window_availability(x, min_obs, avail)
        k = 0
        for j in range(n):
            if avail[j]:
                k += 1
        if k == 0:
            status[p] = BAD_INPUT
            continue
        idx = np.empty(k, dtype=np.int64)
        c = 0
        for j in range(n):
            if avail[j]:
                idx[c] = j
                c += 1
        t_rows = x.shape[0] - start
        rows = np.empty((t_rows, k))
        bad = False
        for t in range(t_rows):
            for c in range(k):
                val = x[start + t, idx[c]]
                if not np.isfinite(val):
                    bad = True
                rows[t, c] = val
        if bad:
            status[p] = BAD_INPUT
            continue
        S = np.empty((k, k))
        window_covariance(rows, cov_method, S)
        mu = np.empty(k)
        pri = np.empty(k)
        for c in range(k):
            pri[c] = prior[idx[c]]
        window_mean(rows, shrinkage, pri, grand, rf[p], mu)
        finite = True
        for c in range(k):
            if not np.isfinite(mu[c]):
                finite = False
            for d in range(k):
                if not np.isfinite(S[c, d]):
                    finite = False
        if not finite:
            status[p] = BAD_INPUT
            continue
        lb = np.empty(k)
        ub = np.empty(k)
        wp = np.empty(k)
        slb = 0.0
        for c in range(k):
            lb[c] = lb0[idx[c]]
            ub[c] = ub0[idx[c]]
            wp[c] = prev[p, idx[c]]
            slb += lb[c]
        if (cash or full) and slb > 1.0 + 1e-12:
            status[p] = BAD_INPUT
            continue
        # tracking-error benchmark: the anchor (or fixed base) restricted to available assets
        base = fixed_bench if use_fixed else anchors[p]
        nonzero = False
        for j in range(n):
            if avail[j] and base[j] != 0.0:
                nonzero = True
        if nonzero:
            tot = 0.0
            kept = 0.0
            for j in range(n):
                tot += base[j]
                full_b[j] = base[j] if avail[j] else 0.0
                kept += full_b[j]
            if kept > 0.0 and abs(kept - tot) > 0.0:
                for j in range(n):
                    full_b[j] *= tot / kept
        else:
            for j in range(n):
                full_b[j] = 1.0 / k if avail[j] else 0.0
        b = np.empty(k)
        for c in range(k):
            b[c] = full_b[idx[c]]
        w = np.empty(k)
        status[p] = solve_mean_variance(S, mu, lb, ub, wp, kappa, b, te_cap, gross_cap, cash, ra, w, full, ra_a)
        if status[p] == OK:
            for c in range(k):
                out[p, idx[c]] = w[c]
    return out, status


def _bounds(cfg: OptimizerConfig, assets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-asset (lower, upper) as the allocator sets them before availability."""
    n = len(assets)
    pos = {a: i for i, a in enumerate(assets)}
    lb = np.full(n, -BIG if cfg.bounds.lower is None else cfg.bounds.lower)
    ub = np.full(n, BIG if cfg.bounds.upper is None else cfg.bounds.upper)
    for asset, ab in cfg.bounds.assets.items():
        if ab.min is not None:
            lb[pos[asset]] = ab.min
        if ab.max is not None:
            ub[pos[asset]] = ab.max
    if cfg.long_only:
        lb = np.maximum(lb, 0.0)
    return lb, ub


def _window_returns(bs: Any, assets: list[str], lo: int, hi: int) -> np.ndarray:
    """Daily simple returns on calendar rows ``lo .. hi - 1`` as (P, hi - lo, n) (NaN where unknown)."""
    px = bs.prices(assets, lo, hi)
    rets = np.full(px.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        rets[1:] = px[1:] / px[:-1] - 1.0
    return np.ascontiguousarray(rets.transpose(1, 0, 2))


def optimise_batch(cfg: OptimizerConfig, assets: list[str], anchors: np.ndarray | None, bs: Any,
                   *, name: str = "", rf_known: bool = False) -> np.ndarray:
    """Optimizer weights for a batch of paths at every decision date, shape (K, P, n).

    What :meth:`strategies.regime_rules.RegimeRules.weights` does with an optimizer block
    on one path (the allocator at each decision, trailing returns up to the decision date,
    the rule weights as the anchor, the T-bill rate known by then, previous optimizer
    output for the turnover term), for every path of ``bs``.

    Parameters
    ----------
    cfg : OptimizerConfig
        The optimizer block (see :func:`check_supported`).
    assets : list of str
        Columns of ``anchors`` and of the result.
    anchors : ndarray, shape (K, P, n), or None
        Rule weights at each decision of each path (the allocator's ``base_weights``: TE
        benchmark and ``base`` fallback). None: no anchor (the allocator then uses
        ``cfg.base_weights``, else equal weight over available assets).
    bs : strategies.base.BatchSignals
        Prices, decision rows, ``cash_rate`` of the paths.
    name : str, optional
        Strategy name (messages of the exact route).
    rf_known : bool, default False
        Require a known ``cash_rate`` at every decision (the ``optimized`` kind reads the last
        published rate; an unknown one raises :class:`Unsupported`). Otherwise unknown = 0,
        as in ``regime_rules``.

    Returns
    -------
    ndarray, shape (K, P, n)

    Raises
    ------
    Unsupported
        ``cfg`` not covered, or ``cash_rate`` not computable for the batch.
    """
    check_supported(cfg)
    est = cfg.estimator
    n = len(assets)
    k_n, p_n = bs.shape
    has_anchor = anchors is not None
    if anchors is None:  # what CvxAllocator._base(None) falls back to; zeros -> equal weight
        cfg_base = np.array([(cfg.base_weights or {}).get(a, 0.0) for a in assets], dtype=float)
        anchors = np.broadcast_to(cfg_base, (k_n, p_n, n))
    rows = np.asarray(bs.rows, dtype=np.int64)
    win = est.window
    lo = max(int(rows.min()) - win, 0)
    hi = int(rows.max()) + 1
    rf = np.asarray(bs.values("cash_rate"), dtype=float) / 100.0
    if rf_known and not np.isfinite(rf).all():
        raise Unsupported("cash_rate unknown at some decision date")
    rf = np.where(np.isfinite(rf), rf, 0.0)
    rets = _window_returns(bs, assets, lo, hi)
    lb0, ub0 = _bounds(cfg, assets)
    prior = np.zeros(n)
    grand = est.prior_mean is None
    if isinstance(est.prior_mean, dict):
        prior = np.array([est.prior_mean.get(a, np.nan) for a in assets], dtype=float)
        if np.isnan(prior).any():
            raise Unsupported("estimator.prior_mean that does not cover every asset")
    elif est.prior_mean is not None:
        prior = np.full(n, float(est.prior_mean))
    use_fixed = cfg.te_benchmark == "base_weights" and bool(cfg.base_weights)
    fixed = np.array([(cfg.base_weights or {}).get(a, 0.0) for a in assets], dtype=float)
    cov_method = COV_LEDOIT_WOLF if est.covariance == "ledoit_wolf" else COV_SAMPLE
    te_cap = float(cfg.te_cap or 0.0)
    mean_var = cfg.objective == "mean_variance"
    ra = float(cfg.risk_aversion) if mean_var else 0.0
    ra_a = 0.0 if mean_var else float(cfg.active_risk_aversion)
    gross_cap = float(cfg.max_gross_leverage or 0.0)
    out = np.zeros((k_n, p_n, n))
    prev = np.zeros((p_n, n))
    exact: _ExactRoute | None = None
    for k in range(k_n):
        r_hi = int(rows[k]) + 1 - lo
        r_lo = max(int(rows[k]) - win + 1, 0) - lo
        kappa = float(cfg.turnover_penalty) if k > 0 else 0.0
        a_k = np.ascontiguousarray(anchors[k], dtype=float)
        # a decision whose inputs are the same on every path (e.g. the first one, on history
        # days only) is solved once: same inputs, same numbers, whatever the batch
        one = p_n > 1 and _same_on_all_paths(rets[:, r_lo:r_hi], a_k, prev, rf[k])
        sub = slice(0, 1) if one else slice(None)
        w, status = _decide(np.ascontiguousarray(rets[sub]), r_lo, r_hi, a_k[sub], fixed, use_fixed, prev[sub],
                            kappa, rf[k][sub], lb0, ub0, est.min_obs, cov_method, float(est.shrinkage), prior,
                            grand, ra, te_cap, gross_cap, cfg.budget == "cash", cfg.budget == "full", ra_a)
        if one:
            w, status = np.repeat(w, p_n, axis=0), np.repeat(status, p_n)
        for p in np.flatnonzero(status != OK):
            if exact is None:
                exact = _ExactRoute(cfg, assets, name)
            w[p] = exact.allocate(bs.dates[k], rets[p, r_lo:r_hi], a_k[p] if has_anchor else None,
                                  prev[p] if k > 0 else None,
                                  float(rf[k, p]))
        out[k] = w
        prev = w
    return out


def _same_on_all_paths(*arrays: np.ndarray) -> bool:
    """Whether every array (path axis first) holds the same values on all paths (NaN = NaN)."""
    for x in arrays:
        for part in (x[:, -1] if x.ndim > 1 else x, x):  # the last window row differs first
            first = part[:1]
            if not ((part == first) | (np.isnan(part) & np.isnan(first))).all():
                return False
    return True


class _ExactRoute:
    """The cvxpy allocator for the instances the barrier method does not take."""

    def __init__(self, cfg: OptimizerConfig, assets: list[str], name: str) -> None:
        from backtest.optimizer.allocator import make_allocator  # imports cvxpy

        self.assets = list(assets)
        self.allocator: Any = make_allocator(cfg, self.assets, name=name)

    def allocate(self, date: pd.Timestamp, window: np.ndarray, anchor: np.ndarray | None,
                 prev: np.ndarray | None, rf: float) -> np.ndarray:
        frame = pd.DataFrame(window, columns=self.assets)  # positional index: no look-ahead check
        w = self.allocator.allocate(
            pd.Timestamp(date), frame,
            prev_weights=None if prev is None else pd.Series(prev, index=self.assets),
            base_weights=None if anchor is None else pd.Series(anchor, index=self.assets), rf=rf,
        )
        return w.reindex(self.assets).fillna(0.0).to_numpy(dtype=float)
