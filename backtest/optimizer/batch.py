"""Optimizer strategies solved in batches across scenario paths (no cvxpy on the hot path).

The scenario runner evaluates a strategy on thousands of simulated paths. An optimizer
block (``params.optimizer``) used to go path by path: one ``MarketData`` and one cvxpy
solve per path per decision. This module solves the *same* convex problem that
:func:`backtest.optimizer.problem.build_problem` compiles for a ``mean_variance`` block::

    minimise   ½·γ·wᵀΣw − μᵀw + κ·Σ|w − w_prev|
    subject to lb ≤ w ≤ ub,  Σ|w| ≤ L (max_gross_leverage),
               (w − b)ᵀΣ(w − b) ≤ te_cap²,  Σw ≤ 1 (budget "cash")

for every path of a decision date at once, with the inputs the allocator would compute
(:mod:`backtest.optimizer.batch_estimators`). Each instance is solved by a primal
log-barrier method with Newton steps (:func:`solve_mean_variance`, numba; the turnover
auxiliaries are minimised out in closed form and the gross-leverage auxiliaries by a Schur
complement, so a Newton step is one k x k Cholesky with k ≤ the number of assets; about
100 steps on real decisions, 60 on random instances). An instance is computed alone, so
its weights never depend on the batch it is in (same seed, same numbers for any chunk size
or worker count).

Instances the barrier method does not take — no strictly feasible start (e.g. an
infeasible tracking-error cap), a window with gaps, no available asset, no convergence —
go through :class:`~backtest.optimizer.allocator.CvxAllocator` one by one, so infeasibility
and the configured fallback follow exactly the run path. Configs the batch solver does not
cover (other objectives, groups, turnover limits, budget "full", EWMA or regime/prior
means, views) raise :class:`strategies.base.Unsupported`: they keep the per-path route.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from backtest.optimizer.batch_estimators import (
    COV_LEDOIT_WOLF,
    COV_SAMPLE,
    window_availability,
    window_covariance,
    window_mean,
)
from backtest.optimizer.models import BIG, OptimizerConfig
from strategies.base import BatchSignals, Unsupported

__all__ = [
    "OK",
    "check_supported",
    "mv_objective",
    "optimise_batch",
    "solve_mean_variance",
    "solve_mean_variance_batch",
]

OK = 0
"""Status of an instance solved by the barrier method."""
NO_START = 1
"""No strictly feasible starting point found (possibly infeasible): exact route."""
NOT_CONVERGED = 2
"""Newton or line search failed: exact route."""
BAD_INPUT = 3
"""Window with gaps, nothing available, non-finite estimates: exact route."""

_GAP = 1e-10  # barrier duality-gap bound m / t at exit (objective units, annualised)
_MU = 50.0  # barrier parameter growth per outer iteration
_T0 = 100.0
_CENTER_TOL = 1e-10  # Newton decrement² / 2 at which the last centering stops
_LOOSE_TOL = 1e-3  # ... and the intermediate ones (the path only has to be followed)
_MAX_NEWTON = 600


# ============================================================================ config
def check_supported(cfg: OptimizerConfig) -> None:
    """Raise :class:`Unsupported` unless the batch solver covers ``cfg``.

    Parameters
    ----------
    cfg : OptimizerConfig

    Raises
    ------
    Unsupported
        Objective other than ``mean_variance``, groups, a turnover limit, budget ``full``,
        EWMA covariance, or a regime/prior mean.
    """
    est = cfg.estimator
    why = []
    if cfg.objective != "mean_variance":
        why.append(f"objective {cfg.objective}")
    if cfg.groups:
        why.append("groups")
    if cfg.turnover_limit is not None:
        why.append("turnover_limit")
    if cfg.budget == "full":
        why.append("budget full")
    if est.covariance not in ("ledoit_wolf", "sample"):
        why.append(f"covariance {est.covariance}")
    if est.mean != "trailing":
        why.append(f"mean {est.mean}")
    if why:
        raise Unsupported(f"optimizer block without a batch form ({', '.join(why)})")


# ============================================================================ solver
@njit(cache=True)
def _phi(w, g, S, mu, lb, ub, wp, kappa, b, c2, L, cash, ra, t):  # noqa: ANN001, ANN202
    """Barrier function at (w, g); inf outside the domain."""
    k = w.shape[0]
    val = 0.0
    sw = 0.0
    for i in range(k):
        s1 = w[i] - lb[i]
        s2 = ub[i] - w[i]
        if s1 <= 0.0 or s2 <= 0.0:
            return np.inf
        val -= math.log(s1) + math.log(s2)
        sw += w[i]
    quad = 0.0
    lin = 0.0
    for i in range(k):
        acc = 0.0
        for j in range(k):
            acc += S[i, j] * w[j]
        quad += w[i] * acc
        lin += mu[i] * w[i]
    val += t * (0.5 * ra * quad - lin)
    if kappa > 0.0:
        a = t * kappa
        for i in range(k):
            d = w[i] - wp[i]
            sq = math.sqrt(1.0 + a * a * d * d)
            val += 1.0 + sq - math.log(2.0 * (1.0 + sq) / (a * a))
    if L > 0.0:
        sg = 0.0
        for i in range(k):
            s1 = g[i] - w[i]
            s2 = g[i] + w[i]
            if s1 <= 0.0 or s2 <= 0.0:
                return np.inf
            val -= math.log(s1) + math.log(s2)
            sg += g[i]
        if L - sg <= 0.0:
            return np.inf
        val -= math.log(L - sg)
    if c2 > 0.0:
        q = 0.0
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += S[i, j] * (w[j] - b[j])
            q += (w[i] - b[i]) * acc
        if c2 - q <= 0.0:
            return np.inf
        val -= math.log(c2 - q)
    if cash:
        if 1.0 - sw <= 0.0:
            return np.inf
        val -= math.log(1.0 - sw)
    return val


@njit(cache=True)
def _start(S, lb, ub, b, c2, L, cash, w, g) -> bool:  # noqa: ANN001
    """A strictly feasible (w, g) near the benchmark ``b``; False if none was found."""
    k = w.shape[0]
    for i in range(k):
        width = ub[i] - lb[i]
        if width <= 1e-9:
            return False
        delta = min(0.01, 0.05 * width)
        w[i] = min(max(b[i], lb[i] + delta), ub[i] - delta)
    if c2 > 0.0:
        q = 0.0
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += S[i, j] * (w[j] - b[j])
            q += (w[i] - b[i]) * acc
        if q >= 0.81 * c2:
            return False
    if cash:
        sw = 0.0
        for i in range(k):
            sw += w[i]
        if sw >= 1.0 - 1e-6:
            return False
    if L > 0.0:
        gross = 0.0
        for i in range(k):
            gross += abs(w[i])
        room = L - gross
        if room <= 1e-6:
            return False
        for i in range(k):
            g[i] = abs(w[i]) + 0.5 * room / k
    return True


@njit(cache=True)
def _cholesky_solve(H, rhs, out) -> bool:  # noqa: ANN001
    """Solve H x = rhs (H symmetric positive definite, overwritten) into ``out``."""
    k = H.shape[0]
    for j in range(k):
        d = H[j, j]
        for m in range(j):
            d -= H[j, m] * H[j, m]
        if not d > 0.0:
            return False
        d = math.sqrt(d)
        H[j, j] = d
        for i in range(j + 1, k):
            v = H[i, j]
            for m in range(j):
                v -= H[i, m] * H[j, m]
            H[i, j] = v / d
    for i in range(k):
        v = rhs[i]
        for m in range(i):
            v -= H[i, m] * out[m]
        out[i] = v / H[i, i]
    for i in range(k - 1, -1, -1):
        v = out[i]
        for m in range(i + 1, k):
            v -= H[m, i] * out[m]
        out[i] = v / H[i, i]
    return True


@njit(cache=True)
def _max_step(w, g, dw, dg, lb, ub, L, cash) -> float:  # noqa: ANN001
    """Largest step keeping the linear slacks positive (capped at 1 / 0.99)."""
    k = w.shape[0]
    amax = 1.0 / 0.99
    sdw = 0.0
    for i in range(k):
        if dw[i] < 0.0:
            amax = min(amax, -(w[i] - lb[i]) / dw[i])
        elif dw[i] > 0.0:
            amax = min(amax, (ub[i] - w[i]) / dw[i])
        sdw += dw[i]
    if cash and sdw > 0.0:
        sw = 0.0
        for i in range(k):
            sw += w[i]
        amax = min(amax, (1.0 - sw) / sdw)
    if L > 0.0:
        sdg = 0.0
        sg = 0.0
        for i in range(k):
            d1 = dg[i] - dw[i]
            if d1 < 0.0:
                amax = min(amax, -(g[i] - w[i]) / d1)
            d2 = dg[i] + dw[i]
            if d2 < 0.0:
                amax = min(amax, -(g[i] + w[i]) / d2)
            sdg += dg[i]
            sg += g[i]
        if sdg > 0.0:
            amax = min(amax, (L - sg) / sdg)
    return 0.99 * amax


@njit(cache=True)
def solve_mean_variance(S: np.ndarray, mu: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                        wp: np.ndarray, kappa: float, b: np.ndarray, te_cap: float,
                        gross_cap: float, cash: bool, ra: float, w_out: np.ndarray) -> int:
    """Solve one mean-variance instance by a primal log-barrier method.

    Parameters
    ----------
    S : ndarray, shape (k, k)
        Annualised covariance (symmetric positive definite).
    mu : ndarray, shape (k,)
        Annualised expected excess returns.
    lb, ub : ndarray, shape (k,)
        Per-asset bounds (``lb < ub``).
    wp : ndarray, shape (k,)
        Previous weights (turnover term).
    kappa : float
        Turnover penalty per unit of ``Σ|w − wp|`` (0: none).
    b : ndarray, shape (k,)
        Tracking-error benchmark.
    te_cap : float
        Annualised tracking-error cap (0: none).
    gross_cap : float
        Cap on ``Σ|w|`` (0: none).
    cash : bool
        Budget ``Σw ≤ 1``.
    ra : float
        Risk aversion γ.
    w_out : ndarray, shape (k,)
        Output weights (clipped onto the bounds).

    Returns
    -------
    int
        :data:`OK`, or a code for the exact route (no strictly feasible start, no convergence).
    """
    k = S.shape[0]
    c2 = te_cap * te_cap
    L = gross_cap
    w = np.empty(k)
    g = np.zeros(k)
    if not _start(S, lb, ub, b, c2, L, cash, w, g):
        return NO_START
    m = 2.0 * k + (2.0 * k if kappa > 0.0 else 0.0) + (2.0 * k + 1.0 if L > 0.0 else 0.0)
    m += (1.0 if c2 > 0.0 else 0.0) + (1.0 if cash else 0.0)
    H = np.empty((k, k))
    gw = np.empty(k)
    gg = np.zeros(k)
    Dg = np.zeros(k)
    Eg = np.ones(k)
    Sw = np.empty(k)
    v = np.empty(k)
    rhs = np.empty(k)
    dw = np.empty(k)
    dg = np.zeros(k)
    wn = np.empty(k)
    gn = np.zeros(k)
    t = _T0
    newton = 0
    while True:
        for _ in range(200):
            newton += 1
            if newton > _MAX_NEWTON:
                return NOT_CONVERGED
            # ---- gradient and Hessian in w (g eliminated below)
            for i in range(k):
                acc = 0.0
                acc2 = 0.0
                for j in range(k):
                    acc += S[i, j] * w[j]
                    acc2 += S[i, j] * (w[j] - b[j])
                Sw[i] = acc
                v[i] = 2.0 * acc2
            for i in range(k):
                s1 = w[i] - lb[i]
                s2 = ub[i] - w[i]
                gw[i] = t * (ra * Sw[i] - mu[i]) - 1.0 / s1 + 1.0 / s2
                for j in range(k):
                    H[i, j] = t * ra * S[i, j]
                H[i, i] += 1.0 / (s1 * s1) + 1.0 / (s2 * s2)
            if kappa > 0.0:
                a = t * kappa
                for i in range(k):
                    d = w[i] - wp[i]
                    sq = math.sqrt(1.0 + a * a * d * d)
                    gw[i] += a * a * d / (1.0 + sq)
                    H[i, i] += a * a / (sq * (1.0 + sq))
            if c2 > 0.0:
                q = 0.0
                for i in range(k):
                    q += 0.5 * (w[i] - b[i]) * v[i]
                r = c2 - q
                for i in range(k):
                    gw[i] += v[i] / r
                    for j in range(k):
                        H[i, j] += 2.0 * S[i, j] / r + v[i] * v[j] / (r * r)
            if cash:
                sc = 1.0
                for i in range(k):
                    sc -= w[i]
                for i in range(k):
                    gw[i] += 1.0 / sc
                    for j in range(k):
                        H[i, j] += 1.0 / (sc * sc)
            gamma = 0.0
            zsum = 0.0
            if L > 0.0:
                sg = 0.0
                for i in range(k):
                    sg += g[i]
                sl = L - sg
                e = 1.0 / (sl * sl)
                inv_sum = 0.0
                for i in range(k):
                    s1 = g[i] - w[i]
                    s2 = g[i] + w[i]
                    gw[i] += 1.0 / s1 - 1.0 / s2
                    gg[i] = -1.0 / s1 - 1.0 / s2 + 1.0 / sl
                    Dg[i] = -1.0 / (s1 * s1) + 1.0 / (s2 * s2)
                    Eg[i] = 1.0 / (s1 * s1) + 1.0 / (s2 * s2)
                    inv_sum += 1.0 / Eg[i]
                gamma = e / (1.0 + e * inv_sum)
                for i in range(k):
                    zsum += gg[i] / Eg[i]
                # Schur complement: A − diag(D²/E) + γ·zzᵀ with z = D/E
                for i in range(k):
                    H[i, i] += Eg[i] - Dg[i] * Dg[i] / Eg[i]
                    zi = Dg[i] / Eg[i]
                    for j in range(k):
                        H[i, j] += gamma * zi * Dg[j] / Eg[j]
                # rhs = −gw + D·M⁻¹gg, M⁻¹gg = gg/E − γ·(1/E)·Σ(gg/E)
                for i in range(k):
                    rhs[i] = -gw[i] + Dg[i] * (gg[i] / Eg[i] - gamma * zsum / Eg[i])
            else:
                for i in range(k):
                    rhs[i] = -gw[i]
            if not _cholesky_solve(H, rhs, dw):
                return NOT_CONVERGED
            lam2 = 0.0
            if L > 0.0:
                # dg = M⁻¹(−gg − D·dw)
                y = 0.0
                for i in range(k):
                    y += (-gg[i] - Dg[i] * dw[i]) / Eg[i]
                for i in range(k):
                    dg[i] = (-gg[i] - Dg[i] * dw[i]) / Eg[i] - gamma * y / Eg[i]
                    lam2 -= gg[i] * dg[i]
            for i in range(k):
                lam2 -= gw[i] * dw[i]
            if lam2 * 0.5 <= (_CENTER_TOL if m / t < _GAP else _LOOSE_TOL):
                break
            alpha = min(1.0, _max_step(w, g, dw, dg, lb, ub, L, cash))
            phi0 = _phi(w, g, S, mu, lb, ub, wp, kappa, b, c2, L, cash, ra, t)
            accept_full = lam2 < 0.05
            while True:
                for i in range(k):
                    wn[i] = w[i] + alpha * dw[i]
                    gn[i] = g[i] + alpha * dg[i]
                phi1 = _phi(wn, gn, S, mu, lb, ub, wp, kappa, b, c2, L, cash, ra, t)
                if phi1 < np.inf and (accept_full or phi1 <= phi0 - 0.25 * alpha * lam2):
                    break
                alpha *= 0.5
                if alpha < 1e-14:
                    return NOT_CONVERGED
            for i in range(k):
                w[i] = wn[i]
                g[i] = gn[i]
        if m / t < _GAP:
            break
        t *= _MU
    for i in range(k):
        w_out[i] = min(max(w[i], lb[i]), ub[i])
    return OK


def mv_objective(w: np.ndarray, S: np.ndarray, mu: np.ndarray, ra: float, kappa: float,
                 wp: np.ndarray) -> float:
    """Objective ``½γwᵀSw − μᵀw + κΣ|w − wp|`` of the mean-variance problem.

    Parameters
    ----------
    w, mu, wp : ndarray, shape (k,)
    S : ndarray, shape (k, k)
    ra, kappa : float

    Returns
    -------
    float
    """
    return float(0.5 * ra * w @ S @ w - mu @ w + kappa * np.abs(w - wp).sum())


@njit(cache=True)
def solve_mean_variance_batch(S: np.ndarray, mu: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                              wp: np.ndarray, kappa: float, b: np.ndarray, te_cap: float,
                              gross_cap: float, cash: bool, ra: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`solve_mean_variance` over a batch: arrays with a leading axis B.

    Returns
    -------
    (ndarray, ndarray)
        Weights (B, k) and status (B,) (:data:`OK` or an exact-route code).
    """
    n_b, k = mu.shape
    out = np.zeros((n_b, k))
    status = np.zeros(n_b, dtype=np.int64)
    for i in range(n_b):
        status[i] = solve_mean_variance(S[i], mu[i], lb[i], ub[i], wp[i], kappa, b[i], te_cap,
                                        gross_cap, cash, ra, out[i])
    return out, status


