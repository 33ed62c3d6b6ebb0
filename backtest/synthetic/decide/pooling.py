"""Entropy pooling (Meucci 2008): the path weights closest to the prior that satisfy the views.

Given prior weights ``w0`` (summing to 1) and linear views ``Σ_i w_i a_ki = b_k`` or
``≤ b_k``, the posterior solves

    min_w  Σ_i w_i log(w_i / w0_i)   s.t.  Σ_i w_i = 1,  A w (=, ≤) b,  w ≥ 0.

Its solution is ``w_i ∝ w0_i exp(−Σ_k θ_k a_ki)``; the multipliers ``θ`` minimise the
smooth convex dual ``F(θ) = log Σ_i w0_i exp(−Σ_k θ_k (a_ki − b_k))`` with ``θ_k ≥ 0``
for inequality views (free for equalities), solved by L-BFGS-B with the exact gradient
``∇F = −E_w[a − b]`` (scipy, imported only when views are given). Each view row is centred on its target and scaled by its prior
spread first (the solution does not change; the conditioning does). The result is
checked: a view not met to :data:`VIEW_TOL` (in units of its prior spread) means the
views cannot be met with every path keeping some weight (:class:`PoolingFailed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIEW_TOL = 1e-7
"""Largest violation of a view at the solution, in units of the view's prior spread."""


class PoolingFailed(Exception):  # noqa: N818 - a result for the caller to word, not a user error
    """The views cannot be met (``feasible`` False) or only with some paths at zero weight."""

    def __init__(self, feasible: bool) -> None:
        super().__init__("infeasible" if not feasible else "only at the boundary")
        self.feasible = feasible


@dataclass(frozen=True)
class Pooled:
    """The posterior of :func:`entropy_pool`."""

    weights: np.ndarray
    relative_entropy: float
    multipliers: np.ndarray


def entropy_pool(prior: np.ndarray, eq_rows: np.ndarray, eq_values: np.ndarray, le_rows: np.ndarray,
                 le_values: np.ndarray) -> Pooled:
    """Minimum relative entropy weights under linear equality and ``≤`` views.

    Parameters
    ----------
    prior : np.ndarray, shape (n,)
        Prior weights, positive, summing to 1.
    eq_rows, eq_values : np.ndarray, shapes (k1, n) and (k1,)
        Equality views ``eq_rows @ w = eq_values``.
    le_rows, le_values : np.ndarray, shapes (k2, n) and (k2,)
        Inequality views ``le_rows @ w <= le_values`` (write ``>=`` views negated).

    Returns
    -------
    Pooled
        Posterior weights (sum 1), ``KL(w || prior)`` and the multipliers (equalities first).

    Raises
    ------
    PoolingFailed
        The views cannot be met, or only by giving some paths no weight.
    """
    w0 = np.asarray(prior, dtype=float)
    rows = np.vstack([np.asarray(eq_rows, dtype=float).reshape(-1, len(w0)),
                      np.asarray(le_rows, dtype=float).reshape(-1, len(w0))])
    targets = np.concatenate([np.asarray(eq_values, dtype=float).ravel(), np.asarray(le_values, dtype=float).ravel()])
    n_eq = len(np.asarray(eq_values).ravel())
    if not len(rows):
        return Pooled(w0 / w0.sum(), 0.0, np.zeros(0))
    centred = rows - targets[:, None]
    spread = np.sqrt(np.maximum(w0 @ (rows - (rows @ w0)[:, None]).T ** 2, 0.0))
    scale = np.where(spread > 0, spread, np.maximum(np.abs(centred).max(axis=1), 1e-300))
    a = centred / scale[:, None]
    log_w0 = np.log(w0)

    from scipy.optimize import minimize  # loaded only when views are given

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = log_w0 - theta @ a
        lse = logsumexp(z)
        w = np.exp(z - lse)
        return float(lse), -(a @ w)

    bounds = [(None, None)] * n_eq + [(0.0, None)] * (len(rows) - n_eq)
    res = minimize(fun, np.zeros(len(rows)), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-13, "maxcor": 20})
    theta = res.x
    z = log_w0 - theta @ a
    w = np.exp(z - logsumexp(z))
    g = a @ w
    ok = bool(np.all(np.abs(g[:n_eq]) <= VIEW_TOL) and np.all(g[n_eq:] <= VIEW_TOL)) and np.isfinite(w).all()
    if not ok:
        raise PoolingFailed(feasible=_feasible(rows, targets, n_eq))
    kl = float(np.sum(w * (np.log(np.maximum(w, 1e-300)) - log_w0)))
    return Pooled(w, kl, theta / scale)


def _feasible(rows: np.ndarray, targets: np.ndarray, n_eq: int) -> bool:
    """Whether some probability vector meets the views (a linear program, HiGHS)."""
    from scipy.optimize import linprog  # loaded only when views fail

    n = rows.shape[1]
    a_eq = np.vstack([np.ones((1, n)), rows[:n_eq]])
    b_eq = np.concatenate([[1.0], targets[:n_eq]])
    a_ub = rows[n_eq:] if len(rows) > n_eq else None
    b_ub = targets[n_eq:] if len(rows) > n_eq else None
    res = linprog(np.zeros(n), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return bool(res.status == 0)


def logsumexp(z: np.ndarray) -> float:
    """``log Σ exp(z)``, computed without overflow."""
    top = float(np.max(z))
    return top + float(np.log(np.sum(np.exp(z - top))))


def effective_paths(w: np.ndarray) -> float:
    """``exp`` of the entropy of the weights: the number of equally weighted paths with that entropy."""
    ww = np.asarray(w, dtype=float)
    ww = ww[ww > 0] / ww.sum()
    return float(np.exp(-np.sum(ww * np.log(ww))))


__all__ = ["VIEW_TOL", "Pooled", "PoolingFailed", "effective_paths", "entropy_pool", "logsumexp"]
