"""Golden tests of Upbit's REST order objects (cancel reply, open orders, done with trades)."""

from __future__ import annotations

from typing import Any

import pytest
from upbit_cases import (
    LIMIT_UUID,
    PRICE_UUID,
    RECEIVED,
    D,
    event,
    fill,
    load,
    one,
    price_event,
    run,
)

from pipeline.domain.events import (
    Liquidity,
    OrderEvent,
    OrderStatus,
)
from pipeline.errors import NormalizationError
from pipeline.venues.upbit import (
    CHANNEL_REST_ORDER,
    CHANNEL_REST_ORDERS,
)

# --- REST order objects --------------------------------------------------------------------

REST_WAIT_UUID = "cdd92199-2897-4e14-9448-f923320408ad"
REST_WAIT = event(
    event_id=f"upbit:{REST_WAIT_UUID}:rest:wait:0:0.0:0.01:None",
    order_id=REST_WAIT_UUID,
    status=OrderStatus.OPEN,
    venue_status="wait",
    event_time=RECEIVED,
    qty=D("0.01"),
    price=D("100.0"),
    filled_qty=D("0.0"),
    canceled_qty=D(0),
    fee=D("0.0"),
    client_order_id=None,
    sequence=0,
    is_snapshot=True,
)


def test_rest_cancel_reply_still_wait_yields_open_snapshot() -> None:
    assert run(CHANNEL_REST_ORDER, load("fixture_rest_order_cancel_reply_wait.json")) == [REST_WAIT]


def test_rest_orders_array_yields_one_snapshot_per_order() -> None:
    assert run(CHANNEL_REST_ORDERS, load("fixture_rest_orders_open.json")) == [REST_WAIT]


REST_TRADE = "4b1a7d4e-0c1e-4f1f-9d55-0d4c8a1e000"


def rest_trade(n: int, qty: str, fee: str, at: int) -> OrderEvent:
    """A `trades[]` item of `GET /v1/order`: a fill-only snapshot stamped `received_at`."""
    trade_id = f"{REST_TRADE}{n}"
    return event(
        event_id=f"upbit:{LIMIT_UUID}:rest:trade:2:{trade_id}",
        status=OrderStatus.PARTIALLY_FILLED,
        venue_status="trade",
        event_time=RECEIVED,
        is_snapshot=True,
        fill=fill(
            trade_id=trade_id,
            price=D("140000000"),
            qty=D(qty),
            fee=D(fee),
            liquidity=Liquidity.UNKNOWN,
            trade_time=at,
        ),
    )


def test_rest_done_yields_its_trades_then_the_filled_snapshot() -> None:
    # paid_fee 700 split by funds 560000 : 840000; created_at 12:54:20 / 12:55:20 KST
    assert run(CHANNEL_REST_ORDER, load("fixture_rest_order_done.json")) == [
        rest_trade(1, "0.004", "280", 1735703660000),
        rest_trade(2, "0.006", "420", 1735703720000),
        event(
            event_id=f"upbit:{LIMIT_UUID}:rest:done:2:0.01:0:None",
            status=OrderStatus.FILLED,
            venue_status="done",
            event_time=RECEIVED,
            qty=D("0.01"),
            price=D("140000000"),
            filled_qty=D("0.01"),
            avg_fill_price=D("140000000"),  # executed_funds / executed_volume
            canceled_qty=D(0),
            fee=D("700"),
            sequence=22,
            is_snapshot=True,
        ),
    ]


def test_rest_price_order_cancel_with_dust_yields_filled_snapshot() -> None:
    got = one(CHANNEL_REST_ORDER, load("fixture_rest_order_price_cancel_dust.json"))
    assert got == price_event(
        event_id=f"upbit:{PRICE_UUID}:rest:cancel:1:0.00071428:None:None",
        status=OrderStatus.FILLED,
        venue_status="cancel",
        event_time=RECEIVED,
        qty=D("0.00071428"),
        filled_qty=D("0.00071428"),
        avg_fill_price=D("99999.02") / D("0.00071428"),
        canceled_qty=D(0),
        fee=D("49.99951"),
        quote_qty=D("100000"),
        sequence=12,
        is_snapshot=True,
    )


def test_rest_trades_share_paid_fee_by_funds_rounding_down_last_takes_rest() -> None:
    obj = load("fixture_rest_order_done.json")
    obj["paid_fee"] = "0.00000007"  # 0.4 * 7e-8 = 2.8e-8 -> 2e-8; the last takes 5e-8
    events = run(CHANNEL_REST_ORDER, obj)
    fees = [e.fill.fee for e in events if e.fill is not None]
    assert fees == [D("0.00000002"), D("0.00000005")]
    assert events[-1].fee == D("0.00000007")
    assert events[-1].fill is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trades": {}}, "trades"),
        ({"trades": [1]}, "trades[0]"),
        ({"trades": [{"uuid": "t", "price": "1", "volume": "0", "created_at": "x"}]}, "volume"),
        ({"trades": [{"uuid": "t", "price": "1", "volume": "1", "created_at": "x"}]}, "created_at"),
    ],
)
def test_rest_bad_trades_are_rejected(change: dict[str, Any], field: str) -> None:
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_REST_ORDER, {**load("fixture_rest_order_done.json"), **change})
    assert info.value.field.endswith(field)


def test_rest_cancel_whose_remainder_was_prevented_yields_self_trade_prevention() -> None:
    # REST knows no `prevented` state: an SMP-cancelled order reads `cancel`, and its
    # `prevented_volume` (seeds/003: the quantity cancelled by SMP) is the whole remainder
    base = load("fixture_rest_order_cancel_reply_wait.json")
    prevented = {**base, "state": "cancel", "remaining_volume": "0.0", "locked": "0.0",
                 "prevented_volume": "0.01"}  # fmt: skip
    got = one(CHANNEL_REST_ORDER, prevented)
    assert (got.status, got.cancel_reason) == (OrderStatus.CANCELED, "self_trade_prevention")
    assert got.canceled_qty == D("0.01")
    user = {**prevented, "prevented_volume": "0.0"}
    assert one(CHANNEL_REST_ORDER, user).cancel_reason == "user"
