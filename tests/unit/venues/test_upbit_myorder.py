"""Golden tests of Upbit's myOrder WebSocket channel: seed 003, the shared sample, a limit
order's life, the market buy by KRW amount, frames without order state.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from typing import Any

import pytest
from upbit_cases import (
    ACCOUNT,
    LIMIT_UUID,
    PRICE_UUID,
    RECEIVED,
    SEED_UUID,
    D,
    event,
    fill,
    load,
    one,
    price_event,
    run,
)

from pipeline.domain.events import (
    CancelReason,
    Fill,
    Liquidity,
    OrderEvent,
    OrderStatus,
    Side,
)
from pipeline.errors import NormalizationError
from pipeline.venues.upbit import (
    CHANNEL_MY_ORDER,
)
from pipeline.venues.upbit.mapping import DEFAULT_KEYS, SIMPLE_KEYS

# --- seed 003 and the shared sample ------------------------------------------------------

SEED_EVENT = OrderEvent(
    event_id=f"upbit:{SEED_UUID}:trade:68315169-fba4-4175-ade3-aff14a616657:1710751597500",
    venue="upbit",
    account=ACCOUNT,
    order_id=SEED_UUID,
    symbol="BTC/KRW",
    venue_symbol="KRW-BTC",
    side=Side.BUY,
    order_type="limit",
    status=OrderStatus.PARTIALLY_FILLED,
    venue_status="trade",
    event_time=1710751597500,
    received_at=RECEIVED,
    qty=D("30925891.29839369") + D("29968038.09235948") + D("1.174291929"),
    price=None,
    filled_qty=D("30925891.29839369"),
    avg_fill_price=D("0.00145372"),
    canceled_qty=D("1.174291929"),
    fee=D("22.467660028283017"),
    fee_asset="KRW",
    client_order_id="test-1",
    fill=Fill(
        venue="upbit",
        account=ACCOUNT,
        symbol="BTC/KRW",
        venue_symbol="KRW-BTC",
        order_id=SEED_UUID,
        trade_id="68315169-fba4-4175-ade3-aff14a616657",
        side=Side.BUY,
        price=D("0.001453"),
        qty=D("30925891.29839369"),
        fee=D("22.467660028283017"),
        fee_asset="KRW",
        liquidity=Liquidity.MAKER,
        trade_time=1710751590421,
        received_at=RECEIVED,
    ),
    sequence=11,
)


def test_myorder_seed_default_trade_yields_event_with_fill() -> None:
    assert run(CHANNEL_MY_ORDER, load("seed003_myOrder_trade_DEFAULT.json")) == [SEED_EVENT]


def test_myorder_seed_simple_format_yields_same_event_as_default() -> None:
    assert run(CHANNEL_MY_ORDER, load("seed003_myOrder_trade_SIMPLE.json")) == [SEED_EVENT]


def test_myorder_ccxt_sample_without_trade_uuid_uses_stable_synthetic_trade_id() -> None:
    trade_id = f"{SEED_UUID}#1"
    assert run(CHANNEL_MY_ORDER, load("upbit_ws_myOrder_state_trade_SGD-XRP.json")) == [
        OrderEvent(
            event_id=f"upbit:{SEED_UUID}:trade:{trade_id}:1710751597500",
            venue="upbit",
            account=ACCOUNT,
            order_id=SEED_UUID,
            symbol="XRP/SGD",
            venue_symbol="SGD-XRP",
            side=Side.BUY,
            order_type="limit",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="trade",
            event_time=1710751597500,
            received_at=RECEIVED,
            qty=D("60893929.39075317"),
            filled_qty=D("30925891.29839369"),
            avg_fill_price=D("0.00145372"),
            canceled_qty=D(0),
            fee=D("22.467660028283017"),
            fee_asset="SGD",
            fill=Fill(
                venue="upbit",
                account=ACCOUNT,
                symbol="XRP/SGD",
                venue_symbol="SGD-XRP",
                order_id=SEED_UUID,
                trade_id=trade_id,
                side=Side.BUY,
                price=D("0.001453"),
                qty=D("30925891.29839369"),
                fee=D("22.467660028283017"),  # paid_fee of the first trade
                fee_asset="SGD",
                liquidity=Liquidity.UNKNOWN,
                trade_time=1710751597500,
                received_at=RECEIVED,
            ),
            sequence=11,
        )
    ]


# --- a limit order's life -----------------------------------------------------------------

TRADE_1 = "4b1a7d4e-0c1e-4f1f-9d55-0d4c8a1e0001"
TRADE_2 = "4b1a7d4e-0c1e-4f1f-9d55-0d4c8a1e0002"
T0 = 1735700000000

WAIT = event(
    event_id=f"upbit:{LIMIT_UUID}:wait::{T0 + 50}:0:0.01:0",
    status=OrderStatus.OPEN,
    venue_status="wait",
    event_time=T0 + 50,
    qty=D("0.01"),
    price=D("140000000.0"),
    filled_qty=D("0.0"),
    canceled_qty=D(0),
    fee=D("0.0"),
    sequence=0,
)


def test_myorder_wait_yields_open() -> None:
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_1_wait.json")) == [WAIT]


def test_myorder_snapshot_stream_type_yields_same_event_marked_snapshot() -> None:
    got = one(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_1_wait_SNAPSHOT.json"))
    assert got == replace(WAIT, is_snapshot=True)
    assert got.event_id == WAIT.event_id  # SNAPSHOT after REALTIME deduplicates


def test_myorder_first_trade_yields_partially_filled_with_fill() -> None:
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_2_trade.json")) == [
        event(
            event_id=f"upbit:{LIMIT_UUID}:trade:{TRADE_1}:{T0 + 60010}",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="trade",
            event_time=T0 + 60010,
            qty=D("0.010"),
            filled_qty=D("0.004"),
            avg_fill_price=D("140000000.0"),
            canceled_qty=D(0),
            fee=D("280.0"),
            fill=fill(
                trade_id=TRADE_1,
                price=D("140000000.0"),
                qty=D("0.004"),
                fee=D("280.0"),
                liquidity=Liquidity.MAKER,
                trade_time=T0 + 60000,
            ),
            sequence=11,
        )
    ]


def test_myorder_trade_leaving_nothing_remaining_yields_filled() -> None:
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_3_trade_last.json")) == [
        event(
            event_id=f"upbit:{LIMIT_UUID}:trade:{TRADE_2}:{T0 + 120010}",
            status=OrderStatus.FILLED,
            venue_status="trade",
            event_time=T0 + 120010,
            qty=D("0.01"),
            filled_qty=D("0.01"),
            avg_fill_price=D("140000000.0"),
            canceled_qty=D(0),
            fee=D("700.0"),
            fill=fill(
                trade_id=TRADE_2,
                price=D("140000000.0"),
                qty=D("0.006"),
                fee=D("420.0"),
                liquidity=Liquidity.MAKER,
                trade_time=T0 + 120000,
            ),
            sequence=21,
        )
    ]


DONE = event(
    event_id=f"upbit:{LIMIT_UUID}:done::{T0 + 120010}:0.01:0:0",
    status=OrderStatus.FILLED,
    venue_status="done",
    event_time=T0 + 120010,
    qty=D("0.01"),
    price=D("140000000.0"),
    filled_qty=D("0.01"),
    avg_fill_price=D("140000000.0"),
    canceled_qty=D("0.00"),
    fee=D("700.0"),
    sequence=22,
)


def test_myorder_done_yields_filled_sequenced_after_same_millisecond_trade() -> None:
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_4_done.json")) == [DONE]
    last_trade = one(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_3_trade_last.json"))
    assert last_trade.event_time == DONE.event_time
    assert last_trade.sequence is not None
    assert DONE.sequence is not None
    assert last_trade.sequence < DONE.sequence


def test_myorder_json_list_yields_one_event_per_item() -> None:
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_list_JSON_LIST.json")) == [WAIT, DONE]


def test_myorder_cancel_after_partial_fill_yields_canceled_with_remainder() -> None:
    uuid = "b7c1f0de-3a52-4c8e-8f0e-2f6c9e7d1a10"
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_ask_cancel_partial.json")) == [
        event(
            event_id=f"upbit:{uuid}:cancel::{T0 + 300000}:0.2:0.3:0",
            order_id=uuid,
            side=Side.SELL,
            status=OrderStatus.CANCELED,
            venue_status="cancel",
            event_time=T0 + 300000,
            qty=D("0.5"),
            price=D("150000000.0"),
            filled_qty=D("0.2"),
            avg_fill_price=D("150000000.0"),
            canceled_qty=D("0.3"),
            fee=D("15000.0"),
            client_order_id=None,
            cancel_reason=CancelReason.USER,
            sequence=12,
        )
    ]


def test_myorder_watch_yields_untriggered() -> None:
    uuid = "5e0c2b9a-7d4f-4a61-b1c3-6f8e2d9a0b11"
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_watch.json")) == [
        event(
            event_id=f"upbit:{uuid}:watch::{T0 + 1000}:0:0.01:0",
            order_id=uuid,
            status=OrderStatus.UNTRIGGERED,
            venue_status="watch",
            event_time=T0 + 1000,
            qty=D("0.01"),
            price=D("130000000.0"),
            filled_qty=D("0.0"),
            canceled_qty=D(0),
            fee=D("0.0"),
            client_order_id="stop-0001",
            sequence=0,
        )
    ]


def test_myorder_prevented_cancel_maker_yields_canceled_self_trade_prevention() -> None:
    uuid = "e3f4a5b6-0000-4c8e-8f0e-2f6c9e7d1a20"
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_prevented_cancel_maker.json")) == [
        event(
            event_id=f"upbit:{uuid}:prevented::{T0 + 400000}:0:0:0.02",
            order_id=uuid,
            side=Side.SELL,
            status=OrderStatus.CANCELED,
            venue_status="prevented",
            event_time=T0 + 400000,
            qty=D("0.02"),
            price=D("141000000.0"),
            filled_qty=D("0.0"),
            canceled_qty=D("0.02"),
            fee=D("0.0"),
            client_order_id=None,
            cancel_reason=CancelReason.SELF_TRADE_PREVENTION,
            sequence=2,
        )
    ]


def test_myorder_prevented_reduce_with_volume_left_stays_live() -> None:
    uuid = "e3f4a5b6-1111-4c8e-8f0e-2f6c9e7d1a21"
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_prevented_reduce_live.json")) == [
        event(
            event_id=f"upbit:{uuid}:prevented::{T0 + 500000}:0.01:0.03:0.01",
            order_id=uuid,
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="prevented",
            event_time=T0 + 500000,
            qty=D("0.05"),
            price=D("140000000.0"),
            filled_qty=D("0.01"),
            avg_fill_price=D("140000000.0"),
            canceled_qty=D("0.01"),
            fee=D("700.0"),
            client_order_id=None,
            sequence=12,
        )
    ]


def test_two_reduce_reports_in_one_millisecond_yield_distinct_event_ids() -> None:
    first = load("fixture_myOrder_prevented_reduce_live.json")
    second = {**first, "remaining_volume": 0.02, "prevented_volume": 0.02}  # same millisecond
    assert one(CHANNEL_MY_ORDER, first).event_id != one(CHANNEL_MY_ORDER, second).event_id


def test_non_trade_report_in_simple_format_yields_the_default_event_id() -> None:
    default = load("fixture_myOrder_prevented_reduce_live.json")
    short = {
        getattr(DEFAULT_KEYS, f.name): getattr(SIMPLE_KEYS, f.name) for f in fields(DEFAULT_KEYS)
    }
    simple = {short.get(name, name): value for name, value in default.items()}
    assert one(CHANNEL_MY_ORDER, simple).event_id == one(CHANNEL_MY_ORDER, default).event_id
    assert (
        one(CHANNEL_MY_ORDER, default).event_id
        == run(CHANNEL_MY_ORDER, copy.deepcopy(default), received_at=RECEIVED + 5000)[0].event_id
    )


def test_myorder_market_sell_canceled_yields_unfilled_remainder() -> None:
    uuid = "a1b2c3d4-2222-4c8e-8f0e-2f6c9e7d1a30"
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_market_sell_cancel_unfilled.json")) == [
        event(
            event_id=f"upbit:{uuid}:cancel::{T0 + 700000}:0.6:0.4:0",
            order_id=uuid,
            side=Side.SELL,
            order_type="market",
            status=OrderStatus.CANCELED,
            venue_status="cancel",
            event_time=T0 + 700000,
            qty=D("1.0"),
            filled_qty=D("0.6"),
            avg_fill_price=D("139500000.0"),
            canceled_qty=D("0.4"),
            fee=D("41850.0"),
            client_order_id=None,
            cancel_reason=CancelReason.UNFILLED_REMAINDER,
            sequence=32,
        )
    ]


# --- the market buy by KRW amount (ord_type=price) ---------------------------------------


def test_myorder_price_order_wait_yields_quote_qty_without_base_qty() -> None:
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_price_1_wait.json")) == [
        price_event(
            event_id=f"upbit:{PRICE_UUID}:wait::{T0 + 600000}:0:-:0",
            status=OrderStatus.OPEN,
            venue_status="wait",
            event_time=T0 + 600000,
            filled_qty=D("0.0"),
            fee=D("0.0"),
            quote_qty=D("100000.0"),
            sequence=0,
        )
    ]


def test_myorder_price_order_trade_yields_fill_and_no_quantities() -> None:
    trade_id = "7d6c5b4a-0000-4f1f-9d55-0d4c8a1e0003"
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_price_2_trade.json")) == [
        price_event(
            event_id=f"upbit:{PRICE_UUID}:trade:{trade_id}:{T0 + 600002}",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="trade",
            event_time=T0 + 600002,
            filled_qty=D("0.00071428"),
            avg_fill_price=D("139999000.0"),
            fee=D("49.99951"),
            fill=fill(
                order_id=PRICE_UUID,
                trade_id=trade_id,
                price=D("139999000.0"),
                qty=D("0.00071428"),
                fee=D("49.99951"),
                liquidity=Liquidity.TAKER,
                trade_time=T0 + 600001,
            ),
            sequence=11,
        )
    ]


def test_myorder_price_order_cancel_with_dust_yields_filled() -> None:
    assert run(CHANNEL_MY_ORDER, load("fixture_myOrder_price_3_cancel_dust.json")) == [
        price_event(
            event_id=f"upbit:{PRICE_UUID}:cancel::{T0 + 600003}:0.00071428:-:0",
            status=OrderStatus.FILLED,
            venue_status="cancel",
            event_time=T0 + 600003,
            qty=D("0.00071428"),
            filled_qty=D("0.00071428"),
            avg_fill_price=D("139999000.0"),
            canceled_qty=D(0),
            fee=D("49.99951"),
            quote_qty=D("100000.0"),
            cancel_reason=None,
            sequence=12,
        )
    ]


def test_myorder_price_order_cancel_without_execution_yields_canceled() -> None:
    payload = load("fixture_myOrder_price_3_cancel_dust.json")
    payload.update(executed_volume=0.0, trades_count=0, avg_price=0.0, paid_fee=0.0)
    got = one(CHANNEL_MY_ORDER, payload)
    assert (got.status, got.qty, got.filled_qty, got.canceled_qty, got.cancel_reason) == (
        OrderStatus.CANCELED,
        D("0.0"),
        D("0.0"),
        D(0),
        CancelReason.UNFILLED_REMAINDER,
    )


def test_myorder_best_bid_cancel_after_fill_stays_canceled_quote_sized() -> None:
    payload = load("fixture_myOrder_price_3_cancel_dust.json")
    payload.update(order_type="best", time_in_force="ioc")
    got = one(CHANNEL_MY_ORDER, payload)
    assert (got.status, got.order_type, got.qty, got.quote_qty, got.cancel_reason) == (
        OrderStatus.CANCELED,
        "best",
        D("0.00071428"),
        D("100000.0"),
        CancelReason.UNFILLED_REMAINDER,
    )
    assert got.time_in_force == "ioc"


# --- frames without order state ----------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "myAsset", "assets": [], "timestamp": 1},
        {"ty": "myAsset", "ast": [], "tms": 1},
        {"status": "UP"},
        [],
    ],
)
def test_myorder_frame_without_order_state_yields_nothing(payload: Any) -> None:
    assert run(CHANNEL_MY_ORDER, payload) == []


def test_myorder_error_frame_raises_naming_error() -> None:
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_MY_ORDER, load("fixture_myOrder_error_INVALID_AUTH.json"))
    assert info.value.field == "error"
    assert "INVALID_AUTH" in str(info.value)
