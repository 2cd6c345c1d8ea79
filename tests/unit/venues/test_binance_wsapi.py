"""Golden tests of the Binance WebSocket API responses (seed 004): place, status, cancel,
cancel-replace, amend, open orders, myTrades.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance_cases import (
    ACCOUNT,
    RECEIVED,
    D,
    fill,
    load,
    run,
    snapshot,
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
from pipeline.venues.binance import (
    CHANNEL_OPEN_ORDERS_CANCEL_ALL,
    CHANNEL_OPEN_ORDERS_STATUS,
    CHANNEL_ORDER_AMEND,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_ORDER_CANCEL_REPLACE,
    CHANNEL_ORDER_PLACE,
    CHANNEL_ORDER_STATUS,
    CHANNEL_ORDER_TEST,
)

# --- WebSocket API responses (seed 004) ------------------------------------------------------

RESULT_NEW = snapshot(
    event_id="binance:BTCUSDT:12569099453:snapshot:NEW:0.00847000:0.00000000:1660801715639:",
    status=OrderStatus.OPEN,
    venue_status="NEW",
    event_time=1660801715639,
    qty=D("0.00847000"),
    price=D("23416.10000000"),
    filled_qty=D("0E-8"),
    canceled_qty=D(0),
    client_order_id="4d96324ff9d44481926157ec08158a40",
)


def test_wsapi_place_ack_yields_nothing() -> None:
    assert run(CHANNEL_ORDER_PLACE, load("seed004_wsapi_order.place_ACK.json")) == []


def test_wsapi_place_result_yields_open_snapshot() -> None:
    assert run(CHANNEL_ORDER_PLACE, load("seed004_wsapi_order.place_RESULT.json")) == [RESULT_NEW]


def test_wsapi_place_full_yields_one_snapshot_per_fill() -> None:
    prefix = "binance:BTCUSDT:12569099453:snapshot:FILLED:0.00847000:0.00847000:1660801715793"
    state: dict[str, Any] = {
        "status": OrderStatus.FILLED,
        "venue_status": "FILLED",
        "event_time": 1660801715793,
        "qty": D("0.00847000"),
        "price": D("23416.10000000"),
        "filled_qty": D("0.00847000"),
        "avg_fill_price": D("198.33521500") / D("0.00847000"),
        "canceled_qty": D("0E-8"),
        "client_order_id": "4d96324ff9d44481926157ec08158a40",
    }
    fill_common: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "venue_symbol": "BTCUSDT",
        "order_id": "12569099453",
        "side": Side.SELL,
        "fee": D("0.000000"),
        "fee_asset": "BNB",
        "liquidity": Liquidity.TAKER,
        "trade_time": 1660801715793,
    }
    assert run(CHANNEL_ORDER_PLACE, load("seed004_wsapi_order.place_FULL.json")) == [
        snapshot(
            event_id=f"{prefix}:1650422481",
            fill=fill(
                trade_id="1650422481",
                price=D("23416.10000000"),
                qty=D("0.00635000"),
                **fill_common,
            ),
            **state,
        ),
        snapshot(
            event_id=f"{prefix}:1650422482",
            fill=fill(
                trade_id="1650422482",
                price=D("23416.50000000"),
                qty=D("0.00212000"),
                **fill_common,
            ),
            **state,
        ),
    ]


@pytest.mark.parametrize(
    "name",
    ["seed004_wsapi_order.test.json", "seed004_wsapi_order.test_computeCommissionRates.json"],
)
def test_wsapi_order_test_yields_nothing(name: str) -> None:
    assert run(CHANNEL_ORDER_TEST, load(name)) == []


def test_wsapi_status_yields_filled_snapshot_at_update_time() -> None:
    assert run(CHANNEL_ORDER_STATUS, load("seed004_wsapi_order.status.json")) == [
        snapshot(
            event_id=(
                "binance:BTCUSDT:12569099453:snapshot:FILLED:0.00847000:0.00847000:1660801717945:"
            ),
            status=OrderStatus.FILLED,
            venue_status="FILLED",
            event_time=1660801717945,
            qty=D("0.00847000"),
            price=D("23416.10000000"),
            filled_qty=D("0.00847000"),
            avg_fill_price=D("198.33521500") / D("0.00847000"),
            canceled_qty=D("0E-8"),
            client_order_id="4d96324ff9d44481926157",
        )
    ]


CANCELED_12569099453 = snapshot(
    event_id="binance:BTCUSDT:12569099453:snapshot:CANCELED:0.00847000:0.00001000:1684804350068:",
    status=OrderStatus.CANCELED,
    venue_status="CANCELED",
    event_time=1684804350068,
    qty=D("0.00847000"),
    price=D("23416.10000000"),
    filled_qty=D("0.00001000"),
    avg_fill_price=D("23416.1"),
    canceled_qty=D("0.00846000"),
    client_order_id="4d96324ff9d44481926157",  # origClientOrderId, not the cancel's id
    cancel_reason=CancelReason.USER,
)


def _list_leg(order_id: str, side_type: str, price: str, client: str, stop: str | None) -> Any:
    return snapshot(
        event_id=(
            f"binance:BTCUSDT:{order_id}:snapshot:CANCELED:0.00850000:0.00000000:1684804350068:"
        ),
        order_id=order_id,
        side=Side.BUY,
        order_type=side_type,
        status=OrderStatus.CANCELED,
        venue_status="CANCELED",
        event_time=1684804350068,
        qty=D("0.00850000"),
        price=D(price),
        stop_price=None if stop is None else D(stop),
        filled_qty=D("0E-8"),
        canceled_qty=D("0.00850000"),
        client_order_id=client,
        cancel_reason=CancelReason.USER,
    )


OCO_LEGS = [
    _list_leg(
        "12569099453", "stop_loss_limit", "23450.50000000", "bX5wROblo6YeDwa9iTLeyY", "23430.00"
    ),
    _list_leg("12569099454", "limit_maker", "23400.00000000", "Tnu2IP0J5Y4mxw3IATBfmW", None),
]


def test_wsapi_cancel_yields_canceled_snapshot_with_original_client_id() -> None:
    assert run(CHANNEL_ORDER_CANCEL, load("seed004_wsapi_order.cancel.json")) == [
        CANCELED_12569099453
    ]


def test_wsapi_cancel_of_order_list_yields_each_leg() -> None:
    assert run(CHANNEL_ORDER_CANCEL, load("seed004_wsapi_order.cancel_orderList.json")) == OCO_LEGS


def test_wsapi_cancel_all_sample_yields_plain_order_and_list_legs() -> None:
    payload = load("binance_wsapi_openOrders.cancelAll_response.json")
    assert run(CHANNEL_OPEN_ORDERS_CANCEL_ALL, payload) == [CANCELED_12569099453, *OCO_LEGS]


CANCEL_REPLACE_CANCELED = snapshot(
    event_id="binance:BTCUSDT:125690984230:snapshot:CANCELED:0.00847000:0.00001000:1684804350068:",
    order_id="125690984230",
    status=OrderStatus.CANCELED,
    venue_status="CANCELED",
    event_time=1684804350068,
    qty=D("0.00847000"),
    price=D("23450.00000000"),
    filled_qty=D("0.00001000"),
    avg_fill_price=D("23450"),
    canceled_qty=D("0.00846000"),
    client_order_id="4d96324ff9d44481926157",
    cancel_reason=CancelReason.USER,
)
CANCEL_REPLACE_NEW = snapshot(
    event_id="binance:BTCUSDT:12569099453:snapshot:NEW:0.00847000:0.00000000:1660813156959:",
    status=OrderStatus.OPEN,
    venue_status="NEW",
    event_time=1660813156959,
    qty=D("0.00847000"),
    price=D("23416.10000000"),
    filled_qty=D("0E-8"),
    canceled_qty=D(0),
    client_order_id="bX5wROblo6YeDwa9iTLeyY",
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "seed004_wsapi_order.cancelReplace_200.json",
            [CANCEL_REPLACE_CANCELED, CANCEL_REPLACE_NEW],
        ),
        ("seed004_wsapi_order.cancelReplace_409_new_failed.json", [CANCEL_REPLACE_CANCELED]),
        ("binance_wsapi_order.cancelReplace_409_partial_failure.json", [CANCEL_REPLACE_CANCELED]),
        ("seed004_wsapi_order.cancelReplace_409_cancel_failed.json", [CANCEL_REPLACE_NEW]),
        ("seed004_wsapi_order.cancelReplace_400_cancel_failed.json", []),
        ("seed004_wsapi_order.cancelReplace_400_both_failed.json", []),
        ("seed004_wsapi_order.cancelReplace_429_too_many_orders.json", []),
    ],
)
def test_wsapi_cancel_replace_yields_the_halves_that_succeeded(
    name: str, expected: list[OrderEvent]
) -> None:
    assert run(CHANNEL_ORDER_CANCEL_REPLACE, load(name)) == expected


def test_wsapi_cancel_replace_cancel_only_sample_yields_canceled_ltcbnb() -> None:
    payload = load("seed004_wsapi_order.cancelReplace_409_cancel_only.json")
    assert run(CHANNEL_ORDER_CANCEL_REPLACE, payload) == [
        snapshot(
            event_id="binance:LTCBNB:64:snapshot:CANCELED:10.00000000:0.00000000:1715779007228:",
            order_id="64",
            symbol="LTC/BNB",
            venue_symbol="LTCBNB",
            status=OrderStatus.CANCELED,
            venue_status="CANCELED",
            event_time=1715779007228,
            qty=D("10.00000000"),
            price=D("1.00"),
            filled_qty=D("0E-8"),
            canceled_qty=D("10.00000000"),
            client_order_id="GKt5zzfOxRDSQLveDYCTkc",
            cancel_reason=CancelReason.USER,
        )
    ]


def test_wsapi_amend_yields_reduced_quantity_with_execution_id() -> None:
    assert run(CHANNEL_ORDER_AMEND, load("seed004_wsapi_order.amend.keepPriority.json")) == [
        snapshot(
            event_id="binance:BTCUSDT:12:snapshot:NEW:5.00000000:0.00000000:1741923284382:",
            order_id="12",
            side=Side.BUY,
            status=OrderStatus.OPEN,
            venue_status="NEW",
            event_time=1741923284382,
            qty=D("5.00000000"),
            price=D("5.00000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D("0E-8"),  # preventedQty
            client_order_id="4zR9HFcEq8gM1tWUqPEUHc",  # the order's id after the amend
            sequence=16,
        )
    ]


def test_wsapi_amend_seed_typo_symbol_raises_naming_symbol() -> None:
    payload = load("seed004_wsapi_order.amend.keepPriority_orderList_BTUCSDT.json")
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_ORDER_AMEND, payload)
    assert (info.value.field, info.value.value) == ("result.amendedOrder.symbol", "BTUCSDT")


def test_wsapi_open_orders_yields_snapshots_including_untriggered_stop() -> None:
    assert run(CHANNEL_OPEN_ORDERS_STATUS, load("fixture_wsapi_openOrders.status.json")) == [
        snapshot(
            event_id=(
                "binance:BTCUSDT:12569099453:snapshot:PARTIALLY_FILLED:0.00847000:0.00720000:"
                "1660801717945:"
            ),
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="PARTIALLY_FILLED",
            event_time=1660801717945,
            qty=D("0.00847000"),
            price=D("23416.10000000"),
            filled_qty=D("0.00720000"),
            avg_fill_price=D("23416.1"),
            canceled_qty=D(0),
            client_order_id="4d96324ff9d44481926157",
        ),
        snapshot(
            event_id=(
                "binance:BTCUSDT:12569099460:snapshot:NEW:0.01000000:0.00000000:1660801720000:"
            ),
            order_id="12569099460",
            order_type="stop_loss_limit",
            status=OrderStatus.UNTRIGGERED,
            venue_status="NEW",
            event_time=1660801720000,
            qty=D("0.01000000"),
            price=D("22000.00000000"),
            stop_price=D("22100.00000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D(0),
            client_order_id="stop_btc_1",
        ),
    ]


def test_wsapi_clean_error_response_yields_nothing() -> None:
    payload = {"id": "x", "status": 400, "error": {"code": -2011, "msg": "Unknown order sent."}}
    assert run(CHANNEL_ORDER_CANCEL, payload) == []
    assert run(CHANNEL_OPEN_ORDERS_STATUS, payload) == []
    assert run(CHANNEL_ORDER_AMEND, payload) == []


# --- myTrades ------------------------------------------------------------------------------

MY_TRADES = {
    "id": "mt-1",
    "status": 200,
    "result": [
        {"symbol": "BTCUSDT", "id": 28457, "orderId": 100234, "orderListId": -1,
         "price": "4.00000100", "qty": "12.00000000", "quoteQty": "48.000012",
         "commission": "10.10000000", "commissionAsset": "BNB", "time": 1499865549590,
         "isBuyer": True, "isMaker": False, "isBestMatch": True},
        {"symbol": "BTCUSDT", "id": 28458, "orderId": 100235, "price": "4.1",
         "qty": "1", "quoteQty": "4.1", "commission": "0.001", "commissionAsset": "USDT",
         "time": 1499865549591, "isBuyer": False, "isMaker": True},
    ],
}  # fmt: skip


def test_my_trades_yield_one_fill_only_snapshot_per_trade() -> None:
    first, second = run("wsapi.myTrades", MY_TRADES)
    assert first == OrderEvent(
        event_id="binance:BTCUSDT:100234:trade:28457",
        venue="binance",
        account=ACCOUNT,
        order_id="100234",
        symbol="BTC/USDT",
        venue_symbol="BTCUSDT",
        side=Side.BUY,
        order_type="",
        status=OrderStatus.PARTIALLY_FILLED,
        venue_status="TRADE",
        event_time=RECEIVED,
        received_at=RECEIVED,
        fill=Fill(
            venue="binance",
            account=ACCOUNT,
            symbol="BTC/USDT",
            venue_symbol="BTCUSDT",
            order_id="100234",
            trade_id="28457",  # the user stream's `t`
            side=Side.BUY,
            price=Decimal("4.00000100"),
            qty=Decimal("12.00000000"),
            fee=Decimal("10.10000000"),
            fee_asset="BNB",
            liquidity=Liquidity.TAKER,
            trade_time=1499865549590,
            received_at=RECEIVED,
        ),
        is_snapshot=True,
    )
    assert second.fill is not None
    assert (second.side, second.fill.liquidity, second.order_id) == (
        Side.SELL,
        Liquidity.MAKER,
        "100235",
    )


def test_my_trades_error_reply_yields_nothing() -> None:
    error = {"id": "e", "status": 400, "error": {"code": -1121, "msg": "Invalid symbol."}}
    assert run("wsapi.myTrades", error) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [({"isBuyer": None}, "isBuyer"), ({"qty": "0"}, "qty"), ({"id": None}, "id")],
)
def test_my_trades_bad_items_are_rejected(change: dict[str, Any], field: str) -> None:
    payload = {**MY_TRADES, "result": [{**MY_TRADES["result"][0], **change}]}
    with pytest.raises(NormalizationError) as info:
        run("wsapi.myTrades", payload)
    assert info.value.field == f"result[0].{field}"
