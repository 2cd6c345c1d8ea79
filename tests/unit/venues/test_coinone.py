"""Golden tests of the Coinone normalizer: every documented payload shape, every status row."""

from __future__ import annotations

import copy
from decimal import Decimal
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
from pipeline.venues.coinone import (
    STATUS_MAP,
    WS_STATUS_MAP,
    CoinoneNormalizer,
    pair_symbols,
    split_venue_symbol,
    venue_symbol,
)

ACCOUNT = "main"
RECEIVED = 1732000999000
D = Decimal
NORMALIZER = CoinoneNormalizer()


HARNESS = VenueHarness("coinone", NORMALIZER, ACCOUNT, RECEIVED)
load, run = HARNESS.load, HARNESS.run


def fill(**kw: Any) -> Fill:
    base: dict[str, Any] = {
        "venue": "coinone",
        "account": ACCOUNT,
        "symbol": "BTC/KRW",
        "venue_symbol": "BTC-KRW",
        "order_id": "0e30219d-1e4d-11e9-9ec7-00e04c3600d7",
        "side": Side.SELL,
        "fee_asset": "KRW",
        "received_at": RECEIVED,
    }
    return Fill(**{**base, **kw})


def event(**kw: Any) -> OrderEvent:
    base: dict[str, Any] = {
        "venue": "coinone",
        "account": ACCOUNT,
        "order_id": "0e30219d-1e4d-11e9-9ec7-00e04c3600d7",
        "symbol": "BTC/KRW",
        "venue_symbol": "BTC-KRW",
        "side": Side.SELL,
        "order_type": "limit",
        "received_at": RECEIVED,
    }
    return OrderEvent(**{**base, **kw})


# --- documented shapes, complete expected events -------------------------------------------


def test_order_detail_sample_market_buy_under_product_unit_is_filled() -> None:
    payload = load("coinone_v2.1_order_detail_market_buy_CANCELED_UNDER_PRODUCT_UNIT.json")
    assert run("rest.order_detail", payload) == [
        event(
            event_id=(
                "coinone:state:0f9d1473-1e4d-11e9-9ec7-00e04c3600d7:"
                "CANCELED_UNDER_PRODUCT_UNIT:0.03337895:0"
            ),
            order_id="0f9d1473-1e4d-11e9-9ec7-00e04c3600d7",
            side=Side.BUY,
            order_type="market",
            status=OrderStatus.FILLED,
            venue_status="CANCELED_UNDER_PRODUCT_UNIT",
            event_time=1686133903000,
            qty=D("0.03337895"),
            filled_qty=D("0.03337895"),
            avg_fill_price=D("29959000"),
            canceled_qty=D("0"),
            fee=D("1999.9999"),
            fee_asset="KRW",
            quote_qty=D("1000000"),
            is_snapshot=True,
            fills_implied=True,
        )
    ]


def test_order_cancel_sample_with_pair_channel_is_canceled_with_filled_part() -> None:
    payload = load("coinone_v2.1_order_cancel_response.json")
    assert run("rest.order_cancel:BTC-KRW", payload) == [
        event(
            event_id="coinone:state:d85cc6af-b131-4398-b269-ddbafa760a39:PARTIALLY_CANCELED:0.003:0.002",
            order_id="d85cc6af-b131-4398-b269-ddbafa760a39",
            side=Side.BUY,
            order_type="",
            status=OrderStatus.CANCELED,
            venue_status="PARTIALLY_CANCELED",
            event_time=1650525935000,  # `canceled_at` was sent in seconds
            qty=D("0.005"),
            price=D("26231000.0"),
            filled_qty=D("0.003"),
            avg_fill_price=D("26231000.0"),
            canceled_qty=D("0.002"),
            fee=D("26231.0"),
            fee_asset="KRW",
            cancel_reason=CancelReason.USER,
            is_snapshot=True,
            fills_implied=True,
        )
    ]


