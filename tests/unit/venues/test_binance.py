"""Golden tests of the Binance normalizer: seed 004, the shared samples, every status row."""

from __future__ import annotations

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
from pipeline.venues.binance import (
    CHANNEL_OPEN_ORDERS_CANCEL_ALL,
    CHANNEL_OPEN_ORDERS_STATUS,
    CHANNEL_ORDER_AMEND,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_ORDER_CANCEL_REPLACE,
    CHANNEL_ORDER_PLACE,
    CHANNEL_ORDER_STATUS,
    CHANNEL_ORDER_TEST,
    CHANNEL_USER_DATA,
    STATUS_MAP,
    BinanceNormalizer,
    to_symbol,
)

RESOURCES = Path(__file__).parents[2] / "resources" / "venues" / "binance"
ACCOUNT = "main"
RECEIVED = 1772600000000
D = Decimal
NORMALIZER = BinanceNormalizer()
T0 = 1772500000000  # creation time of the fixture orders


HARNESS = VenueHarness("binance", NORMALIZER, ACCOUNT, RECEIVED)
load, run, one = HARNESS.load, HARNESS.run, HARNESS.one


def event(**kw: Any) -> OrderEvent:
    """Defaults of the ETHUSDC fixture family; each test states what differs."""
    base: dict[str, Any] = {
        "venue": "binance",
        "account": ACCOUNT,
        "symbol": "ETH/USDC",
        "venue_symbol": "ETHUSDC",
        "side": Side.BUY,
        "order_type": "limit",
        "received_at": RECEIVED,
        "price": D("1500.00000000"),
        "time_in_force": "gtc",
    }
    return OrderEvent(**{**base, **kw})


def snapshot(**kw: Any) -> OrderEvent:
    """Defaults of the seed 004 BTCUSDT responses."""
    base: dict[str, Any] = {
        "venue": "binance",
        "account": ACCOUNT,
        "order_id": "12569099453",
        "symbol": "BTC/USDT",
        "venue_symbol": "BTCUSDT",
        "side": Side.SELL,
        "order_type": "limit",
        "received_at": RECEIVED,
        "time_in_force": "gtc",
        "is_snapshot": True,
    }
    return OrderEvent(**{**base, **kw})


def fill(**kw: Any) -> Fill:
    base: dict[str, Any] = {
        "venue": "binance",
        "account": ACCOUNT,
        "symbol": "ETH/USDC",
        "venue_symbol": "ETHUSDC",
        "side": Side.BUY,
        "received_at": RECEIVED,
    }
    return Fill(**{**base, **kw})


# --- user data stream: shared samples ------------------------------------------------------


