"""Malformed Upbit payloads raise a `NormalizationError` naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from upbit_cases import (
    load,
    run,
)

from pipeline.errors import NormalizationError
from pipeline.venues.upbit import (
    CHANNEL_MY_ORDER,
    CHANNEL_REST_ORDER,
    CHANNEL_REST_ORDERS,
)

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