def test_order_detail_limit_partially_filled_states_cumulative_quantities() -> None:
    assert run("rest.order_detail", load("order_detail_limit_PARTIALLY_FILLED.json")) == [
        event(
            event_id="coinone:state:0e30219d-1e4d-11e9-9ec7-00e04c3600d7:PARTIALLY_FILLED:0.00015:0",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="PARTIALLY_FILLED",
            event_time=1732000004000,
            qty=D("0.001"),
            price=D("100000000"),
            filled_qty=D("0.00015"),
            avg_fill_price=D("100000000"),
            canceled_qty=D("0"),
            fee=D("30"),
            fee_asset="KRW",
            client_order_id="bot-order-7",
            is_snapshot=True,
            fills_implied=True,
        )
    ]


def test_active_orders_without_status_derive_label_and_use_poll_time() -> None:
    assert run("rest.active_orders", load("active_orders.json")) == [
        event(
            event_id="coinone:state:6f8e1a52-8c0b-11ee-9c1f-0242ac120003:LIVE:0:0",
            order_id="6f8e1a52-8c0b-11ee-9c1f-0242ac120003",
            symbol="XRP/KRW",
            venue_symbol="XRP-KRW",
            side=Side.BUY,
            status=OrderStatus.OPEN,
            venue_status="LIVE",
            event_time=RECEIVED,
            qty=D("100"),
            price=D("850"),
            filled_qty=D("0"),
            canceled_qty=D("0"),
            fee=D("0"),
            fee_asset="KRW",
            is_snapshot=True,
            fills_implied=True,
        ),
        event(
            event_id="coinone:state:0e30219d-1e4d-11e9-9ec7-00e04c3600d7:PARTIALLY_FILLED:0.00015:0",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="PARTIALLY_FILLED",
            event_time=RECEIVED,
            qty=D("0.001"),
            price=D("100000000"),
            filled_qty=D("0.00015"),
            avg_fill_price=D("100000000"),
            canceled_qty=D("0"),
            fee=D("30"),
            fee_asset="KRW",
            client_order_id="bot-order-7",
            is_snapshot=True,
            fills_implied=True,
        ),
        event(
            event_id="coinone:state:9b2d7c10-8c0b-11ee-9c1f-0242ac120003:NOT_TRIGGERED:0:0",
            order_id="9b2d7c10-8c0b-11ee-9c1f-0242ac120003",
            symbol="ETH/KRW",
            venue_symbol="ETH-KRW",
            order_type="stop_limit",
            status=OrderStatus.UNTRIGGERED,
            venue_status="NOT_TRIGGERED",
            event_time=RECEIVED,
            qty=D("0.5"),
            price=D("4900000"),
            filled_qty=D("0"),
            canceled_qty=D("0"),
            fee=D("0"),
            fee_asset="KRW",
            stop_price=D("4950000"),
            is_snapshot=True,
            fills_implied=True,
        ),
    ]


def test_completed_orders_carry_real_fills_and_no_cumulative_quantities() -> None:
    first, second = run("rest.completed_orders", load("completed_orders.json"))
    assert first == event(
        event_id="coinone:trade:0e30219d-1e4d-11e9-9ec7-00e04c3600d7:0e2bb80f-1e4d-11e9-9ec7-00e04c3600d1",
        status=OrderStatus.PARTIALLY_FILLED,
        venue_status="trade",
        event_time=1732000002000,
        is_snapshot=True,
        fill=fill(
            trade_id="0e2bb80f-1e4d-11e9-9ec7-00e04c3600d1",
            price=D("100000000"),
            qty=D("0.0001"),
            fee=D("20"),
            liquidity=Liquidity.MAKER,
            trade_time=1732000002000,
        ),
    )
    assert second.fill == fill(
        trade_id="0e2bb80f-1e4d-11e9-9ec7-00e04c3600d2",
        price=D("100000000"),
        qty=D("0.00005"),
        fee=D("10"),
        liquidity=Liquidity.TAKER,
        trade_time=1732000004000,
    )
    assert not first.fills_implied
    assert not second.fills_implied


