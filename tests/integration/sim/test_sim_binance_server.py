"""The simulated Binance WebSocket API on loopback: signatures, methods, errors, user stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from venue_probes import BinanceProbe

from pipeline.envelope import RawEnvelope
from pipeline.sim.server import Simulator
from pipeline.venues import normalizer_for
from pipeline.venues.binance import auth as binance_auth

D = Decimal
BUY_LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}


@pytest.fixture
async def alice(sim: Simulator, http: aiohttp.ClientSession) -> AsyncIterator[BinanceProbe]:
    probe = BinanceProbe(http, sim.endpoints()["binance"], sim.credential("binance", "alice"))
    await probe.connect()
    yield probe
    await probe.close()


def normalize(channel: str, payload: Any) -> list[Any]:
    envelope = RawEnvelope("binance", "alice", channel, 1, orjson.loads(orjson.dumps(payload)))
    return normalizer_for("binance").normalize(envelope)


async def stream(probe: BinanceProbe, count: int) -> list[dict[str, Any]]:
    for _ in range(100):
        if len(probe.events) >= count:
            break
        await asyncio.sleep(0.02)
    return [e["event"] for e in probe.events if "event" in e]


async def test_place_full_reply_and_execution_reports_agree(
    sim: Simulator, alice: BinanceProbe
) -> None:
    assert await alice.subscribe() == 0
    reply = await alice.call(
        "order.place",
        {**BUY_LIMIT, "price": "60000.02", "quantity": "0.00050", "newClientOrderId": "my-1"},
    )
    result = reply["result"]
    assert (reply["status"], result["status"], result["clientOrderId"]) == (
        200,
        "PARTIALLY_FILLED",
        "my-1",
    )
    assert [f["price"] for f in result["fills"]] == ["60000.01000000", "60000.02000000"]
    assert {r["rateLimitType"] for r in reply["rateLimits"]} == {"ORDERS", "REQUEST_WEIGHT"}
    events = await stream(alice, 3)
    assert [(e["x"], e["X"]) for e in events] == [
        ("NEW", "NEW"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("TRADE", "PARTIALLY_FILLED"),
    ]
    assert all(p.get("subscriptionId") == 0 for p in alice.events)
    assert [e["t"] for e in events[1:]] == [f["tradeId"] for f in result["fills"]]
    snapshot = normalize("wsapi.order.place", reply)
    live = [e for p in alice.events for e in normalize("userData", p)]
    assert {f.fill.trade_id for f in snapshot} == {e.fill.trade_id for e in live if e.fill}
    assert snapshot[-1].filled_qty == live[-1].filled_qty == D("0.0004")


@pytest.mark.parametrize(("response_type", "keys"), [("ACK", 5), ("RESULT", 16)])
async def test_place_ack_and_result_shapes(
    alice: BinanceProbe, response_type: str, keys: int
) -> None:
    reply = await alice.call(
        "order.place",
        {**BUY_LIMIT, "price": "50000.00", "quantity": "0.001", "newOrderRespType": response_type},
    )
    assert len(reply["result"]) == keys
    assert "fills" not in reply["result"]
    normalize("wsapi.order.place", reply)


async def test_cancel_swaps_client_ids_in_reply_and_stream(alice: BinanceProbe) -> None:
    await alice.subscribe()
    placed = await alice.call(
        "order.place",
        {**BUY_LIMIT, "price": "50000.00", "quantity": "0.001", "newClientOrderId": "orig-1"},
    )
    reply = await alice.call(
        "order.cancel",
        {"symbol": "BTCUSDT", "origClientOrderId": "orig-1", "newClientOrderId": "cxl-1"},
    )
    result = reply["result"]
    assert (result["orderId"], result["status"]) == (placed["result"]["orderId"], "CANCELED")
    assert (result["clientOrderId"], result["origClientOrderId"]) == ("cxl-1", "orig-1")
    canceled = (await stream(alice, 2))[-1]
    assert (canceled["x"], canceled["c"], canceled["C"]) == ("CANCELED", "cxl-1", "orig-1")
    assert normalize("wsapi.order.cancel", reply)[0].client_order_id == "orig-1"
    again = await alice.call("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "orig-1"})
    assert (again["status"], again["error"]["code"], again["error"]["msg"]) == (
        400,
        -2011,
        "Unknown order sent.",
    )


async def test_signed_request_errors(sim: Simulator, alice: BinanceProbe) -> None:
    now = int(time.time() * 1000)
    params = {"symbol": "BTCUSDT", "orderId": 1}

    def forged(**changes: Any) -> dict[str, Any]:
        signed = alice.sign(params, timestamp=changes.pop("timestamp", now))
        signed.update(changes)
        return signed

    cases = {
        "bad signature": (forged(signature="00" * 32), 400, -1022),
        "unknown key": (forged(apiKey="nobody"), 401, -2015),
        "stale": (alice.sign(params, timestamp=now - 6000), 400, -1021),
        "ahead": (alice.sign(params, timestamp=now + 5000), 400, -1021),
        "no signature": ({"apiKey": alice.credential.key, "timestamp": now}, 400, -1102),
        "huge recvWindow": (alice.sign({**params, "recvWindow": 70000}), 400, -1131),
    }
    for name, (signed, status, code) in cases.items():
        reply = await alice.call("order.status", signed, signed=False)
        assert (reply["status"], reply["error"]["code"]) == (status, code), name
    wide = alice.sign({**params, "recvWindow": 60000}, timestamp=now - 30000)
    reply = await alice.call("order.status", wide, signed=False)
    assert reply["error"]["code"] == -2013  # authenticated; the order does not exist
    assert (await alice.call("no.such.method", {}, signed=False))["error"]["code"] == -1020
    assert (await alice.send_raw("{not json"))["error"]["code"] == -1135
    assert (await alice.call("time", signed=False))["result"]["serverTime"] > 0
    secret = sim.credential("binance", "alice").secret
    assert binance_auth.signature(secret, {"a": 1}) != binance_auth.signature(secret, {"a": 2})


async def test_order_errors_and_cancel_restrictions(alice: BinanceProbe) -> None:
    maker = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001"}
    crossing = await alice.call("order.place", {**maker, "price": "60000.01"})
    assert (crossing["error"]["code"], crossing["error"]["msg"]) == (
        -2010,
        "Order would immediately match and take.",
    )
    off_grid = await alice.call("order.place", {**BUY_LIMIT, "price": "1.001", "quantity": "1"})
    assert (off_grid["error"]["code"], off_grid["error"]["msg"]) == (
        -1013,
        "Filter failure: PRICE_FILTER",
    )
    assert (
        await alice.call(
            "order.place", {**BUY_LIMIT, "symbol": "XYZ", "price": "1", "quantity": "1"}
        )
    )["error"]["code"] == -1121
    resting = await alice.call("order.place", {**maker, "price": "50000.00"})
    order_id = resting["result"]["orderId"]
    bad = await alice.call(
        "order.cancel",
        {"symbol": "BTCUSDT", "orderId": order_id, "cancelRestrictions": "SOMETIMES"},
    )
    assert bad["error"]["code"] == -1145
    refused = await alice.call(
        "order.cancel",
        {"symbol": "BTCUSDT", "orderId": order_id, "cancelRestrictions": "ONLY_PARTIALLY_FILLED"},
    )
    assert refused["error"] == {
        "code": -2011,
        "msg": "Order was not canceled due to cancel restrictions.",
    }
    status = await alice.call("order.status", {"symbol": "BTCUSDT", "orderId": order_id})
    assert (status["result"]["status"], status["result"]["type"]) == ("NEW", "LIMIT_MAKER")
    assert normalize("wsapi.order.status", status)[0].status.value == "open"


async def test_cancel_replace_outcomes(alice: BinanceProbe) -> None:
    first = await alice.call("order.place", {**BUY_LIMIT, "price": "50000.00", "quantity": "0.001"})
    new = {**BUY_LIMIT, "price": "50001.00", "quantity": "0.002"}
    ok = await alice.call(
        "order.cancelReplace",
        {
            **new,
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrderId": first["result"]["orderId"],
        },
    )
    assert ok["status"] == 200
    assert (ok["result"]["cancelResult"], ok["result"]["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert len(normalize("wsapi.order.cancelReplace", ok)) == 2

    stop = await alice.call(
        "order.cancelReplace", {**new, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": 1}
    )
    assert (stop["status"], stop["error"]["code"]) == (400, -2022)
    assert stop["error"]["data"]["newOrderResult"] == "NOT_ATTEMPTED"

    allow = await alice.call(
        "order.cancelReplace", {**new, "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": 1}
    )
    assert (allow["status"], allow["error"]["code"]) == (409, -2021)
    assert allow["error"]["data"]["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    assert len(normalize("wsapi.order.cancelReplace", allow)) == 1


async def test_amend_keep_priority_reduces_and_reports_replaced(alice: BinanceProbe) -> None:
    await alice.subscribe()
    placed = await alice.call(
        "order.place",
        {**BUY_LIMIT, "price": "50000.00", "quantity": "0.003", "newClientOrderId": "a-1"},
    )
    order_id = placed["result"]["orderId"]
    reply = await alice.call(
        "order.amend.keepPriority", {"symbol": "BTCUSDT", "orderId": order_id, "newQty": "0.001"}
    )
    amended = reply["result"]["amendedOrder"]
    assert (amended["qty"], amended["origClientOrderId"]) == ("0.00100000", "a-1")
    replaced = (await stream(alice, 2))[-1]
    assert (replaced["x"], replaced["q"], replaced["I"]) == (
        "REPLACED",
        "0.00100000",
        reply["result"]["executionId"],
    )
    assert normalize("wsapi.order.amend.keepPriority", reply)[0].qty == D("0.001")
    grow = await alice.call(
        "order.amend.keepPriority", {"symbol": "BTCUSDT", "orderId": order_id, "newQty": "0.002"}
    )
    assert grow["error"] == {
        "code": -2038,
        "msg": "Order amend (quantity increase) is not supported.",
    }


async def test_open_orders_status_and_cancel_all(alice: BinanceProbe) -> None:
    for price in ("50000.00", "50001.00"):
        await alice.call("order.place", {**BUY_LIMIT, "price": price, "quantity": "0.001"})
    listed = await alice.call("openOrders.status", {"symbol": "BTCUSDT"})
    assert len(listed["result"]) == 2
    assert len(normalize("wsapi.openOrders.status", listed)) == 2
    canceled = await alice.call("openOrders.cancelAll", {"symbol": "BTCUSDT"})
    assert [o["status"] for o in canceled["result"]] == ["CANCELED", "CANCELED"]
    assert {e.status.value for e in normalize("wsapi.openOrders.cancelAll", canceled)} == {
        "canceled"
    }
    nothing = await alice.call("openOrders.cancelAll", {"symbol": "BTCUSDT"})
    assert nothing["error"] == {"code": -2011, "msg": "Unknown order sent."}


async def test_my_trades_list_the_fills_the_stream_and_full_reply_report(
    alice: BinanceProbe,
) -> None:
    await alice.subscribe()
    placed = await alice.call(
        "order.place", {**BUY_LIMIT, "price": "60000.02", "quantity": "0.00050"}
    )
    fills = placed["result"]["fills"]
    reply = await alice.call("myTrades", {"symbol": "BTCUSDT", "startTime": 0, "endTime": 1})
    assert reply["result"] == []
    reply = await alice.call("myTrades", {"symbol": "BTCUSDT"})
    trades = reply["result"]
    assert [(t["id"], t["price"], t["qty"], t["commission"]) for t in trades] == [
        (f["tradeId"], f["price"], f["qty"], f["commission"]) for f in fills
    ]
    assert all(t["isBuyer"] and not t["isMaker"] for t in trades)
    assert {t["orderId"] for t in trades} == {placed["result"]["orderId"]}
    events = await stream(alice, 3)
    live = {e["t"]: e for e in events if e["x"] == "TRADE"}
    assert {t["id"]: t["time"] for t in trades} == {t: e["T"] for t, e in live.items()}
    assert [e.fill.trade_id for e in normalize("wsapi.myTrades", reply)] == [
        str(t["id"]) for t in trades
    ]
    by_order = await alice.call(
        "myTrades", {"symbol": "BTCUSDT", "orderId": placed["result"]["orderId"], "limit": 1}
    )
    assert [t["id"] for t in by_order["result"]] == [trades[-1]["id"]]
    for params, code in [
        ({"symbol": "BTCUSDT", "fromId": 1, "startTime": 1}, -1128),
        ({"symbol": "BTCUSDT", "startTime": 0, "endTime": 86_400_001}, -1127),
        ({"symbol": "BTCUSDT", "limit": 1001}, -1130),
        ({"symbol": "NOPE"}, -1121),
    ]:
        error = await alice.call("myTrades", params)
        assert error["error"]["code"] == code, params


async def test_user_data_subscriptions_lifecycle(
    sim: Simulator, http: aiohttp.ClientSession, alice: BinanceProbe
) -> None:
    assert await alice.subscribe() == 0
    again = await alice.call("userDataStream.subscribe.signature")
    assert again["error"]["code"] == -2035
    bob = BinanceProbe(http, sim.endpoints()["binance"], sim.credential("binance", "bob"))
    second = await alice.call(  # one connection, a second account's subscription
        "userDataStream.subscribe.signature", bob.sign({}), signed=False
    )
    assert second["result"] == {"subscriptionId": 1}
    listed = await alice.call("session.subscriptions", signed=False)
    assert listed["result"] == [{"subscriptionId": 0}, {"subscriptionId": 1}]
    done = await alice.call("userDataStream.unsubscribe", {"subscriptionId": 0}, signed=False)
    assert done["result"] == {}
    terminated = await stream(alice, 1)
    assert terminated[-1]["e"] == "eventStreamTerminated"
    assert normalize("userData", alice.events[-1]) == []
    gone = await alice.call("userDataStream.unsubscribe", {"subscriptionId": 0}, signed=False)
    assert gone["error"]["code"] == -2036


async def test_order_count_limit_per_ten_seconds(alice: BinanceProbe) -> None:
    replies = [
        await alice.call("order.place", {**BUY_LIMIT, "price": "40000.00", "quantity": "0.001"})
        for _ in range(51)
    ]
    assert all(r["status"] == 200 for r in replies[:50])
    assert (replies[50]["status"], replies[50]["error"]["code"]) == (429, -1015)
    assert replies[50]["rateLimits"][0]["count"] == 50


async def test_every_recorded_binance_payload_normalizes(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    probes = []
    for account in ("alice", "bob", "carol", "house"):
        probe = BinanceProbe(http, sim.endpoints()["binance"], sim.credential("binance", account))
        await probe.connect()
        await probe.subscribe()
        probes.append(probe)
    sim.step(200)
    await asyncio.sleep(0.3)
    recorded = [r for r in sim.recorded() if r.venue == "binance"]
    assert len(recorded) > 50
    for item in recorded:
        envelope = RawEnvelope(
            "binance", item.account, item.channel, 1, orjson.loads(orjson.dumps(item.payload))
        )
        normalizer_for("binance").normalize(envelope)
    for probe in probes:
        await probe.close()
