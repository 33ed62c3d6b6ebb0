"""Log-barrier solver of one mean-variance instance (numba), for the batch route.

The problem of :func:`backtest.optimizer.problem.build_problem` for a ``mean_variance`` or
``tracking_error`` block without groups or turnover limit::

    minimise   ½·γ·wᵀSw − μᵀw + κ·Σ|w − w_prev| + ½·γ_a·(w − b)ᵀS(w − b)
    subject to lb ≤ w ≤ ub,  Σ|w| ≤ L,  (w − b)ᵀS(w − b) ≤ c²,
               Σw ≤ 1 (budget "cash") or Σw = 1 (budget "full": equality-constrained Newton steps)

solved by a primal log-barrier method (Boyd & Vandenberghe, *Convex Optimization*, §11.3):
centring by damped Newton steps (Armijo backtracking; full steps once the Newton decrement
is small), ``t`` multiplied by 50 per stage, loose centring on the intermediate stages and
exit once the duality-gap bound ``m/t`` is below 1e-10. The turnover auxiliaries
``u ≥ |w − w_prev|`` are minimised out in closed form (a smooth self-concordant function
of ``w_i − w_prev_i``) and the gross-leverage auxiliaries ``g ≥ |w|`` by a Schur
complement (diagonal plus rank one), so a Newton step is one k x k Cholesky.
Statuses other than :data:`OK` send the instance to the cvxpy allocator
(:mod:`backtest.optimizer.batch`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["BAD_INPUT", "NOT_CONVERGED", "NO_START", "OK", "mv_objective", "solve_mean_variance",
           "solve_mean_variance_batch"]

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


@njit(cache=True)
def _phi(w, g, S, Sb, mu, lb, ub, wp, kappa, b, c2, L, cash, ra, ra_a, t):  # noqa: ANN001, ANN202
    """Barrier function at (w, g); inf outside the domain (``Sb = S b``)."""
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
    q = 0.0
    for i in range(k):
        acc = 0.0
        for j in range(k):
            acc += S[i, j] * w[j]
        quad += w[i] * acc
        lin += mu[i] * w[i]
        q += (w[i] - b[i]) * (acc - Sb[i])
    val += t * (0.5 * ra * quad - lin + 0.5 * ra_a * q)
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
        if c2 - q <= 0.0:
            return np.inf
        val -= math.log(c2 - q)
    if cash:
        if 1.0 - sw <= 0.0:
            return np.inf
        val -= math.log(1.0 - sw)
    return val


@njit(cache=True)
def _start(S, lb, ub, b, c2, L, cash, full, w, g) -> bool:  # noqa: ANN001
    """A strictly feasible (w, g) near the benchmark ``b`` (``Σw = 1`` when ``full``); False if none was found."""
    k = w.shape[0]
    lo = np.empty(k)
    hi = np.empty(k)
    for i in range(k):
        width = ub[i] - lb[i]
        if width <= 1e-9:
            return False
        delta = min(0.01, 0.05 * width)
        lo[i] = lb[i] + delta
        hi[i] = ub[i] - delta
        w[i] = min(max(b[i], lo[i]), hi[i])
    if full:  # move the budget gap pro rata to the room left inside the box
        gap = 1.0 - np.sum(w)
        room = np.sum(hi - w) if gap > 0.0 else np.sum(w - lo)
        if room <= abs(gap) * (1.0 + 1e-9):
            return False
        for i in range(k):
            w[i] += gap * ((hi[i] - w[i]) if gap > 0.0 else (w[i] - lo[i])) / room
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
def _cholesky(H) -> bool:  # noqa: ANN001
    """Cholesky factor of H in place (lower triangle); False if H is not positive definite."""
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
    return True


@njit(cache=True)
def _chol_solve(H, rhs, out) -> None:  # noqa: ANN001
    """Solve H x = rhs into ``out`` given the factor of :func:`_cholesky`."""
    k = H.shape[0]
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
                        gross_cap: float, cash: bool, ra: float, w_out: np.ndarray,
                        full: bool = False, ra_active: float = 0.0) -> int:
    """Solve one mean-variance / tracking-error instance by a primal log-barrier method.

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
    full : bool, default False
        Budget ``Σw = 1`` (an equality: Newton steps keep ``Σ dw = 0``).
    ra_active : float, default 0
        γ_a of the tracking_error objective ``−μᵀw + ½γ_a(w − b)ᵀS(w − b)`` (with ``ra = 0``).

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
    ra_a = ra_active
    if not _start(S, lb, ub, b, c2, L, cash, full, w, g):
        return NO_START
    m = 2.0 * k + (2.0 * k if kappa > 0.0 else 0.0) + (2.0 * k + 1.0 if L > 0.0 else 0.0)
    m += (1.0 if c2 > 0.0 else 0.0) + (1.0 if cash else 0.0)
    H = np.empty((k, k))
    gw = np.empty(k)
    gg = np.zeros(k)
    Dg = np.zeros(k)
    Eg = np.ones(k)
    ones = np.ones(k)
    hinv1 = np.empty(k)
    Sw = np.empty(k)
    Sb = np.empty(k)
    for i in range(k):
        acc = 0.0
        for j in range(k):
            acc += S[i, j] * b[j]
        Sb[i] = acc
    v = np.empty(k)
    rhs = np.empty(k)
    dw = np.empty(k)
    dg = np.zeros(k)
    wn = np.empty(k)
    gn = np.zeros(k)
    t = _T0
    phi_t = -1.0  # t at which phi_cur = barrier value at the current point
    phi_cur = 0.0
    newton = 0
    while True:
        for _ in range(200):
            newton += 1
            if newton > _MAX_NEWTON:
                return NOT_CONVERGED
            # ---- gradient and Hessian in w (g eliminated below)
            q = 0.0
            for i in range(k):
                acc = 0.0
                for j in range(k):
                    acc += S[i, j] * w[j]
                Sw[i] = acc
                v[i] = 2.0 * (acc - Sb[i])
                q += (w[i] - b[i]) * (acc - Sb[i])
            r = c2 - q
            coef = t * (ra + ra_a) + (2.0 / r if c2 > 0.0 else 0.0)
            for i in range(k):
                s1 = w[i] - lb[i]
                s2 = ub[i] - w[i]
                gw[i] = t * (ra * Sw[i] + ra_a * (Sw[i] - Sb[i]) - mu[i]) - 1.0 / s1 + 1.0 / s2
                if c2 > 0.0:
                    gw[i] += v[i] / r
                    vr = v[i] / (r * r)
                    for j in range(k):
                        H[i, j] = coef * S[i, j] + vr * v[j]
                else:
                    for j in range(k):
                        H[i, j] = coef * S[i, j]
                H[i, i] += 1.0 / (s1 * s1) + 1.0 / (s2 * s2)
            if kappa > 0.0:
                a = t * kappa
                for i in range(k):
                    d = w[i] - wp[i]
                    sq = math.sqrt(1.0 + a * a * d * d)
                    gw[i] += a * a * d / (1.0 + sq)
                    H[i, i] += a * a / (sq * (1.0 + sq))
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
            if not _cholesky(H):
                return NOT_CONVERGED
            _chol_solve(H, rhs, dw)
            if full:  # project onto Σ dw = 0: dw = H⁻¹rhs − H⁻¹1·(Σ H⁻¹rhs / Σ H⁻¹1)
                _chol_solve(H, ones, hinv1)
                nu = np.sum(dw) / np.sum(hinv1)
                for i in range(k):
                    dw[i] -= nu * hinv1[i]
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
            if phi_t != t:
                phi_cur = _phi(w, g, S, Sb, mu, lb, ub, wp, kappa, b, c2, L, cash, ra, ra_a, t)
                phi_t = t
            phi0 = phi_cur
            accept_full = lam2 < 0.05
            while True:
                for i in range(k):
                    wn[i] = w[i] + alpha * dw[i]
                    gn[i] = g[i] + alpha * dg[i]
                phi1 = _phi(wn, gn, S, Sb, mu, lb, ub, wp, kappa, b, c2, L, cash, ra, ra_a, t)
                if phi1 < np.inf and (accept_full or phi1 <= phi0 - 0.25 * alpha * lam2):
                    break
                alpha *= 0.5
                if alpha < 1e-14:
                    return NOT_CONVERGED
            for i in range(k):
                w[i] = wn[i]
                g[i] = gn[i]
            phi_cur = phi1
        if m / t < _GAP:
            break
        t *= _MU
    for i in range(k):
        w_out[i] = min(max(w[i], lb[i]), ub[i])
    return OK


def mv_objective(w: np.ndarray, S: np.ndarray, mu: np.ndarray, ra: float, kappa: float,
                 wp: np.ndarray, b: np.ndarray | None = None, ra_active: float = 0.0) -> float:
    """Objective ``½γwᵀSw − μᵀw + κΣ|w − wp| + ½γ_a(w − b)ᵀS(w − b)``.

    Parameters
    ----------
    w, mu, wp : ndarray, shape (k,)
    S : ndarray, shape (k, k)
    ra, kappa : float
    b : ndarray, shape (k,), optional
        Benchmark of the active-risk term (needed when ``ra_active > 0``).
    ra_active : float, default 0

    Returns
    -------
    float
    """
    active = 0.0 if b is None or ra_active == 0.0 else 0.5 * ra_active * (w - b) @ S @ (w - b)
    return float(0.5 * ra * w @ S @ w - mu @ w + kappa * np.abs(w - wp).sum() + active)


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
