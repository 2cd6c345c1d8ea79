"""The fold's fast paths agree with the general rules they shortcut (hypothesis).

- `NEXT_STATUS` is `next_status` precomputed;
- an earlier copy of an event already held replaces it (`REPLACED`), in any arrival order,
  including for orders long enough to keep checkpoints;
- `PositionLedger.apply_one` (the book's path for an ordinary execution) is
  `apply_batch([fill], version + 1)`.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from domain_builders import T0, event, fill
from hypothesis import given, settings
from hypothesis import strategies as st
from test_order_properties import order_events

from pipeline.domain.errors import InvalidQuantityError
from pipeline.domain.events import OrderStatus, Side
from pipeline.domain.ledger import CHECKPOINT_EVERY, OrderLedger
from pipeline.domain.orders import order_sort_key
from pipeline.domain.positions import PositionLedger
from pipeline.domain.transitions import NEXT_STATUS, next_status

KEY = ("upbit", "acc", "o1")


def test_next_status_table_is_next_status() -> None:
    for current in (None, *OrderStatus):
        for incoming in OrderStatus:
            for snapshot in (False, True, None):
                assert NEXT_STATUS[snapshot][(current, incoming)] == next_status(
                    current, incoming, bool(snapshot)
                )


def fold(events):
    ledger = OrderLedger(KEY)
    emitted = {}
    for e in events:
        update = ledger.apply(e)
        for f in update.fills if update else []:
            emitted[f.trade_id] = f
    return ledger, {tid: f for tid, f in emitted.items() if f.qty}


@st.composite
def events_with_copies(draw, max_size=8, same_content=True):
    """Distinct events plus copies of some of them (same event id) received earlier or
    later; unless `same_content`, some copies also differ in content (a venue reusing an
    id, which the ledger documents as making fills, not states, depend on arrival)."""
    events = draw(order_events(max_size=max_size))
    copies = []
    for original in draw(st.lists(st.sampled_from(events), max_size=6)):
        change = {"received_at": original.received_at + draw(st.integers(-5, 5))}
        if not same_content and draw(st.booleans()):
            change["event_time"] = original.event_time + draw(st.integers(-2, 2))
        if not same_content and draw(st.booleans()):
            change["filled_qty"] = draw(st.decimals(min_value=0, max_value=20, places=1))
        copies.append(dataclasses.replace(original, **change))
    return events, copies


def kept_copies(events):
    """Per event id, the copy the ledger keeps: the least (sort key, received_at)."""
    kept = {}
    for e in events:
        held = kept.get(e.event_id)
        if held is None or (order_sort_key(e), e.received_at) < (
            order_sort_key(held),
            held.received_at,
        ):
            kept[e.event_id] = e
    return sorted(kept.values(), key=order_sort_key)


@settings(max_examples=300, deadline=None)
@given(drawn=events_with_copies(), data=st.data())
def test_earliest_copy_is_kept_whatever_the_arrival(drawn, data):
    events, copies = drawn
    arrival = data.draw(st.permutations(events + copies))
    by_arrival, arrival_fills = fold(arrival)
    by_sort, sorted_fills = fold(kept_copies(arrival))
    assert by_arrival.state == by_sort.state
    assert len(by_arrival) == len(by_sort) == len({e.event_id for e in events})
    assert arrival_fills.keys() == sorted_fills.keys()


@settings(max_examples=200, deadline=None)
@given(drawn=events_with_copies(same_content=False), data=st.data())
def test_state_of_earliest_copies_whatever_the_arrival_even_if_content_differs(drawn, data):
    events, copies = drawn
    arrival = data.draw(st.permutations(events + copies))
    assert fold(arrival)[0].state == fold(kept_copies(arrival))[0].state


@settings(max_examples=60, deadline=None)
@given(
    drawn=events_with_copies(max_size=4 * CHECKPOINT_EVERY, same_content=False),
    data=st.data(),
)
def test_long_orders_refold_from_checkpoints_like_a_full_fold(drawn, data):
    events, copies = drawn
    arrival = data.draw(st.permutations(events + copies))
    ledger, _ = fold(arrival)
    assert ledger.state == fold(kept_copies(arrival))[0].state


positions_fills = st.lists(
    st.tuples(
        st.integers(0, 5),  # trade id
        st.sampled_from([Side.BUY, Side.SELL]),
        st.decimals(min_value=0, max_value=5, places=1),  # 0 voids
        st.decimals(min_value=90, max_value=110, places=0),
        st.integers(0, 6),  # trade time offset: late fills too
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(drawn=positions_fills)
def test_position_apply_one_is_apply_batch_of_one(drawn):
    fast = PositionLedger(("upbit", "acc", "BTC/KRW"))
    reference = PositionLedger(("upbit", "acc", "BTC/KRW"))
    for trade, side, qty, price, at in drawn:
        f = fill(f"t{trade}", qty, price, side=side, at=T0 + at, fee=Decimal("0.1"))
        out: list = []
        fast.apply_one(f, out)
        assert out == [reference.apply_batch([f], reference.version + 1)]
        assert fast.version == reference.version
    assert fast.position == reference.position


def test_illegal_earlier_copy_changes_nothing() -> None:
    first = event("e1", OrderStatus.OPEN, at=T0, qty="2")
    second = event("e2", OrderStatus.PARTIALLY_FILLED, at=T0 + 1, qty="2", filled_qty="1")
    ledger = OrderLedger(KEY)
    ledger.apply(first)
    ledger.apply(second)
    before = (ledger.state, len(ledger))
    bad_copy = dataclasses.replace(second, received_at=second.received_at - 1, qty=Decimal(-1))
    with pytest.raises(InvalidQuantityError):
        ledger.apply(bad_copy)
    assert (ledger.state, len(ledger)) == before
    assert ledger.apply(second) is None  # still held: a duplicate
    good_copy = dataclasses.replace(second, received_at=second.received_at - 1)
    assert ledger.apply(good_copy).state == before[0]
