"""Golden tests of the Upbit normalizer: seed 003, the shared sample, every documented shape."""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from venue_harness import VenueHarness

from pipeline.domain.events import (
    CancelReason,
    Fill,
    Liquidity,
    OrderEvent,
    OrderStatus,
    Side,
)
from pipeline.errors import NormalizationError
from pipeline.venues import normalizer_for
from pipeline.venues.upbit import (
    CHANNEL_MY_ORDER,
    CHANNEL_REST_ORDER,
    CHANNEL_REST_ORDERS,
    STATUS_MAP,
    UpbitNormalizer,
    split_market,
    to_symbol,
)
from pipeline.venues.upbit.mapping import DEFAULT_KEYS, SIMPLE_KEYS

RESOURCES = Path(__file__).parents[2] / "resources" / "venues" / "upbit"
ACCOUNT = "main"
RECEIVED = 1735800000000
D = Decimal
NORMALIZER = UpbitNormalizer()

SEED_UUID = "ac2dc2a3-fce9-40a2-a4f6-5987c25c438f"
LIMIT_UUID = "9ca023a5-851b-4fec-9f0a-48cd83c2eaae"
PRICE_UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"


HARNESS = VenueHarness("upbit", NORMALIZER, ACCOUNT, RECEIVED)
load, run, one = HARNESS.load, HARNESS.run, HARNESS.one


def fill(**kw: Any) -> Fill:
    base: dict[str, Any] = {
        "venue": "upbit",
        "account": ACCOUNT,
        "symbol": "BTC/KRW",
        "venue_symbol": "KRW-BTC",
        "order_id": LIMIT_UUID,
        "side": Side.BUY,
        "fee_asset": "KRW",
        "received_at": RECEIVED,
    }
    return Fill(**{**base, **kw})


def event(**kw: Any) -> OrderEvent:
    """The limit-order fixture family's defaults; each test states what differs."""
    base: dict[str, Any] = {
        "venue": "upbit",
        "account": ACCOUNT,
        "order_id": LIMIT_UUID,
        "symbol": "BTC/KRW",
        "venue_symbol": "KRW-BTC",
        "side": Side.BUY,
        "order_type": "limit",
        "received_at": RECEIVED,
        "fee_asset": "KRW",
        "client_order_id": "bot-0001",
    }
    return OrderEvent(**{**base, **kw})


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


def price_event(**kw: Any) -> OrderEvent:
    return event(order_id=PRICE_UUID, order_type="market", client_order_id=None, **kw)


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


# --- the status table ------------------------------------------------------------------------


def test_status_map_covers_exactly_the_documented_states() -> None:
    assert set(STATUS_MAP) == {"wait", "watch", "trade", "done", "cancel", "prevented"}


@pytest.mark.parametrize(
    ("state", "status", "reason"),
    [
        ("wait", OrderStatus.OPEN, None),
        ("watch", OrderStatus.UNTRIGGERED, None),
        ("trade", OrderStatus.PARTIALLY_FILLED, None),
        ("done", OrderStatus.FILLED, None),
        ("cancel", OrderStatus.CANCELED, CancelReason.USER),
        ("prevented", OrderStatus.CANCELED, CancelReason.SELF_TRADE_PREVENTION),
    ],
)
def test_status_map_row_yields_canonical_status(
    state: str, status: OrderStatus, reason: CancelReason | None
) -> None:
    payload = load("fixture_myOrder_limit_2_trade.json")
    payload["state"] = state
    if state != "trade":
        payload.update(volume=0.01, trade_uuid=None, trade_fee=None)
    if state == "prevented":  # ends the order only when nothing remains (Upbit's SMP guide)
        payload.update(remaining_volume=0.0)
    got = one(CHANNEL_MY_ORDER, payload)
    assert STATUS_MAP[state] is status
    assert (got.status, got.venue_status, got.cancel_reason) == (status, state, reason)


@pytest.mark.parametrize(
    ("time_in_force", "reason"),
    [(None, CancelReason.USER), ("ioc", CancelReason.UNFILLED_REMAINDER)],
)
def test_cancel_of_limit_order_reason_depends_on_time_in_force(
    time_in_force: str | None, reason: CancelReason
) -> None:
    payload = load("fixture_myOrder_ask_cancel_partial.json")
    payload["time_in_force"] = time_in_force
    assert one(CHANNEL_MY_ORDER, payload).cancel_reason == reason


# --- malformed payloads ------------------------------------------------------------------------


def _without(name: str) -> Any:
    def mutate(p: dict[str, Any]) -> None:
        del p[name]

    return mutate


def _with(**values: Any) -> Any:
    def mutate(p: dict[str, Any]) -> None:
        p.update(values)

    return mutate


