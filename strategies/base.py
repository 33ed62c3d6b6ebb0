"""The Strategy protocol, the registry of strategy kinds, and shared helpers.

A strategy kind is a class registered by name with :func:`register`, together with a
pydantic model of its params (``extra="forbid"``). The framework validates a config's
``params`` against that model, builds the strategy, and asks it for target weights at
decision dates from a point-in-time :class:`~backtest.signals.SignalFrame`.

Weights returned are fractions of portfolio value per asset; the cash weight is
``1 - sum``. A row of all-NaN means "keep what you hold" (no rebalance).

Written once, in array form. A kind implements :class:`BatchStrategy`: its weights for many
paths at once (scenario runs evaluate 10,000 simulated histories; a tune, its variants on one
history), from a :class:`BatchSignals` whose arrays carry a trailing batch axis. A single
history is a batch of one (:class:`strategies.history.HistoryBatch`): a kind deriving from
:class:`BatchKind` gets ``weights`` from its batch form. A strategy with only a one-history
``weights`` (a user's kind), or whose ``batch_weights`` raises :class:`Unsupported` for a
given config, or a subclass that overrides ``weights`` but not ``batch_weights``, is
evaluated path by path through ``weights``; callers never name concrete strategy classes.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

import strategies
from backtest.config import STRICT_INPUT, format_validation_error
from backtest.errors import ConfigError, Unsupported
from backtest.optimizer.models import EstimatorConfig
from backtest.signals import SignalFrame
from strategies.history import HistoryBatch


class Params(BaseModel):
    """Base of every strategy's params model: unknown keys are errors."""

    model_config = STRICT_INPUT  # no coercion: one rule for every input (backtest.config)


class Strategy(Protocol):
    """What the framework needs from a strategy instance."""

    name: str

    def weights(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Target weights at each decision date (rows) per asset (columns)."""
        ...

    def assets(self) -> list[str]:
        """Assets the strategy may hold (for universe checks and data loading)."""
        ...


class BatchSignals(Protocol):
    """Point-in-time inputs of a batch of ``P`` paths at ``K`` decision dates.

    The paths share one calendar (decision dates, trading days, listings) and differ in
    values. Arrays are ``(K, P)``: decision dates first, the batch axis last — the shape the
    rule conditions of :mod:`strategies.rules_engine` evaluate on.

    Attributes
    ----------
    dates : pd.DatetimeIndex, shape (K,)
        Decision dates.
    rows : np.ndarray of int, shape (K,)
        Trading-day position of each decision date in the paths' calendar (the row of
        :meth:`prices`).
    shape : tuple of int
        ``(K, P)``.
    regime, regime_known : np.ndarray, shape (K, P)
        Regime label as of each decision date (``""`` where unknown) and whether it is known.
    """

    dates: pd.DatetimeIndex
    rows: np.ndarray
    shape: tuple[int, ...]
    regime: np.ndarray
    regime_known: np.ndarray

    def values(self, name: str, lookback: int = 0) -> np.ndarray:
        """Signal ``name`` as of each decision date (or ``lookback`` trading rows earlier), (K, P).

        Raises :class:`Unsupported` for a signal the batch cannot compute.
        """
        ...

    def listed(self, assets: list[str]) -> np.ndarray:
        """Whether each asset has a price at each decision date, bool (K, n) (same for every path)."""
        ...

    def prices(self, assets: list[str], lo: int, hi: int) -> np.ndarray:
        """Closes on calendar rows ``lo .. hi - 1`` (NaN before row 0 or before listing), (hi - lo, P, n)."""
        ...

    def member(self, b: int) -> str:
        """How an error message names batch member ``b`` (e.g. ``"path 12"``)."""
        ...


class BatchStrategy(Protocol):
    """A strategy with a vectorised form over a batch of paths."""

    def assets(self) -> list[str]:
        """Columns of the batch weights."""
        ...

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Target weights ``(K, P, n)`` over :meth:`assets` (NaN rows: hold); the same numbers
        ``weights`` gives on each path's own history. Raises :class:`Unsupported` if this
        instance (its config, or a subclass overriding ``weights``) has no batch form."""
        ...


