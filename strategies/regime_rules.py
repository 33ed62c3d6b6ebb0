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

Written once, in array form: :meth:`RegimeRules.batch_weights` (and :meth:`RulesBacked.batch_weights`
for the kinds built on these rules) gives the weights of many scenario paths at once from a
:class:`~strategies.base.BatchSignals` — the conditions evaluate on ``(K, P)`` arrays and the
kernels of :mod:`strategies.rules_kernels` run on ``(K * P)`` rows — and ``weights`` is that
form on one history as a batch of one (:class:`strategies.history.HistoryBatch`). An
optimizer block solves one history date by date (cvxpy, :mod:`backtest.optimizer`) and a
batch of paths with :func:`backtest.optimizer.batch.optimise_batch` (mean-variance configs;
others are evaluated path by path). :meth:`RegimeRules.batch_variants` weights many
variants of a rule set at once (the tuner).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

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
from strategies.base import BatchKind, BatchSignals, Params, register
from strategies.deferred import defer_check
from strategies.history import (
    Context,
    HistoryBatch,
    cached,
    daily_returns,
    one_history,
    where_in,
    window_start,
)
from strategies.rules_engine import (
    CASH_KEYWORD,
    did_you_mean,
    explain_condition,
    parse_condition,
)
from strategies.rules_kernels import (
    EPS,
    CompiledRules,
    CompiledTilt,
    apply_caps,
    apply_tilts,
    check_funding,
    first_unfunded,
    rule_activity,
    trailing_vol,
)

# --------------------------------------------------------------------------------- params


class VolTarget(Params):
    """Volatility-targeted tilt size: ``add`` becomes the maximum size."""

    target: float = Field(..., gt=0, le=10, description="annualised volatility budget of the tilt, fraction of NAV")
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
    fund_from: list[str] = Field(default_factory=lambda: [CASH_KEYWORD])
    sweep: Sweep | None = None
    vol_target: VolTarget | None = None
    min_hold_days: int = Field(0, ge=0, le=2520, description="minimum holding time, trading days")
    min_hold_periods: int = Field(0, ge=0, le=520, description="minimum holding time, decision periods")


class GroupCap(Params):
    """Cap on the gross weight ``sum |w|`` of a group of assets."""

    assets: list[str] = Field(..., min_length=1)
    max: float = Field(..., ge=0, le=100)


class Caps(Params):
    """Hard limits applied last (magnitudes shrink, the rest goes to cash)."""

    max_weight: float | None = Field(None, gt=0, le=100, description="cap on every |w_i|")
    max_weight_by_asset: dict[str, float] = Field(default_factory=dict)
    groups: dict[str, GroupCap] = Field(default_factory=dict)
    max_gross: float | None = Field(None, gt=0, le=100, description="cap on sum |w_i|")

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


def _norm(asset: str) -> str:
    return CASH_KEYWORD if asset.strip().lower() == CASH_KEYWORD else asset


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].replace("Value error, ", "")
    return f"{loc}: {msg}" if loc else msg


def _check_known(names: list[str], held: list[str], where: str, what: str) -> None:
    for a in names:
        if a != CASH_KEYWORD and a not in held:
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
    if CASH_KEYWORD in base:
        raise ValueError("base: cash is implied (1 - sum of base weights); do not list it")
    bad = [a for a, w in base.items() if not math.isfinite(w)]
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
            if not all(math.isfinite(w) for w in add.values()):
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
            if not all(math.isfinite(w) and w > 0 for w in dest.values()):
                raise ValueError(f"{where}: sweep shares must be > 0")
            both = sorted(set(src) & set(dest))
            if both:
                raise ValueError(f"{where}: {both[0]} is both a sweep source and a destination")
            total = sum(dest.values())
            weights, fraction = {a: w / total for a, w in dest.items()}, t.sweep.fraction
        for a in dest:
            if a != CASH_KEYWORD and a not in held:
                held.append(a)
        specs.append(dict(t=t, when=when, exit_when=exit_when, src=src, dest=weights, fraction=fraction))

    assets = tuple(held)
    col = {a: i for i, a in enumerate(assets)} | {CASH_KEYWORD: len(assets)}
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
        if a == CASH_KEYWORD:
            raise ValueError("caps.max_weight_by_asset: cash cannot be capped")
        max_w[col[a]] = v
    groups = []
    for g, gc in p.caps.groups.items():
        names = [_norm(a) for a in gc.assets]
        _check_known(names, list(assets), f"caps.groups.{g}", "asset")
        if CASH_KEYWORD in names:
            raise ValueError(f"caps.groups.{g}: cash cannot be in a group")
        groups.append((g, np.array([col[a] for a in names], dtype=int), gc.max))
    rules = CompiledRules(assets, base_v, floors, np.maximum(base_v, 0.0), tuple(tilts), max_w,
                          tuple(groups), p.caps.max_gross, _optimizer(p.optimizer, list(assets)))
    if not defer_check(rules, first_unfunded):  # the tuner checks its variants in one batch
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