@pytest.mark.parametrize(
    ("fixture", "mutate", "field"),
    [
        ("fixture_myOrder_limit_1_wait.json", _without("uuid"), "uuid"),
        ("fixture_myOrder_limit_1_wait.json", _without("code"), "code"),
        ("fixture_myOrder_limit_1_wait.json", _without("timestamp"), "timestamp"),
        ("fixture_myOrder_limit_1_wait.json", _without("executed_volume"), "executed_volume"),
        ("fixture_myOrder_limit_1_wait.json", _without("volume"), "volume"),
        ("fixture_myOrder_limit_1_wait.json", _with(state="open"), "state"),
        ("fixture_myOrder_limit_1_wait.json", _with(state=None), "state"),
        ("fixture_myOrder_limit_1_wait.json", _with(ask_bid="BUY"), "ask_bid"),
        ("fixture_myOrder_limit_1_wait.json", _with(order_type="stop"), "order_type"),
        ("fixture_myOrder_limit_1_wait.json", _with(order_type=["limit"]), "order_type"),
        ("fixture_myOrder_limit_1_wait.json", _with(code="KRWBTC"), "code"),
        ("fixture_myOrder_limit_1_wait.json", _with(code="krw-btc"), "code"),
        ("fixture_myOrder_limit_1_wait.json", _with(code=5), "code"),
        ("fixture_myOrder_limit_1_wait.json", _with(executed_volume="x"), "executed_volume"),
        ("fixture_myOrder_limit_1_wait.json", _with(executed_volume=True), "executed_volume"),
        ("fixture_myOrder_limit_1_wait.json", _with(executed_volume=-1.0), "executed_volume"),
        ("fixture_myOrder_limit_1_wait.json", _with(price=float("nan")), "price"),
        ("fixture_myOrder_limit_1_wait.json", _with(timestamp="soon"), "timestamp"),
        ("fixture_myOrder_limit_1_wait.json", _with(trades_count="two"), "trades_count"),
        ("fixture_myOrder_limit_1_wait.json", _with(stream_type="LIVE"), "stream_type"),
        ("fixture_myOrder_limit_1_wait.json", _with(time_in_force="gtc"), "time_in_force"),
        ("fixture_myOrder_limit_1_wait.json", _with(identifier=[1]), "identifier"),
        ("fixture_myOrder_limit_1_wait.json", _with(type="myTrade"), "type"),
        ("fixture_myOrder_limit_2_trade.json", _with(is_maker="yes"), "is_maker"),
        ("fixture_myOrder_limit_2_trade.json", _with(volume=0.0), "volume"),
        ("fixture_myOrder_limit_2_trade.json", _without("remaining_volume"), "remaining_volume"),
        (
            "fixture_myOrder_limit_2_trade.json",
            _with(trade_fee=None, trades_count=2),
            "trade_fee",
        ),
        (
            "fixture_myOrder_limit_2_trade.json",
            _with(trade_uuid=None, trades_count=None),
            "trade_uuid",
        ),
        ("fixture_myOrder_limit_4_done.json", _with(executed_volume=0.02), "executed_volume"),
        ("fixture_myOrder_limit_1_wait.json", _with(executed_volume=0.02), "executed_volume"),
        ("fixture_myOrder_limit_2_trade.json", _with(remaining_volume=-0.1), "remaining_volume"),
        ("seed003_myOrder_trade_SIMPLE.json", _without("s"), "s"),
        ("seed003_myOrder_trade_SIMPLE.json", _with(ab="SELL"), "ab"),
        ("seed003_myOrder_trade_SIMPLE.json", _with(tms=None), "tms"),
    ],
)
def test_myorder_malformed_payload_raises_naming_field(
    fixture: str, mutate: Any, field: str
) -> None:
    payload = load(fixture)
    mutate(payload)
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_MY_ORDER, payload)
    assert info.value.field == field
    assert info.value.venue == "upbit"


@pytest.mark.parametrize(
    ("channel", "payload", "field"),
    [
        (CHANNEL_MY_ORDER, "not json object", "payload"),
        (CHANNEL_MY_ORDER, {"uuid": "x"}, "type"),
        (CHANNEL_MY_ORDER, [{"status": "UP"}, 7], "[1]"),
        ("myTrade", {}, "channel"),
        (CHANNEL_REST_ORDER, [], "payload"),
        (CHANNEL_REST_ORDERS, {}, "payload"),
        (CHANNEL_REST_ORDERS, [{"error": {"name": "order_not_found"}}], "[0].error"),
        (CHANNEL_REST_ORDER, {"error": {"name": "order_not_found", "message": "x"}}, "error"),
    ],
)
def test_malformed_envelope_payload_raises_naming_field(
    channel: str, payload: Any, field: str
) -> None:
    with pytest.raises(NormalizationError) as info:
        run(channel, payload)
    assert info.value.field == field


