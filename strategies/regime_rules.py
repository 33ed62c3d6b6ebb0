"""The ``regime_rules`` kind: a base allocation plus tilts switched on by regime and signal rules.

YAML (all keys but ``base`` optional)::

    base: {SPY: 0.6, IEF: 0.4}            # strategic weights; cash = 1 - sum
    floors: {IEF: 0.10, cash: 0.0}        # funding never pushes a weight below its floor (default 0)
    tilts:                                # applied in order, each where its rule holds
      - name: gold_in_easing
        when: {all: [{regime: [rmp, qe]}, {signal: vix, op: "<", value: 25, exit: 30}]}
        exit_when: "vix > 40"             # optional: off at once, overriding min_hold_*
        add: {GLD: 0.10}                  # weights added (may be negative: shorts)
        fund_from: [IEF, cash]            # net cost taken pro rata to base weight (default [cash])
        vol_target: {target: 0.02, window: 63}   # optional: add is the maximum size
        min_hold_days: 21                 # or min_hold_periods: 1 (decisions)
      - name: no_idle_cash
        when: {regime: rmp}
        sweep: {from: [cash, BIL], to: {SHY: 1.0}, fraction: 1.0}
    caps:                                 # applied last: single, then groups, then gross
      max_weight: 0.7
      max_weight_by_asset: {SVXY: 0.10}
      groups: {short_vol: {assets: [SVXY, VIXY], max: 0.10}}   # on sum of |w|
      max_gross: 1.5
    optimizer: {objective: tracking_error, te_cap: 0.03}   # optional, backtest.optimizer

Semantics (each checked by hand in ``tests/test_rules_engine.py``):

* A tilt adds ``s * add`` where ``s = 1`` (or ``min(1, target / (|add|_1 * vol))`` with
  ``vol_target``, ``vol`` the trailing realised volatility of the tilt's direction; ``s = 0``
  before there is enough history) and takes the net amount ``s * sum(add)`` from
  ``fund_from`` pro rata to their base weight, water-filling at the floors (assets whose
  base weight is 0, e.g. added by an earlier tilt or borrowing cash, are used last, pro rata
  to their room). A negative net amount is returned to ``fund_from`` pro rata. If some set
  of tilts cannot be funded from base weights the config is rejected.
* A sweep moves ``fraction`` of the weight the ``from`` assets hold above their floors into
  ``to`` (normalised shares); it never borrows (a negative floor counts as 0).
* A tilt whose added assets have no price yet at a date is skipped at that date; base
  weights on unlisted assets are left to the framework, which renormalises.
* Caps only shrink magnitudes, the freed weight goes to cash, so a later cap never breaks an
  earlier one. With an ``optimizer``, the rule weights at each date are the optimizer's
  ``base_weights`` (e.g. the tracking-error benchmark), and the caps apply to its output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from backtest.errors import StrategyError
from backtest.signals import SignalFrame
from strategies.base import Params, register
from strategies.rules_engine import Condition, Context, did_you_mean, hold_state, parse_condition

CASH = "cash"
TRADING_DAYS = 252
MAX_EXHAUSTIVE_TILTS = 12  # funding is checked for every subset of up to this many add-tilts
EPS = 1e-9


# --------------------------------------------------------------------------------- params


class VolTarget(Params):
    """Volatility-targeted tilt size: ``add`` becomes the maximum size."""

    target: float = Field(..., gt=0, description="annualised volatility budget of the tilt, fraction of NAV")
    window: int = Field(63, ge=5, le=756, description="trailing trading days of realised volatility")


class Sweep(Params):
    """Move idle weight (cash, bills) into other assets."""

    model_config = ConfigDict(populate_by_name=True)

    from_: list[str] = Field(..., alias="from", min_length=1, description="assets (or cash) to empty")
    to: dict[str, float] = Field(..., min_length=1, description="destination shares (normalised)")
    fraction: float = Field(1.0, gt=0, le=1, description="fraction of the room above floors moved")


class TiltSpec(Params):
    """One rule: when ``when`` holds, add weights funded from other assets (or sweep)."""

    name: str = Field(..., min_length=1)
    when: Any = Field(..., description="condition (see strategies.rules_engine)")
    exit_when: Any = Field(None, description="condition forcing an immediate exit")
    add: dict[str, float] | None = None
    fund_from: list[str] = Field(default_factory=lambda: [CASH])
    sweep: Sweep | None = None
    vol_target: VolTarget | None = None
    min_hold_days: int = Field(0, ge=0, description="minimum holding time, trading days")
    min_hold_periods: int = Field(0, ge=0, description="minimum holding time, decision periods")


class GroupCap(Params):
    """Cap on the gross weight ``sum |w|`` of a group of assets."""

    assets: list[str] = Field(..., min_length=1)
    max: float = Field(..., ge=0)


class Caps(Params):
    """Hard limits applied last (magnitudes shrink, the rest goes to cash)."""

    max_weight: float | None = Field(None, gt=0, description="cap on every |w_i|")
    max_weight_by_asset: dict[str, float] = Field(default_factory=dict)
    groups: dict[str, GroupCap] = Field(default_factory=dict)
    max_gross: float | None = Field(None, gt=0, description="cap on sum |w_i|")

    @field_validator("max_weight_by_asset")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [a for a, x in v.items() if not x >= 0]
        if bad:
            raise ValueError(f"cap of {bad[0]} must be >= 0")
        return v


class RegimeRulesParams(Params):
    """Params of ``regime_rules`` (see the module docstring)."""

    base: dict[str, float] = Field(default_factory=dict, description="strategic weights (cash = 1 - sum)")
    floors: dict[str, float] = Field(default_factory=dict, description="funding floors (default 0)")
    tilts: list[TiltSpec] = Field(default_factory=list)
    caps: Caps = Field(default_factory=Caps)
    optimizer: dict[str, Any] | None = Field(None, description="backtest.optimizer.OptimizerConfig block")

    _rules: CompiledRules | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _compile(self) -> RegimeRulesParams:
        self._rules = compile_rules(self)
        return self

    @property
    def rules(self) -> CompiledRules:
        """The compiled rules."""
        assert self._rules is not None
        return self._rules


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


def _norm(asset: str) -> str:
    return CASH if asset.strip().lower() == CASH else asset


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].replace("Value error, ", "")
    return f"{loc}: {msg}" if loc else msg


def _check_known(names: list[str], held: list[str], where: str, what: str) -> None:
    for a in names:
        if a != CASH and a not in held:
            raise ValueError(f"{where}: {what} {a!r} is not held (not in base and not added by a tilt){did_you_mean(a, held)}")


def compile_rules(p: RegimeRulesParams) -> CompiledRules:
    """Validate a ``regime_rules`` config for internal consistency and compile it.

    Raises
    ------
    ValueError
        One line naming the rule: unknown signal, regime, op or asset, empty ``when``,
        impossible funding, duplicate names, bad optimizer block.
    """
    base = {_norm(a): float(w) for a, w in p.base.items()}
    if CASH in base:
        raise ValueError("base: cash is implied (1 - sum of base weights); do not list it")
    bad = [a for a, w in base.items() if not np.isfinite(w)]
    if bad:
        raise ValueError(f"base: weight of {bad[0]} is not finite")
    held: list[str] = list(base)
    specs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for t in p.tilts:
        where = f"tilt {t.name!r}"
        if t.name in seen:
            raise ValueError(f"{where}: duplicate tilt name")
        seen.add(t.name)
        when = parse_condition(t.when, f"{where}: when")
        exit_when = None if t.exit_when is None else parse_condition(t.exit_when, f"{where}: exit_when")
        if (t.add is None) == (t.sweep is None):
            raise ValueError(f"{where}: give exactly one of 'add' or 'sweep'")
        if t.min_hold_days and t.min_hold_periods:
            raise ValueError(f"{where}: give min_hold_days or min_hold_periods, not both")
        if t.add is not None:
            add = {_norm(a): float(w) for a, w in t.add.items()}
            if not add or not any(w != 0 for w in add.values()):
                raise ValueError(f"{where}: add is empty or all zero")
            if not all(np.isfinite(w) for w in add.values()):
                raise ValueError(f"{where}: add has a non-finite weight")
            src = [_norm(a) for a in t.fund_from]
            if not src:
                raise ValueError(f"{where}: fund_from is empty (use [cash] to fund from cash)")
            _check_known(src, held, where, "fund_from asset")
            both = sorted(set(src) & set(add))
            if both:
                raise ValueError(f"{where}: {both[0]} is both added and used for funding")
            dest, weights, fraction = add, add, 1.0
        else:
            assert t.sweep is not None
            if t.vol_target is not None:
                raise ValueError(f"{where}: vol_target applies to 'add' tilts, not to a sweep")
            src = [_norm(a) for a in t.sweep.from_]
            _check_known(src, held, where, "sweep source")
            dest = {_norm(a): float(w) for a, w in t.sweep.to.items()}
            if not all(np.isfinite(w) and w > 0 for w in dest.values()):
                raise ValueError(f"{where}: sweep shares must be > 0")
            both = sorted(set(src) & set(dest))
            if both:
                raise ValueError(f"{where}: {both[0]} is both a sweep source and a destination")
            total = sum(dest.values())
            weights, fraction = {a: w / total for a, w in dest.items()}, t.sweep.fraction
        for a in dest:
            if a != CASH and a not in held:
                held.append(a)
        specs.append(dict(t=t, when=when, exit_when=exit_when, src=src, dest=weights, fraction=fraction))

    assets = tuple(held)
    col = {a: i for i, a in enumerate(assets)} | {CASH: len(assets)}
    n = len(assets)
    floors_raw = {_norm(a): float(v) for a, v in p.floors.items()}
    _check_known(list(floors_raw), list(assets), "floors", "asset")
    base_v = np.zeros(n + 1)
    for a, w in base.items():
        base_v[col[a]] = w
    base_v[n] = 1.0 - base_v[:n].sum()
    floors = np.zeros(n + 1)
    for a, v in floors_raw.items():
        floors[col[a]] = v
    tilts = []
    for s in specs:
        t: TiltSpec = s["t"]
        idx = np.array([col[a] for a in s["dest"]], dtype=int)
        tilts.append(CompiledTilt(
            name=t.name, when=s["when"], exit_when=s["exit_when"],
            kind="add" if t.add is not None else "sweep",
            idx=idx, w=np.array(list(s["dest"].values()), dtype=float),
            src=np.array([col[a] for a in s["src"]], dtype=int), fraction=s["fraction"],
            vol_target=None if t.vol_target is None else t.vol_target.target,
            vol_window=63 if t.vol_target is None else t.vol_target.window,
            min_hold_days=t.min_hold_days, min_hold_periods=t.min_hold_periods,
            listed=idx[idx < n],
        ))
    max_w = np.full(n, np.inf if p.caps.max_weight is None else p.caps.max_weight)
    by_asset = {_norm(a): v for a, v in p.caps.max_weight_by_asset.items()}
    _check_known(list(by_asset), list(assets), "caps.max_weight_by_asset", "asset")
    for a, v in by_asset.items():
        if a == CASH:
            raise ValueError("caps.max_weight_by_asset: cash cannot be capped")
        max_w[col[a]] = v
    groups = []
    for g, gc in p.caps.groups.items():
        names = [_norm(a) for a in gc.assets]
        _check_known(names, list(assets), f"caps.groups.{g}", "asset")
        if CASH in names:
            raise ValueError(f"caps.groups.{g}: cash cannot be in a group")
        groups.append((g, np.array([col[a] for a in names], dtype=int), gc.max))
    rules = CompiledRules(assets, base_v, floors, np.maximum(base_v, 0.0), tuple(tilts), max_w,
                          tuple(groups), p.caps.max_gross, _optimizer(p.optimizer, list(assets)))
    check_funding(rules)
    return rules


def _optimizer(block: dict[str, Any] | None, assets: list[str]) -> Any | None:
    if block is None:
        return None
    from backtest.optimizer import OptimizerConfig  # lazy: keeps cvxpy out of plain rule runs

    try:
        cfg = OptimizerConfig.model_validate(block)
    except ValidationError as exc:
        raise ValueError(f"optimizer.{_first_error(exc)}") from None
    refs = [*cfg.bounds.assets, *(a for g in cfg.groups.values() for a in g.assets),
            *(cfg.base_weights or {}), *(cfg.risk_budgets or {})]
    for a in refs:
        if a not in assets:
            raise ValueError(f"optimizer: asset {a!r} is not held by the rules{did_you_mean(a, assets)}")
    return cfg


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
    free = np.broadcast_to(key > 0, (T, m)) & (room0 > 0) & (rem[:, None] > 0)
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


def apply_tilts(rules: CompiledRules, active: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base weights plus the active tilts, row by row.

    Parameters
    ----------
    active : np.ndarray of bool, shape (T, k)
    scale : np.ndarray, shape (T, k)
        Size multiplier of each tilt (1 without vol targeting).

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
            delta = np.where(a, scale[:, j], 0.0)[:, None] * t.w[None, :]
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


def check_funding(rules: CompiledRules) -> None:
    """Reject rules where some combination of active tilts cannot be funded at full size.

    Every subset of up to :data:`MAX_EXHAUSTIVE_TILTS` add-tilts is tried (runs are row-wise
    vectorised); beyond that, all-on and each tilt alone.
    """
    k = len(rules.tilts)
    if k == 0:
        return
    if k <= MAX_EXHAUSTIVE_TILTS:
        bits = (np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1
        active = bits.astype(bool)
        active = active[np.argsort(active.sum(1), kind="stable")]
    else:
        active = np.vstack([np.ones((1, k), bool), np.eye(k, dtype=bool)])
    _, short, rooms = apply_tilts(rules, active, np.ones(active.shape))
    bad = np.argwhere(short > EPS)
    if len(bad):
        r, j = bad[0]
        t = rules.tilts[j]
        names = [rules.tilts[i].name for i in np.flatnonzero(active[r])]
        src = [(rules.assets + (CASH,))[i] for i in t.src]
        with_ = f" when tilts {names} are active" if len(names) > 1 else ""
        raise ValueError(
            f"tilt {t.name!r}: impossible funding: needs {t.w.sum():.4g} from {src} but only "
            f"{rooms[r, j]:.4g} is available above floors{with_}"
        )


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


# ------------------------------------------------------------------------------ strategy


def tilt_activity(rules: CompiledRules, sf: SignalFrame, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, Context]:
    """Active flags and size multipliers of every tilt at every decision date.

    Returns
    -------
    active : np.ndarray of bool, shape (T, k)
    scale : np.ndarray, shape (T, k)
    ctx : Context
    """
    ctx = Context(sf, dates)
    T, k = len(dates), len(rules.tilts)
    ppos = ctx.positions(sf.prices.index)
    n = len(rules.assets)
    px = sf.prices.reindex(columns=list(rules.assets)).to_numpy(dtype=float)
    listed = np.zeros((T, n), dtype=bool)
    okp = ppos >= 0
    listed[okp] = np.isfinite(px[ppos[okp]])
    active = np.zeros((T, k), dtype=bool)
    scale = np.ones((T, k))
    rets: np.ndarray | None = None
    for j, t in enumerate(rules.tilts):
        cond = t.when.evaluate(ctx) == 1.0
        off = np.zeros(T, bool) if t.exit_when is None else t.exit_when.evaluate(ctx) == 1.0
        on = hold_state(cond, off, ppos, t.min_hold_days, t.min_hold_periods)
        active[:, j] = on & listed[:, t.listed].all(1)
        if t.vol_target is not None and active[:, j].any():
            if rets is None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    rets = np.vstack([np.full((1, n), np.nan), px[1:] / px[:-1] - 1.0])
            gross = np.abs(t.w).sum()
            risky = t.idx < n
            direction = rets[:, t.idx[risky]] @ (t.w[risky] / gross)
            vol = trailing_vol(direction, ppos, t.vol_window)
            with np.errstate(divide="ignore", invalid="ignore"):
                s = np.minimum(1.0, t.vol_target / (gross * vol))
            scale[:, j] = np.where(np.isfinite(s), s, 0.0)
    return active, scale, ctx


@register("regime_rules", RegimeRulesParams)
class RegimeRules:
    """Base allocation plus regime/signal-gated tilts (YAML rules, no code)."""

    def __init__(self, name: str, params: RegimeRulesParams) -> None:
        self.name, self.params = name, params
        self.rules = params.rules
        self._allocator: Any | None = None

    def assets(self) -> list[str]:
        """Base assets, then every asset a tilt adds (in order)."""
        return list(self.rules.assets)

    def tilt_states(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Which tilts are active at each decision date (bool, one column per tilt)."""
        active, _, _ = tilt_activity(self.rules, sf, dates)
        return pd.DataFrame(active, index=dates, columns=[t.name for t in self.rules.tilts])

    def weights(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Target weights per decision date (rule weights, optimizer if configured, caps)."""
        rules = self.rules
        active, scale, ctx = tilt_activity(rules, sf, dates)
        W, short, _ = apply_tilts(rules, active, scale)
        if (short > EPS).any():
            r, j = np.argwhere(short > EPS)[0]
            raise StrategyError(
                f"strategy {self.name}: tilt {rules.tilts[j].name!r} cannot be funded on "
                f"{pd.Timestamp(dates[r]).date()} (short by {short[r, j]:.4g})"
            )
        n = len(rules.assets)
        A = W[:, :n]
        if rules.optimizer is not None:
            A = self._optimise(A, sf, dates, ctx)
        A = apply_caps(A, rules)
        return pd.DataFrame(A, index=pd.DatetimeIndex(dates), columns=list(rules.assets))

    @property
    def fallbacks(self) -> list[dict[str, Any]]:
        """Optimizer fallback records of the last ``weights`` call (empty without an optimizer)."""
        return [] if self._allocator is None else self._allocator.fallbacks

    def _optimise(self, A: np.ndarray, sf: SignalFrame, dates: pd.DatetimeIndex, ctx: Context) -> np.ndarray:
        from backtest.optimizer import make_allocator

        cfg = self.rules.optimizer
        assets = list(self.rules.assets)
        self._allocator = make_allocator(cfg, assets, name=self.name)  # fresh fallback records per call
        rets = sf.returns().reindex(columns=assets)
        ppos = ctx.positions(rets.index)
        rf = ctx.values("cash_rate") / 100.0
        win = cfg.estimator.window
        reg = sf.regime.reindex(rets.index)
        out = A.copy()
        prev: pd.Series | None = None
        for r, d in enumerate(pd.DatetimeIndex(dates)):
            p = int(ppos[r])
            lo = max(p - win + 1, 0)
            w = self._allocator.allocate(
                d, rets.iloc[lo:p + 1], prev_weights=prev, base_weights=pd.Series(A[r], index=assets),
                regime_window=reg.iloc[lo:p + 1], current_regime=ctx.regime[r] or None,
                rf=float(rf[r]) if np.isfinite(rf[r]) else 0.0,
            )
            out[r] = w.reindex(assets).fillna(0.0).to_numpy()
            prev = w
        return out


# ------------------------------------------------------------------- helpers for other kinds


def rules_params(spec: dict[str, Any]) -> RegimeRulesParams:
    """Validate a ``regime_rules`` params mapping built by another kind (ValueError, one line)."""
    try:
        return RegimeRulesParams.model_validate(spec)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None


class RulesBacked:
    """A kind whose params compile to ``regime_rules``: delegates to a :class:`RegimeRules`.

    Subclasses' params models expose ``rules_params`` (a validated :class:`RegimeRulesParams`).
    """

    def __init__(self, name: str, params: Any) -> None:
        self.name, self.params = name, params
        self.impl = RegimeRules(name, params.rules_params)

    def assets(self) -> list[str]:
        """Assets of the underlying rules."""
        return self.impl.assets()

    def weights(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Target weights of the underlying rules."""
        return self.impl.weights(sf, dates)

    def tilt_states(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Active tilts of the underlying rules."""
        return self.impl.tilt_states(sf, dates)

    @property
    def fallbacks(self) -> list[dict[str, Any]]:
        """Optimizer fallbacks of the underlying rules."""
        return self.impl.fallbacks
