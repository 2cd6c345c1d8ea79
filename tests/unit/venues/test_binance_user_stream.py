"""Golden tests of the Binance user data stream (`executionReport`): the shared samples, an
order's life and every execution type.
"""

from __future__ import annotations

from typing import Any

import pytest
from binance_cases import (
    T0,
    D,
    event,
    fill,
    load,
    one,
    run,
)

from pipeline.domain.events import (
    CancelReason,
    Liquidity,
    OrderStatus,
    Side,
)
from pipeline.venues.binance import (
    CHANNEL_USER_DATA,
)

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
