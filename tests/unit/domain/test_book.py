"""The trading book: one apply per event, outputs, arrival independence, eviction."""

from __future__ import annotations

from domain_builders import T0, event, fill
from hypothesis import given, settings
from hypothesis import strategies as st
from test_order_properties import order_events

from pipeline.domain.book import TradingBook
from pipeline.domain.events import Fill, OrderStatus, Side
from pipeline.domain.orders import OrderState
from pipeline.domain.positions import Position, PositionLedger

S = OrderStatus
POS = ("upbit", "acc", "BTC/KRW")


def run(events):
    book = TradingBook()
    outputs = [out for e in events for out in book.apply(e)]
    return book, outputs


def test_book_fill_event_outputs_state_fill_position():
    f = fill("t1", "1", "100")
    book, outputs = run([event("e1", S.PARTIALLY_FILLED, qty="2", fill=f)])
    state, emitted, position = outputs
    assert isinstance(state, OrderState)
    assert state.filled_qty == 1
    assert emitted == f
    assert isinstance(position, Position)
    assert (position.qty, position.version) == (1, 1)
    assert book.position(POS) == position


def test_book_status_only_event_outputs_state_only():
    _, outputs = run([event("e1", S.OPEN, qty="2")])
    assert [type(o) for o in outputs] == [OrderState]


def test_book_duplicate_outputs_nothing_and_is_counted():
    e = event("e1", S.OPEN, qty="2")
    book = TradingBook()
    book.apply(e)
    assert book.apply(e) == []
    assert book.duplicates == 1


def test_book_late_event_is_counted():
    book, _ = run([event("e2", S.OPEN, at=T0 + 5, qty="1"), event("e1", S.OPEN, qty="1")])
    assert book.late_events == 1


def test_book_evicts_terminal_orders_after_retention():
    book, _ = run(
        [
            event("a1", S.FILLED, order_id="a", qty="1", fill=fill("t1", "1", "100", order_id="a")),
            event("b1", S.OPEN, order_id="b", qty="1"),
        ]
    )
    assert book.evict(now_ms=T0 + 999, retention_ms=1000) == []
    assert book.evict(now_ms=T0 + 1000, retention_ms=1000) == [("upbit", "acc", "a")]
    assert book.order(("upbit", "acc", "a")) is None
    assert book.order_count == 1
    assert book.position(POS).qty == 1


def test_book_event_after_eviction_changes_no_order_but_fill_reaches_position():
    late_fill = fill("t2", "1", "100", order_id="a", at=T0 + 1)
    book, _ = run([event("a1", S.CANCELED, order_id="a", qty="2")])
    book.evict(now_ms=T0 + 10, retention_ms=1)
    assert book.apply(event("a0", S.OPEN, order_id="a", qty="2")) == []
    outputs = book.apply(event("a2", S.CANCELED, order_id="a", at=T0 + 1, fill=late_fill))
    assert [type(o) for o in outputs] == [Position]
    assert outputs[0].qty == 1
    assert book.after_eviction == 2
    assert book.order(("upbit", "acc", "a")) is None


def test_book_tombstones_forgotten_after_tombstone_period():
    book = TradingBook(tombstone_ms=100)
    book.apply(event("a1", S.CANCELED, order_id="a", qty="2"))
    book.evict(now_ms=T0 + 10, retention_ms=1)
    book.evict(now_ms=T0 + 200, retention_ms=1)
    assert book.apply(event("a0", S.OPEN, order_id="a", qty="2"))[0].status is S.OPEN


@st.composite
def book_events(draw):
    events = []
    for order_id, symbol in (("o1", "BTC/KRW"), ("o2", "BTC/KRW"), ("o3", "ETH/KRW")):
        events.extend(draw(order_events(order_id=order_id, symbol=symbol, max_size=5)))
    return events


def positions_by_key(book):
    return {p.key: p for p in book.positions()}


@settings(max_examples=150, deadline=None)
@given(events=book_events(), data=st.data())
def test_book_any_arrival_order_same_orders_positions_and_versions(events, data):
    arrival = data.draw(st.permutations(events))
    arrival = arrival + data.draw(st.lists(st.sampled_from(events), max_size=4))
    first, outputs = run(events)
    second, _ = run(arrival)
    assert sorted(first.orders(), key=lambda s: s.key) == sorted(
        second.orders(), key=lambda s: s.key
    )
    assert positions_by_key(first) == positions_by_key(second)
    # The last position row emitted per key is the book's final position (what a table keeps).
    last = {}
    for out in outputs:
        if isinstance(out, Position):
            assert out.version > last.get(out.key, out).version or out.key not in last
            last[out.key] = out
    assert last == positions_by_key(first)


@settings(max_examples=150, deadline=None)
@given(events=book_events(), data=st.data())
def test_book_position_equals_fold_of_emitted_fills(events, data):
    arrival = data.draw(st.permutations(events))
    book, outputs = run(arrival)
    held: dict[tuple[str, str], Fill] = {}
    for out in outputs:
        if isinstance(out, Fill):
            held[(out.order_id, out.trade_id)] = out
    for key, position in positions_by_key(book).items():
        ledger = PositionLedger(key)
        for f in held.values():
            if f.position_key == key and f.qty:
                ledger.apply(f)
        expected = ledger.position
        assert (position.qty, position.avg_price, position.realized_pnl, position.fees) == (
            expected.qty,
            expected.avg_price,
            expected.realized_pnl,
            expected.fees,
        )
        assert position.qty == sum(
            (f.qty if f.side is Side.BUY else -f.qty)
            for f in held.values()
            if f.position_key == key
        )
