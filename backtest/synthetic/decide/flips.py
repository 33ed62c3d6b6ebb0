"""Exact flips of a linear choice: in λ, in one scenario's probability, and over the simplex.

The least-expected-regret choice maximises ``score_k = Σ_s p_s (m_sk − λ c_sk)``
(:mod:`.rule`): for fixed probabilities each score is a line in λ, and for fixed λ a line
in one scenario's probability when the others are rescaled proportionally. The choice
changes where the leading line is overtaken, so every flip is found exactly (no grid):
:func:`first_overtake` takes the current values and slopes and returns the smallest step
at which another strategy's line reaches the leader's. Ties (values within
:data:`TIE_TOL`) form one choice, written ``a|b``; identical lines never flip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.synthetic.decide.rule import Parts

TIE_TOL = 1e-12
"""Scores (returns, as fractions) within this distance are a tie (as the run's minimax rule)."""


def best_set(values: np.ndarray, tol: float = TIE_TOL) -> np.ndarray:
    """Indices of the largest values (within ``tol``); NaN is never chosen.

    Parameters
    ----------
    values : np.ndarray, shape (K,)

    Returns
    -------
    np.ndarray of int
        Empty when every value is NaN.
    """
    v = np.asarray(values, dtype=float)
    fin = np.isfinite(v)
    if not fin.any():
        return np.array([], dtype=np.int64)
    top = np.max(v[fin])
    return np.flatnonzero(fin & (v >= top - tol))


def ranked_sets(values: np.ndarray, tol: float = TIE_TOL) -> tuple[np.ndarray, np.ndarray, float]:
    """The best set, the runner-up set (best of the rest) and the margin between them.

    Returns
    -------
    tuple
        ``(best, runner_up, margin)``; ``runner_up`` empty and ``margin`` NaN when every
        finite value ties.
    """
    v = np.asarray(values, dtype=float)
    best = best_set(v, tol)
    rest = v.copy()
    rest[best] = np.nan
    second = best_set(rest, tol)
    if not len(best) or not len(second):
        return best, second, float("nan")
    return best, second, float(v[best[0]] - v[second[0]])


def leaders(values: np.ndarray, slopes: np.ndarray, tol: float = TIE_TOL) -> tuple[np.ndarray, np.ndarray]:
    """The choice now and the part of it that leads just after a positive step.

    Returns
    -------
    tuple of np.ndarray
        ``(current, lead)``: the best set of ``values`` and those of it with the largest slope.
    """
    cur = best_set(values, tol)
    return cur, cur[best_set(np.asarray(slopes, dtype=float)[cur], tol)] if len(cur) else cur


def overtake(values: np.ndarray, slopes: np.ndarray, lead: np.ndarray, d_max: float,
             tol: float = TIE_TOL) -> tuple[float, np.ndarray] | None:
    """The smallest step at which a line ``v + s·d`` reaches the leading line ``lead``.

    Returns
    -------
    tuple or None
        ``(d, after)``: the step and the strategies leading just after it (those reaching
        the leader there with the largest slope); None when no line reaches it by ``d_max``.
    """
    v = np.asarray(values, dtype=float)
    s = np.asarray(slopes, dtype=float)
    v0, s0 = v[lead[0]], s[lead[0]]
    others = np.setdiff1d(np.flatnonzero(np.isfinite(v) & np.isfinite(s)), lead)
    faster = others[s[others] > s0 + tol]
    if not len(faster):
        return None
    d = np.maximum((v0 - v[faster]) / (s[faster] - s0), 0.0)
    d_star = float(np.min(d))
    if d_star > d_max:
        return None
    hit = faster[d <= d_star + max(tol, d_star * 1e-12)]
    return d_star, hit[best_set(s[hit], tol)]


def first_overtake(values: np.ndarray, slopes: np.ndarray, d_max: float,
                   tol: float = TIE_TOL) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The smallest step ``d`` in ``[0, d_max]`` at which the choice of lines ``v + s·d`` changes.

    Parameters
    ----------
    values : np.ndarray, shape (K,)
        Values at ``d = 0``.
    slopes : np.ndarray, shape (K,)
        Change of each value per unit step.
    d_max : float
        Largest step considered.
    tol : float
        Tie tolerance of values (and of slopes: lines within it are one line).

    Returns
    -------
    tuple or None
        ``(d, before, after)``: the step, the choice just before it (indices) and the
        choice just after it. None when the choice holds on the whole range. A partial
        tie at ``d = 0`` (lines meeting there) gives ``d = 0``.
    """
    cur, lead = leaders(values, slopes, tol)
    if not len(cur) or d_max < 0:
        return None
    if len(lead) != len(cur):
        return 0.0, cur, lead
    hit = overtake(values, slopes, lead, d_max, tol)
    return None if hit is None else (hit[0], lead, hit[1])


@dataclass(frozen=True)
class Flip:
    """The nearest change of the choice when one parameter moves one way."""

    parameter: str
    direction: str
    value: float
    threshold: float
    choice: str
    new_choice: str
    note: str = ""

    @property
    def change(self) -> float:
        """Signed distance from the current value to the threshold (NaN: no flip)."""
        return self.threshold - self.value


def names_of(idx: np.ndarray, names: list[str]) -> str:
    """``a|b`` for a (tied) choice."""
    return "|".join(names[int(i)] for i in idx)


def lambda_flips(m: np.ndarray, c: np.ndarray, lam: float, lam_max: float, names: list[str]) -> list[Flip]:
    """Flips of the choice ``argmax m_k − λ c_k`` when λ rises (to ``lam_max``) or falls (to 0).

    Parameters
    ----------
    m, c : np.ndarray, shape (K,)
        Probability-weighted λ-free part and tail-loss part of each strategy's score.
    lam : float
        The current λ.
    lam_max : float
        Upper end of the λ range searched.
    names : list of str
        Strategy names.
    """
    v = m - lam * c
    cur = names_of(best_set(v), names)
    out = []
    for direction, slope, room in (("up", -c, lam_max - lam), ("down", c, lam)):
        hit = first_overtake(v, slope, room)
        sign = 1.0 if direction == "up" else -1.0
        if hit is None:
            out.append(Flip("cvar_lambda", direction, lam, float("nan"), cur, "",
                            f"no flip for λ in [{lam:g}, {lam_max:g}]" if direction == "up"
                            else f"no flip for λ in [0, {lam:g}]"))
        else:
            d, _, after = hit
            out.append(Flip("cvar_lambda", direction, lam, lam + sign * d, cur, names_of(after, names)))
    return out


def rescaled_slopes(values: np.ndarray, probs: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and their slopes in ``p_s`` when the other probabilities are rescaled proportionally.

    With ``p_s = t`` and ``p_j = p_j (1 − t) / (1 − p_s)`` for ``j ≠ s``, each score is
    ``t V_s + (1 − t) R`` with ``R = Σ_{j≠s} p_j V_j / (1 − p_s)``; when ``p_s = 1`` the
    others share ``1 − t`` equally.

    Parameters
    ----------
    values : np.ndarray, shape (S, K)
        The regret statistic per scenario and strategy.
    probs : np.ndarray, shape (S,)
        Current probabilities (sum 1).
    s : int
        The scenario moved.

    Returns
    -------
    tuple of np.ndarray, shape (K,)
        Current scores and ``d score / d p_s``.
    """
    p = np.asarray(probs, dtype=float)
    rest = np.delete(np.arange(len(p)), s)
    pr = p[rest]
    share = pr / pr.sum() if pr.sum() > 0 else np.full(len(rest), 1.0 / len(rest))
    r = share @ values[rest]
    return p @ values, values[s] - r


def probability_flips(values: np.ndarray, probs: np.ndarray, scenarios: list[str],
                      names: list[str]) -> list[Flip]:
    """For each scenario, the nearest probability up and down at which the choice changes.

    Parameters
    ----------
    values : np.ndarray, shape (S, K)
        The regret statistic per scenario and strategy at the current λ.
    probs : np.ndarray, shape (S,)
        Current probabilities.
    scenarios, names : list of str
        Scenario and strategy names.
    """
    p = np.asarray(probs, dtype=float)
    cur = names_of(best_set(p @ values), names)
    out = []
    for s, sc in enumerate(scenarios):
        if len(p) < 2:
            out.append(Flip(f"p_{sc}", "up", float(p[s]), float("nan"), cur, "", "only one scenario"))
            continue
        v, slope = rescaled_slopes(values, p, s)
        for direction, sl, room in (("up", slope, 1.0 - p[s]), ("down", -slope, p[s])):
            hit = first_overtake(v, sl, float(room))
            sign = 1.0 if direction == "up" else -1.0
            if hit is None:
                end = "1" if direction == "up" else "0"
                out.append(Flip(f"p_{sc}", direction, float(p[s]), float("nan"), cur, "",
                                f"no flip for P({sc}) up to {end}" if direction == "up"
                                else f"no flip for P({sc}) down to {end}"))
            else:
                d, _, after = hit
                out.append(Flip(f"p_{sc}", direction, float(p[s]), float(p[s] + sign * d), cur,
                                names_of(after, names)))
    return out


def lambda_segments(m: np.ndarray, c: np.ndarray, lo: float, hi: float,
                    names: list[str]) -> list[dict[str, float | str]]:
    """The choice of ``argmax m_k − λ c_k`` over ``λ ∈ [lo, hi]`` as exact segments.

    Returns
    -------
    list of dict
        ``{"from": λ_a, "to": λ_b, "choice": "name"}`` in increasing λ (a tie at a single
        λ is not a segment).
    """
    lam = float(lo)
    _, lead = leaders(m - lam * c, -c)
    if not len(lead):
        return []
    segs: list[dict[str, float | str]] = []
    for _ in range(len(names) + 1):  # the upper envelope of K lines has at most K pieces
        hit = overtake(m - lam * c, -c, lead, hi - lam)
        if hit is None:
            segs.append({"from": lam, "to": float(hi), "choice": names_of(lead, names)})
            break
        d, after = hit
        if d > 0:
            segs.append({"from": lam, "to": lam + d, "choice": names_of(lead, names)})
        lam, lead = lam + d, after
    return segs


def simplex_grid(n: int, step: float) -> np.ndarray:
    """Every probability vector of ``n`` scenarios on a grid of ``step`` (rows sum to 1).

    Returns
    -------
    np.ndarray, shape (G, n)
        Lexicographic order, decreasing in the first coordinate last.
    """
    k = int(round(1.0 / step))
    if n == 1:
        return np.ones((1, 1))
    rows: list[list[int]] = []

    def rec(prefix: list[int], left: int, slots: int) -> None:
        if slots == 1:
            rows.append([*prefix, left])
            return
        for i in range(left, -1, -1):
            rec([*prefix, i], left - i, slots - 1)

    rec([], k, n)
    return np.asarray(rows, dtype=float) / k


def clip_polygon(poly: list[np.ndarray], g: np.ndarray) -> list[np.ndarray]:
    """The part of a convex polygon (barycentric vertices) where ``g · p >= 0`` (Sutherland–Hodgman)."""
    out: list[np.ndarray] = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        ga, gb = float(g @ a), float(g @ b)
        if ga >= 0:
            out.append(a)
        if (ga >= 0) != (gb >= 0):
            out.append(a + (b - a) * (ga / (ga - gb)))
    return out


def simplex_regions(values: np.ndarray, names: list[str], min_area: float = 1e-10) -> list[tuple[str, np.ndarray]]:
    """Exact regions of the probability simplex where each choice wins (three scenarios).

    Parameters
    ----------
    values : np.ndarray, shape (3, K)
        The regret statistic per scenario and strategy at one λ.
    names : list of str
        Strategy names.

    Returns
    -------
    list of (str, np.ndarray)
        The choice (``a|b`` for identical strategies) and its polygon's vertices,
        shape (V, 3), barycentric; regions of (almost) no area are dropped.
    """
    k = values.shape[1]
    same = np.abs(values[:, :, None] - values[:, None, :]).max(axis=0) <= TIE_TOL  # identical strategies
    groups: list[list[int]] = []
    placed = np.zeros(k, dtype=bool)
    for j in range(k):
        if placed[j] or not np.isfinite(values[:, j]).all():
            continue
        members = np.flatnonzero(same[j] & ~placed)
        placed[members] = True
        groups.append([int(i) for i in members])
    out = []
    tri = [np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])]
    for g in groups:
        poly = list(tri)
        for h in groups:
            if h is g:
                continue
            poly = clip_polygon(poly, values[:, g[0]] - values[:, h[0]])
            if len(poly) < 3:
                break
        if len(poly) >= 3 and _area(poly) > min_area:
            out.append(("|".join(names[i] for i in g), np.asarray(poly)))
    return out