def test_myorder_wait_frame_is_open_realtime_event() -> None:
    assert run("MYORDER", load("myorder_wait.json")) == [
        event(
            event_id="coinone:ws:0e30219d-1e4d-11e9-9ec7-00e04c3600d7:wait::1732000000010",
            status=OrderStatus.OPEN,
            venue_status="wait",
            event_time=1732000000010,
            qty=D("0.001"),
            price=D("100000000"),
            client_order_id="bot-order-7",
        )
    ]


def test_myorder_trade_frame_carries_fill() -> None:
    assert run("MYORDER", load("myorder_trade.json")) == [
        event(
            event_id=(
                "coinone:ws:0e30219d-1e4d-11e9-9ec7-00e04c3600d7:trade:"
                "0e2bb80f-1e4d-11e9-9ec7-00e04c3600d1:1732000002004"
            ),
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="trade",
            event_time=1732000002004,
            qty=D("0.001"),
            price=D("100000000"),
            client_order_id="bot-order-7",
            fill=fill(
                trade_id="0e2bb80f-1e4d-11e9-9ec7-00e04c3600d1",
                price=D("100000000"),
                qty=D("0.0001"),
                fee=D("20"),
                liquidity=Liquidity.MAKER,
                trade_time=1732000002000,
            ),
        )
    ]


def test_myorder_cancel_frame_reports_canceled_quantity() -> None:
    assert run("MYORDER", load("myorder_cancel.json")) == [
        event(
            event_id="coinone:ws:0e30219d-1e4d-11e9-9ec7-00e04c3600d7:cancel::1732000009003",
            status=OrderStatus.CANCELED,
            venue_status="cancel",
            event_time=1732000009003,
            qty=D("0.001"),
            price=D("100000000"),
            canceled_qty=D("0.00085"),
            client_order_id="bot-order-7",
            cancel_reason=CancelReason.USER,
        )
    ]


def test_myorder_trade_done_market_sell_is_filled_with_fill() -> None:
    order_id = "b5a0f2c4-8c0c-11ee-9c1f-0242ac120003"
    trade_id = "c7e1d9a0-8c0c-11ee-9c1f-0242ac120003"
    assert run("MYORDER", load("myorder_trade_done_market_sell.json")) == [
        event(
            event_id=f"coinone:ws:{order_id}:trade_done:{trade_id}:1732000300002",
            order_id=order_id,
            symbol="ETH/KRW",
            venue_symbol="ETH-KRW",
            order_type="market",
            status=OrderStatus.FILLED,
            venue_status="trade_done",
            event_time=1732000300002,
            qty=D("0.2"),
            fill=fill(
                order_id=order_id,
                symbol="ETH/KRW",
                venue_symbol="ETH-KRW",
                trade_id=trade_id,
                price=D("4950000"),
                qty=D("0.2"),
                fee=D("1980"),
                liquidity=Liquidity.TAKER,
                trade_time=1732000300000,
            ),
        )
    ]


def test_myorder_control_frame_yields_nothing() -> None:
    assert run("MYORDER", load("myorder_pong.json")) == []
    assert run("MYORDER", {"response_type": "SUBSCRIBED", "channel": "MYORDER"}) == []


def test_registry_serves_coinone_normalizer() -> None:
    assert isinstance(normalizer_for("coinone"), CoinoneNormalizer)


# --- status mapping, every row ---------------------------------------------------------------

LIMIT_ORDER = load("order_detail_limit_PARTIALLY_FILLED.json")

