"""Validation checks deferred while many variants of a strategy are built (the tuner).

A tune builds hundreds of variants of one strategy whose params differ in a few values.
Some checks of a kind's params are far cheaper on all the variants at once (the funding of
every tilt combination of a rule set: one vectorised call over the stacked variants):
inside :func:`deferred_checks` a kind registers such a check with :func:`defer_check`
instead of running it, and the tuner runs them together before it uses what was built.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


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


__all__ = ["DeferredChecks", "defer_check", "deferred_checks"]
