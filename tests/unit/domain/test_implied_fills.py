"""Fills derived from cumulative quantities (`fills_implied`): values, revisions, voids."""

from __future__ import annotations

from domain_builders import T0, D, event, fill

from pipeline.domain.events import OrderStatus
from pipeline.domain.implied import plain
from pipeline.domain.ledger import OrderLedger

S = OrderStatus
KEY = ("upbit", "acc", "o1")


def poll(event_id, at, filled, avg=None, fee=None, status=S.PARTIALLY_FILLED, **kw):
    return event(
        event_id,
        status,
        at=at,
        qty="10",
        price="100",
        filled_qty=filled,
        avg_fill_price=avg,
        fee=fee,
        fills_implied=True,
        is_snapshot=True,
        **kw,
    )


def live_fills(ledger, events):
    """Apply events; return the fills downstream would hold (last per trade id, voids gone)."""
    held = {}
    for e in events:
        update = ledger.apply(e)
        for f in update.fills if update else []:
            held[f.trade_id] = f
    return {tid: f for tid, f in held.items() if f.qty}


def test_plain_decimal_has_no_exponent_or_trailing_zeros():
    assert [plain(D(v)) for v in ("10.50", "100", "1E+2", "0.00000001", "0.0")] == [
        "10.5",
        "100",
        "100",
        "0.00000001",
        "0",
    ]


def test_implied_increase_price_from_average_change():
    ledger = OrderLedger(KEY)
    fills = live_fills(
        ledger,
        [
            poll("p1", T0, "2", avg="100", fee="0.2"),
            poll("p2", T0 + 1, "5", avg="106", fee="0.5"),
        ],
    )
    assert sorted(fills) == ["o1:2", "o1:5"]
    first, second = fills["o1:2"], fills["o1:5"]
    assert (first.qty, first.price, first.fee, first.trade_time) == (2, 100, D("0.2"), T0)
    assert (second.qty, second.price, second.fee) == (3, 110, D("0.3"))  # (530 - 200) / 3


def test_implied_without_average_uses_limit_price():
    fills = live_fills(OrderLedger(KEY), [poll("p1", T0, "4")])
    assert (fills["o1:4"].qty, fills["o1:4"].price) == (4, 100)


def test_implied_same_level_twice_is_one_fill():
    ledger = OrderLedger(KEY)
    assert len(ledger.apply(poll("p1", T0, "2", avg="100")).fills) == 1
    assert ledger.apply(poll("p2", T0 + 1, "2", avg="100")).fills == []


def test_implied_late_intermediate_level_revises_fill():
    events = [poll("p2", T0 + 2, "5", avg="106"), poll("p1", T0 + 1, "2", avg="100")]
    ledger = OrderLedger(KEY)
    first = ledger.apply(events[0])
    assert [(f.trade_id, f.qty) for f in first.fills] == [("o1:5", 5)]
    second = ledger.apply(events[1])
    assert {(f.trade_id, f.qty, f.price) for f in second.fills} == {
        ("o1:2", 2, 100),
        ("o1:5", 3, 110),
    }
    assert second.late


def test_implied_real_fill_voids_derived_fills():
    ledger = OrderLedger(KEY)
    ledger.apply(poll("p1", T0, "2", avg="100"))
    update = ledger.apply(
        event("w1", S.PARTIALLY_FILLED, at=T0 + 1, fill=fill("t1", "2", "100", at=T0 + 1))
    )
    assert [(f.trade_id, f.qty) for f in update.fills] == [("t1", 2), ("o1:2", 0)]
    assert ledger.apply(poll("p2", T0 + 2, "3", avg="100")).fills == []


def test_implied_order_with_real_fills_never_derives_whatever_arrival():
    events = [
        poll("p1", T0, "2", avg="100"),
        event("w1", S.PARTIALLY_FILLED, at=T0 + 1, fill=fill("t1", "2", "100", at=T0 + 1)),
    ]
    forward = live_fills(OrderLedger(KEY), events)
    backward = live_fills(OrderLedger(KEY), events[::-1])
    assert forward == backward
    assert sorted(forward) == ["t1"]


def test_implied_unpriced_increase_is_carried_into_next_priced_report():
    events = [
        event("p1", S.PARTIALLY_FILLED, qty="10", filled_qty="2", fills_implied=True),
        poll("p2", T0 + 1, "5", avg="100"),
    ]
    fills = live_fills(OrderLedger(KEY), events)
    assert [(f.trade_id, f.qty) for f in fills.values()] == [("o1:5", 5)]


def test_implied_flag_off_derives_nothing():
    update = OrderLedger(KEY).apply(event("e1", S.PARTIALLY_FILLED, qty="2", filled_qty="1"))
    assert update.fills == []
