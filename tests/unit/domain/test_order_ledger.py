"""Plain-value scenarios of the order ledger: labels, quantities, ordering, illegal input."""

from __future__ import annotations

import pytest
from domain_builders import T0, D, event, fill

from pipeline.domain.errors import DomainError, ForeignEventError, InvalidQuantityError
from pipeline.domain.events import OrderStatus
from pipeline.domain.ledger import OrderLedger

S = OrderStatus
KEY = ("upbit", "acc", "o1")


def fold(*events):
    ledger = OrderLedger(KEY)
    for e in events:
        ledger.apply(e)
    return ledger


def test_ledger_open_then_partial_then_filled_conserves():
    ledger = fold(
        event("e1", S.OPEN, qty="2", price="100"),
        event("e2", S.PARTIALLY_FILLED, at=T0 + 1, qty="2", filled_qty="0.5"),
        event("e3", S.FILLED, at=T0 + 2, qty="2", filled_qty="2", avg_fill_price="100"),
    )
    s = ledger.state
    assert (s.status, s.filled_qty, s.remaining_qty, s.canceled_qty) == (S.FILLED, 2, 0, 0)
    assert (s.created_at, s.updated_at, s.version, s.last_event_id) == (T0, T0 + 2, 3, "e3")
    assert ledger.is_terminal


def test_ledger_duplicate_event_returns_none_and_changes_nothing():
    ledger = OrderLedger(KEY)
    first = ledger.apply(event("e1", S.OPEN, qty="1"))
    assert first is not None
    assert ledger.apply(event("e1", S.OPEN, qty="1")) is None
    assert ledger.state == first.state
    assert ledger.state.version == 1


def test_ledger_upbit_price_order_cancel_with_full_fill_is_filled():
    # ord_type=price market buy: sized in KRW, ends in state "cancel" with dust returned.
    ledger = fold(
        event("e1", S.OPEN, order_type="market", quote_qty="10000", venue_status="wait"),
        event(
            "e2",
            S.CANCELED,
            at=T0 + 3,
            order_type="market",
            quote_qty="10000",
            filled_qty="0.0001",
            avg_fill_price="99990000",
            venue_status="cancel",
            cancel_reason="unfilled_remainder",
        ),
    )
    s = ledger.state
    assert s.status is S.FILLED
    assert s.venue_status == "cancel"
    assert (s.qty, s.filled_qty, s.canceled_qty, s.remaining_qty) == (
        D("0.0001"),
        D("0.0001"),
        0,
        0,
    )
    assert s.quote_qty == D("10000")


def test_ledger_quote_sized_open_has_qty_equal_filled_and_no_remaining():
    s = fold(
        event("e1", S.PARTIALLY_FILLED, quote_qty="10000", filled_qty="0.00005"),
    ).state
    assert s.status is S.PARTIALLY_FILLED
    assert (s.qty, s.remaining_qty) == (D("0.00005"), 0)


def test_ledger_quote_sized_cancel_without_fill_stays_canceled():
    s = fold(event("e1", S.OPEN, quote_qty="5000"), event("e2", S.CANCELED, at=T0 + 1)).state
    assert (s.status, s.qty, s.filled_qty, s.canceled_qty) == (S.CANCELED, 0, 0, 0)


def test_ledger_partial_fill_then_expired_keeps_filled_quantity():
    s = fold(
        event("e1", S.PARTIALLY_FILLED, qty="10", filled_qty="4"),
        event("e2", S.EXPIRED, at=T0 + 1, qty="10"),
    ).state
    assert (s.status, s.filled_qty, s.canceled_qty, s.remaining_qty) == (S.EXPIRED, 4, 6, 0)


def test_ledger_canceled_event_with_full_quantity_is_filled():
    s = fold(event("e1", S.CANCELED, qty="3", filled_qty="3", venue_status="CANCELED")).state
    assert (s.status, s.venue_status, s.canceled_qty) == (S.FILLED, "CANCELED", 0)


def test_ledger_filled_label_without_quantity_means_all_filled():
    s = fold(event("e1", S.OPEN, qty="3"), event("e2", S.FILLED, at=T0 + 1)).state
    assert (s.status, s.filled_qty, s.remaining_qty) == (S.FILLED, 3, 0)


def test_ledger_filled_label_short_of_qty_is_canceled():
    s = fold(event("e1", S.FILLED, qty="3", filled_qty="1")).state
    assert (s.status, s.filled_qty, s.canceled_qty) == (S.CANCELED, 1, 2)