def _area(poly: list[np.ndarray]) -> float:
    x = np.array([p[1] + p[2] / 2 for p in poly])
    y = np.array([p[2] * np.sqrt(3) / 2 for p in poly])
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def simplex_step(n: int) -> float:
    """Grid step of the probability map for ``n`` scenarios (about 250–500 points at most)."""
    return {1: 1.0, 2: 0.05, 3: 0.05, 4: 0.1, 5: 0.125}.get(n, 0.2 if n <= 10 else 0.5)


def decision_map(parts: Parts, scenarios: list[str], names: list[str], lams: list[float]) -> pd.DataFrame:
    """The choice, runner-up, margin and minimax choice on a grid of λ × the probability simplex.

    Returns
    -------
    pd.DataFrame
        ``cvar_lambda, p_<scenario>..., choice, runner_up, margin, minimax_choice``.
    """
    grid = simplex_grid(len(scenarios), simplex_step(len(scenarios)))
    cols: dict[str, list[Any]] = {"cvar_lambda": [], **{f"p_{s}": [] for s in scenarios}, "choice": [],
                                  "runner_up": [], "margin": [], "minimax_choice": []}
    arr = np.asarray(names, dtype=object)
    pos = grid > 0
    for lm in lams:
        vals = parts.values(lm)
        sc = grid @ vals  # (G, K)
        reg = np.nanmax(vals, axis=1, keepdims=True) - vals  # (S, K)
        mx = np.where(pos[:, :, None], reg[None, :, :], -np.inf).max(axis=1)  # (G, K)
        top = np.nanmax(sc, axis=1, keepdims=True)
        is_best = sc >= top - TIE_TOL
        rest = np.where(is_best, -np.inf, sc)
        sec = rest.max(axis=1, keepdims=True)
        is_sec = np.isfinite(sec) & (rest >= sec - TIE_TOL)
        low = mx.min(axis=1, keepdims=True)
        is_mm = mx <= low + TIE_TOL
        for g in range(len(grid)):
            cols["cvar_lambda"].append(lm)
            for j, s in enumerate(scenarios):
                cols[f"p_{s}"].append(float(grid[g, j]))
            cols["choice"].append("|".join(arr[is_best[g]]))
            cols["runner_up"].append("|".join(arr[is_sec[g]]))
            cols["margin"].append(float(top[g, 0] - sec[g, 0]) if np.isfinite(sec[g, 0]) else float("nan"))
            cols["minimax_choice"].append("|".join(arr[is_mm[g]]))
    return pd.DataFrame(cols)


__all__ = ["TIE_TOL", "Flip", "best_set", "clip_polygon", "first_overtake", "lambda_flips", "lambda_segments",
           "leaders", "decision_map", "names_of", "overtake", "probability_flips", "ranked_sets", "rescaled_slopes", "simplex_grid", "simplex_regions",
           "simplex_step"]