def test_user_stream_canceled_sample_keys_client_id_by_original() -> None:
    assert run(CHANNEL_USER_DATA, load("binance_spot_wsapi_executionReport_CANCELED.json")) == [
        event(
            event_id="binance:ETHUSDC:9399999776:CANCELED:CANCELED:::1772494873278",
            order_id="9399999776",
            status=OrderStatus.CANCELED,
            venue_status="CANCELED",
            event_time=1772494873278,
            qty=D("0.01000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D("0.01000000"),
            client_order_id="UDS-TEST-1772494856",  # `C`, not the cancel's own id in `c`
            cancel_reason=CancelReason.USER,
        )
    ]


def test_user_stream_bare_expired_ioc_sample_yields_expired_unfilled_remainder() -> None:
    payload = load("binance_spot_executionReport_EXPIRED_IOC_expiryReason.json")
    assert run(CHANNEL_USER_DATA, payload) == [
        event(
            event_id="binance:ETHUSDT:12345678:EXPIRED:EXPIRED:::1709654403000",
            order_id="12345678",
            symbol="ETH/USDT",
            venue_symbol="ETHUSDT",
            status=OrderStatus.EXPIRED,
            venue_status="EXPIRED",
            event_time=1709654403000,
            qty=D("1.00000000"),
            price=D("2500.00000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D("1.00000000"),
            client_order_id="x-TD67BGP9-T0000000000000",
            time_in_force="ioc",
            cancel_reason=CancelReason.UNFILLED_REMAINDER,
        )
    ]


@pytest.mark.parametrize(
    "name",
    [
        "binance_spot_wsapi_outboundAccountPosition.json",
        "fixture_balanceUpdate.json",
        "fixture_listStatus.json",
        "fixture_eventStreamTerminated.json",
    ],
)
def test_user_stream_non_order_event_yields_nothing(name: str) -> None:
    assert run(CHANNEL_USER_DATA, load(name)) == []


# --- user data stream: an order's life and every execution type ----------------------------

NEW = event(
    event_id=f"binance:ETHUSDC:9400000001:NEW:NEW::100:{T0}",
    order_id="9400000001",
    status=OrderStatus.OPEN,
    venue_status="NEW",
    event_time=T0,
    qty=D("0.02000000"),
    filled_qty=D("0E-8"),
    canceled_qty=D(0),
    client_order_id="web_1a2b3c",
    sequence=100,
)


def test_user_stream_new_yields_open() -> None:
    assert run(CHANNEL_USER_DATA, load("fixture_executionReport_NEW.json")) == [NEW]


def test_user_stream_combined_stream_wrapper_yields_same_event() -> None:
    payload = load("fixture_executionReport_NEW_combined_stream.json")
    assert run(CHANNEL_USER_DATA, payload) == [NEW]


def test_user_stream_bare_event_yields_same_event() -> None:
    payload = load("fixture_executionReport_NEW.json")["event"]
    assert run(CHANNEL_USER_DATA, payload) == [NEW]


def test_user_stream_partial_trade_yields_fill_and_average() -> None:
    assert run(CHANNEL_USER_DATA, load("fixture_executionReport_TRADE_partial.json")) == [
        event(
            event_id=f"binance:ETHUSDC:9400000001:TRADE:PARTIALLY_FILLED:5001:101:{T0 + 1000}",
            order_id="9400000001",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="PARTIALLY_FILLED",
            event_time=T0 + 1000,
            qty=D("0.02000000"),
            filled_qty=D("0.00500000"),
            avg_fill_price=D("1500"),
            canceled_qty=D(0),
            client_order_id="web_1a2b3c",
            fill=fill(
                order_id="9400000001",
                trade_id="5001",
                price=D("1500.00000000"),
                qty=D("0.00500000"),
                fee=D("0.00000500"),
                fee_asset="ETH",
                liquidity=Liquidity.MAKER,
                trade_time=T0 + 1000,
            ),
            sequence=101,
        )
    ]


def test_user_stream_final_trade_yields_filled() -> None:
    assert run(CHANNEL_USER_DATA, load("fixture_executionReport_TRADE_filled.json")) == [
        event(
            event_id=f"binance:ETHUSDC:9400000001:TRADE:FILLED:5002:102:{T0 + 2000}",
            order_id="9400000001",
            status=OrderStatus.FILLED,
            venue_status="FILLED",
            event_time=T0 + 2000,
            qty=D("0.02000000"),
            filled_qty=D("0.02000000"),
            avg_fill_price=D("1499.25"),
            canceled_qty=D("0E-8"),
            client_order_id="web_1a2b3c",
            fill=fill(
                order_id="9400000001",
                trade_id="5002",
                price=D("1499.00000000"),
                qty=D("0.01500000"),
                fee=D("0.00001500"),
                fee_asset="ETH",
                liquidity=Liquidity.TAKER,
                trade_time=T0 + 2000,
            ),
            sequence=102,
        )
    ]


def test_user_stream_replaced_yields_new_quantity_and_new_client_id() -> None:
    assert run(CHANNEL_USER_DATA, load("fixture_executionReport_REPLACED.json")) == [
        event(
            event_id=f"binance:ETHUSDC:9400000002:REPLACED:NEW::200:{T0 + 3000}",
            order_id="9400000002",
            status=OrderStatus.OPEN,
            venue_status="NEW",
            event_time=T0 + 3000,
            qty=D("0.03000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D(0),
            client_order_id="amend_7f3e",
            sequence=200,
        )
    ]


def test_user_stream_rejected_yields_rejected() -> None:
    assert run(CHANNEL_USER_DATA, load("fixture_executionReport_REJECTED.json")) == [
        event(
            event_id=f"binance:ETHUSDC:9400000003:REJECTED:REJECTED::210:{T0 + 4000}",
            order_id="9400000003",
            order_type="limit_maker",
            status=OrderStatus.REJECTED,
            venue_status="REJECTED",
            event_time=T0 + 4000,
            qty=D("0.02000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D("0.02000000"),
            client_order_id="cr_new_1",
            sequence=210,
        )
    ]


def test_user_stream_expired_in_match_yields_canceled_self_trade_prevention() -> None:
    payload = load("fixture_executionReport_TRADE_PREVENTION_EXPIRED_IN_MATCH.json")
    assert run(CHANNEL_USER_DATA, payload) == [
        event(
            event_id=(
                f"binance:ETHUSDC:9400000004:TRADE_PREVENTION:EXPIRED_IN_MATCH::220:{T0 + 5000}"
            ),
            order_id="9400000004",
            side=Side.SELL,
            status=OrderStatus.CANCELED,
            venue_status="EXPIRED_IN_MATCH",
            event_time=T0 + 5000,
            qty=D("0.01000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D("0.01000000"),
            client_order_id="stp_taker_1",
            cancel_reason=CancelReason.SELF_TRADE_PREVENTION,
            sequence=220,
        )
    ]


def test_user_stream_decrement_prevention_keeps_order_live_with_prevented_as_canceled() -> None:
    payload = load("fixture_executionReport_TRADE_PREVENTION_DECREMENT.json")
    assert run(CHANNEL_USER_DATA, payload) == [
        event(
            event_id=(
                f"binance:ETHUSDC:9400000006:TRADE_PREVENTION:PARTIALLY_FILLED::230:{T0 + 6000}"
            ),
            order_id="9400000006",
            status=OrderStatus.PARTIALLY_FILLED,
            venue_status="PARTIALLY_FILLED",
            event_time=T0 + 6000,
            qty=D("0.05000000"),
            filled_qty=D("0.01000000"),
            avg_fill_price=D("1500"),
            canceled_qty=D("0.02000000"),
            client_order_id="stp_decr_1",
            sequence=230,
        )
    ]


def test_user_stream_pending_cancel_yields_pending_cancel() -> None:
    assert run(CHANNEL_USER_DATA, load("fixture_executionReport_PENDING_CANCEL_bare.json")) == [
        event(
            event_id=f"binance:ETHUSDC:9400000007:CANCELED:PENDING_CANCEL::240:{T0 + 7000}",
            order_id="9400000007",
            status=OrderStatus.PENDING_CANCEL,
            venue_status="PENDING_CANCEL",
            event_time=T0 + 7000,
            qty=D("0.02000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D(0),
            client_order_id="pc_orig_1",
            sequence=240,
        )
    ]


def test_user_stream_pending_new_list_leg_yields_untriggered() -> None:
    assert run(CHANNEL_USER_DATA, load("fixture_executionReport_PENDING_NEW_OTO.json")) == [
        event(
            event_id=f"binance:ETHUSDC:9400000008:NEW:PENDING_NEW::250:{T0 + 8000}",
            order_id="9400000008",
            side=Side.SELL,
            status=OrderStatus.UNTRIGGERED,
            venue_status="PENDING_NEW",
            event_time=T0 + 8000,
            qty=D("0.02000000"),
            price=D("1600.00000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D(0),
            client_order_id="oto_pending_1",
            sequence=250,
        )
    ]


def test_user_stream_stop_order_not_working_yields_untriggered() -> None:
    payload = load("fixture_executionReport_STOP_LOSS_LIMIT_untriggered.json")
    assert run(CHANNEL_USER_DATA, payload) == [
        event(
            event_id=f"binance:ETHUSDC:9400000009:NEW:NEW::260:{T0 + 9000}",
            order_id="9400000009",
            side=Side.SELL,
            order_type="stop_loss_limit",
            status=OrderStatus.UNTRIGGERED,
            venue_status="NEW",
            event_time=T0 + 9000,
            qty=D("0.01000000"),
            price=D("1400.00000000"),
            stop_price=D("1450.00000000"),
            filled_qty=D("0E-8"),
            canceled_qty=D(0),
            client_order_id="stop_1",
            sequence=260,
        )
    ]


def test_user_stream_stop_order_working_yields_open() -> None:
    payload = load("fixture_executionReport_STOP_LOSS_LIMIT_untriggered.json")
    payload["event"].update(w=True, W=T0 + 9500)
    assert one(CHANNEL_USER_DATA, payload).status is OrderStatus.OPEN


def test_user_stream_ioc_partly_filled_then_expired_keeps_filled_quantity() -> None:
    trade = one(CHANNEL_USER_DATA, load("fixture_executionReport_IOC_TRADE.json"))
    expired = one(CHANNEL_USER_DATA, load("fixture_executionReport_IOC_EXPIRED_partial.json"))
    common: dict[str, Any] = {
        "order_id": "9400000010",
        "event_time": T0 + 10000,
        "qty": D("0.03000000"),
        "price": D("1510.00000000"),
        "filled_qty": D("0.01000000"),
        "avg_fill_price": D("1505"),
        "client_order_id": "ioc_1",
        "time_in_force": "ioc",
    }
    assert trade == event(
        event_id=f"binance:ETHUSDC:9400000010:TRADE:PARTIALLY_FILLED:5003:300:{T0 + 10000}",
        status=OrderStatus.PARTIALLY_FILLED,
        venue_status="PARTIALLY_FILLED",
        canceled_qty=D(0),
        fill=fill(
            order_id="9400000010",
            trade_id="5003",
            price=D("1505.00000000"),
            qty=D("0.01000000"),
            fee=D("0.00001000"),
            fee_asset="ETH",
            liquidity=Liquidity.TAKER,
            trade_time=T0 + 10000,
        ),
        sequence=300,
        **common,
    )
    assert expired == event(
        event_id=f"binance:ETHUSDC:9400000010:EXPIRED:EXPIRED::301:{T0 + 10000}",
        status=OrderStatus.EXPIRED,
        venue_status="EXPIRED",
        canceled_qty=D("0.02000000"),
        cancel_reason=CancelReason.UNFILLED_REMAINDER,
        sequence=301,
        **common,
    )
    assert trade.sequence is not None
    assert expired.sequence is not None
    assert trade.sequence < expired.sequence  # same millisecond, execution ids order them


def test_user_stream_market_by_quote_quantity_has_no_base_qty_until_terminal() -> None:
    payload = load("fixture_executionReport_NEW.json")
    payload["event"].update(o="MARKET", f="GTC", q="0.00000000", p="0.00000000", Q="100.00")
    live = one(CHANNEL_USER_DATA, payload)
    assert (live.qty, live.quote_qty, live.canceled_qty, live.price) == (
        None,
        D("100.00"),
        None,
        None,
    )
    payload["event"].update(x="EXPIRED", X="EXPIRED", z="0.05000000", Z="99.90", I=101)
    ended = one(CHANNEL_USER_DATA, payload)
    assert (ended.qty, ended.filled_qty, ended.canceled_qty, ended.cancel_reason) == (
        D("0.05000000"),
        D("0.05000000"),
        D(0),
        CancelReason.UNFILLED_REMAINDER,
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


# --- the status table -------------------------------------------------------------------------

STATUS_ROWS = [
    ("NEW", OrderStatus.OPEN, None),
    ("PARTIALLY_FILLED", OrderStatus.PARTIALLY_FILLED, None),
    ("FILLED", OrderStatus.FILLED, None),
    ("CANCELED", OrderStatus.CANCELED, CancelReason.USER),
    ("PENDING_CANCEL", OrderStatus.PENDING_CANCEL, None),
    ("REJECTED", OrderStatus.REJECTED, None),
    ("EXPIRED", OrderStatus.EXPIRED, None),
    ("EXPIRED_IN_MATCH", OrderStatus.CANCELED, CancelReason.SELF_TRADE_PREVENTION),
    ("PENDING_NEW", OrderStatus.UNTRIGGERED, None),
]


def test_status_map_covers_exactly_the_documented_statuses() -> None:
    assert set(STATUS_MAP) == {row[0] for row in STATUS_ROWS}


@pytest.mark.parametrize(("label", "status", "reason"), STATUS_ROWS)
def test_status_map_row_yields_canonical_status_on_stream_and_response(
    label: str, status: OrderStatus, reason: CancelReason | None
) -> None:
    stream = load("fixture_executionReport_NEW.json")
    stream["event"]["X"] = label
    got = one(CHANNEL_USER_DATA, stream)
    assert STATUS_MAP[label] is status
    assert (got.status, got.venue_status, got.cancel_reason) == (status, label, reason)
    response = load("seed004_wsapi_order.place_RESULT.json")
    response["result"]["status"] = label
    got = one(CHANNEL_ORDER_PLACE, response)
    assert (got.status, got.venue_status, got.cancel_reason) == (status, label, reason)


@pytest.mark.parametrize(
    "execution", ["NEW", "CANCELED", "REPLACED", "REJECTED", "EXPIRED", "TRADE_PREVENTION"]
)
def test_every_non_trade_execution_type_yields_event_without_fill(execution: str) -> None:
    payload = load("fixture_executionReport_NEW.json")
    payload["event"]["x"] = execution
    got = one(CHANNEL_USER_DATA, payload)
    assert got.fill is None
    assert got.event_id == f"binance:ETHUSDC:9400000001:{execution}:NEW::100:{T0}"


@pytest.mark.parametrize(
    ("expiry_reason", "tif", "reason"),
    [
        ("UNFILLED_IOC_QUANTITY_EXPIRED", "IOC", CancelReason.UNFILLED_REMAINDER),
        ("UNFILLED_FOK_ORDER_EXPIRED", "FOK", CancelReason.UNFILLED_REMAINDER),
        ("INSUFFICIENT_LIQUIDITY", "GTC", CancelReason.UNFILLED_REMAINDER),
        ("EXCHANGE_CANCELED", "GTC", CancelReason.EXCHANGE),
        ("EXECUTION_RULE_PRICE_RANGE_EXCEEDED", "GTC", CancelReason.EXCHANGE),
        ("OCO_TRIGGER", "GTC", CancelReason.EXCHANGE),
        (None, "FOK", CancelReason.UNFILLED_REMAINDER),
        (None, "GTC", None),
        ("SOMETHING_NEW", "GTC", None),
    ],
)
def test_expired_reason_follows_expiry_reason_then_time_in_force(
    expiry_reason: str | None, tif: str, reason: CancelReason | None
) -> None:
    payload = load("binance_spot_executionReport_EXPIRED_IOC_expiryReason.json")
    payload.update(f=tif, eR=expiry_reason)
    assert one(CHANNEL_USER_DATA, payload).cancel_reason == reason


# --- malformed payloads -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("X", "DONE", "event.X"),
        ("X", None, "event.X"),
        ("x", "FILL", "event.x"),
        ("S", "buy", "event.S"),
        ("E", "1772500000000x", "event.E"),
        ("E", None, "event.E"),
        ("q", "abc", "event.q"),
        ("q", 1.5e400, "event.q"),
        ("z", "0.03000000", "event.z"),
        ("z", "-0.1", "event.z"),
        ("i", None, "event.i"),
        ("i", True, "event.i"),
        ("s", "BTCXYZ", "event.s"),
        ("s", "USDT", "event.s"),
        ("c", {}, "event.c"),
        ("o", {}, "event.o"),
        ("I", "abc", "event.I"),
        ("w", "false", "event.w"),
    ],
)
def test_user_stream_malformed_field_raises_naming_it(key: str, value: Any, field: str) -> None:
    payload = load("fixture_executionReport_NEW.json")
    payload["event"]["o"] = "STOP_LOSS_LIMIT" if key == "w" else payload["event"]["o"]
    payload["event"][key] = value
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_USER_DATA, payload)
    assert (info.value.venue, info.value.field) == ("binance", field)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("t", -1, "event.t"),
        ("t", None, "event.t"),
        ("l", "0.00000000", "event.l"),
        ("L", None, "event.L"),
        ("n", "lots", "event.n"),
        ("m", 1, "event.m"),
    ],
)
def test_user_stream_malformed_trade_raises_naming_field(key: str, value: Any, field: str) -> None:
    payload = load("fixture_executionReport_TRADE_partial.json")
    payload["event"][key] = value
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_USER_DATA, payload)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "payload"),
        ({"subscriptionId": 0, "event": "x"}, "event"),
        ({"stream": "s", "data": None}, "data"),
        ({"subscriptionId": 0, "event": {"E": 1}}, "event.e"),
        ({"subscriptionId": 0, "event": {"e": "somethingNew", "E": 1}}, "event.e"),
    ],
)
def test_user_stream_malformed_envelope_raises_naming_field(payload: Any, field: str) -> None:
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_USER_DATA, payload)
    assert info.value.field == field