# ------------------------------------------------------------------------------ strategy


def batch_tilt_activity(rules: CompiledRules, bs: BatchSignals) -> tuple[np.ndarray, np.ndarray]:
    """Active flags and size multipliers of every tilt at every decision of every path, shape (K, P, k).

    On a batch that keeps a cache (:class:`~strategies.history.HistoryBatch`: the variants of
    a tune), each tilt's on/off state and a vol-targeted tilt's trailing volatility are
    computed once per distinct condition and direction.
    """
    assets = list(rules.assets)

    def direction_vol(idx: np.ndarray, w: np.ndarray, window: int) -> np.ndarray:
        lo, hi = window_start(bs, window), int(np.max(bs.rows)) + 1
        x = np.zeros((hi - lo, bs.shape[1]))
        for a, wj in zip(idx, w, strict=True):  # fixed summation order: a path's value never depends on the batch
            x = x + daily_returns(bs, assets[a], lo, hi) * wj
        return trailing_vol(x, bs.rows - lo, window)

    return rule_activity(rules, bs, bs.rows, bs.listed(assets), direction_vol,
                         cached=lambda key, fn: cached(bs, key, fn))


def _structure(rules: CompiledRules) -> tuple[Any, ...]:
    """Everything :func:`apply_tilts` and :func:`apply_caps` read from ``rules`` except the tilts' ``add`` sizes."""
    tilts = tuple((t.kind, t.idx.tobytes(), t.src.tobytes(), t.fraction, t.w.tobytes() if t.kind != "add" else len(t.w))
                  for t in rules.tilts)
    groups = tuple((g, idx.tobytes(), cap) for g, idx, cap in rules.groups)
    return (rules.assets, rules.base.tobytes(), rules.floors.tobytes(), rules.key.tobytes(), tilts,
            rules.max_w.tobytes(), groups, rules.max_gross)


