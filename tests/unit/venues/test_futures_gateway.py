"""Golden tests of the futures gateway normalizer: the documented shapes and status table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from venue_harness import VenueHarness

from pipeline.domain.events import CancelReason, OrderEvent, OrderStatus, Side
from pipeline.errors import NormalizationError
from pipeline.venues import normalizer_for
from pipeline.venues.futures_gateway import STATUS_MAP, FuturesGatewayNormalizer, to_symbol

ACCOUNT = "EXCHANGE_2"
RECEIVED = 1732000999000
D = Decimal
NORMALIZER = FuturesGatewayNormalizer()
LIMIT_ID = "01936be4-2571-7a3f-97fa-a29a2b85d717"
STOP_ID = "01936be4-9e37-7487-8e31-20fede6ef271"


HARNESS = VenueHarness("futures_gateway", NORMALIZER, ACCOUNT, RECEIVED)
load, run = HARNESS.load, HARNESS.run


def limit_event(**kw: Any) -> OrderEvent:
    base: dict[str, Any] = {
        "venue": "futures_gateway",
        "account": ACCOUNT,
        "order_id": LIMIT_ID,
        "symbol": "BTC/USDT:USDT",
        "venue_symbol": "BTCUSDT",
        "side": Side.BUY,
        "order_type": "limit",
        "received_at": RECEIVED,
        "qty": D("0.010"),
        "price": D("64000.0"),
        "filled_qty": D("0.004"),
        "avg_fill_price": D("63990.5"),
        "fee": D("0.10238"),
        "fee_asset": "USDT",
        "client_order_id": "grid-17",
        "time_in_force": "gtc",
        "is_snapshot": True,
        "fills_implied": True,
    }
    return OrderEvent(**{**base, **kw})


def stop_event(**kw: Any) -> OrderEvent:
    base: dict[str, Any] = {
        "venue": "futures_gateway",
        "account": ACCOUNT,
        "order_id": STOP_ID,
        "symbol": "BTC/USDT:USDT",
        "venue_symbol": "BTCUSDT",
        "side": Side.SELL,
        "order_type": "stop_market",
        "received_at": RECEIVED,
        "qty": D("0.010"),
        "filled_qty": D("0"),
        "fee": D("0"),
        "fee_asset": "USDT",
        "stop_price": D("60000"),
        "is_snapshot": True,
        "fills_implied": True,
    }
    return OrderEvent(**{**base, **kw})


# --- documented shapes, complete expected events -------------------------------------------


def test_order_status_limit_partially_filled_states_cumulative_quantities() -> None:
    assert run("rest.order_status", load("order_status_LIMIT_PARTIALLY_FILLED.json")) == [
        limit_event(
            event_id=f"futures_gateway:{LIMIT_ID}:PARTIALLY_FILLED:0.004:1732000005000",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="PARTIALLY_FILLED",
            event_time=1732000005000,
        )
    ]


def test_order_status_stop_market_new_is_untriggered() -> None:
    assert run("rest.order_status", load("order_status_STOP_MARKET_NEW.json")) == [
        stop_event(
            event_id=f"futures_gateway:{STOP_ID}:NEW:0:1732000001000",
            status=OrderStatus.UNTRIGGERED,
            venue_status="NEW",
            event_time=1732000001000,
        )
    ]


def test_order_status_cancellation_raised_is_pending_cancel() -> None:
    payload = load("order_status_STOP_MARKET_CANCELLATION_RAISED.json")
    assert run("rest.order_status", payload) == [
        stop_event(
            event_id=f"futures_gateway:{STOP_ID}:CANCELLATION_RAISED:0:1732000060000",
            status=OrderStatus.PENDING_CANCEL,
            venue_status="CANCELLATION_RAISED",
            event_time=1732000060000,
        )
    ]


def test_order_status_cancelled_after_partial_fill_keeps_filled_part() -> None:
    assert run("rest.order_status", load("order_status_LIMIT_CANCELLED.json")) == [
        limit_event(
            event_id=f"futures_gateway:{LIMIT_ID}:CANCELLED:0.004:1732000061000",
            status=OrderStatus.CANCELED,
            venue_status="CANCELLED",
            event_time=1732000061000,
            canceled_qty=D("0.006"),
            cancel_reason=CancelReason.USER,
        )
    ]


def test_open_orders_yield_one_snapshot_per_order() -> None:
    assert run("rest.open_orders", load("open_orders.json")) == [
        limit_event(
            event_id=f"futures_gateway:{LIMIT_ID}:PARTIALLY_FILLED:0.004:1732000005000",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="PARTIALLY_FILLED",
            event_time=1732000005000,
        ),
        stop_event(
            event_id=f"futures_gateway:{STOP_ID}:NEW:0:1732000001000",
            status=OrderStatus.UNTRIGGERED,
            venue_status="NEW",
            event_time=1732000001000,
        ),
    ]


def test_cancel_all_reply_is_acknowledgement_only() -> None:
    assert run("rest.cancel_all", load("cancel_all_response.json")) == []
    assert run("rest.cancel_all", {"data": {"orders_ids": []}}) == []


def test_registry_serves_futures_gateway_normalizer() -> None:
    assert isinstance(normalizer_for("futures_gateway"), FuturesGatewayNormalizer)


@pytest.mark.parametrize(
    ("venue_symbol", "symbol"),
    [
        ("BTCUSDT", "BTC/USDT:USDT"),
        ("ETHUSDC", "ETH/USDC:USDC"),
        ("1000PEPEUSDT", "1000PEPE/USDT:USDT"),
        ("BTCFDUSD", "BTC/FDUSD:FDUSD"),
    ],
)
def test_to_symbol_linear_perpetual_uses_ccxt_swap_notation(venue_symbol: str, symbol: str) -> None:
    assert to_symbol(venue_symbol, "symbol") == symbol


# --- status mapping, every row ---------------------------------------------------------------

# status, order type, executed quantity, expected status, expected cancel reason
STATUS_ROWS: list[tuple[str, str, str, OrderStatus, CancelReason | None]] = [
    ("NEW", "LIMIT", "0", OrderStatus.OPEN, None),
    ("NEW", "TAKE_PROFIT_MARKET", "0", OrderStatus.UNTRIGGERED, None),
    ("OPEN", "LIMIT", "0", OrderStatus.OPEN, None),
    ("OPEN", "LIMIT", "0.004", OrderStatus.PARTIALLY_FILLED, None),
    ("OPEN", "STOP_MARKET", "0", OrderStatus.UNTRIGGERED, None),
    ("TRIGGERED", "STOP_MARKET", "0", OrderStatus.OPEN, None),
    ("TRIGGERED", "TAKE_PROFIT_MARKET", "0.004", OrderStatus.PARTIALLY_FILLED, None),
    ("PARTIALLY_FILLED", "LIMIT", "0.004", OrderStatus.PARTIALLY_FILLED, None),
    ("FILLED", "MARKET", "0.010", OrderStatus.FILLED, None),
    ("CANCELLATION_RAISED", "LIMIT", "0.004", OrderStatus.PENDING_CANCEL, None),
    ("CANCELLED", "LIMIT", "0.004", OrderStatus.CANCELED, CancelReason.USER),
    ("CANCELLED", "MARKET", "0.004", OrderStatus.CANCELED, CancelReason.UNFILLED_REMAINDER),
    ("REJECTED", "LIMIT", "0", OrderStatus.REJECTED, None),
    ("EXPIRED", "LIMIT", "0", OrderStatus.EXPIRED, None),
    ("EXPIRED", "MARKET", "0.004", OrderStatus.EXPIRED, CancelReason.UNFILLED_REMAINDER),
]


def test_status_rows_cover_every_label() -> None:
    assert {row[0] for row in STATUS_ROWS} == set(STATUS_MAP)


@pytest.mark.parametrize(("label", "order_type", "executed", "expected", "reason"), STATUS_ROWS)
def test_order_status_label_maps_to_canonical(
    label: str,
    order_type: str,
    executed: str,
    expected: OrderStatus,
    reason: CancelReason | None,
) -> None:
    payload = load("order_status_LIMIT_PARTIALLY_FILLED.json")
    payload["data"].update(status=label, type=order_type, executed_quantity=executed)
    (result,) = run("rest.order_status", payload)
    assert (result.status, result.cancel_reason, result.venue_status) == (expected, reason, label)
    if expected.is_terminal:
        assert result.qty == result.filled_qty + result.canceled_qty
    else:
        assert result.canceled_qty is None


def test_order_status_ioc_remainder_cancel_is_unfilled_remainder() -> None:
    payload = load("order_status_LIMIT_CANCELLED.json")
    payload["data"]["time_in_force"] = "IOC"
    (result,) = run("rest.order_status", payload)
    assert (result.cancel_reason, result.time_in_force) == (CancelReason.UNFILLED_REMAINDER, "ioc")


# --- malformed payloads ----------------------------------------------------------------------


def _order(**changes: Any) -> Any:
    payload = load("order_status_LIMIT_PARTIALLY_FILLED.json")
    for key, value in changes.items():
        if value is None:
            payload["data"].pop(key)
        else:
            payload["data"][key] = value
    return payload


@pytest.mark.parametrize(
    ("channel", "payload", "field"),
    [
        ("rest.order_status", _order(order_id=None), "data.order_id"),
        ("rest.order_status", _order(exchange="EXCHANGE_9"), "data.exchange"),
        ("rest.order_status", _order(symbol="BTC-PERP"), "data.symbol"),
        ("rest.order_status", _order(symbol="USDT"), "data.symbol"),
        ("rest.order_status", _order(side="LONG"), "data.side"),
        ("rest.order_status", _order(type="TRAILING_STOP"), "data.type"),
        ("rest.order_status", _order(status="UNKNOWN"), "data.status"),
        ("rest.order_status", _order(time_in_force="DAY"), "data.time_in_force"),
        ("rest.order_status", _order(quantity="ten"), "data.quantity"),
        ("rest.order_status", _order(executed_quantity=None), "data.executed_quantity"),
        ("rest.order_status", _order(executed_quantity="0.011"), "data.executed_quantity"),
        ("rest.order_status", _order(updated_at="now"), "data.updated_at"),
        ("rest.order_status", {"data": []}, "data"),
        ("rest.order_status", {}, "data"),
        ("rest.order_status", load("error_reply_rate_limited.json"), "error"),
        ("rest.open_orders", {"data": {"orders": {}}}, "data.orders"),
        ("rest.open_orders", {"data": {"orders": [None]}}, "data.orders[0]"),
        ("rest.cancel_all", {"data": {}}, "data.orders_ids"),
        ("rest.cancel_all", {"data": {"orders_ids": ["a", 7]}}, "data.orders_ids[1]"),
        ("rest.cancel_all", load("error_reply_rate_limited.json"), "error"),
        ("order_status", {}, "channel"),
    ],
)
def test_malformed_payload_raises_naming_field(channel: str, payload: Any, field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        run(channel, payload)
    assert caught.value.field == field
    assert caught.value.venue == "futures_gateway"


# --- stable event ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "order_status_LIMIT_PARTIALLY_FILLED.json",
        "order_status_STOP_MARKET_NEW.json",
        "order_status_LIMIT_CANCELLED.json",
    ],
)
def test_event_ids_do_not_depend_on_arrival(name: str) -> None:
    first = run("rest.order_status", load(name), received_at=1)
    assert first[0].event_id == run("rest.order_status", load(name), received_at=2)[0].event_id


def test_event_id_changes_with_state() -> None:
    ids = {
        run("rest.order_status", load(name))[0].event_id
        for name in (
            "order_status_LIMIT_PARTIALLY_FILLED.json",
            "order_status_LIMIT_CANCELLED.json",
            "order_status_STOP_MARKET_NEW.json",
            "order_status_STOP_MARKET_CANCELLATION_RAISED.json",
        )
    }
    assert len(ids) == 4