# label, quantity overrides, expected status, expected cancel reason
STATUS_ROWS: list[tuple[str, dict[str, Any], OrderStatus, CancelReason | None]] = [
    ("LIVE", {"executed_qty": "0", "remain_qty": "0.001"}, OrderStatus.OPEN, None),
    ("LIVE", {}, OrderStatus.PARTIALLY_FILLED, None),
    ("PARTIALLY_FILLED", {}, OrderStatus.PARTIALLY_FILLED, None),
    (
        "PARTIALLY_CANCELED",
        {"canceled_qty": "0.00085", "remain_qty": "0"},
        OrderStatus.CANCELED,
        CancelReason.USER,
    ),
    (
        "PARTIALLY_CANCELED",
        {"canceled_qty": "0.0005", "remain_qty": "0.00035"},
        OrderStatus.PARTIALLY_FILLED,
        None,
    ),
    ("FILLED", {"executed_qty": "0.001", "remain_qty": "0"}, OrderStatus.FILLED, None),
    (
        "CANCELED",
        {"executed_qty": "0", "canceled_qty": "0.001", "remain_qty": "0"},
        OrderStatus.CANCELED,
        CancelReason.USER,
    ),
    ("NOT_TRIGGERED", {"executed_qty": "0", "remain_qty": "0.001"}, OrderStatus.UNTRIGGERED, None),
    (
        "NOT_TRIGGERED_PARTIALLY_CANCELED",
        {"executed_qty": "0", "canceled_qty": "0.0004", "remain_qty": "0.0006"},
        OrderStatus.UNTRIGGERED,
        None,
    ),
    (
        "NOT_TRIGGERED_PARTIALLY_CANCELED",
        {"executed_qty": "0", "canceled_qty": "0.001", "remain_qty": "0"},
        OrderStatus.CANCELED,
        CancelReason.USER,
    ),
    (
        "NOT_TRIGGERED_CANCELED",
        {"executed_qty": "0", "canceled_qty": "0.001", "remain_qty": "0"},
        OrderStatus.CANCELED,
        CancelReason.USER,
    ),
    ("TRIGGERED", {"executed_qty": "0", "remain_qty": "0.001"}, OrderStatus.OPEN, None),
    ("TRIGGERED", {}, OrderStatus.PARTIALLY_FILLED, None),
    (
        "CANCELED_NO_ORDER",
        {"canceled_qty": "0.00085", "remain_qty": "0"},
        OrderStatus.CANCELED,
        CancelReason.UNFILLED_REMAINDER,
    ),
    ("CANCELED_NO_ORDER", {"executed_qty": "0.001", "remain_qty": "0"}, OrderStatus.FILLED, None),
    (
        "CANCELED_LIMIT_PRICE_EXCEED",
        {"canceled_qty": "0.00085", "remain_qty": "0"},
        OrderStatus.CANCELED,
        CancelReason.UNFILLED_REMAINDER,
    ),
    (
        "CANCELED_UNDER_PRODUCT_UNIT",
        {"executed_qty": "0.00099999", "canceled_qty": "0.00000001", "remain_qty": "0"},
        OrderStatus.FILLED,
        None,
    ),
    (
        "CANCELED_UNDER_PRODUCT_UNIT",
        {"executed_qty": "0", "canceled_qty": "0.001", "remain_qty": "0"},
        OrderStatus.CANCELED,
        CancelReason.UNFILLED_REMAINDER,
    ),
]


def test_status_rows_cover_every_label() -> None:
    assert {row[0] for row in STATUS_ROWS} == set(STATUS_MAP)


@pytest.mark.parametrize(("label", "overrides", "expected", "reason"), STATUS_ROWS)
def test_order_detail_status_label_maps_to_canonical(
    label: str, overrides: dict[str, Any], expected: OrderStatus, reason: CancelReason | None
) -> None:
    payload = copy.deepcopy(LIMIT_ORDER)
    payload["order"].update(status=label, **overrides)
    (result,) = run("rest.order_detail", payload)
    assert (result.status, result.cancel_reason, result.venue_status) == (expected, reason, label)
    if expected.is_terminal:
        assert result.qty == result.filled_qty + result.canceled_qty


