"""Golden tests of the futures gateway normalizer: the documented shapes and status table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from venue_harness import VenueHarness

from pipeline.domain.book import TradingBook
from pipeline.domain.events import CancelReason, Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.errors import NormalizationError
from pipeline.venues import normalizer_for
from pipeline.venues.futures_gateway import (
    CHANNELS,
    STATUS_MAP,
    FuturesGatewayNormalizer,
    to_symbol,
)

ACCOUNT = "EXCHANGE_2"
RECEIVED = 1732000999000
D = Decimal
NORMALIZER = FuturesGatewayNormalizer()
LIMIT_ID = "01936be4-2571-7a3f-97fa-a29a2b85d717"
STOP_ID = "01936be4-9e37-7487-8e31-20fede6ef271"
TRADE_1 = "01936be4-2a0f-7c11-9d52-3b8e4f6a1c20"
TRADE_2 = "01936be4-3b7e-7d4a-8c63-5e2f1a9b7d44"


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


def trade_fill(trade_id: str, price: str, qty: str, fee: str, maker: bool, time: int) -> Fill:
    return Fill(
        venue="futures_gateway",
        account=ACCOUNT,
        symbol="BTC/USDT:USDT",
        venue_symbol="BTCUSDT",
        order_id=LIMIT_ID,
        trade_id=trade_id,
        side=Side.BUY,
        price=D(price),
        qty=D(qty),
        fee=D(fee),
        fee_asset="USDT",
        liquidity=Liquidity.MAKER if maker else Liquidity.TAKER,
        trade_time=time,
        received_at=RECEIVED,
    )


def trade_of(fill: Fill) -> OrderEvent:
    return OrderEvent(
        event_id=f"futures_gateway:trade:{LIMIT_ID}:{fill.trade_id}",
        venue="futures_gateway",
        account=ACCOUNT,
        order_id=LIMIT_ID,
        symbol="BTC/USDT:USDT",
        venue_symbol="BTCUSDT",
        side=Side.BUY,
        order_type="",
        status=OrderStatus.PARTIALLY_FILLED,
        venue_status="TRADE",
        event_time=fill.trade_time,
        received_at=RECEIVED,
        client_order_id="grid-17",
        fill=fill,
        is_snapshot=True,
    )


def test_trades_yield_one_real_fill_per_trade() -> None:
    assert run("rest.trades", load("trades.json")) == [
        trade_of(trade_fill(TRADE_1, "63962.0", "0.001", "0.02558", False, 1732000000000)),
        trade_of(trade_fill(TRADE_2, "64000.0", "0.003", "0.0768", True, 1732000005000)),
    ]
    assert run("rest.trades", {"data": {"trades": []}}) == []


def test_trades_are_not_fills_implied_and_state_no_cumulative_quantity() -> None:
    for event in run("rest.trades", load("trades.json")):
        assert not event.fills_implied
        assert (event.qty, event.filled_qty, event.fee, event.avg_fill_price) == (None,) * 4


def test_self_trade_sides_are_two_events_with_one_trade_id() -> None:
    payload = load("trades.json")
    buy = payload["data"]["trades"][0]
    sell = {**buy, "order_id": STOP_ID, "side": "SELL", "is_maker": True, "client_order_id": None}
    events = run("rest.trades", {"data": {"trades": [buy, sell]}})
    assert [e.fill.trade_id for e in events if e.fill] == [TRADE_1, TRADE_1]
    assert len({e.event_id for e in events}) == 2
    assert [(e.order_id, e.side, e.fill.liquidity) for e in events if e.fill] == [
        (LIMIT_ID, Side.BUY, Liquidity.TAKER),
        (STOP_ID, Side.SELL, Liquidity.MAKER),
    ]


def test_trade_fee_may_be_a_rebate_and_numbers_are_accepted() -> None:
    payload = load("trades.json")
    payload["data"]["trades"][1].update(fee="-0.0192", price=64000, quantity=0.003)
    fill = run("rest.trades", payload)[1].fill
    assert fill is not None
    assert (fill.fee, fill.price, fill.qty) == (D("-0.0192"), D(64000), D("0.003"))


def _fold(envelopes: list[tuple[str, Any, int]]) -> TradingBook:
    book = TradingBook()
    for channel, payload, received_at in envelopes:
        for event in run(channel, payload, received_at=received_at):
            book.apply(event)
    return book


def test_trades_void_the_fills_derived_from_order_polls_whatever_the_order() -> None:
    """The partially filled order polled (one derived fill of 0.004), then its two trades:
    the position ends equal to the trades, fill by fill, in either arrival order."""
    poll = ("rest.order_status", load("order_status_LIMIT_PARTIALLY_FILLED.json"), RECEIVED)
    trades = ("rest.trades", load("trades.json"), RECEIVED + 1)
    derived_only = _fold([poll])
    position = derived_only.position(("futures_gateway", ACCOUNT, "BTC/USDT:USDT"))
    assert position is not None
    assert (position.qty, position.fill_count) == (D("0.004"), 1)
    for order in ([poll, trades], [trades, poll]):
        book = _fold(order)
        position = book.position(("futures_gateway", ACCOUNT, "BTC/USDT:USDT"))
        assert position is not None
        assert (position.qty, position.fill_count) == (D("0.004"), 2)
        assert position.avg_price == D("63990.5")
        assert position.fees == {"USDT": D("0.10238")}
        state = book.order(("futures_gateway", ACCOUNT, LIMIT_ID))
        assert state is not None
        assert (state.status, state.filled_qty, state.fee, state.order_type) == (
            OrderStatus.PARTIALLY_FILLED, D("0.004"), D("0.10238"), "limit",
        )  # fmt: skip


def test_cancel_all_reply_is_acknowledgement_only() -> None:
    assert run("rest.cancel_all", load("cancel_all_response.json")) == []
    assert run("rest.cancel_all", {"data": {"orders_ids": []}}) == []


def test_registry_serves_futures_gateway_normalizer() -> None:
    assert isinstance(normalizer_for("futures_gateway"), FuturesGatewayNormalizer)
    assert CHANNELS == ("rest.order_status", "rest.open_orders", "rest.trades", "rest.cancel_all")


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


def _trade(**changes: Any) -> Any:
    payload = load("trades.json")
    trade = payload["data"]["trades"][1]
    for key, value in changes.items():
        if value is None:
            trade.pop(key)
        else:
            trade[key] = value
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
        ("rest.trades", _trade(trade_id=None), "data.trades[1].trade_id"),
        ("rest.trades", _trade(trade_id=""), "data.trades[1].trade_id"),
        ("rest.trades", _trade(order_id=None), "data.trades[1].order_id"),
        ("rest.trades", _trade(symbol="BTC-PERP"), "data.trades[1].symbol"),
        ("rest.trades", _trade(side="LONG"), "data.trades[1].side"),
        ("rest.trades", _trade(price="0"), "data.trades[1].price"),
        ("rest.trades", _trade(price="cheap"), "data.trades[1].price"),
        ("rest.trades", _trade(quantity="0"), "data.trades[1].quantity"),
        ("rest.trades", _trade(quantity="-0.003"), "data.trades[1].quantity"),
        ("rest.trades", _trade(quantity=None), "data.trades[1].quantity"),
        ("rest.trades", _trade(fee=None), "data.trades[1].fee"),
        ("rest.trades", _trade(fee_asset=None), "data.trades[1].fee_asset"),
        ("rest.trades", _trade(is_maker="true"), "data.trades[1].is_maker"),
        ("rest.trades", _trade(is_maker=1), "data.trades[1].is_maker"),
        ("rest.trades", _trade(is_maker=None), "data.trades[1].is_maker"),
        ("rest.trades", _trade(time="now"), "data.trades[1].time"),
        ("rest.trades", _trade(time=None), "data.trades[1].time"),
        ("rest.trades", {"data": {"trades": {}}}, "data.trades"),
        ("rest.trades", {"data": {"trades": [None]}}, "data.trades[0]"),
        ("rest.trades", {"data": {}}, "data.trades"),
        ("rest.trades", load("error_reply_rate_limited.json"), "error"),
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


def test_trade_event_ids_do_not_depend_on_arrival_or_the_reply_listing_them() -> None:
    first = [e.event_id for e in run("rest.trades", load("trades.json"), received_at=1)]
    payload = load("trades.json")
    payload["data"]["trades"] = payload["data"]["trades"][1:]  # a later poll's overlap
    again = [e.event_id for e in run("rest.trades", payload, received_at=2)]
    assert first == [
        f"futures_gateway:trade:{LIMIT_ID}:{TRADE_1}",
        f"futures_gateway:trade:{LIMIT_ID}:{TRADE_2}",
    ]
    assert again == first[1:]


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


def test_average_source_is_the_venue_until_the_trades_arrive_then_the_fills() -> None:
    """Issue 14 item 5, on the gateway's documented shapes: the order status alone states
    `average_price` (the row says `venue`); with its trades the average is their VWAP (the row
    says `fills`), here equal to the venue's figure."""
    book = TradingBook()
    for event in run("rest.order_status", load("order_status_LIMIT_PARTIALLY_FILLED.json")):
        book.apply(event)
    (state,) = book.orders()
    assert (state.avg_fill_price, state.avg_fill_price_source) == (D("63990.5"), "venue")
    for event in run("rest.trades", load("trades.json")):
        book.apply(event)
    (state,) = book.orders()
    vwap = (D("0.001") * D("63962.0") + D("0.003") * D("64000.0")) / D("0.004")
    assert (state.filled_qty, state.avg_fill_price) == (D("0.004"), vwap)
    assert state.avg_fill_price_source == "fills"
