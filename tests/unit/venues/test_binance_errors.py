"""Malformed Binance payloads raise a `NormalizationError` naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from binance_cases import (
    load,
    run,
)

from pipeline.errors import NormalizationError
from pipeline.venues.binance import (
    CHANNEL_OPEN_ORDERS_CANCEL_ALL,
    CHANNEL_OPEN_ORDERS_STATUS,
    CHANNEL_ORDER_AMEND,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_ORDER_PLACE,
    CHANNEL_ORDER_STATUS,
    CHANNEL_USER_DATA,
)

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
