"""Primal-dual interior-point solver of one mean-variance instance (numba; batch route).

The problem of :func:`backtest.optimizer.problem.build_problem` for a ``mean_variance``
block without groups or turnover limit, written with the allocator's auxiliaries
(``u ≥ |w − w_prev|``, ``g ≥ |w|``)::

    minimise   ½·γ·wᵀSw − μᵀw + κ·Σu
    subject to lb ≤ w ≤ ub,  −u ≤ w − w_prev ≤ u,  −g ≤ w ≤ g,  Σg ≤ L,
               (w − b)ᵀS(w − b) ≤ c²,  Σw ≤ 1 (budget "cash")

is solved by the primal-dual method of Boyd & Vandenberghe (*Convex Optimization*, §11.7):
Newton steps on the modified KKT conditions with ``t = 10·m/η`` (η the surrogate duality
gap), a backtracking line search on the residual norm. Steps also keep every
``λ_i·s_i ≥ 10⁻³·η/m`` (a wide neighbourhood of the central path): without it the
iterates can jam against the curved tracking-error constraint. The Newton system is reduced to
k x k (``u`` eliminated by its diagonal block, ``g`` by a diagonal-plus-rank-one Schur
complement) and solved by Cholesky. Exit when ``η ≤ 1e-11`` and the dual residual
``≤ 1e-9`` (annualised objective units).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["NOT_CONVERGED", "NO_START", "OK", "solve_mean_variance"]

OK = 0
"""Status of an instance solved to tolerance."""
NO_START = 1
"""No strictly feasible starting point found (possibly infeasible)."""
NOT_CONVERGED = 2
"""Factorisation or line search failed, or too many iterations."""

_ETA = 1e-11
_RDUAL = 1e-9
_MU = 10.0
_MU0 = 0.01  # initial complementarity λ_i·s_i
_NEIGHBOURHOOD = 1e-2
_MAX_IT = 50
_LO, _HI, _TP, _TM, _GP, _GM = 0, 1, 2, 3, 4, 5


@njit(cache=True)
def _slacks(w, u, g, S, lb, ub, wp, b, c2, L, cash, use_t, s, sc):  # noqa: ANN001, ANN202
    """Slacks −f_i of every constraint into ``s`` (6, k) and ``sc`` [L, te, cash]; False if one is ≤ 0."""
    k = w.shape[0]
    ok = True
    for i in range(k):
        s[_LO, i] = w[i] - lb[i]
        s[_HI, i] = ub[i] - w[i]
        ok &= s[_LO, i] > 0.0 and s[_HI, i] > 0.0
        if use_t:
            d = w[i] - wp[i]
            s[_TP, i] = u[i] - d
            s[_TM, i] = u[i] + d
            ok &= s[_TP, i] > 0.0 and s[_TM, i] > 0.0
        if L > 0.0:
            s[_GP, i] = g[i] - w[i]
            s[_GM, i] = g[i] + w[i]
            ok &= s[_GP, i] > 0.0 and s[_GM, i] > 0.0
    if L > 0.0:
        sc[0] = L - np.sum(g)
        ok &= sc[0] > 0.0
    if c2 > 0.0:
        q = 0.0
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += S[i, j] * (w[j] - b[j])
            q += (w[i] - b[i]) * acc
        sc[1] = c2 - q
        ok &= sc[1] > 0.0
    if cash:
        sc[2] = 1.0 - np.sum(w)
        ok &= sc[2] > 0.0
    return ok


@njit(cache=True)
def _residual(w, S, mu, ra, kappa, b, lam, lc, s, sc, t, use_t, use_g, c2, cash, rw, ru, rg):  # noqa: ANN001, ANN202
    """Dual residuals (into rw, ru, rg) and the squared norm of the full residual."""
    k = w.shape[0]
    norm = 0.0
    for i in range(k):
        acc = 0.0
        accb = 0.0
        for j in range(k):
            acc += S[i, j] * w[j]
            accb += S[i, j] * (w[j] - b[j])
        r = ra * acc - mu[i] - lam[_LO, i] + lam[_HI, i]
        if use_t:
            r += lam[_TP, i] - lam[_TM, i]
            ru[i] = kappa - lam[_TP, i] - lam[_TM, i]
            norm += ru[i] * ru[i]
        if use_g:
            r += lam[_GP, i] - lam[_GM, i]
            rg[i] = -lam[_GP, i] - lam[_GM, i] + lc[0]
            norm += rg[i] * rg[i]
        if c2 > 0.0:
            r += lc[1] * 2.0 * accb
        if cash:
            r += lc[2]
        rw[i] = r
        norm += r * r
    inv_t = 1.0 / t
    for typ in range(6):
        if (typ == _TP or typ == _TM) and not use_t:
            continue
        if (typ == _GP or typ == _GM) and not use_g:
            continue
        for i in range(k):
            c = lam[typ, i] * s[typ, i] - inv_t
            norm += c * c
    for j in range(3):
        if (j == 0 and use_g) or (j == 1 and c2 > 0.0) or (j == 2 and cash):
            c = lc[j] * sc[j] - inv_t
            norm += c * c
    return norm


@njit(cache=True)
def _central(lam, lc, s, sc, m) -> bool:  # noqa: ANN001
    """Whether every active pair has ``λ_i·s_i ≥ 10⁻³·η/m`` (inactive duals are 0 and skipped)."""
    eta = 0.0
    lo = np.inf
    for typ in range(6):
        for i in range(lam.shape[1]):
            p = lam[typ, i] * s[typ, i]
            eta += p
            if lam[typ, i] != 0.0:
                lo = min(lo, p)
    for j in range(3):
        p = lc[j] * sc[j]
        eta += p
        if lc[j] != 0.0:
            lo = min(lo, p)
    return lo >= _NEIGHBOURHOOD * eta / m


@njit(cache=True)
def _chol_solve(H, rhs, out) -> bool:  # noqa: ANN001
    """Solve H x = rhs by Cholesky (H overwritten); False if H is not positive definite."""
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
def _start(S, lb, ub, wp, b, c2, L, cash, kappa, w, u, g) -> bool:  # noqa: ANN001
    """A strictly feasible (w, u, g) near the benchmark ``b``; False if none was found.

    The turnover slacks are ``2·μ0/κ`` so that the initial duals ``μ0/slack`` of each pair
    sum to κ (dual feasible in ``u``).
    """
    k = w.shape[0]
    su = 2.0 * _MU0 / kappa if kappa > 0.0 else 1.0
    for i in range(k):
        width = ub[i] - lb[i]
        if width <= 1e-9:
            return False
        delta = min(0.01, 0.05 * width)
        w[i] = min(max(b[i], lb[i] + delta), ub[i] - delta)
        u[i] = abs(w[i] - wp[i]) + su
    if c2 > 0.0:
        q = 0.0
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += S[i, j] * (w[j] - b[j])
            q += (w[i] - b[i]) * acc
        if q >= 0.81 * c2:
            return False
    if cash and np.sum(w) >= 1.0 - 1e-6:
        return False
    if L > 0.0:
        room = L - np.sum(np.abs(w))
        if room <= 1e-6:
            return False
        for i in range(k):
            g[i] = abs(w[i]) + 0.5 * room / k
    return True


@njit(cache=True)
def solve_mean_variance(S: np.ndarray, mu: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                        wp: np.ndarray, kappa: float, b: np.ndarray, te_cap: float,
                        gross_cap: float, cash: bool, ra: float, w_out: np.ndarray) -> int:
    """Solve one mean-variance instance (see the module docstring).

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
        :data:`OK`, :data:`NO_START` or :data:`NOT_CONVERGED`.
    """
    k = S.shape[0]
    c2 = te_cap * te_cap
    L = gross_cap
    use_t = kappa > 0.0
    use_g = L > 0.0
    w = np.empty(k)
    u = np.zeros(k)
    g = np.zeros(k)
    if not _start(S, lb, ub, wp, b, c2, L, cash, kappa, w, u, g):
        return NO_START
    s = np.ones((6, k))
    sc = np.ones(3)
    _slacks(w, u, g, S, lb, ub, wp, b, c2, L, cash, use_t, s, sc)
    m = 2 * k + (2 * k if use_t else 0) + (2 * k + 1 if use_g else 0) + (1 if c2 > 0.0 else 0) + (1 if cash else 0)
    lam = np.zeros((6, k))
    lc = np.zeros(3)
    for typ in range(6):
        for i in range(k):
            lam[typ, i] = _MU0 / s[typ, i]
    for j in range(3):
        lc[j] = _MU0 / sc[j]
    lam[_TP:_TM + 1] *= 1.0 if use_t else 0.0
    lam[_GP:_GM + 1] *= 1.0 if use_g else 0.0
    lc[0] = lc[0] if use_g else 0.0
    lc[1] = lc[1] if c2 > 0.0 else 0.0
    lc[2] = lc[2] if cash else 0.0
    rw, ru, rg = np.zeros(k), np.zeros(k), np.zeros(k)
    H = np.empty((k, k))
    v = np.empty(k)
    rhs = np.empty(k)
    dw, du, dg = np.zeros(k), np.zeros(k), np.zeros(k)
    dlam = np.zeros((6, k))
    dlc = np.zeros(3)
    Dg, Eg = np.zeros(k), np.ones(k)
    wn, un, gn = np.empty(k), np.empty(k), np.empty(k)
    lamn = np.empty((6, k))
    lcn = np.empty(3)
    sn = np.ones((6, k))
    scn = np.ones(3)
    rwn, run, rgn = np.zeros(k), np.zeros(k), np.zeros(k)
    for _it in range(_MAX_IT):
        eta = 0.0
        for typ in range(6):
            for i in range(k):
                eta += lam[typ, i] * s[typ, i] if (typ < 2 or (typ < 4 and use_t) or (typ >= 4 and use_g)) else 0.0
        for j in range(3):
            eta += lc[j] * sc[j]
        t = _MU * m / eta
        norm0 = _residual(w, S, mu, ra, kappa, b, lam, lc, s, sc, t, use_t, use_g, c2, cash, rw, ru, rg)
        rdual = 0.0
        for i in range(k):
            rdual += rw[i] * rw[i] + (ru[i] * ru[i] if use_t else 0.0) + (rg[i] * rg[i] if use_g else 0.0)
        if eta <= _ETA and math.sqrt(rdual) <= _RDUAL:
            for i in range(k):
                w_out[i] = min(max(w[i], lb[i]), ub[i])
            return OK
        inv_t = 1.0 / t
        # ---- reduced Newton system in w: rhs = −(∇f0 + Σ ∇f_i / (t s_i))
        for i in range(k):
            acc = 0.0
            accb = 0.0
            for j in range(k):
                acc += S[i, j] * w[j]
                accb += S[i, j] * (w[j] - b[j])
            v[i] = 2.0 * accb
            rhs[i] = -(ra * acc - mu[i]) - (-inv_t / s[_LO, i] + inv_t / s[_HI, i])
            for j in range(k):
                H[i, j] = (ra + 2.0 * lc[1]) * S[i, j]
            H[i, i] += lam[_LO, i] / s[_LO, i] + lam[_HI, i] / s[_HI, i]
        if c2 > 0.0:
            d_te = lc[1] / sc[1]
            for i in range(k):
                rhs[i] -= inv_t / sc[1] * v[i]
                for j in range(k):
                    H[i, j] += d_te * v[i] * v[j]
        if cash:
            d_c = lc[2] / sc[2]
            for i in range(k):
                rhs[i] -= inv_t / sc[2]
                for j in range(k):
                    H[i, j] += d_c
        if use_t:
            for i in range(k):
                d1 = lam[_TP, i] / s[_TP, i]
                d2 = lam[_TM, i] / s[_TM, i]
                r_u = -kappa + inv_t / s[_TP, i] + inv_t / s[_TM, i]
                rhs[i] -= inv_t / s[_TP, i] - inv_t / s[_TM, i]
                awu = -d1 + d2
                euu = d1 + d2
                H[i, i] += euu - awu * awu / euu
                rhs[i] -= awu * r_u / euu
                ru[i] = r_u  # reused below for du
        gamma = 0.0
        if use_g:
            e = lc[0] / sc[0]
            inv_sum = 0.0
            for i in range(k):
                d1 = lam[_GP, i] / s[_GP, i]
                d2 = lam[_GM, i] / s[_GM, i]
                rhs[i] -= inv_t / s[_GP, i] - inv_t / s[_GM, i]
                Dg[i] = -d1 + d2
                Eg[i] = d1 + d2
                rg[i] = inv_t / s[_GP, i] + inv_t / s[_GM, i] - inv_t / sc[0]
                inv_sum += 1.0 / Eg[i]
            gamma = e / (1.0 + e * inv_sum)
            zsum = 0.0
            for i in range(k):
                zsum += rg[i] / Eg[i]
            for i in range(k):
                H[i, i] += Eg[i] - Dg[i] * Dg[i] / Eg[i]
                zi = Dg[i] / Eg[i]
                for j in range(k):
                    H[i, j] += gamma * zi * Dg[j] / Eg[j]
                rhs[i] -= Dg[i] * (rg[i] / Eg[i] - gamma * zsum / Eg[i])
        if not _chol_solve(H, rhs, dw):
            return NOT_CONVERGED
        if use_t:
            for i in range(k):
                d1 = lam[_TP, i] / s[_TP, i]
                d2 = lam[_TM, i] / s[_TM, i]
                du[i] = (ru[i] - (-d1 + d2) * dw[i]) / (d1 + d2)
        if use_g:
            y = 0.0
            for i in range(k):
                y += (rg[i] - Dg[i] * dw[i]) / Eg[i]
            for i in range(k):
                dg[i] = (rg[i] - Dg[i] * dw[i]) / Eg[i] - gamma * y / Eg[i]
        # ---- dual step: Δλ_i = −λ_i + 1/(t s_i) + (λ_i / s_i)·∇f_iᵀΔx
        smax = 1.0
        for i in range(k):
            grads = (-dw[i], dw[i], dw[i] - du[i], -dw[i] - du[i], dw[i] - dg[i], -dw[i] - dg[i])
            for typ in range(6):
                if (typ == _TP or typ == _TM) and not use_t:
                    continue
                if (typ == _GP or typ == _GM) and not use_g:
                    continue
                dl = -lam[typ, i] + inv_t / s[typ, i] + lam[typ, i] / s[typ, i] * grads[typ]
                dlam[typ, i] = dl
                if dl < 0.0:
                    smax = min(smax, -lam[typ, i] / dl)
        vdw = 0.0
        for i in range(k):
            vdw += v[i] * dw[i]
        gl = (np.sum(dg), vdw, np.sum(dw))
        for j in range(3):
            if (j == 0 and use_g) or (j == 1 and c2 > 0.0) or (j == 2 and cash):
                dl = -lc[j] + inv_t / sc[j] + lc[j] / sc[j] * gl[j]
                dlc[j] = dl
                if dl < 0.0:
                    smax = min(smax, -lc[j] / dl)
            else:
                dlc[j] = 0.0
        step = 0.99 * smax
        while True:
            for i in range(k):
                wn[i] = w[i] + step * dw[i]
                un[i] = u[i] + step * du[i]
                gn[i] = g[i] + step * dg[i]
            if _slacks(wn, un, gn, S, lb, ub, wp, b, c2, L, cash, use_t, sn, scn):
                break
            step *= 0.5
            if step < 1e-14:
                return NOT_CONVERGED
        while True:
            for typ in range(6):
                for i in range(k):
                    lamn[typ, i] = lam[typ, i] + step * dlam[typ, i]
            for j in range(3):
                lcn[j] = lc[j] + step * dlc[j]
            norm1 = _residual(wn, S, mu, ra, kappa, b, lamn, lcn, sn, scn, t, use_t, use_g, c2, cash,
                              rwn, run, rgn)
            if math.sqrt(norm1) <= (1.0 - 0.01 * step) * math.sqrt(norm0) and _central(lamn, lcn, sn, scn, m):
                break
            step *= 0.5
            if step < 1e-14:
                return NOT_CONVERGED
            for i in range(k):
                wn[i] = w[i] + step * dw[i]
                un[i] = u[i] + step * du[i]
                gn[i] = g[i] + step * dg[i]
            _slacks(wn, un, gn, S, lb, ub, wp, b, c2, L, cash, use_t, sn, scn)
        w[:] = wn
        u[:] = un
        g[:] = gn
        lam[:] = lamn
        lc[:] = lcn
        s[:] = sn
        sc[:] = scn
    return NOT_CONVERGED
