"""GcPolicy: survivors frozen after each batch, cycles still collected every interval."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pipeline.streams.gcpolicy import YOUNG_THRESHOLD, GcPolicy


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_start_raises_the_young_generation_threshold() -> None:
    GcPolicy().start()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD


def test_after_batch_freezes_the_survivors() -> None:
    gc.unfreeze()
    kept = [_Node() for _ in range(100)]
    GcPolicy().after_batch()
    assert gc.get_freeze_count() >= len(kept)


def test_frozen_cycles_are_collected_at_the_next_full_interval() -> None:
    clock = _Clock()
    policy = GcPolicy(full_every_s=60, clock=clock)
    policy.start()
    held = _Node()
    held.other = _Node()
    held.other.other = held
    garbage = weakref.ref(held)
    policy.after_batch()  # the cycle is alive at the freeze ...
    del held  # ... and garbage after it
    gc.collect()
    assert garbage() is not None, "a frozen cycle is not collected"
    clock.now += 59
    policy.after_batch()
    assert garbage() is not None
    assert policy.full_collections == 0
    clock.now += 1
    policy.after_batch()
    assert garbage() is None
    assert policy.full_collections == 1


def test_a_cycle_already_garbage_at_the_batch_end_is_collected_not_frozen() -> None:
    policy = GcPolicy(full_every_s=60, clock=_Clock())
    policy.start()
    gc.unfreeze()
    garbage = _cycle()
    policy.after_batch()
    assert garbage() is None
    assert policy.full_collections == 0


@pytest.mark.parametrize("interval", [0, -5])
def test_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match=str(interval)):
        GcPolicy(full_every_s=interval)