def test_ledger_fill_after_cancel_moves_quantity_to_filled():
    s = fold(
        event("e1", S.OPEN, qty="2"),
        event("e2", S.CANCELED, at=T0 + 1, qty="2", filled_qty="1"),
        event("e3", S.PARTIALLY_FILLED, at=T0 + 2, fill=fill("t1", "1", "100", at=T0 + 2)),
    ).state
    assert (s.status, s.filled_qty, s.canceled_qty) == (S.CANCELED, 1, 1)
    s = fold(
        event("e1", S.OPEN, qty="2"),
        event("e2", S.CANCELED, at=T0 + 1, qty="2", filled_qty="1"),
        event("e3", S.PARTIALLY_FILLED, at=T0 + 2, filled_qty="2"),
    ).state
    assert (s.status, s.filled_qty, s.canceled_qty, s.venue_status) == (S.FILLED, 2, 0, "canceled")


def test_ledger_stale_snapshot_does_not_regress():
    s = fold(
        event("e1", S.PARTIALLY_FILLED, qty="5", filled_qty="2", avg_fill_price="10"),
        event("e2", S.OPEN, at=T0 + 1, qty="5", filled_qty="0", is_snapshot=True),
    ).state
    assert (s.status, s.filled_qty, s.avg_fill_price, s.version) == (
        S.PARTIALLY_FILLED,
        2,
        D("10"),
        2,
    )
    assert s.venue_status == "partially_filled"


def test_ledger_pending_cancel_snapshot_open_is_ignored_live_open_is_taken():
    base = [event("e1", S.OPEN, qty="1"), event("e2", S.PENDING_CANCEL, at=T0 + 1, qty="1")]
    stale = fold(*base, event("e3", S.OPEN, at=T0 + 2, is_snapshot=True)).state
    assert stale.status is S.PENDING_CANCEL
    rejected = fold(*base, event("e3", S.OPEN, at=T0 + 2, venue_status="cancel_rejected")).state
    assert (rejected.status, rejected.venue_status) == (S.OPEN, "cancel_rejected")


def test_ledger_live_fill_to_full_quantity_is_filled_before_done():
    s = fold(
        event("e1", S.OPEN, qty="1"),
        event("e2", S.PARTIALLY_FILLED, at=T0 + 1, venue_status="trade", filled_qty="1"),
    ).state
    assert (s.status, s.venue_status) == (S.FILLED, "trade")
    s = fold(
        event("e1", S.OPEN, qty="1"),
        event("e2", S.PARTIALLY_FILLED, at=T0 + 1, venue_status="trade", filled_qty="1"),
        event("e3", S.FILLED, at=T0 + 1, venue_status="done", filled_qty="1"),
    ).state
    assert (s.status, s.venue_status) == (S.FILLED, "done")


def test_ledger_partial_cancel_of_live_order_conserves():
    s = fold(event("e1", S.PARTIALLY_FILLED, qty="10", filled_qty="2", canceled_qty="3")).state
    assert (s.filled_qty, s.canceled_qty, s.remaining_qty) == (2, 3, 5)


def test_ledger_overfill_raises_qty_instead_of_negative_remaining():
    s = fold(event("e1", S.PARTIALLY_FILLED, qty="1", filled_qty="1.5")).state
    assert (s.qty, s.remaining_qty, s.status) == (D("1.5"), 0, S.FILLED)


def test_ledger_real_fills_sum_when_venue_gives_no_cumulative():
    s = fold(
        event("e1", S.OPEN, qty="3"),
        event("e2", S.PARTIALLY_FILLED, at=T0 + 1, fill=fill("t1", "1", "100", fee="1")),
        event("e3", S.PARTIALLY_FILLED, at=T0 + 2, fill=fill("t2", "1", "200", fee="2")),
        event("e4", S.PARTIALLY_FILLED, at=T0 + 3, fill=fill("t2", "1", "200", fee="2")),
    ).state
    assert (s.filled_qty, s.avg_fill_price, s.fee, s.remaining_qty) == (2, 150, 3, 1)


def test_ledger_late_event_refolds_to_sorted_result():
    events = [
        event("e1", S.OPEN, qty="2"),
        event("e2", S.PARTIALLY_FILLED, at=T0 + 1, filled_qty="1"),
        event("e3", S.CANCELED, at=T0 + 2),
    ]
    ledger = OrderLedger(KEY)
    ledger.apply(events[2])
    late = ledger.apply(events[0])
    assert late is not None
    assert late.late
    ledger.apply(events[1])
    assert ledger.state == fold(*events).state
    assert ledger.state.created_at == T0