@pytest.mark.parametrize(
    ("label", "remain", "expected"),
    [
        ("wait", "0.001", OrderStatus.OPEN),
        ("watch", "0.001", OrderStatus.UNTRIGGERED),
        ("not_triggered", "0.001", OrderStatus.UNTRIGGERED),
        ("trade", "0.0009", OrderStatus.PARTIALLY_FILLED),
        ("trade_done", "0", OrderStatus.FILLED),
        ("cancel", "0", OrderStatus.CANCELED),
        ("cancel", "0.0005", OrderStatus.OPEN),  # a partial cancel keeps the order working
        ("cancel_post_only", "0", OrderStatus.CANCELED),
        ("TRADE", "0.0009", OrderStatus.PARTIALLY_FILLED),  # compared in lower case
    ],
)
def test_myorder_status_label_maps_to_canonical(
    label: str, remain: str, expected: OrderStatus
) -> None:
    payload = load("myorder_trade.json")
    payload["d"].update(st=label, rq=remain)
    (result,) = run("MYORDER", payload)
    assert result.status is expected
    assert result.venue_status == label
    assert (result.fill is not None) == (label.lower() in {"trade", "trade_done"})


def test_myorder_status_rows_cover_every_label() -> None:
    assert set(WS_STATUS_MAP) == {
        "wait",
        "watch",
        "not_triggered",
        "trade",
        "trade_done",
        "cancel",
        "cancel_post_only",
    }


def test_myorder_cancel_post_only_is_canceled_by_exchange() -> None:
    payload = load("myorder_cancel.json")
    payload["d"]["st"] = "cancel_post_only"
    assert run("MYORDER", payload)[0].cancel_reason is CancelReason.EXCHANGE


def test_order_cancel_reply_after_full_fill_is_filled() -> None:
    payload = load("coinone_v2.1_order_cancel_response.json")
    payload.update(traded_qty="0.005", canceled_qty="0.0", remain_qty="0.0")
    (result,) = run("rest.order_cancel:BTC-KRW", payload)
    assert (result.status, result.venue_status) == (OrderStatus.FILLED, "FILLED")


def test_order_cancel_reply_pair_in_payload_wins_over_channel() -> None:
    payload = load("coinone_v2.1_order_cancel_response.json")
    payload.update(quote_currency="KRW", target_currency="ETH")
    (result,) = run("rest.order_cancel", payload)
    assert (result.symbol, result.venue_symbol) == ("ETH/KRW", "ETH-KRW")


def test_order_cancel_reply_millisecond_time_is_kept() -> None:
    payload = load("coinone_v2.1_order_cancel_response.json")
    payload["canceled_at"] = 1650525935123
    assert run("rest.order_cancel:BTC-KRW", payload)[0].event_time == 1650525935123


# --- symbols ---------------------------------------------------------------------------------


def test_pair_symbols_unified_and_venue_spelling() -> None:
    assert pair_symbols("btc", "krw", "") == ("BTC/KRW", "BTC-KRW")
    assert venue_symbol("BTC", "KRW") == "BTC-KRW"
    assert split_venue_symbol("XRP-KRW", "channel") == ("XRP", "KRW")


# --- malformed payloads ----------------------------------------------------------------------


def _detail(**changes: Any) -> Any:
    payload = copy.deepcopy(LIMIT_ORDER)
    for key, value in changes.items():
        if value is _DELETE:
            del payload["order"][key]
        else:
            payload["order"][key] = value
    return payload


_DELETE = object()