def _response(**kw: Any) -> dict[str, Any]:
    return {"id": "r1", **kw}


@pytest.mark.parametrize(
    ("channel", "payload", "field"),
    [
        (CHANNEL_ORDER_STATUS, "text", "payload"),
        (CHANNEL_ORDER_STATUS, _response(result={}), "status"),
        (CHANNEL_ORDER_STATUS, _response(status="200", result={}), "status"),
        (CHANNEL_ORDER_STATUS, _response(status=200), "result"),
        (CHANNEL_ORDER_STATUS, _response(status=400), "error"),
        (CHANNEL_ORDER_STATUS, _response(status=400, error={"msg": "x"}), "error.code"),
        (CHANNEL_ORDER_STATUS, _response(status=400, error={"code": "x"}), "error.code"),
        (CHANNEL_ORDER_STATUS, _response(status=200, result=[]), "result"),
        (
            CHANNEL_ORDER_STATUS,
            _response(status=200, result={"symbol": "BTCUSDT"}),
            "result.orderId",
        ),
        (CHANNEL_OPEN_ORDERS_STATUS, _response(status=200, result={}), "result"),
        (CHANNEL_OPEN_ORDERS_STATUS, _response(status=200, result=[1]), "result[0]"),
        (
            CHANNEL_ORDER_AMEND,
            _response(status=200, result={"transactTime": 1}),
            "result.amendedOrder",
        ),
        (
            CHANNEL_ORDER_CANCEL,
            _response(status=200, result={"orderReports": {}}),
            "result.orderReports",
        ),
        ("wsapi.order.unknown", _response(status=200, result={}), "channel"),
    ],
)
def test_wsapi_malformed_response_raises_naming_field(
    channel: str, payload: Any, field: str
) -> None:
    with pytest.raises(NormalizationError) as info:
        run(channel, payload)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("status", "OPEN", "result.status"),
        ("side", None, "result.side"),
        ("origQty", None, "result.qty"),
        ("executedQty", "x", "result.executedQty"),
        ("transactTime", "yesterday", "result.transactTime"),
        ("transactTime", -5, "result.transactTime"),
        ("clientOrderId", 5.5, "result.clientOrderId"),
    ],
)
def test_wsapi_malformed_order_object_raises_naming_field(key: str, value: Any, field: str) -> None:
    payload = load("seed004_wsapi_order.place_RESULT.json")
    payload["result"][key] = value
    if value is None:
        del payload["result"][key]
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_ORDER_PLACE, payload)
    assert info.value.field == field


