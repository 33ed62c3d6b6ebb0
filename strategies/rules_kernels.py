"""Row-wise kernels of the ``regime_rules`` kind: tilt activity, funding, caps, trailing volatility.

The compiled form of a rule set (:class:`CompiledRules`) and the array kernels that turn it
into weights. Every kernel works on rows — decision dates of one history, or
``(decision date, path)`` rows of a scenario batch — so the single-history strategy and
its batch form (:meth:`strategies.regime_rules.RegimeRules.batch_weights`) share them:

* :func:`rule_activity`: which tilts are on, and at what size, from the rule conditions
  (:mod:`strategies.rules_engine`, evaluated on ``(T, *batch)`` arrays), the minimum
  holding times and vol targeting;
* :func:`apply_tilts` / :func:`fund`: base weights plus the active tilts, funded pro rata
  and water-filled at the floors;
* :func:`apply_caps`: single, group and gross caps; :func:`check_funding`: config check
  (:func:`first_unfunded`: its batch form over variants).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from backtest.constants import TRADING_DAYS
from strategies.rules_engine import CASH_KEYWORD, Condition, EvalContext, hold_state

MAX_EXHAUSTIVE_TILTS = 12  # funding is checked for every subset of up to this many add-tilts
EPS = 1e-9

# ------------------------------------------------------------------------------- compiled


@dataclass(frozen=True)
class CompiledTilt:
    """A tilt with asset names resolved to column indices (cash = last column)."""

    name: str
    when: Condition
    exit_when: Condition | None
    kind: Literal["add", "sweep"]
    idx: np.ndarray  # add assets / sweep destinations
    w: np.ndarray  # add weights / normalised sweep shares
    src: np.ndarray  # funding assets / sweep sources
    fraction: float
    vol_target: float | None
    vol_window: int
    min_hold_days: int
    min_hold_periods: int
    listed: np.ndarray  # non-cash indices that must have a price for the tilt to be taken


@dataclass(frozen=True)
class CompiledRules:
    """Everything ``weights`` needs, as arrays over ``assets + [cash]``."""

    assets: tuple[str, ...]
    base: np.ndarray  # (n+1,)
    floors: np.ndarray  # (n+1,)
    key: np.ndarray  # (n+1,) funding keys = max(base, 0)
    tilts: tuple[CompiledTilt, ...]
    max_w: np.ndarray  # (n,)
    groups: tuple[tuple[str, np.ndarray, float], ...]
    max_gross: float | None
    optimizer: Any | None  # OptimizerConfig


# ------------------------------------------------------------------------------- kernels


def fund(cur: np.ndarray, floors: np.ndarray, key: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amounts taken from funding assets, pro rata to ``key`` and water-filled at floors.

    Parameters
    ----------
    cur : np.ndarray, shape (T, m)
        Current weights of the funding assets.
    floors, key : np.ndarray, shape (m,)
        Floors and pro-rata keys (base weights; assets with key 0 are used last, pro rata
        to their room).
    need : np.ndarray, shape (T,)
        Net amount to fund (negative: returned to the funding assets pro rata to key).

    Returns
    -------
    take : np.ndarray, shape (T, m)
        Weight removed from each funding asset (negative = added).
    shortfall : np.ndarray, shape (T,)
        Amount that could not be funded (0 when feasible).
    room : np.ndarray, shape (T,)
        Total room above floors before funding.
    """
    T, m = cur.shape
    room0 = np.maximum(cur - floors, 0.0)
    pos = np.maximum(need, 0.0)
    take = np.zeros((T, m))
    rem = pos.copy()
    free = (key > 0)[None, :] & (room0 > 0) & (rem[:, None] > 0)  # (T, m)
    for _ in range(m + 1):
        if not free.any():
            break
        kf = key * free
        ks = kf.sum(1)
        share = np.where(ks[:, None] > 0, rem[:, None] * kf / np.where(ks > 0, ks, 1.0)[:, None], 0.0)
        room = room0 - take
        over = free & (share > room + 1e-15)
        row_over = over.any(1)
        step = np.where(row_over[:, None], np.where(over, room, 0.0), share)
        take += step
        rem = rem - step.sum(1)
        free = free & ~over & row_over[:, None]
    room = room0 - take
    rs = room.sum(1)
    frac = np.where(rs > 0, np.minimum(np.maximum(rem, 0.0) / np.where(rs > 0, rs, 1.0), 1.0), 0.0)
    step = room * frac[:, None]
    take += step
    rem = rem - step.sum(1)
    neg = np.minimum(need, 0.0)
    if neg.any():
        ks = key.sum()
        share = key / ks if ks > 0 else np.full(m, 1.0 / m)
        take += neg[:, None] * share[None, :]
    return take, np.maximum(rem, 0.0), room0.sum(1)