def test_ledger_same_millisecond_sorts_by_progress():
    s = fold(
        event("done", S.FILLED, qty="1", filled_qty="1"),
        event("trade", S.PARTIALLY_FILLED, qty="1", filled_qty="0.5"),
    ).state
    assert (s.status, s.last_event_id, s.version) == (S.FILLED, "done", 2)


def test_ledger_event_of_other_order_raises_foreign_event_error():
    ledger = fold(event("e1", S.OPEN, qty="1"))
    with pytest.raises(ForeignEventError):
        ledger.apply(event("e2", S.OPEN, order_id="o2"))
    assert ledger.state.version == 1


@pytest.mark.parametrize("name", ["qty", "filled_qty", "canceled_qty", "quote_qty"])
def test_ledger_negative_quantity_raises_domain_error(name):
    ledger = OrderLedger(KEY)
    with pytest.raises(InvalidQuantityError):
        ledger.apply(event("e1", S.OPEN, **{name: "-1"}))
    assert ledger.state is None
    assert issubclass(InvalidQuantityError, DomainError)
    assert issubclass(DomainError, ValueError)


def test_ledger_fill_of_other_symbol_raises_foreign_event_error():
    with pytest.raises(ForeignEventError):
        OrderLedger(KEY).apply(event("e1", S.OPEN, fill=fill("t", "1", "1", symbol="ETH/KRW")))


def test_ledger_update_lists_real_fill_once():
    ledger = OrderLedger(KEY)
    f = fill("t1", "1", "100")
    first = ledger.apply(event("e1", S.PARTIALLY_FILLED, qty="2", fill=f))
    again = ledger.apply(event("e2", S.PARTIALLY_FILLED, at=T0 + 1, qty="2", fill=f))
    assert first.fills == [f]
    assert again.fills == []


def test_ledger_fill_only_report_without_order_type_keeps_the_known_type() -> None:
    typed = event("t1", S.OPEN, qty="1", price="100", order_type="limit")
    untyped = event(
        "t2", S.PARTIALLY_FILLED, at=T0 + 1, order_type="", fill=fill("x1", "0.5", "100")
    )
    for arrival in ((typed, untyped), (untyped, typed)):
        assert fold(*arrival).state.order_type == "limit"


def test_ledger_same_event_id_seen_at_two_times_keeps_earliest_whatever_the_arrival() -> None:
    opened = event("o", S.OPEN, qty="1", price="100")
    poll_late = event("snap", S.PARTIALLY_FILLED, at=T0 + 500, filled_qty="0.4", is_snapshot=True)
    poll_early = event("snap", S.PARTIALLY_FILLED, at=T0 + 100, filled_qty="0.4", is_snapshot=True)
    canceled = event("c", S.CANCELED, at=T0 + 300, filled_qty="0.4")
    results = {
        (s.updated_at, s.last_event_id, s.status, s.version)
        for s in (
            fold(*arrival).state
            for arrival in (
                (opened, poll_late, poll_early, canceled),
                (opened, poll_early, poll_late, canceled),
                (canceled, poll_late, opened, poll_early),
                (poll_early, canceled, poll_late, opened),
            )
        )
    }
    assert results == {(T0 + 300, "c", S.CANCELED, 3)}


# --- fees: the latest cumulative statement, plus real fills it does not cover -------------------


def test_ledger_fill_after_a_fee_stating_snapshot_adds_its_fee():
    s = fold(
        event("poll", S.OPEN, qty="2", filled_qty="0", fee="0", is_snapshot=True),
        event("t1", S.PARTIALLY_FILLED, at=T0 + 1, fill=fill("t1", "1", "100", fee="3")),
        event("t2", S.PARTIALLY_FILLED, at=T0 + 2, fill=fill("t2", "1", "100", fee="4")),
    ).state
    assert (s.status, s.filled_qty, s.fee) == (S.FILLED, 2, 7)


def test_ledger_fee_statement_after_the_fills_replaces_their_sum():
    s = fold(
        event("t1", S.PARTIALLY_FILLED, qty="2", fill=fill("t1", "1", "100", fee="3")),
        event("poll", S.PARTIALLY_FILLED, at=T0 + 1, filled_qty="1", fee="2.5", is_snapshot=True),
    ).state
    assert s.fee == D("2.5")  # the venue's own cumulative figure for the same fills