def test_myorder_error_inside_json_list_names_item_path() -> None:
    payload = load("fixture_myOrder_list_JSON_LIST.json")
    del payload[1]["uuid"]
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_MY_ORDER, payload)
    assert info.value.field == "[1].uuid"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_with(state="trade"), "state"),
        (_without("market"), "market"),
        (_with(side="BUY"), "side"),
        (_with(executed_volume="0,0"), "executed_volume"),
    ],
)
def test_rest_malformed_order_raises_naming_field(mutate: Any, field: str) -> None:
    payload = load("fixture_rest_order_cancel_reply_wait.json")
    mutate(payload)
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_REST_ORDER, payload)
    assert info.value.field == field


# --- idempotent event ids ----------------------------------------------------------------------

ALL_FIXTURES = sorted(
    (p.name for p in RESOURCES.glob("*.json") if "error" not in p.name),
)


def _channel(name: str) -> str:
    if name.startswith("fixture_rest_orders"):
        return CHANNEL_REST_ORDERS
    if name.startswith("fixture_rest_order"):
        return CHANNEL_REST_ORDER
    return CHANNEL_MY_ORDER


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_same_payload_normalized_twice_yields_identical_events(name: str) -> None:
    first = run(_channel(name), load(name))
    assert first, "every order fixture yields at least one event"
    assert first == run(_channel(name), load(name))
    redelivered = run(_channel(name), load(name), received_at=RECEIVED + 60_000)
    assert [e.event_id for e in redelivered] == [e.event_id for e in first]


def test_ws_event_id_does_not_depend_on_ingest_time() -> None:
    payload = load("fixture_myOrder_limit_2_trade.json")
    assert one(CHANNEL_MY_ORDER, payload).event_id == (
        run(CHANNEL_MY_ORDER, payload, received_at=RECEIVED + 5000)[0].event_id
    )


def test_distinct_reports_yield_distinct_event_ids() -> None:
    ids: dict[str, str] = {}
    for name in ALL_FIXTURES:
        if name in {
            "fixture_myOrder_limit_1_wait_SNAPSHOT.json",  # the same report as the REALTIME one
            "seed003_myOrder_trade_SIMPLE.json",  # the same report as the DEFAULT one
            "fixture_myOrder_list_JSON_LIST.json",  # the same reports as wait and done
            "fixture_rest_orders_open.json",  # the same object as the cancel reply
        }:
            continue
        for got in run(_channel(name), load(name)):
            assert got.event_id not in ids, (name, ids.get(got.event_id))
            ids[got.event_id] = name


def test_two_trades_of_one_order_yield_distinct_event_ids_and_fill_ids() -> None:
    first = one(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_2_trade.json"))
    second = one(CHANNEL_MY_ORDER, load("fixture_myOrder_limit_3_trade_last.json"))
    assert first.event_id != second.event_id
    assert first.fill is not None
    assert second.fill is not None
    assert first.fill.key != second.fill.key


# --- symbols, numbers, registry ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "symbol", "quote"),
    [
        ("KRW-BTC", "BTC/KRW", "KRW"),
        ("BTC-ETH", "ETH/BTC", "BTC"),
        ("USDT-XRP", "XRP/USDT", "USDT"),
        ("SGD-XRP", "XRP/SGD", "SGD"),
        ("KRW-1INCH", "1INCH/KRW", "KRW"),
    ],
)
def test_market_code_converts_to_unified_symbol(code: str, symbol: str, quote: str) -> None:
    assert to_symbol(code) == symbol
    assert split_market(code, "code") == (symbol, quote)


@pytest.mark.parametrize("code", ["KRWBTC", "KRW-", "-BTC", "KRW-BTC-X", "krw-btc"])
def test_malformed_market_code_raises(code: str) -> None:
    with pytest.raises(NormalizationError) as info:
        to_symbol(code)
    assert (info.value.field, info.value.value) == ("code", code)


def test_json_doubles_become_shortest_decimals() -> None:
    payload = load("fixture_myOrder_limit_1_wait.json")
    payload.update(volume=0.1, remaining_volume=0.1, price=0.3)
    got = one(CHANNEL_MY_ORDER, payload)
    assert (got.qty, got.price) == (D("0.1"), D("0.3"))


def test_registry_returns_upbit_normalizer() -> None:
    normalizer = normalizer_for("upbit")
    assert isinstance(normalizer, UpbitNormalizer)
    assert normalizer.venue == "upbit"


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
