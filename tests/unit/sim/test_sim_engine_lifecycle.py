"""The engine's order lifecycle: cancels (whole, partial, deferred), amends, cancel-all, expiry."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.sim.engine import (
    ClientIdReuse,
    EndReason,
    EngineRejection,
    EventKind,
    Exchange,
    IdScheme,
    IdStyle,
    Instrument,
    Order,
    OrderRequest,
    OrderType,
    RejectCode,
    Side,
    Status,
    VenueRules,
)

D = Decimal
SYMBOL = "KRW-BTC"
T0 = 1_700_000_000_000


def make_exchange(**rules: object) -> Exchange:
    instrument = Instrument("upbit", SYMBOL, "BTC", "KRW", D(1000), D("0.0001"))
    return Exchange("upbit", [instrument], VenueRules(**rules), IdScheme(IdStyle.UUID, 7))  # type: ignore[arg-type]


def rest(
    ex: Exchange, account: str, side: Side, price: int, qty: str, now: int = T0, **kw: object
) -> Order:
    request = OrderRequest(
        account,
        SYMBOL,
        side,
        OrderType.LIMIT,
        qty=D(qty),
        price=D(price),
        **kw,  # type: ignore[arg-type]
    )
    return ex.place(request, now)[0]


def sell_market(ex: Exchange, qty: str, now: int) -> Order:
    return ex.place(OrderRequest("taker", SYMBOL, Side.SELL, OrderType.MARKET, qty=D(qty)), now)[0]


def test_cancel_ends_the_whole_remainder_and_keeps_fills() -> None:
    ex = make_exchange()
    order = rest(ex, "a", Side.BUY, 100_000, "1.0")
    sell_market(ex, "0.4", T0 + 1)
    events = ex.cancel(order.order_id, T0 + 2)
    assert [e.kind for e in events] == [EventKind.CANCELED]
    assert events[0].qty == D("0.6")
    assert (order.status, order.end_reason) == (Status.CANCELED, EndReason.USER)
    assert (order.filled_qty, order.canceled_qty, order.remaining) == (D("0.4"), D("0.6"), 0)


def test_cancel_of_a_closed_or_unknown_order_is_refused() -> None:
    ex = make_exchange()
    order = rest(ex, "a", Side.BUY, 100_000, "1")
    ex.cancel(order.order_id, T0 + 1)
    with pytest.raises(EngineRejection) as closed:
        ex.cancel(order.order_id, T0 + 2)
    assert closed.value.code is RejectCode.ORDER_CLOSED
    with pytest.raises(EngineRejection) as unknown:
        ex.cancel("nope", T0 + 2)
    assert unknown.value.code is RejectCode.UNKNOWN_ORDER
    someone_elses = rest(ex, "b", Side.BUY, 100_000, "1")
    with pytest.raises(EngineRejection):
        ex.cancel(someone_elses.order_id, T0 + 3, account="a")


def test_partial_cancel_by_quantity_keeps_the_order_and_its_priority() -> None:
    ex = make_exchange(partial_cancel=True)
    first = rest(ex, "a", Side.BUY, 100_000, "1.0")
    second = rest(ex, "b", Side.BUY, 100_000, "1.0", T0 + 1)
    events = ex.cancel(first.order_id, T0 + 2, qty=D("0.5"))
    assert [e.kind for e in events] == [EventKind.PARTIALLY_CANCELED]
    assert (first.status, first.canceled_qty, first.remaining) == (Status.OPEN, D("0.5"), D("0.5"))
    sell_market(ex, "0.5", T0 + 3)
    assert first.filled_qty == D("0.5")  # still first in the queue
    assert second.filled_qty == 0


def test_partial_cancel_is_refused_where_the_venue_has_none() -> None:
    ex = make_exchange(partial_cancel=False)
    order = rest(ex, "a", Side.BUY, 100_000, "1.0")
    with pytest.raises(EngineRejection) as caught:
        ex.cancel(order.order_id, T0 + 1, qty=D("0.5"))
    assert caught.value.code is RejectCode.UNSUPPORTED
    ex.cancel(order.order_id, T0 + 1, qty=D("5"))  # at least the remainder: a whole cancel
    assert order.status is Status.CANCELED


def test_deferred_cancel_is_acknowledged_first_and_completed_after_the_delay() -> None:
    ex = make_exchange(cancel_delay_ms=50)
    order = rest(ex, "a", Side.BUY, 100_000, "1.0")
    ack = ex.request_cancel(order.order_id, T0 + 1, request_id="r-1")
    assert [e.kind for e in ack] == [EventKind.CANCEL_REQUESTED]
    assert order.is_live
    assert order.cancel_pending
    assert ex.tick(T0 + 50) == []
    done = ex.tick(T0 + 51)
    assert [(e.kind, e.request_id) for e in done] == [(EventKind.CANCELED, "r-1")]
    assert order.status is Status.CANCELED


def test_fill_between_cancel_request_and_completion_is_kept_in_the_cancel() -> None:
    ex = make_exchange(cancel_delay_ms=50)
    order = rest(ex, "a", Side.BUY, 100_000, "1.0")
    ex.request_cancel(order.order_id, T0 + 1)
    sell_market(ex, "0.3", T0 + 10)  # the race of FACTS.md §6.2
    done = ex.tick(T0 + 60)
    assert done[-1].kind is EventKind.CANCELED
    assert done[-1].order.filled_qty == D("0.3")
    assert done[-1].qty == D("0.7")


def test_deferred_cancel_of_an_order_filled_meanwhile_is_rejected() -> None:
    ex = make_exchange(cancel_delay_ms=50)
    order = rest(ex, "a", Side.BUY, 100_000, "1.0")
    ex.request_cancel(order.order_id, T0 + 1)
    sell_market(ex, "1.0", T0 + 10)
    done = ex.tick(T0 + 60)
    assert [e.kind for e in done] == [EventKind.CANCEL_REJECTED]
    assert order.status is Status.FILLED


def test_complete_pending_finishes_every_deferred_cancel_at_once() -> None:
    ex = make_exchange(cancel_delay_ms=10_000)
    orders = [rest(ex, "a", Side.BUY, 100_000, "1") for _ in range(3)]
    for order in orders:
        ex.request_cancel(order.order_id, T0 + 1)
    assert ex.has_pending
    ex.complete_pending(T0 + 2)
    assert not ex.has_pending
    assert all(o.status is Status.CANCELED for o in orders)


def test_amend_reduces_quantity_and_keeps_queue_priority() -> None:
    ex = make_exchange(amend_keep_priority=True)
    first = rest(ex, "a", Side.BUY, 100_000, "1.0", client_order_id="first")
    rest(ex, "b", Side.BUY, 100_000, "1.0", T0 + 1)
    events = ex.amend(first.order_id, D("0.4"), T0 + 2, new_client_order_id="first-b")
    assert [(e.kind, e.qty) for e in events] == [(EventKind.AMENDED, D("1.0"))]
    assert (first.qty, first.orig_qty, first.client_order_id) == (D("0.4"), D("1.0"), "first-b")
    assert first.orig_client_order_id == "first"
    sell_market(ex, "0.4", T0 + 3)
    assert first.status is Status.FILLED


@pytest.mark.parametrize(
    ("new_qty", "code"),
    [("1.0", RejectCode.AMEND_NOT_REDUCING), ("2", RejectCode.AMEND_NOT_REDUCING),
     ("0.3", RejectCode.INVALID_QUANTITY)],
)  # fmt: skip
def test_amend_refuses_increase_and_cuts_below_what_executed(
    new_qty: str, code: RejectCode
) -> None:
    ex = make_exchange(amend_keep_priority=True)
    order = rest(ex, "a", Side.BUY, 100_000, "1.0")
    sell_market(ex, "0.3", T0 + 1)
    with pytest.raises(EngineRejection) as caught:
        ex.amend(order.order_id, D(new_qty), T0 + 2)
    assert caught.value.code is code


def test_amend_limit_per_order() -> None:
    ex = make_exchange(amend_keep_priority=True, max_amends=2)
    order = rest(ex, "a", Side.BUY, 100_000, "1.0")
    ex.amend(order.order_id, D("0.9"), T0 + 1)
    ex.amend(order.order_id, D("0.8"), T0 + 2)
    with pytest.raises(EngineRejection) as caught:
        ex.amend(order.order_id, D("0.7"), T0 + 3)
    assert caught.value.code is RejectCode.AMEND_LIMIT


def test_cancel_all_filters_by_symbol_side_and_trigger_state() -> None:
    ex = make_exchange()
    buy = rest(ex, "a", Side.BUY, 100_000, "1")
    sell = rest(ex, "a", Side.SELL, 200_000, "1")
    other = rest(ex, "b", Side.BUY, 100_000, "1")
    orders, events = ex.cancel_all("a", T0 + 1, [SYMBOL], side=Side.BUY)
    assert orders == [buy]
    assert [e.kind for e in events] == [EventKind.CANCELED]
    assert sell.is_live
    assert other.is_live


def test_cancel_all_deferred_newest_first_with_a_count() -> None:
    ex = make_exchange(cancel_delay_ms=20)
    orders = [rest(ex, "a", Side.BUY, 100_000, "1", T0 + i) for i in range(3)]
    hit, events = ex.cancel_all("a", T0 + 5, deferred=True, limit=2, newest_first=True)
    assert hit == [orders[2], orders[1]]
    assert {e.kind for e in events} == {EventKind.CANCEL_REQUESTED}
    ex.tick(T0 + 30)
    assert [o.status for o in orders] == [Status.OPEN, Status.CANCELED, Status.CANCELED]


def test_timed_order_expires_when_its_time_comes() -> None:
    ex = make_exchange()
    order = rest(ex, "a", Side.BUY, 100_000, "1", expire_at=T0 + 100)
    assert ex.tick(T0 + 99) == []
    events = ex.tick(T0 + 100)
    assert [e.kind for e in events] == [EventKind.EXPIRED]
    assert (order.status, order.end_reason) == (Status.EXPIRED, EndReason.EXCHANGE)


def test_client_ids_never_reusable_or_reusable_once_closed() -> None:
    never = make_exchange(client_id_reuse=ClientIdReuse.NEVER)
    order = rest(never, "a", Side.BUY, 100_000, "1", client_order_id="x")
    never.cancel(order.order_id, T0 + 1)
    with pytest.raises(EngineRejection) as caught:
        rest(never, "a", Side.BUY, 100_000, "1", T0 + 2, client_order_id="x")
    assert caught.value.code is RejectCode.DUPLICATE_CLIENT_ID
    rest(never, "b", Side.BUY, 100_000, "1", T0 + 2, client_order_id="x")  # another account

    open_only = make_exchange(client_id_reuse=ClientIdReuse.WHILE_OPEN)
    order = rest(open_only, "a", Side.BUY, 100_000, "1", client_order_id="x")
    with pytest.raises(EngineRejection):
        rest(open_only, "a", Side.BUY, 100_000, "1", T0 + 1, client_order_id="x")
    open_only.cancel(order.order_id, T0 + 2)
    again = rest(open_only, "a", Side.BUY, 100_000, "1", T0 + 3, client_order_id="x")
    assert open_only.by_client_id("a", "x") is again


def test_generated_client_ids_only_where_the_venue_makes_them() -> None:
    assert (
        rest(make_exchange(generate_client_ids=False), "a", Side.BUY, 1000, "1").client_order_id
        is None
    )
    assert rest(make_exchange(generate_client_ids=True), "a", Side.BUY, 1000, "1").client_order_id


def test_engine_clock_never_goes_backwards() -> None:
    ex = make_exchange()
    first = rest(ex, "a", Side.BUY, 100_000, "1", T0 + 10)
    second = rest(ex, "a", Side.BUY, 100_000, "1", T0)
    assert second.created_at == first.created_at == T0 + 10
    assert [e.seq for e in ex.log] == sorted(e.seq for e in ex.log)