def test_ledger_fee_statement_then_later_fills_adds_only_the_fills_beyond_it():
    s = fold(
        event("t1", S.PARTIALLY_FILLED, qty="3", fill=fill("t1", "1", "100", fee="3")),
        event("poll", S.PARTIALLY_FILLED, at=T0 + 1, filled_qty="1", fee="3", is_snapshot=True),
        event("t2", S.PARTIALLY_FILLED, at=T0 + 2, fill=fill("t2", "1", "100", fee="4")),
        event("t3", S.PARTIALLY_FILLED, at=T0 + 3, fill=fill("t3", "1", "100", fee="5")),
    ).state
    assert (s.filled_qty, s.fee) == (3, 12)


def test_ledger_fill_reported_after_a_statement_covering_it_is_not_counted_twice():
    # the poll (updated_at = the trade's time) already states the fill and its fee; the
    # trade's own report is stamped a little later
    s = fold(
        event("poll", S.PARTIALLY_FILLED, qty="2", filled_qty="1", fee="3", is_snapshot=True),
        event("t1", S.PARTIALLY_FILLED, at=T0 + 2, fill=fill("t1", "1", "100", fee="3")),
    ).state
    assert (s.filled_qty, s.fee) == (1, 3)


def test_ledger_stale_fee_statement_does_not_undo_later_fills():
    s = fold(
        event("t1", S.PARTIALLY_FILLED, qty="3", fill=fill("t1", "1", "100", fee="3")),
        event("t2", S.PARTIALLY_FILLED, at=T0 + 1, fill=fill("t2", "1", "100", fee="4")),
        event("poll", S.PARTIALLY_FILLED, at=T0 + 2, filled_qty="1", fee="3", is_snapshot=True),
    ).state
    assert (s.filled_qty, s.fee) == (2, 7)


# --- cancel reasons: once terminal, a reason only becomes more specific -------------------------


def test_ledger_terminal_snapshot_with_a_plain_cancel_keeps_the_stp_reason():
    s = fold(
        event("ws", S.CANCELED, qty="1", cancel_reason="self_trade_prevention"),
        event("rest", S.CANCELED, at=T0 + 5000, qty="1", cancel_reason="user", is_snapshot=True),
    ).state
    assert (s.status, s.cancel_reason) == (S.CANCELED, "self_trade_prevention")


@pytest.mark.parametrize("snapshot_first", [True, False])
def test_ledger_same_millisecond_cancels_keep_the_more_specific_reason(snapshot_first):
    # Coinone: MYORDER `cancel` (user) and REST CANCELED_NO_ORDER (unfilled_remainder)
    live = event("coinone:ws:o1:cancel", S.CANCELED, qty="1", cancel_reason="user")
    rest = event(
        "coinone:state:o1:CANCELED_NO_ORDER",
        S.CANCELED,
        qty="1",
        filled_qty="0",
        cancel_reason="unfilled_remainder",
        is_snapshot=True,
    )
    pair = (rest, live) if snapshot_first else (live, rest)
    assert fold(*pair).state.cancel_reason == "unfilled_remainder"
    assert fold(*pair[::-1]).state.cancel_reason == "unfilled_remainder"


def test_ledger_terminal_reason_upgrades_from_user_but_never_back():
    s = fold(
        event("e1", S.CANCELED, qty="1", cancel_reason="user"),
        event("e2", S.CANCELED, at=T0 + 1, qty="1", cancel_reason="exchange"),
        event("e3", S.CANCELED, at=T0 + 2, qty="1", cancel_reason="user"),
        event("e4", S.CANCELED, at=T0 + 3, qty="1", cancel_reason="unfilled_remainder"),
    ).state
    assert s.cancel_reason == "exchange"  # equally specific reasons: the first one stays


# --- canceled quantity of a live order is cumulative ------------------------------------------


def test_ledger_two_reduce_reports_in_one_millisecond_keep_the_larger_canceled_qty():
    # equal sort keys up to the event id, and the earlier report's id sorts last
    first = event("b", S.OPEN, qty="0.3", filled_qty="0", canceled_qty="0.1", venue_status="p")
    second = event("a", S.OPEN, qty="0.3", filled_qty="0", canceled_qty="0.2", venue_status="p")
    for pair in ((first, second), (second, first)):
        s = fold(*pair).state
        assert (s.canceled_qty, s.remaining_qty) == (D("0.2"), D("0.1"))