def batch_weights(strategy: object, bs: BatchSignals) -> np.ndarray:
    """The strategy's batch form, shape (K, P, n) over ``strategy.assets()``.

    Raises
    ------
    Unsupported
        The strategy has no ``batch_weights``, it declines this config, or its class
        overrides ``weights`` below the class that defines ``batch_weights`` (that batch
        form would not compute the overriding weights).
    """
    fn = getattr(strategy, "batch_weights", None)
    if fn is None:
        raise Unsupported(f"kind {getattr(strategy, 'kind', type(strategy).__name__)} has no batch form")
    _check_batch_form(type(strategy))
    w = np.asarray(fn(bs), dtype=float)
    k_n, p_n = bs.shape
    if w.shape != (k_n, p_n, len(strategy.assets())):  # type: ignore[attr-defined]
        raise ValueError(f"batch_weights of {type(strategy).__name__} returned shape {w.shape}, "
                         f"expected {(k_n, p_n, len(strategy.assets()))}")  # type: ignore[attr-defined]
    return w


def variant_batch_weights(strats: list[Any], bs: BatchSignals) -> list[np.ndarray]:
    """Batch weights of several variants of one kind on one batch, in order: ``(K, P, n_i)`` each.

    The variants of a tune are one more batch axis: when every variant is of one class with
    a ``batch_variants(strats, bs)`` classmethod (the rule-based kinds: one vectorised
    tilt/cap call per rule structure), that form; where it declines (returns None), or for
    other kinds, :func:`batch_weights` per variant. On a caching batch
    (:class:`~strategies.history.HistoryBatch`) the variants share their param-independent
    work either way.

    Raises
    ------
    Unsupported
        Some variant has no batch form (see :func:`batch_weights`).
    """
    if strats:
        cls = type(strats[0])
        fn = getattr(cls, "batch_variants", None)
        if fn is not None and all(type(s) is cls for s in strats):
            _check_batch_form(cls)
            out = fn(strats, bs)
            if out is not None:
                return [np.asarray(w, dtype=float) for w in out]
    return [batch_weights(s, bs) for s in strats]


def _check_batch_form(cls: type) -> None:
    """Unsupported when ``cls`` overrides ``weights`` below the class that defines ``batch_weights``."""
    w_def, b_def = _definer(cls, "weights"), _definer(cls, "batch_weights")
    if w_def is not None and b_def is not None and w_def is not b_def and issubclass(w_def, b_def):
        raise Unsupported(f"{cls.__name__} overrides weights()")


def _definer(cls: type, name: str) -> type | None:
    """The class of ``cls``'s MRO that defines attribute ``name``."""
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


