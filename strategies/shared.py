"""Inputs shared by many variants of a strategy on one history (the tuner's variant batch).

A tuning run evaluates hundreds of variants of one strategy on the same point-in-time
inputs (one :class:`~backtest.signals.SignalFrame`, one set of decision dates) that differ
only in a few params (tilt sizes, say). Much of a rule-based strategy's work does not
depend on those params: the signal values at the decision dates, each tilt's on/off state
(its conditions and holding times), the short-vol sleeve's trailing volatility, the
steepener's hedge ratio from the curve. Inside :func:`shared_history` those pieces are
computed once, by the first variant that needs them, and reused by the others.

Every memoised piece is keyed by everything it depends on (hashable config values), and a
variant takes the very arrays the first one computed, so each variant's weights are
bit-for-bit those of a lone ``weights()`` call. Outside a :func:`shared_history` block (or
for another signal frame or other dates), :func:`memo` just calls its function.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class SharedHistory:
    """The memo of one history: the signal frame, the decision dates and the cached pieces."""

    sf: Any
    dates: Any
    cache: dict[Hashable, Any] = field(default_factory=dict)
    hits: int = 0


_CURRENT: ContextVar[SharedHistory | None] = ContextVar("rmpbt_shared_history", default=None)


@contextmanager
def shared_history(sf: Any, dates: Any) -> Iterator[SharedHistory]:
    """Share param-independent work between the ``weights(sf, dates)`` calls inside the block.

    Parameters
    ----------
    sf : SignalFrame
        The history every variant is evaluated on (compared by identity).
    dates : pd.DatetimeIndex
        Its decision dates (compared by value).

    Yields
    ------
    SharedHistory
        The memo (for tests and diagnostics: ``len(memo.cache)``, ``memo.hits``).
    """
    memo = SharedHistory(sf, dates)
    token = _CURRENT.set(memo)
    try:
        yield memo
    finally:
        _CURRENT.reset(token)


def _active(sf: Any, dates: Any) -> SharedHistory | None:
    memo = _CURRENT.get()
    if memo is None or memo.sf is not sf:
        return None
    if memo.dates is not dates and not (len(memo.dates) == len(dates) and memo.dates.equals(dates)):
        return None
    return memo


def memo(sf: Any, dates: Any, key: Hashable, fn: Callable[[], T]) -> T:
    """``fn()``, computed once per ``key`` inside a :func:`shared_history` block on ``(sf, dates)``.

    ``key`` must name everything ``fn``'s result depends on besides ``sf`` and ``dates``.
    The cached object is returned as is: callers must not modify it.
    """
    m = _active(sf, dates)
    if m is None:
        return fn()
    try:
        hit = key in m.cache
    except TypeError:  # an unhashable key (a config value that is a list): no sharing
        return fn()
    if hit:
        m.hits += 1
        return m.cache[key]
    out = fn()
    m.cache[key] = out
    return out


def variant_weights(strats: list[Any], sf: Any, dates: Any) -> list[Any]:
    """Weights of several variants of one strategy kind on one history, in order.

    When every variant is of one class with a ``variant_weights(strats, sf, dates)``
    classmethod (the rule-based kinds: one vectorised call over the variants' stacked
    rows), that form; where it declines (returns None), or for other kinds, one
    ``weights(sf, dates)`` call per variant. Call it inside :func:`shared_history`.
    """
    if strats:
        cls = type(strats[0])
        fn = getattr(cls, "variant_weights", None)
        if fn is not None and all(type(s) is cls for s in strats):
            out = fn(strats, sf, dates)
            if out is not None:
                return list(out)
    return [s.weights(sf, dates) for s in strats]


@dataclass
class DeferredChecks:
    """Validation checks postponed while many variants are built (see :func:`deferred_checks`).

    ``items[i]`` is checked by ``checkers[i]``, a function of a list of items (one kind of
    check) returning the position of the first failing one, or None.
    """

    items: list[Any] = field(default_factory=list)
    checkers: list[Callable[[list[Any]], int | None]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def first_failure(self) -> int | None:
        """Position (in registration order) of the first item that fails its check, or None.

        One call of each checker over all the items registered with it.
        """
        groups: dict[Any, list[int]] = {}
        for i, fn in enumerate(self.checkers):
            groups.setdefault(fn, []).append(i)
        bad: list[int] = []
        for fn, pos in groups.items():
            j = fn([self.items[i] for i in pos])
            if j is not None:
                bad.append(pos[j])
        return min(bad) if bad else None


_DEFERRED: ContextVar[DeferredChecks | None] = ContextVar("rmpbt_deferred_checks", default=None)


@contextmanager
def deferred_checks() -> Iterator[DeferredChecks]:
    """Postpone the batchable validation checks of the strategies built inside the block.

    A strategy's params validation may register a check with :func:`defer_check` instead
    of running it (e.g. the funding check of every tilt combination of a rule set). The
    caller must run :meth:`DeferredChecks.first_failure` before using what was built, and
    rebuild a failing variant outside the block to get its own error.

    Yields
    ------
    DeferredChecks
        The registered checks, in registration order.
    """
    checks = DeferredChecks()
    token = _DEFERRED.set(checks)
    try:
        yield checks
    finally:
        _DEFERRED.reset(token)


def defer_check(item: Any, check_many: Callable[[list[Any]], int | None]) -> bool:
    """Register ``item`` for ``check_many`` inside :func:`deferred_checks`; False outside it.

    ``check_many`` (a module-level function: checks are grouped by it) takes a list of
    items and returns the position of the first failing one, or None. When this returns
    False the caller runs its check at once.
    """
    checks = _DEFERRED.get()
    if checks is None:
        return False
    checks.items.append(item)
    checks.checkers.append(check_many)
    return True


__all__ = ["DeferredChecks", "SharedHistory", "defer_check", "deferred_checks", "memo", "shared_history",
           "variant_weights"]