def test_wsapi_order_object_without_any_time_raises_naming_transact_time() -> None:
    payload = load("seed004_wsapi_order.place_RESULT.json")
    del payload["result"]["transactTime"], payload["result"]["workingTime"]
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_ORDER_PLACE, payload)
    assert (info.value.field, info.value.value) == ("result.transactTime", None)


def test_wsapi_malformed_fill_raises_naming_its_path() -> None:
    payload = load("seed004_wsapi_order.place_FULL.json")
    del payload["result"]["fills"][1]["tradeId"]
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_ORDER_PLACE, payload)
    assert info.value.field == "result.fills[1].tradeId"


def test_wsapi_malformed_list_leg_raises_naming_its_path() -> None:
    payload = load("binance_wsapi_openOrders.cancelAll_response.json")
    payload["result"][1]["orderReports"][0]["side"] = "HOLD"
    with pytest.raises(NormalizationError) as info:
        run(CHANNEL_OPEN_ORDERS_CANCEL_ALL, payload)
    assert info.value.field == "result[1].orderReports[0].side"


# --- idempotent event ids ----------------------------------------------------------------------


def _channel(name: str) -> str:
    if name.startswith("docs_wsapi_"):
        return "wsapi." + name.removeprefix("docs_wsapi_").removesuffix(".json")
    for method in (
        "order.amend.keepPriority",
        "order.cancelReplace",
        "order.cancel",
        "order.place",
        "order.status",
        "order.test",
        "openOrders.status",
        "openOrders.cancelAll",
    ):
        if f"wsapi_{method}" in name:
            return f"wsapi.{method}"
    return CHANNEL_USER_DATA