class BatchKind:
    """Base of a kind written once, in array form: ``weights`` is ``batch_weights`` on a batch of one.

    A subclass implements ``assets()`` and ``batch_weights(bs)`` (:class:`BatchStrategy`);
    its single-history weights are then its batch weights on
    :class:`~strategies.history.HistoryBatch` (``P = 1``), bit for bit.
    """

    def assets(self) -> list[str]:
        """Columns of the weights."""
        raise NotImplementedError

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Target weights (K, P, n) over :meth:`assets` (NaN rows: hold)."""
        raise NotImplementedError

    def weights(self, sf: SignalFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Target weights at each decision date: the batch form on the history as a batch of one."""
        hb = HistoryBatch(sf, dates)
        w = batch_weights(self, hb)
        return pd.DataFrame(w[:, 0, :], index=hb.dates, columns=self.assets())


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy kind."""

    kind: str
    cls: type
    params: type[Params]
    doc: str


REGISTRY: dict[str, StrategySpec] = {}


def register(kind: str, params: type[Params]):
    """Class decorator registering a strategy kind with its params model.

    The class must accept ``(name: str, params: <params model>)`` and implement
    :class:`Strategy`.
    """

    def deco(cls: type) -> type:
        REGISTRY[kind] = StrategySpec(kind, cls, params, (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "")
        cls.kind = kind  # type: ignore[attr-defined]
        return cls

    return deco


_LOADED = False


def load_all() -> dict[str, StrategySpec]:
    """Import every module of the ``strategies`` package so that kinds register.

    Returns
    -------
    dict[str, StrategySpec]
        The registry, ``kind -> spec``.
    """
    global _LOADED
    if not _LOADED:
        for mod in pkgutil.iter_modules(strategies.__path__):
            if mod.name != "base":
                importlib.import_module(f"strategies.{mod.name}")
        _LOADED = True
    return REGISTRY


def load_kind(kind: str) -> StrategySpec | None:
    """The spec of one kind, importing only its module when the catalogue knows it.

    Parameters
    ----------
    kind : str
        A strategy kind.

    Returns
    -------
    StrategySpec or None
        None when no module registers ``kind``.
    """
    if kind not in REGISTRY and kind in strategies.KINDS:
        importlib.import_module(strategies.KINDS[kind][0])
    if kind not in REGISTRY:
        load_all()
    return REGISTRY.get(kind)


def _spec(kind: str, where: str) -> StrategySpec:
    if load_kind(kind) is None:
        reg = load_all()
        close = difflib.get_close_matches(kind, list(reg), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(reg))})"
        raise ConfigError(f"{where}.kind: unknown strategy kind {kind!r}{hint}")
    return REGISTRY[kind]


def validate_params(scfg: Any, origin: str) -> Params:
    """Validate a strategy config's params against its kind; one-line ConfigError."""
    where = f"{origin}: strategies.{scfg.name}"
    spec = _spec(scfg.kind, where)
    try:
        return spec.params.model_validate(scfg.params)
    except ValidationError as exc:
        raise ConfigError(
            format_validation_error(exc, origin, spec.params, prefix=f"strategies.{scfg.name}.params")
        ) from None


def validate_config(cfg: Any, origin: str) -> None:
    """Validate the params of every strategy of a ``RunConfig``; one-line ConfigError.

    Parameters
    ----------
    cfg : backtest.config.RunConfig
        A structurally valid run config.
    origin : str
        File name (or ``--grid``...) that error messages start with.

    Raises
    ------
    ConfigError
        On the first unknown kind or invalid params.
    """
    for scfg in cfg.strategies:
        validate_params(scfg, origin)
    built = [build_strategy(sc, origin) for sc in cfg.strategies]
    check_universe(cfg, origin, built)
    check_borrow_assets(cfg, origin, built)


