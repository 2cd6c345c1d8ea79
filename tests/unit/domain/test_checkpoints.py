"""Long histories: late arrivals refold from sparse checkpoints to the sorted result."""

from __future__ import annotations

import random
from decimal import Decimal

from domain_builders import T0, event, fill

from pipeline.domain.events import OrderStatus, Side
from pipeline.domain.ledger import CHECKPOINT_EVERY as ORDER_EVERY
from pipeline.domain.ledger import OrderLedger
from pipeline.domain.orders import order_sort_key
from pipeline.domain.positions import CHECKPOINT_EVERY as POSITION_EVERY
from pipeline.domain.positions import PositionLedger

KEY = ("upbit", "acc", "o1")


def long_order(n):
    events = [event("open", OrderStatus.OPEN, qty=str(n))]
    for i in range(1, n):
        events.append(
            event(
                f"e{i}",
                OrderStatus.PARTIALLY_FILLED,
                at=T0 + i,
                qty=str(n),
                filled_qty=str(i),
                avg_fill_price="100",
                fills_implied=True,
            )
        )
    return events


def test_order_ledger_long_history_any_order_equals_sorted_and_fills_agree():
    events = long_order(5 * ORDER_EVERY + 3)
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    results = []
    for arrival in (sorted(events, key=order_sort_key), shuffled):
        ledger = OrderLedger(KEY)
        held = {}
        for e in arrival:
            for f in ledger.apply(e).fills:
                held[f.trade_id] = f
        live = {tid: (f.qty, f.price, f.trade_time) for tid, f in held.items() if f.qty}
        results.append((ledger.state, live))
    assert results[0] == results[1]
    state, fills = results[0]
    assert state.filled_qty == sum(q for q, _, _ in fills.values()) == len(events) - 1
    assert len(fills) == len(events) - 1


def test_position_ledger_long_history_with_revisions_equals_sorted():
    rnd = random.Random(3)
    n = 4 * POSITION_EVERY + 5
    fills = [
        fill(
            f"t{i}",
            str(rnd.randint(1, 9)),
            str(rnd.randint(90, 110)),
            side=rnd.choice([Side.BUY, Side.SELL]),
            at=T0 + rnd.randint(0, n),
            fee="0.1",
        )
        for i in range(n)
    ]
    expected = PositionLedger(("upbit", "acc", "BTC/KRW"))
    for f in sorted(fills, key=lambda f: (f.trade_time, f.trade_id)):
        expected.apply(f)
    ledger = PositionLedger(("upbit", "acc", "BTC/KRW"))
    arrival = fills[:]
    rnd.shuffle(arrival)
    for f in arrival:
        ledger.apply(fill(f.trade_id, Decimal(f.qty) + 1, f.price, side=f.side, at=f.trade_time))
        ledger.apply(f)  # the revision back to the real content
    ledger.apply(fill("gone", "5", "1", at=T0 + 1))
    ledger.apply(fill("gone", "0", "1", at=T0 + 1))  # voided
    got, want = ledger.position, expected.position
    assert (got.qty, got.avg_price, got.realized_pnl, got.fees, got.fill_count) == (
        want.qty,
        want.avg_price,
        want.realized_pnl,
        want.fees,
        want.fill_count,
    )