def apply_tilts(rules: CompiledRules, active: np.ndarray, scale: np.ndarray,
                add_rows: list[np.ndarray | None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base weights plus the active tilts, row by row.

    Parameters
    ----------
    active : np.ndarray of bool, shape (T, k)
    scale : np.ndarray, shape (T, k)
        Size multiplier of each tilt (1 without vol targeting).
    add_rows : list, optional
        Per tilt, its ``add`` weights per row, shape (T, len(idx)), instead of the rule's
        own ``w`` (None: the rule's): rows of several variants of one rule set that differ
        only in their tilt sizes, evaluated in one call (each row's numbers are those of
        its variant alone, up to the sign of a zero).

    Returns
    -------
    W : np.ndarray, shape (T, n+1)
        Weights over ``assets + [cash]`` (rows sum to 1).
    shortfall, room : np.ndarray, shape (T, k)
        Unfunded amount and room above floors per tilt (0 for sweeps).
    """
    T, k = active.shape
    W = np.tile(rules.base, (T, 1))
    short = np.zeros((T, k))
    rooms = np.zeros((T, k))
    for j, t in enumerate(rules.tilts):
        a = active[:, j]
        if not a.any():
            continue
        if t.kind == "add":
            w = t.w[None, :] if add_rows is None or add_rows[j] is None else add_rows[j]
            delta = np.where(a, scale[:, j], 0.0)[:, None] * w
            take, short[:, j], rooms[:, j] = fund(W[:, t.src], rules.floors[t.src], rules.key[t.src], delta.sum(1))
            W[:, t.idx] += delta
            W[:, t.src] -= take
        else:
            # a sweep moves holdings only: it never borrows (floors below 0 count as 0)
            room = np.maximum(W[:, t.src] - np.maximum(rules.floors[t.src], 0.0), 0.0)
            moved = room * (t.fraction * a)[:, None]
            W[:, t.src] -= moved
            W[:, t.idx] += moved.sum(1)[:, None] * t.w[None, :]
    return W, short, rooms


def apply_caps(A: np.ndarray, rules: CompiledRules) -> np.ndarray:
    """Single-weight, group and gross caps on asset weights ``A`` (T, n); cash absorbs the rest."""
    A = np.sign(A) * np.minimum(np.abs(A), rules.max_w[None, :])
    for _, idx, cap in rules.groups:
        g = np.abs(A[:, idx]).sum(1)
        f = np.where(g > cap, cap / np.where(g > 0, g, 1.0), 1.0)
        A[:, idx] *= f[:, None]
    if rules.max_gross is not None:
        g = np.abs(A).sum(1)
        A = A * np.where(g > rules.max_gross, rules.max_gross / np.where(g > 0, g, 1.0), 1.0)[:, None]
    return A


def funding_patterns(k: int) -> np.ndarray:
    """Tilt combinations the funding check tries, shape (rows, k), by number of active tilts.

    Every subset of up to :data:`MAX_EXHAUSTIVE_TILTS` tilts; beyond that, all-on and each
    tilt alone.
    """
    if k <= MAX_EXHAUSTIVE_TILTS:
        bits = (np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1
        active = bits.astype(bool)
        return active[np.argsort(active.sum(1), kind="stable")]
    return np.vstack([np.ones((1, k), bool), np.eye(k, dtype=bool)])


def check_funding(rules: CompiledRules) -> None:
    """Reject rules where some combination of active tilts cannot be funded at full size.

    Every subset of up to :data:`MAX_EXHAUSTIVE_TILTS` add-tilts is tried (runs are row-wise
    vectorised); beyond that, all-on and each tilt alone.
    """
    k = len(rules.tilts)
    if k == 0:
        return
    active = funding_patterns(k)
    _, short, rooms = apply_tilts(rules, active, np.ones(active.shape))
    bad = np.argwhere(short > EPS)
    if len(bad):
        r, j = bad[0]
        t = rules.tilts[j]
        names = [rules.tilts[i].name for i in np.flatnonzero(active[r])]
        src = [(rules.assets + (CASH_KEYWORD,))[i] for i in t.src]
        with_ = f" when tilts {names} are active" if len(names) > 1 else ""
        raise ValueError(
            f"tilt {t.name!r}: impossible funding: needs {t.w.sum():.4g} from {src} but only "
            f"{rooms[r, j]:.4g} is available above floors{with_}"
        )


def _funding_structure(rules: CompiledRules) -> tuple[Any, ...]:
    """What the funding check depends on besides the add-tilts' weights (hashable)."""
    return (rules.base.tobytes(), rules.floors.tobytes(), rules.key.tobytes(),
            tuple((t.kind, t.idx.tobytes(), t.src.tobytes(), t.fraction,
                   t.w.tobytes() if t.kind == "sweep" else len(t.w)) for t in rules.tilts))


def first_unfunded(many: list[CompiledRules]) -> int | None:
    """Position of the first rule set :func:`check_funding` rejects, or None (batch form).

    The rule sets that differ only in their add-tilts' weights (variants of tilt sizes)
    are checked together: their tilt combinations stacked as the rows of one
    :func:`apply_tilts` call with per-row weights (each row's numbers are those of its rule
    set alone, up to the sign of a zero).
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, r in enumerate(many):
        if r.tilts:
            groups.setdefault(_funding_structure(r), []).append(i)
    bad: list[int] = []
    for pos in groups.values():
        rules = many[pos[0]]
        pattern = funding_patterns(len(rules.tilts))
        n_rows = len(pattern)
        active = np.tile(pattern, (len(pos), 1))
        add_rows: list[np.ndarray | None] = [
            np.repeat(np.stack([many[i].tilts[j].w for i in pos]), n_rows, axis=0) if t.kind == "add" else None
            for j, t in enumerate(rules.tilts)]
        _, short, _ = apply_tilts(rules, active, np.ones(active.shape), add_rows)
        rows = np.flatnonzero((short > EPS).any(1))
        if len(rows):
            bad.append(pos[int(rows[0]) // n_rows])
    return min(bad) if bad else None


def trailing_vol(x: np.ndarray, pos: np.ndarray, window: int) -> np.ndarray:
    """Annualised std of ``x[pos-window+1 : pos+1]`` per position (NaN: < window/2 values).

    Parameters
    ----------
    x : np.ndarray, shape (D,) or (D, P)
        Daily returns (NaN allowed); with a second axis, one series per column (e.g. per
        simulated path), giving a (T, P) result.
    pos : np.ndarray of int, shape (T,)
        Last row of each window (-1: no data yet).
    """
    valid = np.isfinite(x)
    x0 = np.where(valid, x, 0.0)
    zero = np.zeros((1, *x.shape[1:]))
    c1 = np.concatenate([zero, np.cumsum(x0, axis=0)])
    c2 = np.concatenate([zero, np.cumsum(x0 * x0, axis=0)])
    cn = np.concatenate([zero, np.cumsum(valid, axis=0)])
    hi = np.clip(pos + 1, 0, len(x))
    lo = np.maximum(hi - window, 0)
    cnt = cn[hi] - cn[lo]
    s1, s2 = c1[hi] - c1[lo], c2[hi] - c2[lo]
    ok = cnt >= max(window // 2, 2)
    c = np.where(ok, cnt, 2)
    var = np.maximum((s2 - s1 * s1 / c) / (c - 1), 0.0)
    return np.where(ok, np.sqrt(var * TRADING_DAYS), np.nan)


DirectionVol = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
Cached = Callable[[Hashable, Callable[[], Any]], Any]


def _direct(key: Hashable, fn: Callable[[], Any]) -> Any:
    return fn()


def rule_activity(rules: CompiledRules, ctx: EvalContext, day_pos: np.ndarray, listed: np.ndarray,
                  direction_vol: DirectionVol, cached: Cached | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Active flags and size multipliers of every tilt, for one history or a batch.

    Parameters
    ----------
    rules : CompiledRules
    ctx : EvalContext
        Inputs as of each decision date; its ``shape`` is ``(T,)`` or ``(T, *batch)``.
    day_pos : np.ndarray of int, shape (T,)
        Trading-day position of each decision date (minimum holding times, vol windows).
    listed : np.ndarray of bool, shape (T, n)
        Whether each rule asset has a price at each decision date (the same for every batch
        member: a listing is a property of the calendar).
    direction_vol : callable
        ``direction_vol(idx, w, window)``: annualised trailing volatility of the daily
        return ``rets[:, idx] @ w`` at each decision, shape ``ctx.shape`` (NaN: too little
        history); called only for vol-targeted tilts that are on somewhere.
    cached : callable, optional
        ``cached(key, fn)``: ``fn()``, or the array an earlier call with the same ``key``
        returned (variants of a rule set on one history share each tilt's on/off state and
        vol; see :class:`strategies.history.HistoryBatch`). The keys name everything the result depends on
        besides ``ctx``, ``day_pos``, ``listed`` and ``direction_vol``.

    Returns
    -------
    active : np.ndarray of bool, shape (*ctx.shape, k)
    scale : np.ndarray, shape (*ctx.shape, k)
    """
    shape = tuple(ctx.shape)
    k, n = len(rules.tilts), len(rules.assets)
    active = np.zeros((*shape, k), dtype=bool)
    scale = np.ones((*shape, k))
    listed_shape = (shape[0],) + (1,) * (len(shape) - 1)
    get = cached if cached is not None else _direct
    for j, t in enumerate(rules.tilts):

        def state(t: CompiledTilt = t) -> np.ndarray:
            cond = np.broadcast_to(t.when.evaluate(ctx) == 1.0, shape)
            off = (np.zeros(shape, dtype=bool) if t.exit_when is None
                   else np.broadcast_to(t.exit_when.evaluate(ctx) == 1.0, shape))
            return hold_state(cond, off, day_pos, t.min_hold_days, t.min_hold_periods)

        on = get(("tilt_on", t.when, t.exit_when, t.min_hold_days, t.min_hold_periods), state)
        active[..., j] = on & listed[:, t.listed].all(axis=1).reshape(listed_shape)
        if t.vol_target is not None and active[..., j].any():
            gross = np.abs(t.w).sum()
            risky = t.idx < n
            idx, wd = t.idx[risky], t.w[risky] / gross
            vol = get(("tilt_vol", rules.assets, tuple(idx.tolist()), tuple(wd.tolist()), t.vol_window),
                      lambda idx=idx, wd=wd, t=t: direction_vol(idx, wd, t.vol_window))
            with np.errstate(divide="ignore", invalid="ignore"):
                s = np.minimum(1.0, t.vol_target / (gross * vol))
            scale[..., j] = np.where(np.isfinite(s), s, 0.0)
    return active, scale


__all__ = ["EPS", "MAX_EXHAUSTIVE_TILTS", "CompiledRules", "CompiledTilt", "apply_caps", "apply_tilts",
           "check_funding", "first_unfunded", "fund", "funding_patterns", "rule_activity", "trailing_vol"]