def check_borrow_assets(cfg: Any, origin: str, built: list[Any] | None = None) -> None:
    """Per-asset borrow fees must name a ticker of the run (universe or a strategy's assets).

    ``built`` are the strategies already instantiated from ``cfg`` (built here otherwise).

    Raises
    ------
    ConfigError
        Naming ``costs.borrow_bps_by_asset.<ticker>`` and the closest known ticker.
    """
    if not cfg.costs.borrow_bps_by_asset:
        return
    known = set(cfg.data.universe)
    for s in built if built is not None else [build_strategy(sc, origin) for sc in cfg.strategies]:
        known.update(s.assets())
    for k in cfg.costs.borrow_bps_by_asset:
        if k not in known:
            close = difflib.get_close_matches(k, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{origin}: costs.borrow_bps_by_asset.{k}: unknown ticker{hint}")


def check_universe(cfg: Any, origin: str, built: list[Any] | None = None) -> None:
    """Strategies may hold only assets of the universe (``data.universe``).

    ``built`` are the strategies already instantiated from ``cfg`` (built here otherwise).

    Raises
    ------
    ConfigError
        Naming the strategy, the asset and ``data.universe``.
    """
    universe = set(cfg.data.universe)
    for s in built if built is not None else [build_strategy(sc, origin) for sc in cfg.strategies]:
        extra = [a for a in s.assets() if a not in universe]
        if extra:
            raise ConfigError(f"{origin}: unknown ticker {extra[0]}: strategies.{s.name} holds it but it is not in "
                              f"data.universe ({', '.join(cfg.data.universe)}): add it to the universe or remove it")


def estimation_windows(params: Any, path: str = "params") -> list[tuple[str, int]]:
    """Every optimizer estimation window in a strategy's params: ``(key path, trailing days)``."""
    if isinstance(params, EstimatorConfig):
        return [(f"{path}.window", int(params.window))]
    out: list[tuple[str, int]] = []
    if isinstance(params, BaseModel):
        for name in type(params).model_fields:
            out.extend(estimation_windows(getattr(params, name), f"{path}.{name}"))
    elif isinstance(params, dict):
        for k, v in params.items():
            out.extend(estimation_windows(v, f"{path}.{k}"))
    elif isinstance(params, list | tuple):
        for i, v in enumerate(params):
            out.extend(estimation_windows(v, f"{path}[{i}]"))
    return out


def check_history(strategies: list[Any], days: pd.DatetimeIndex, origin: str) -> None:
    """Refuse an optimizer estimation window longer than the history loaded (``days``).

    Raises
    ------
    ConfigError
        Naming the strategy's key, the window and the history available.
    """
    for s in strategies:
        params = getattr(s, "params", None)
        found = estimation_windows(params) if params is not None else []
        rules = getattr(s, "rules", None) or getattr(getattr(params, "rules_params", None), "rules", None)
        compiled = getattr(rules, "optimizer", None)  # rule strategies' (and the playbook's) optimizer block
        if compiled is not None:
            found += [w for w in estimation_windows(compiled, "params.optimizer") if w not in found]
        for path, window in found:
            if window > len(days):
                raise ConfigError(
                    f"{origin}: strategies.{s.name}.{path}: {window:,} trading days, longer than the "
                    f"{len(days):,} days of history loaded ({days[0].date()} to {days[-1].date()})")


def build_strategy(scfg: Any, origin: str = "<config>") -> Strategy:
    """Instantiate the strategy described by a ``StrategyConfig``."""
    params = validate_params(scfg, origin)
    spec = _spec(scfg.kind, f"{origin}: strategies.{scfg.name}")
    return spec.cls(scfg.name, params)


# ---------------------------------------------------------------------------- helpers


def check_weights_sum(weights: dict[str, float], where: str, target: float = 1.0, tol: float = 1e-6) -> None:
    """Raise ConfigError if ``weights`` do not sum to ``target`` within ``tol``."""
    total = float(sum(weights.values()))
    if abs(total - target) > tol:
        raise ValueError(f"weights sum to {total:.6g}, expected {target:g} ({where})")


def renormalise(w: pd.DataFrame, available: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Zero the weights of unlisted assets and rescale the rest to keep each row's net sum.

    Parameters
    ----------
    w : pd.DataFrame
        Target weights at decision dates.
    available : pd.DataFrame
        Boolean listing mask on (at least) the same dates and columns.

    Returns
    -------
    (pd.DataFrame, int)
        Adjusted weights, and the number of rows that had to be renormalised.
    """
    avail = available.reindex(index=w.index, columns=w.columns).fillna(False).astype(bool)
    held = w.notna().any(axis=1)
    filled = w.fillna(0.0)
    missing = (filled.abs() > 0) & ~avail
    rows = missing.any(axis=1) & held
    if not rows.any():
        return w, 0
    out = w.copy()
    for d in w.index[rows.to_numpy()]:
        row = filled.loc[d]
        keep = row.where(avail.loc[d], 0.0)
        total, kept = row.sum(), keep.sum()
        if kept != 0 and np.sign(kept) == np.sign(total):
            keep = keep * (total / kept)
        out.loc[d] = keep
    return out, int(rows.sum())
