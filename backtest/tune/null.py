"""The noise null of the tuner's verdict (``--null-runs``): how large do the verdict's figures
come out when the variants have no skill at all?

Each null run takes the variants' *already simulated* daily returns, splits them into the
untuned strategy's return ``u`` and the variants' active returns ``A = R - u``, demeans
every variant's active return and multiplies it by a random sign drawn per block of about
:data:`BLOCK_DAYS` trading days, **the same sign for every variant**:

    R*_t = u_t + ε_b(t) (A_t - mean(A))

and then reruns the tuner's selection (the variant with the best ``--metric`` on each
training window, the best mean training score) and the verdict's statistics (the deflated
Sharpe of the selected variant's in-sample active return, the out-of-sample gain of the
stitched chosen variants) on ``R*``. Nothing is simulated again.

Why this null (see ``docs/tuning.md``): the sign flip makes every variant's expected
active return zero, so no variant can be better than another except by luck, and the
selection signal (which variant beats the untuned strategy, and whether that persists
from a training window into the next test window) is destroyed. Everything else the
selection sees is kept: the untuned strategy's own returns, the size of every active
return on every day (volatility clustering, fat tails), the correlation of the variants'
active returns with each other (one sign for all of them), and their serial dependence
within a block. Block edges include every training and test window edge, so a window
is a union of whole blocks: a training window and the test window after it never share a
sign.

Every window statistic the Sharpe-type metrics need is a sum over blocks, so with
``sharpe`` and ``information_ratio`` (and their ``@regime`` forms) all null runs cost a few
small matrix products on per-block sums; the other metrics score each run's ``R*`` with
:func:`backtest.tune.selection.metric_scores` (slower).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from backtest.constants import TRADING_DAYS
from backtest.errors import SweepError
from backtest.stats import deflated_sharpe_ratio, null_p_value
from backtest.tune.selection import metric_scores

NULL_RUNS = 200
MAX_NULL_RUNS = 10_000
BLOCK_DAYS = 21
FAST_METRICS = ("sharpe", "information_ratio")


@dataclass
class NullResult:
    """The noise null's distributions and where the observed figures fall in them.

    Attributes
    ----------
    runs : int
        Null runs.
    seed : int
        Seed of the signs.
    block_days : int
        Target block length (trading days); ``blocks`` blocks in all.
    dsr, oos_bp : np.ndarray
        Per run: deflated Sharpe of the selected variant's in-sample active return, and the
        out-of-sample gain of the stitched chosen variants over the untuned strategy
        (bp/yr, before fold-switch costs).
    observed_dsr, observed_oos_bp : float
        The same figures of the real tune (the gain before fold-switch costs).
    p_dsr, p_oos : float
        Share of null runs at least as good as observed, ``(1 + #{null >= obs}) / (1 + runs)``.
    p_oos_low : float
        Share at most as good, ``(1 + #{null <= obs}) / (1 + runs)``.
    method : str
        How the selection was rerun (``block sums`` or ``window metrics``).
    chosen, best : np.ndarray
        Per run: the column chosen on each training window (runs x folds), and the best.
    """

    runs: int
    seed: int
    block_days: int
    blocks: int
    dsr: np.ndarray
    oos_bp: np.ndarray
    observed_dsr: float
    observed_oos_bp: float
    p_dsr: float
    p_oos: float
    p_oos_low: float
    method: str
    chosen: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64), repr=False)
    best: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    def quantiles(self, x: np.ndarray) -> dict[str, float]:
        """5%, 50% and 95% quantiles of a null distribution (finite runs)."""
        a = np.asarray(x, dtype=float)
        a = a[np.isfinite(a)]
        if not len(a):
            return {"q05": float("nan"), "q50": float("nan"), "q95": float("nan")}
        q = np.quantile(a, [0.05, 0.5, 0.95])
        return {"q05": float(q[0]), "q50": float(q[1]), "q95": float(q[2])}

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``provenance.json``."""
        return {
            "runs": self.runs, "seed": self.seed, "block_days": self.block_days, "blocks": self.blocks,
            "method": self.method, "observed_dsr": self.observed_dsr, "observed_oos_bp": self.observed_oos_bp,
            "p_dsr": self.p_dsr, "p_oos": self.p_oos, "p_oos_low": self.p_oos_low,
            "dsr": self.quantiles(self.dsr), "oos_bp": self.quantiles(self.oos_bp),
        }


def check_null_runs(runs: Any) -> int:
    """``--null-runs`` as an int in ``[0, MAX_NULL_RUNS]``.

    Raises
    ------
    SweepError
        Not an integer, or out of range.
    """
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or not 0 <= int(runs) <= MAX_NULL_RUNS:
        raise SweepError(f"--null-runs {runs}: expected an integer from 0 (off) to {MAX_NULL_RUNS}")
    return int(runs)


def block_cuts(n_rows: int, row_sets: Sequence[np.ndarray],
               block_days: int = BLOCK_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Block edges over ``n_rows`` rows: every edge of every row set, and about ``block_days``
    rows between them.

    Each *segment* (a stretch between two consecutive edges of the row sets, where every
    row set either holds all rows or none) is cut into ``max(1, round(length / block_days))``
    blocks of nearly equal length, so that every row set is a union of whole blocks.

    Returns
    -------
    cuts : np.ndarray
        Increasing block starts, then ``n_rows`` (``len = blocks + 1``).
    segment : np.ndarray
        Segment number of each block.
    """
    change = np.zeros(n_rows + 1, dtype=bool)
    change[0] = change[n_rows] = True
    for rows in row_sets:
        ind = np.zeros(n_rows + 2, dtype=bool)
        ind[np.asarray(rows, dtype=np.int64) + 1] = True
        change[np.flatnonzero(ind[1:] != ind[:-1])] = True
    seg = np.flatnonzero(change)
    cuts: list[int] = []
    segment: list[int] = []
    for g, (a, b) in enumerate(zip(seg[:-1], seg[1:], strict=True)):
        k = max(1, round((b - a) / block_days))
        cuts.extend(int(a) + np.floor(np.arange(k) * (b - a) / k).astype(int))
        segment.extend([g] * k)
    cuts.append(n_rows)
    return np.asarray(cuts, dtype=np.int64), np.asarray(segment, dtype=np.int64)


def _membership(rows: np.ndarray, cuts: np.ndarray, n_rows: int) -> np.ndarray:
    """0/1 per block: is the block part of ``rows`` (a union of whole blocks)."""
    ind = np.zeros(n_rows)
    ind[np.asarray(rows, dtype=np.int64)] = 1.0
    share = np.add.reduceat(ind, cuts[:-1]) / np.diff(cuts)
    if not np.all((share == 0.0) | (share == 1.0)):
        raise ValueError("a row set is not a union of whole blocks")
    return share


@njit(cache=True, nogil=True)
def _block_moments(r: np.ndarray, u: np.ndarray, m: np.ndarray, c: np.ndarray, w: np.ndarray,
                   block_of: np.ndarray, n_blocks: int) -> np.ndarray:
    """Per block and variant, of ``d = r - u - m``: sums of ``d, d², d³, d⁴, c·d`` over the rows
    with ``w`` set, and of ``d`` over all rows (``6 x B x N``), in one pass."""
    t, n = r.shape
    out = np.zeros((6, n_blocks, n))
    for i in range(t):
        b = block_of[i]
        ui = u[i]
        ci = c[i]
        if w[i]:
            for j in range(n):
                x = r[i, j] - ui - m[j]
                x2 = x * x
                out[0, b, j] += x
                out[1, b, j] += x2
                out[2, b, j] += x2 * x
                out[3, b, j] += x2 * x2
                out[4, b, j] += ci * x
                out[5, b, j] += x
        else:
            for j in range(n):
                out[5, b, j] += r[i, j] - ui - m[j]
    return out


@njit(cache=True, nogil=True)
def _signed_segments(e: np.ndarray, x: np.ndarray, seg_of: np.ndarray, n_seg: int) -> np.ndarray:
    """``out[g, j] = Σ_{b in segment g} e[b] x[b, j]`` for one run's signs ``e``."""
    out = np.zeros((n_seg, x.shape[1]))
    for b in range(x.shape[0]):
        g = seg_of[b]
        s = e[b]
        for j in range(x.shape[1]):
            out[g, j] += s * x[b, j]
    return out


@njit(cache=True, nogil=True)
def _select_runs(signs: np.ndarray, s1: np.ndarray, sc: np.ndarray, seg_of: np.ndarray, n_seg: int,
                 g_tr: np.ndarray, g_is: np.ndarray, base1: np.ndarray, base2: np.ndarray, n_tr: np.ndarray,
                 with_c: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tuner's Sharpe-ratio selection on every null run, from per-block sums.

    Per run ``r`` and training window ``f``, the excess return ``c + ε d`` of each variant has
    sum ``base1[f] + Σ_g g_tr[f, g] Y1[g]`` and sum of squares ``base2[f] + 2 Σ_g g_tr[f, g] Yc[g]``
    (``Y`` the signed segment sums of ``d`` and ``c d``). Returns the variant chosen per window
    (first of ties, NaN scores skipped), the best mean training score (``tune.csv``'s
    ``is_``) and the in-sample sums of ``ε d`` per variant.
    """
    n_r = signs.shape[0]
    n_f = g_tr.shape[0]
    n = s1.shape[1]
    chosen = np.zeros((n_r, n_f), dtype=np.int64)
    best = np.zeros(n_r, dtype=np.int64)
    sa = np.zeros((n_r, n))
    total = np.empty(n)
    count = np.empty(n)
    sum1 = np.empty(n)
    sum2 = np.empty(n)
    for r in range(n_r):
        y1 = _signed_segments(signs[r], s1, seg_of, n_seg)
        yc = _signed_segments(signs[r], sc, seg_of, n_seg) if with_c else y1
        for g in range(n_seg):
            if g_is[g] != 0.0:
                for j in range(n):
                    sa[r, j] += y1[g, j]
        total[:] = 0.0
        count[:] = 0.0
        for f in range(n_f):
            nf = n_tr[f]
            for j in range(n):
                sum1[j] = base1[f]
                sum2[j] = base2[f, j]
            for g in range(n_seg):
                if g_tr[f, g] != 0.0:
                    for j in range(n):
                        sum1[j] += y1[g, j]
                        if with_c:
                            sum2[j] += 2.0 * yc[g, j]
            top = -np.inf
            arg = 0
            for j in range(n):
                mean = sum1[j] / nf
                var = (sum2[j] - nf * mean * mean) / (nf - 1.0)
                if nf < 2 or not var > 0:
                    continue
                sc_j = mean / np.sqrt(var)
                if not np.isfinite(sc_j):
                    continue
                total[j] += sc_j
                count[j] += 1.0
                if sc_j > top:
                    top = sc_j
                    arg = j
            chosen[r, f] = arg
        top = -np.inf
        arg = 0
        for j in range(n):
            if count[j] > 0:
                v = total[j] / count[j]
                if v > top:
                    top = v
                    arg = j
        best[r] = arg
    return chosen, best, sa


def _sharpe_from_sums(s1: np.ndarray, s2: np.ndarray, n: Any) -> np.ndarray:
    """Per-period Sharpe ratio (ddof=1) from sums and sums of squares over ``n`` rows; NaN where
    undefined (fewer than 2 rows, no variance)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.divide(s1, n)
        tmp = mean * mean
        tmp *= n
        np.subtract(s2, tmp, out=tmp)
        tmp /= np.subtract(n, 1.0)
        tmp[tmp <= 0] = np.nan
        np.sqrt(tmp, out=tmp)
        out = np.divide(mean, tmp, out=mean)
    out[~np.isfinite(out)] = np.nan
    return out


def _argmax(x: np.ndarray) -> np.ndarray:
    """Argmax along the last axis ignoring NaN (first of ties, as ``np.nanargmax``); 0 when all NaN."""
    return np.where(np.isfinite(x), x, -np.inf).argmax(axis=-1)


def _mean_finite(x: np.ndarray, axis: int) -> np.ndarray:
    ok = np.isfinite(x)
    cnt = ok.sum(axis=axis)
    with np.errstate(invalid="ignore"):
        return np.where(cnt > 0, np.where(ok, x, 0.0).sum(axis=axis) / np.maximum(cnt, 1), np.nan)


def _moments_dsr(s1: np.ndarray, s2: np.ndarray, s3: np.ndarray, s4: np.ndarray, n: float, var: np.ndarray,
                 n_eff: float) -> np.ndarray:
    """Deflated Sharpe ratio of series given by their raw sums (per run), as
    :func:`backtest.stats.sharpe_moments` + :func:`backtest.stats.deflated_sharpe_ratio`."""
    mu = s1 / n
    e2, e3, e4 = s2 / n, s3 / n, s4 / n
    m2 = e2 - mu * mu
    m3 = e3 - 3.0 * mu * e2 + 2.0 * mu**3
    m4 = e4 - 4.0 * mu * e3 + 6.0 * mu * mu * e2 - 3.0 * mu**4
    out = np.full(len(s1), np.nan)
    for j in range(len(s1)):
        if not m2[j] > 0 or n < 2:
            continue
        sr = mu[j] / math.sqrt(m2[j] * n / (n - 1))
        out[j] = deflated_sharpe_ratio(sr, float(var[j]), n_eff, int(n), m3[j] / m2[j] ** 1.5, m4[j] / m2[j] ** 2)
    return out


def noise_null(returns: np.ndarray, untuned: np.ndarray, rf: np.ndarray, folds: Sequence[Any], *,
               runs: int, seed: int, n_eff: float, observed_dsr: float, observed_oos_bp: float,
               metric: str = "sharpe", in_regime: np.ndarray | None = None, block_days: int = BLOCK_DAYS,
               demean: bool = True, signs: np.ndarray | None = None) -> NullResult:
    """Rerun the tuner's selection and verdict statistics ``runs`` times on sign-flipped active returns.

    Parameters
    ----------
    returns : np.ndarray
        ``(T, N)`` daily returns of the variants (finite).
    untuned : np.ndarray
        ``(T,)`` daily returns of the reference of the active returns (the untuned strategy,
        or the cash rate without it).
    rf : np.ndarray
        ``(T,)`` daily cash return.
    folds : sequence
        Objects with ``train`` and ``test`` row-index arrays.
    runs : int
        Null runs (``signs`` given: ignored).
    seed : int
        Seed of the signs.
    n_eff : float
        Effective number of trials of the observed deflated Sharpe (the sign flip keeps the
        correlation of the active returns, so it is that of every run).
    observed_dsr, observed_oos_bp : float
        The real tune's deflated Sharpe and out-of-sample gain (bp/yr, before switch costs).
    metric : str
        The tuning metric (without ``@regime``).
    in_regime : np.ndarray, optional
        ``(T,)`` mask of the regime the metric is restricted to.
    block_days : int
        Target block length.
    demean : bool
        Demean each variant's active return before the flips (``False`` with all signs
        ``+1`` reproduces the real tune: a test of this function).
    signs : np.ndarray, optional
        ``(runs, blocks)`` signs to use instead of random ones.

    Returns
    -------
    NullResult
    """
    r = np.ascontiguousarray(returns, dtype=float)
    t, n = r.shape
    u = np.asarray(untuned, dtype=float)
    rf = np.asarray(rf, dtype=float)
    tr_sets = [np.asarray(f.train) for f in folds]
    te_sets = [np.asarray(f.test) for f in folds]
    cuts, seg_of = block_cuts(t, tr_sets + te_sets, block_days)
    starts = cuts[:-1]
    n_blocks = len(starts)
    block_of = np.repeat(np.arange(n_blocks), np.diff(cuts))
    if signs is None:
        rng = np.random.default_rng([int(seed), 23])
        signs = rng.choice(np.array([-1.0, 1.0]), size=(runs, n_blocks))
    signs = np.asarray(signs, dtype=float)
    runs = len(signs)
    w = np.ones(t, dtype=bool) if in_regime is None else np.asarray(in_regime, dtype=bool)
    m = r.mean(axis=0) - u.mean() if demean else np.zeros(n)
    ir_metric = metric == "information_ratio"
    c = np.zeros(t) if ir_metric else u - rf  # the selection's excess return is c + ε d
    s1, s2, s3, s4, sc, su1 = _block_moments(r, u, m, c, w, block_of, n_blocks)
    nw = np.add.reduceat(w.astype(float), starts)

    # segments (stretches of blocks inside the same windows) carry the windows' sums
    seg_starts = np.flatnonzero(np.r_[True, seg_of[1:] != seg_of[:-1]])
    n_seg = len(seg_starts)

    def seg_member(rows: np.ndarray) -> np.ndarray:
        return _membership(rows, cuts, t)[seg_starts]

    g_tr = np.array([seg_member(s_) for s_ in tr_sets])  # F x G
    m_te = np.array([_membership(s_, cuts, t) for s_ in te_sets])  # F x B
    is_rows = np.unique(np.concatenate(tr_sets))
    m_is = _membership(is_rows, cuts, t)
    g_is = m_is[seg_starts]
    if in_regime is not None:
        is_rows = is_rows[w[is_rows]]
    n_is = float(m_is @ nw)
    n_oos = int(sum(len(s_) for s_ in te_sets))
    n_f = len(tr_sets)

    fast = metric in FAST_METRICS
    method = "block sums" if fast else "window metrics"
    seg_sum = lambda x: np.add.reduceat(x, seg_starts, axis=0)  # noqa: E731
    q_is = g_is @ seg_sum(s2)  # in-sample Σd² per variant (sign-free)
    q4_is = m_is @ s4
    if fast:
        n_tr = g_tr @ seg_sum(nw)
        base1 = g_tr @ seg_sum(np.add.reduceat(w * c, starts))
        base2 = (g_tr @ seg_sum(np.add.reduceat(w * c * c, starts)))[:, None] + g_tr @ seg_sum(s2)
        with_c = bool(np.any(c[w] != 0.0))
        chosen, best, sa = _select_runs(signs, s1, sc, seg_of, n_seg, g_tr, g_is, base1,
                                        np.ascontiguousarray(base2), n_tr, with_c)
    else:
        windows = [s_[w[s_]] for s_ in tr_sets]
        d_vt = np.ascontiguousarray((r - u[:, None] - m[None, :]).T)
        chosen = np.empty((runs, n_f), dtype=np.int64)
        best = np.empty(runs, dtype=np.int64)
        sa = np.empty((runs, n))
        for j in range(runs):
            sa[j] = g_is @ _signed_segments(signs[j], s1, seg_of, n_seg)
            star = u[None, :] + d_vt * signs[j][block_of][None, :]
            score = metric_scores(star, rf, u, metric, windows)  # F x N
            chosen[j] = _argmax(score)
            best[j] = _argmax(_mean_finite(score, axis=0))

    # ---- deflated Sharpe of the selected variant's in-sample active return
    srs = _sharpe_from_sums(sa, q_is[None], n_is)
    ok = np.isfinite(srs)
    cnt = ok.sum(axis=1)
    mu = np.where(ok, srs, 0.0).sum(axis=1) / np.maximum(cnt, 1)
    dev = np.where(ok, srs - mu[:, None], 0.0)
    var = np.where(cnt > 1, (dev * dev).sum(axis=1) / np.maximum(cnt - 1, 1), 0.0)  # np.var(ddof=1) of the finite
    pick = np.arange(runs)
    s3_best = np.einsum("rb,br->r", signs * m_is[None], s3[:, best])
    dsr = _moments_dsr(sa[pick, best], q_is[best], s3_best, q4_is[best], n_is, var, n_eff)

    # ---- out-of-sample gain of the stitched chosen variants (gross)
    picked = su1.T[chosen]  # runs x F x B: each fold's chosen variant's block sums
    gain = np.einsum("rfb,rb,fb->r", picked, signs, m_te)
    oos_bp = gain / max(n_oos, 1) * TRADING_DAYS * 1e4
    return NullResult(
        runs=runs, seed=int(seed), block_days=block_days, blocks=n_blocks, dsr=dsr, oos_bp=oos_bp,
        observed_dsr=float(observed_dsr), observed_oos_bp=float(observed_oos_bp),
        p_dsr=null_p_value(observed_dsr, dsr), p_oos=null_p_value(observed_oos_bp, oos_bp),
        p_oos_low=null_p_value(-observed_oos_bp, -oos_bp), method=method, chosen=chosen, best=best)