# ============================================================================ decisions
@njit(cache=True)
def _decide(rets, r_lo, r_hi, anchors, fixed_bench, use_fixed, prev, kappa, rf,  # noqa: ANN001, ANN202
            lb0, ub0, min_obs, cov_method, shrinkage, prior, grand, ra, te_cap, gross_cap, cash):
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
        if cash and slb > 1.0 + 1e-12:
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
        status[p] = solve_mean_variance(S, mu, lb, ub, wp, kappa, b, te_cap, gross_cap, cash, ra, w)
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


def _window_returns(bs: BatchSignals, assets: list[str], lo: int, hi: int) -> np.ndarray:
    """Daily simple returns on calendar rows ``lo .. hi - 1`` as (P, hi - lo, n) (NaN where unknown)."""
    px = bs.prices(assets, lo, hi)
    rets = np.full(px.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        rets[1:] = px[1:] / px[:-1] - 1.0
    return np.ascontiguousarray(rets.transpose(1, 0, 2))


def optimise_batch(cfg: OptimizerConfig, assets: list[str], anchors: np.ndarray, bs: BatchSignals,
                   *, name: str = "") -> np.ndarray:
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
    anchors : ndarray, shape (K, P, n)
        Rule weights at each decision of each path (base weights / TE benchmark).
    bs : BatchSignals
        Prices, decision rows, ``cash_rate`` of the paths.
    name : str, optional
        Strategy name (messages of the exact route).

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
    k_n, p_n, n = anchors.shape
    rows = np.asarray(bs.rows, dtype=np.int64)
    win = est.window
    lo = max(int(rows.min()) - win, 0)
    hi = int(rows.max()) + 1
    rf = np.asarray(bs.values("cash_rate"), dtype=float) / 100.0
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
                            grand, float(cfg.risk_aversion), te_cap, gross_cap, cfg.budget == "cash")
        if one:
            w, status = np.repeat(w, p_n, axis=0), np.repeat(status, p_n)
        for p in np.flatnonzero(status != OK):
            if exact is None:
                exact = _ExactRoute(cfg, assets, name)
            w[p] = exact.allocate(bs.dates[k], rets[p, r_lo:r_hi], a_k[p], prev[p] if k > 0 else None,
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

    def allocate(self, date: pd.Timestamp, window: np.ndarray, anchor: np.ndarray,
                 prev: np.ndarray | None, rf: float) -> np.ndarray:
        frame = pd.DataFrame(window, columns=self.assets)  # positional index: no look-ahead check
        w = self.allocator.allocate(
            pd.Timestamp(date), frame,
            prev_weights=None if prev is None else pd.Series(prev, index=self.assets),
            base_weights=pd.Series(anchor, index=self.assets), rf=rf,
        )
        return w.reindex(self.assets).fillna(0.0).to_numpy(dtype=float)
