"""Fault injection decisions (pure) and the rate limiter."""

from __future__ import annotations

import random

import pytest

from pipeline.sim.faults import Drop, FaultInjector, FaultPlan, Pause, Send
from pipeline.sim.limits import Limit, RateLimiter


def injector(seed: int = 1, **plan: object) -> FaultInjector:
    return FaultInjector(FaultPlan.from_mapping(plan), random.Random(seed))


def sent(actions: list[object]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Send)]


def test_plan_parses_the_cli_form_and_refuses_nonsense() -> None:
    plan = FaultPlan.parse("duplicate=0.1, reorder=0.2,slow_ms=5-9,reorder_window=4")
    assert (plan.duplicate, plan.reorder, plan.slow_ms, plan.reorder_window) == (
        0.1,
        0.2,
        (5, 9),
        4,
    )
    assert FaultPlan.parse("") == FaultPlan()
    assert not FaultPlan().active
    for bad, message in (
        ("duplicate=2", "probability"),
        ("bogus=0.1", "unknown fault"),
        ("slow_ms=9-5", "out of range"),
    ):
        with pytest.raises(ValueError, match=message):
            FaultPlan.parse(bad)


def test_no_faults_sends_each_frame_once_in_order() -> None:
    faults = injector()
    assert [sent(faults.outgoing(str(i))) for i in range(5)] == [[str(i)] for i in range(5)]


def test_duplicate_sends_the_frame_twice() -> None:
    assert sent(injector(duplicate=1.0).outgoing("f")) == ["f", "f"]


def test_drop_closes_instead_of_sending() -> None:
    assert injector(drop=1.0).outgoing("f") == [Drop()]


def test_malformed_adds_a_corrupt_copy_before_the_real_frame() -> None:
    frames = sent(injector(malformed=1.0).outgoing('{"a": 1}'))
    assert frames[-1] == '{"a": 1}'
    assert len(frames) == 2
    assert frames[0] != frames[1]


def test_slow_pauses_before_sending() -> None:
    actions = injector(slow=1.0, slow_ms=(10, 10)).outgoing("f")
    assert actions == [Pause(0.01), Send("f")]


def test_reorder_changes_order_but_loses_and_invents_nothing() -> None:
    faults = injector(seed=3, reorder=0.5, reorder_window=3)
    out: list[str] = []
    frames = [str(i) for i in range(200)]
    for frame in frames:
        out += sent(faults.outgoing(frame))
    out += sent(faults.flush())
    assert sorted(out, key=int) == frames
    assert out != frames
    assert faults.counts["reorder"] > 0


def test_same_seed_same_decisions() -> None:
    def run(seed: int) -> list[object]:
        faults = injector(seed, duplicate=0.3, reorder=0.3, malformed=0.2)
        return [faults.outgoing(str(i)) for i in range(100)]

    assert run(9) == run(9)
    assert run(9) != run(10)


def test_replies_are_only_ever_slowed() -> None:
    faults = injector(duplicate=1.0, reorder=1.0, malformed=1.0, slow=0.0)
    assert faults.reply("r") == [Send("r")]


def test_rate_limiter_sliding_window_and_cost() -> None:
    limiter = RateLimiter({"g": Limit(2, 1000)})
    assert limiter.allow("g", "k", 0)
    assert limiter.allow("g", "k", 500)
    assert not limiter.allow("g", "k", 999)
    assert limiter.retry_after_ms("g", "k", 999) == 1
    assert limiter.allow("g", "k", 1000)
    assert limiter.allow("g", "other", 1000)
    assert not limiter.allow("g", "k", 1600, cost=2)
    assert limiter.remaining("g", "k", 1600) == 1
