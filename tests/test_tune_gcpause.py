"""backtest.tune.gcpause: the collector is paused inside, restored after, and no cycle is kept for good."""

from __future__ import annotations

import gc
import weakref

from backtest.tune.gcpause import collector_paused


class Node:
    """Something that can sit in a reference cycle and be watched by a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def make_cycle() -> weakref.ref:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_paused_inside_restored_after_and_cycles_made_inside_are_collected_later():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        ref = make_cycle()
        gc.collect(0)  # an explicit young pass still works; the point is no automatic ones
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.collect()
    assert ref() is None


def test_nested_and_disabled_states_are_respected():
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one does not re-enable
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # was off: stays off
    finally:
        gc.enable()


def test_objects_someone_else_froze_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            make_cycle()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_works_as_a_decorator():
    @collector_paused()
    def inside() -> bool:
        return gc.isenabled()

    assert inside() is False and gc.isenabled()