VALID_FIXTURES = sorted(p.name for p in RESOURCES.glob("*.json") if "BTUCSDT" not in p.name)


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_same_payload_normalized_twice_yields_identical_events(name: str) -> None:
    first = run(_channel(name), load(name))
    assert first == run(_channel(name), load(name))
    redelivered = run(_channel(name), load(name), received_at=RECEIVED + 60_000)
    assert [e.event_id for e in redelivered] == [e.event_id for e in first]


def test_distinct_reports_yield_distinct_event_ids() -> None:
    same_reports = {
        "fixture_executionReport_NEW_combined_stream.json",  # the NEW event, rewrapped
        "binance_wsapi_order.cancelReplace_409_partial_failure.json",  # = seed004 409
        "binance_wsapi_openOrders.cancelAll_response.json",  # restates seed004 cancels
        "seed004_wsapi_order.cancel_orderList.json",  # restated by the cancelAll sample
        "seed004_wsapi_order.cancelReplace_409_cancel_failed.json",  # new half of the 200
        "seed004_wsapi_order.cancelReplace_409_new_failed.json",  # cancel half of the 200
        "seed004_wsapi_order.place_RESULT.json",  # the same NEW as the cancelReplace 200 new half
        "derived_nautilus_execution_report_trade_empty_c.json",  # the same TRADE, `c` emptied
    }
    ids: dict[str, str] = {}
    for name in VALID_FIXTURES:
        if name in same_reports:
            continue
        for got in run(_channel(name), load(name)):
            assert got.event_id not in ids, (name, ids.get(got.event_id))
            ids[got.event_id] = name