@register("regime_rules", RegimeRulesParams)
class RegimeRules(BatchKind):
    """Base allocation plus regime/signal-gated tilts (YAML rules, no code)."""

    def __init__(self, name: str, params: RegimeRulesParams) -> None:
        self.name, self.params = name, params
        self.rules = params.rules
        self._allocator: Any | None = None
        #: optional ``hook(active, scale, bs) -> scale`` on (K, P, k) arrays: point-in-time tilt
        #: sizes set by a kind (:func:`strategies.short_vol.install_sizers`)
        self.size_hook: Callable[..., np.ndarray] | None = None

    def assets(self) -> list[str]:
        """Base assets, then every asset a tilt adds (in order)."""
        return list(self.rules.assets)

    def activity(self, bs: BatchSignals) -> tuple[np.ndarray, np.ndarray]:
        """Active flags and sizes of every tilt (with the kind's point-in-time sizes), shape (K, P, k)."""
        active, scale = batch_tilt_activity(self.rules, bs)
        if self.size_hook is not None:
            scale = self.size_hook(active, scale, bs)
        return active, scale

    def tilt_states(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Which tilts are active at each decision date (bool, one column per tilt)."""
        hb = HistoryBatch(sf, dates)
        active, _ = batch_tilt_activity(self.rules, hb)
        return pd.DataFrame(active[:, 0, :], index=hb.dates, columns=[t.name for t in self.rules.tilts])

    def explain(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> dict[str, Any]:
        """Why the rule weights at the last decision date are what they are.

        Evaluates the same tilt activity and sizes as :meth:`weights` on ``dates`` (the run's
        decision dates, up to the one to explain) and reads each tilt's conditions at the
        last one (:func:`~strategies.rules_engine.explain_condition`).

        Returns
        -------
        dict
            ``date`` and ``previous`` (the decision before it, or None); ``tilts``: per tilt
            ``name``, ``kind`` (add / sweep), ``on`` and ``was_on`` (at ``previous``),
            ``since`` (first decision date of the current on/off state), ``scale`` (size
            multiplier), ``size`` (weights added, ``scale * add``; None for sweeps),
            ``reason`` (why on or off, in words), ``when`` and ``exit_when`` (condition
            trees, ``exit_when`` None when absent); ``anchor``: rule weights after the
            tilts, before caps (an optimizer's base weights); ``rule_weights``: ``anchor``
            with the caps applied (the target without an optimizer); ``optimizer``: the
            optimizer config or None.
        """
        rules = self.rules
        hb = HistoryBatch(sf, dates)
        dates, ctx = hb.dates, hb.ctx
        active, scale = (a[:, 0, :] for a in self.activity(hb))
        W, _, _ = apply_tilts(rules, active, scale)
        n, r = len(rules.assets), len(dates) - 1
        names = (*rules.assets, CASH_KEYWORD)
        tilts = []
        for j, t in enumerate(rules.tilts):
            when = explain_condition(t.when, ctx, r)
            exit_when = None if t.exit_when is None else explain_condition(t.exit_when, ctx, r)
            col = active[:, j]
            on = bool(col[r])
            flips = np.flatnonzero(col[:r] != col[r])
            since = dates[int(flips[-1]) + 1 if len(flips) else 0]
            tilts.append({
                "name": t.name, "kind": t.kind, "on": on, "was_on": bool(col[r - 1]) if r > 0 else None,
                "since": str(since.date()), "scale": float(scale[r, j]),
                "size": {names[i]: float(scale[r, j] * w) for i, w in zip(t.idx, t.w, strict=True)}
                if t.kind == "add" else None,
                "reason": _tilt_reason(on, when["state"], None if exit_when is None else exit_when["state"]),
                "when": when, "exit_when": exit_when,
            })
        anchor = W[r, :n]
        capped = apply_caps(anchor[None, :].copy(), rules)[0]
        return {
            "date": str(dates[r].date()), "previous": str(dates[r - 1].date()) if r > 0 else None,
            "tilts": tilts,
            "anchor": {a: float(x) for a, x in zip(rules.assets, anchor, strict=True)},
            "rule_weights": {a: float(x) for a, x in zip(rules.assets, capped, strict=True)},
            "optimizer": rules.optimizer,
        }

    def anchor(self, bs: BatchSignals) -> np.ndarray:
        """Rule weights after the tilts, before caps (an optimizer's base weights), rows ``(K * P, n)``.

        Raises
        ------
        StrategyError
            A tilt cannot be funded on some date (of some path).
        """
        rules = self.rules
        k_n, p_n = bs.shape
        t_n = len(rules.tilts)
        active, scale = self.activity(bs)
        W, short, _ = apply_tilts(rules, active.reshape(k_n * p_n, t_n), scale.reshape(k_n * p_n, t_n))
        if (short > EPS).any():
            r, j = np.argwhere(short > EPS)[0]
            raise StrategyError(f"strategy {self.name}: tilt {rules.tilts[j].name!r} cannot be funded on "
                                f"{pd.Timestamp(bs.dates[r // p_n]).date()}{where_in(bs, int(r % p_n))} "
                                f"(short by {short[r, j]:.4g})")
        return W[:, :len(rules.assets)]

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Target weights for a batch of paths, shape (K, P, n) over :meth:`assets` (see :class:`~strategies.base.BatchStrategy`).

        The rule weights, the optimizer if configured (the rule weights are its anchor; one
        history is solved date by date with cvxpy, a batch of paths by
        :func:`backtest.optimizer.batch.optimise_batch`), then the caps.

        Raises
        ------
        Unsupported
            A batch of paths with an optimizer block the batch solver does not cover
            (:func:`backtest.optimizer.batch.check_supported`), or a signal the batch cannot compute.
        StrategyError
            A tilt cannot be funded on some date of some path.
        """
        rules = self.rules
        k_n, p_n = bs.shape
        n = len(rules.assets)
        sf = one_history(bs)  # one history: the optimizer solves it date by date
        if rules.optimizer is None:
            A = self.anchor(bs)
        elif sf is not None:
            A = self._optimise(self.anchor(bs), sf, bs.dates, Context(sf, bs.dates))
        else:
            from backtest.optimizer.batch import check_supported, optimise_batch  # numba, no cvxpy

            check_supported(rules.optimizer)
            A = optimise_batch(rules.optimizer, list(rules.assets), self.anchor(bs).reshape(k_n, p_n, n), bs,
                               name=self.name).reshape(k_n * p_n, n)
        return apply_caps(A, rules).reshape(k_n, p_n, n)

    @classmethod
    def batch_variants(cls, strats: list[Any], bs: BatchSignals) -> list[np.ndarray] | None:
        """Batch weights of several variants on one batch, their tilts applied in one call per rule structure.

        Variants whose compiled rules differ only in their tilt sizes (the ``add`` weights:
        a tuner's grid over sizes) share one :func:`apply_tilts` and one :func:`apply_caps`
        over their stacked rows; each variant's tilt activity and point-in-time sizes are
        its own (the param-independent parts computed once on a caching batch). Each array
        equals the variant's :meth:`batch_weights` (up to the sign of a zero weight).

        Returns
        -------
        list of np.ndarray or None
            ``(K, P, n_i)`` per variant; None when some variant has an optimizer block or a
            tilt cannot be funded somewhere: evaluate them one by one (which raises the
            error of the first failing variant).
        """
        if any(s.rules.optimizer is not None for s in strats):
            return None
        k_n, p_n = bs.shape
        rows_n = k_n * p_n
        groups: dict[tuple[Any, ...], list[int]] = {}
        acts, scales = [], []
        for i, s in enumerate(strats):
            active, scale = s.activity(bs)
            acts.append(active.reshape(rows_n, -1))
            scales.append(scale.reshape(rows_n, -1))
            groups.setdefault(_structure(s.rules), []).append(i)
        out: list[np.ndarray | None] = [None] * len(strats)
        for members in groups.values():
            rules = strats[members[0]].rules
            rows = [None if t.kind != "add" else
                    np.repeat(np.stack([strats[i].rules.tilts[j].w for i in members]), rows_n, axis=0)
                    for j, t in enumerate(rules.tilts)]
            W, short, _ = apply_tilts(rules, np.concatenate([acts[i] for i in members]),
                                      np.concatenate([scales[i] for i in members]), rows)
            if (short > EPS).any():
                return None
            n = len(rules.assets)
            A = apply_caps(W[:, :n], rules)
            for v, i in enumerate(members):
                out[i] = A[v * rows_n:(v + 1) * rows_n].reshape(k_n, p_n, n)
        return [w for w in out if w is not None]

    @property
    def fallbacks(self) -> list[dict[str, Any]]:
        """Optimizer fallback records of the last ``weights`` call (empty without an optimizer)."""
        return [] if self._allocator is None else self._allocator.fallbacks

    def optimizer_estimates(self, sf: SignalFrame, dates: pd.DatetimeIndex,
                            anchor: dict[str, float]) -> tuple[pd.Series, pd.DataFrame]:
        """The optimizer's expected excess returns and covariance at the last of ``dates``.

        The trailing window, regime and cash rate :meth:`weights` gives the optimizer at that
        decision (:meth:`backtest.optimizer.allocator.CvxAllocator.estimates`); ``anchor`` is
        its base weights there (``explain()["anchor"]``). Needs an ``optimizer`` block.

        Returns
        -------
        mu : pd.Series
            Annualised expected excess return per asset of the rules.
        cov : pd.DataFrame
            Annualised covariance.
        """
        assets = list(self.rules.assets)
        dates = pd.DatetimeIndex(dates)
        ctx = Context(sf, dates)
        d, inputs = list(self._optimizer_inputs(sf, dates, ctx))[-1]
        alloc = self._new_allocator()
        return alloc.estimates(d, inputs.pop("returns_window"),
                               base_weights=pd.Series(anchor).reindex(assets).fillna(0.0), **inputs)

    def _new_allocator(self) -> Any:
        from backtest.optimizer import make_allocator

        return make_allocator(self.rules.optimizer, list(self.rules.assets), name=self.name)

    def _optimizer_inputs(self, sf: SignalFrame, dates: pd.DatetimeIndex,
                          ctx: Context) -> Iterator[tuple[pd.Timestamp, dict[str, Any]]]:
        """Per decision date, the allocator's trailing inputs (window, regimes, regime, cash rate)."""
        rets = sf.returns().reindex(columns=list(self.rules.assets))
        ppos = ctx.positions(rets.index)
        rf = ctx.values("cash_rate") / 100.0
        win = self.rules.optimizer.estimator.window
        reg = sf.regime.reindex(rets.index)
        for r, d in enumerate(pd.DatetimeIndex(dates)):
            p = int(ppos[r])
            lo = max(p - win + 1, 0)
            yield d, {"returns_window": rets.iloc[lo:p + 1], "regime_window": reg.iloc[lo:p + 1],
                      "current_regime": ctx.regime[r] or None, "rf": float(rf[r]) if np.isfinite(rf[r]) else 0.0}

    def _optimise(self, A: np.ndarray, sf: SignalFrame, dates: pd.DatetimeIndex, ctx: Context) -> np.ndarray:
        """The cvxpy allocator at each decision of one history, anchored on the rule weights ``A`` (K, n)."""
        assets = list(self.rules.assets)
        self._allocator = self._new_allocator()  # fresh fallback records per call
        out = A.copy()
        prev: pd.Series | None = None
        for r, (d, inputs) in enumerate(self._optimizer_inputs(sf, dates, ctx)):
            w = self._allocator.allocate(d, inputs.pop("returns_window"), prev_weights=prev,
                                         base_weights=pd.Series(A[r], index=assets), **inputs)
            out[r] = w.reindex(assets).fillna(0.0).to_numpy()
            prev = w
        return out


def _tilt_reason(on: bool, when: str, exit_when: str | None) -> str:
    """Why a tilt is on or off at a decision, from the states of its conditions there."""
    if on:
        return "its conditions hold" if when == "true" else "held for its minimum holding time"
    if exit_when == "true":
        return "forced off by its exit condition"
    if when == "true":
        return "an added asset has no price yet"
    if when == "unknown":
        return "a signal it reads is missing (missing data never switches a tilt on)"
    return "its conditions do not hold"


# ------------------------------------------------------------------- helpers for other kinds


def rules_params(spec: dict[str, Any]) -> RegimeRulesParams:
    """Validate a ``regime_rules`` params mapping built by another kind (ValueError, one line)."""
    try:
        return RegimeRulesParams.model_validate(spec)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None


class CompiledToRules(Params):
    """Params of a kind that compiles to ``regime_rules`` params (a :class:`RulesBacked` kind).

    The kind's after-validator builds the ``regime_rules`` mapping and returns
    ``self.keep_rules(spec)``; :attr:`rules_params` is the validated result.
    """

    _rules: RegimeRulesParams | None = PrivateAttr(None)

    def keep_rules(self, spec: dict[str, Any]) -> Any:
        """Validate ``spec`` as ``regime_rules`` params (ValueError, one line), keep them, return ``self``."""
        self._rules = rules_params(spec)
        return self

    @property
    def rules_params(self) -> RegimeRulesParams:
        """The equivalent ``regime_rules`` params."""
        assert self._rules is not None
        return self._rules


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
        """Target weights of the underlying rules (their batch form on the history as a batch of one)."""
        return self.impl.weights(sf, dates)

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Batch form of the underlying rules, shape (K, P, n)."""
        return self.impl.batch_weights(bs)

    @classmethod
    def batch_variants(cls, strats: list[Any], bs: BatchSignals) -> list[np.ndarray] | None:
        """:meth:`RegimeRules.batch_variants` of the underlying rules."""
        return RegimeRules.batch_variants([s.impl for s in strats], bs)

    def tilt_states(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Active tilts of the underlying rules."""
        return self.impl.tilt_states(sf, dates)

    def explain(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> dict[str, Any]:
        """Why the underlying rules' weights at the last decision date are what they are (:meth:`RegimeRules.explain`)."""
        return self.impl.explain(sf, dates)

    def optimizer_estimates(self, sf: SignalFrame, dates: pd.DatetimeIndex,
                            anchor: dict[str, float]) -> tuple[pd.Series, pd.DataFrame]:
        """The underlying rules' optimizer inputs at the last decision (:meth:`RegimeRules.optimizer_estimates`)."""
        return self.impl.optimizer_estimates(sf, dates, anchor)

    @property
    def fallbacks(self) -> list[dict[str, Any]]:
        """Optimizer fallbacks of the underlying rules."""
        return self.impl.fallbacks