@pytest.mark.parametrize(
    ("channel", "payload", "field"),
    [
        ("rest.order_detail", _detail(order_id=_DELETE), "order.order_id"),
        ("rest.order_detail", _detail(status=_DELETE), "order.status"),
        ("rest.order_detail", _detail(status="SOMETHING"), "order.status"),
        ("rest.order_detail", _detail(side="LONG"), "order.side"),
        ("rest.order_detail", _detail(type="ICEBERG"), "order.type"),
        ("rest.order_detail", _detail(executed_qty="a lot"), "order.executed_qty"),
        ("rest.order_detail", _detail(updated_at="yesterday"), "order.updated_at"),
        ("rest.order_detail", _detail(target_currency="BTC/KRW"), "order.target_currency"),
        ("rest.order_detail", {"result": "success"}, "order"),
        ("rest.order_detail", load("error_reply.json"), "result"),
        ("rest.order_detail", [1, 2], "payload"),
        ("rest.active_orders", {"active_orders": {"x": 1}}, "active_orders"),
        ("rest.active_orders", {"active_orders": ["x"]}, "active_orders[0]"),
        (
            "rest.completed_orders",
            {"completed_orders": [{"trade_id": "t"}]},
            "completed_orders[0].order_id",
        ),
        ("rest.order_cancel", load("coinone_v2.1_order_cancel_response.json"), "quote_currency"),
        ("rest.order_cancel:BTCKRW", load("coinone_v2.1_order_cancel_response.json"), "channel"),
        ("rest.order_detail:BTC-KRW", LIMIT_ORDER, "channel"),
        ("rest.orders", LIMIT_ORDER, "channel"),
        ("MYORDER", {"c": "MYORDER", "d": {}}, "r"),
        ("MYORDER", {"r": "DATA", "c": "MYASSET", "d": {}}, "c"),
        ("MYORDER", {"r": "DATA", "c": "MYORDER", "d": "x"}, "d"),
    ],
)
def test_malformed_payload_raises_naming_field(channel: str, payload: Any, field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        run(channel, payload)
    assert caught.value.field == field
    assert caught.value.venue == "coinone"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"oi": None}, "d.oi"),
        ({"st": "exploded"}, "d.st"),
        ({"s": "BUY_LONG"}, "d.s"),
        ({"ti": None}, "d.ti"),  # a trade without its trade id
        ({"eq": "0"}, "d.eq"),  # a fill of nothing
        ({"ep": None}, "d.ep"),
        ({"ts": None, "et": None, "ot": None}, "d.ot"),
    ],
)
def test_malformed_myorder_frame_raises_naming_field(changes: dict[str, Any], field: str) -> None:
    payload = load("myorder_trade.json")
    payload["d"].update(changes)
    with pytest.raises(NormalizationError) as caught:
        run("MYORDER", payload)
    assert caught.value.field == field


def test_completed_orders_is_ask_must_be_boolean() -> None:
    payload = load("completed_orders.json")
    payload["completed_orders"][1]["is_ask"] = "true"
    with pytest.raises(NormalizationError) as caught:
        run("rest.completed_orders", payload)
    assert caught.value.field == "completed_orders[1].is_ask"


# --- stable event ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "name"),
    [
        ("rest.order_detail", "order_detail_limit_PARTIALLY_FILLED.json"),
        ("rest.active_orders", "active_orders.json"),
        ("rest.completed_orders", "completed_orders.json"),
        ("rest.order_cancel:BTC-KRW", "coinone_v2.1_order_cancel_response.json"),
        ("MYORDER", "myorder_trade.json"),
    ],
)
def test_event_ids_do_not_depend_on_arrival(channel: str, name: str) -> None:
    first = [e.event_id for e in run(channel, load(name), received_at=1)]
    again = [e.event_id for e in run(channel, load(name), received_at=2)]
    assert first == again
    assert len(set(first)) == len(first)


def test_same_state_in_detail_and_active_orders_has_same_event_id() -> None:
    (detail,) = run("rest.order_detail", load("order_detail_limit_PARTIALLY_FILLED.json"))
    active = run("rest.active_orders", load("active_orders.json"))
    assert detail.event_id == active[1].event_id


def test_same_quantity_spelled_differently_has_same_event_id() -> None:
    payload = copy.deepcopy(LIMIT_ORDER)
    payload["order"]["executed_qty"] = "0.000150"
    assert (
        run("rest.order_detail", payload)[0].event_id
        == run("rest.order_detail", LIMIT_ORDER)[0].event_id
    )