def test_trade_and_expiry_in_same_millisecond_yield_distinct_event_ids() -> None:
    trade = one(CHANNEL_USER_DATA, load("fixture_executionReport_IOC_TRADE.json"))
    expired = one(CHANNEL_USER_DATA, load("fixture_executionReport_IOC_EXPIRED_partial.json"))
    assert trade.event_time == expired.event_time
    assert trade.event_id != expired.event_id


# --- symbols and registry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue_symbol", "symbol"),
    [
        ("BTCUSDT", "BTC/USDT"),
        ("ETHUSDC", "ETH/USDC"),
        ("BTCFDUSD", "BTC/FDUSD"),
        ("ETHBTC", "ETH/BTC"),
        ("LTCBNB", "LTC/BNB"),
        ("USDTTRY", "USDT/TRY"),
        ("BTCTUSD", "BTC/TUSD"),
        ("BTCBIDR", "BTC/BIDR"),
        ("FDUSDUSDT", "FDUSD/USDT"),
        ("1INCHUSDT", "1INCH/USDT"),
        ("BTCEUR", "BTC/EUR"),
        ("BTCJPY", "BTC/JPY"),
        ("BTCBRL", "BTC/BRL"),
    ],
)
def test_symbol_splits_at_longest_known_quote(venue_symbol: str, symbol: str) -> None:
    assert to_symbol(venue_symbol) == symbol


@pytest.mark.parametrize("venue_symbol", ["BTUCSDT", "BTCXYZ", "USDT", ""])
def test_symbol_with_unknown_quote_raises_naming_symbol(venue_symbol: str) -> None:
    with pytest.raises(NormalizationError) as info:
        to_symbol(venue_symbol)
    assert (info.value.field, info.value.value) == ("s", venue_symbol)


def test_registry_returns_binance_normalizer() -> None:
    normalizer = normalizer_for("binance")
    assert isinstance(normalizer, BinanceNormalizer)
    assert normalizer.venue == "binance"


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
