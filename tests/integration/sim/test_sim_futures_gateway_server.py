"""The simulated futures gateway on loopback: HMAC-signed requests, order status, open
orders, cancel_all with its 10-per-60-s limit and CANCELLATION_RAISED -> CANCELLED."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from more_venue_clients import GatewayClient

from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.sim.clock import ManualClock
from pipeline.sim.server import SimConfig, Simulator
from pipeline.venues import normalizer_for

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.010",
         "price": "59000.0", "time_in_force": "GTC", "client_order_id": "grid-1"}  # fmt: skip
STOP = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.010",
        "stop_price": "58000.0"}  # fmt: skip
STATUS = "rest.order_status"
TAKE = {"symbol": "ETHUSDT", "side": "SELL", "type": "TAKE_PROFIT_MARKET", "quantity": "0.10",
        "stop_price": "3500.00"}  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimConfig(seed=5, rate=0, venues=("futures_gateway",), house=True, record=True,
                       accounts=("EXCHANGE_1", "EXCHANGE_2"))  # fmt: skip
    simulator = Simulator(config, clock=ManualClock())
    await simulator.start()
    yield simulator
    await simulator.stop()


def client(
    sim: Simulator, http: aiohttp.ClientSession, account: str = "EXCHANGE_1"
) -> GatewayClient:
    credential = sim.credential("futures_gateway", account)
    return GatewayClient(http, sim.endpoints()["futures_gateway"], credential, sim.clock)


def normalize(account: str, received: list) -> list:
    normalizer = normalizer_for("futures_gateway")
    return [
        event
        for channel, body in received
        for event in normalizer.normalize(RawEnvelope("futures_gateway", account, channel, 1, body))
    ]


async def test_signature_timestamp_key_and_exchange_are_checked(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    gw = client(sim, http)
    assert (await gw.call("GET", "/open_orders"))[0] == 200
    status, body = await gw.call("GET", "/open_orders", secret="wrong")
    assert (status, body["error"]["code"]) == (401, "INVALID_SIGNATURE")
    stale = GatewayClient(http, sim.endpoints()["futures_gateway"], gw.credential,
                          lambda: sim.clock() - 10_000)  # fmt: skip
    status, body = await stale.call("GET", "/open_orders")
    assert (status, body["error"]["code"]) == (401, "INVALID_TIMESTAMP")
    status, body = await gw.call("GET", "/open_orders", {"exchange": "EXCHANGE_2"})
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    async with http.get(gw.rest + gw.prefix + "/open_orders?exchange=EXCHANGE_1") as r:
        assert (r.status, (await r.json())["error"]["code"]) == (401, "UNAUTHORIZED")
    status, body = await gw.call("GET", "/order", {"order_id": str(uuid.uuid4())})
    assert (status, body["error"]["code"]) == (404, "ORDER_NOT_FOUND")


async def test_cancel_all_raises_then_cancels_every_order_including_tp_sl(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    gw, other = client(sim, http), client(sim, http, "EXCHANGE_2")
    ids = []
    for body in (LIMIT, STOP, TAKE):
        status, placed = await gw.call("POST", "/order", body=body, channel="rest.order_status")
        assert status == 200, placed
        ids.append(placed["data"]["order_id"])
    _, kept = await other.call("POST", "/order", body={**LIMIT, "client_order_id": "x"})
    _, listed = await gw.call("GET", "/open_orders", channel="rest.open_orders")
    assert [(o["type"], o["status"]) for o in listed["data"]["orders"]] == [
        ("LIMIT", "OPEN"),
        ("STOP_MARKET", "NEW"),
        ("TAKE_PROFIT_MARKET", "NEW"),
    ]
    _, reply = await gw.call("POST", "/cancel_all", body={}, channel="rest.cancel_all")
    assert sorted(reply["data"]["orders_ids"]) == sorted(ids)
    for order_id in ids:
        _, body = await gw.call(
            "GET", "/order", {"order_id": order_id}, channel="rest.order_status"
        )
        assert body["data"]["status"] == "CANCELLATION_RAISED"
    sim.clock.advance(60)  # type: ignore[attr-defined]  (ManualClock; the cancels complete)
    await asyncio.sleep(0.05)
    for order_id in ids:
        _, body = await gw.call(
            "GET", "/order", {"order_id": order_id}, channel="rest.order_status"
        )
        assert body["data"]["status"] == "CANCELLED"
    _, body = await other.call("GET", "/order", {"order_id": kept["data"]["order_id"]})
    assert body["data"]["status"] == "OPEN"  # another exchange: untouched
    events = normalize("EXCHANGE_1", gw.received)
    final = {e.order_id: e for e in events}
    assert {e.status.value for e in final.values()} == {"canceled"}
    assert {e.symbol for e in events} == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    assert "pending_cancel" in {e.status.value for e in events}
    assert {p.channel for p in sim.recorded()} == {"rest.order_status", "rest.open_orders",
                                                   "rest.cancel_all"}  # fmt: skip


async def test_the_eleventh_cancel_all_in_a_minute_is_rate_limited(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    gw, other = client(sim, http), client(sim, http, "EXCHANGE_2")
    for _ in range(10):
        sim.clock.advance(1000)  # type: ignore[attr-defined]
        status, _ = await gw.call("POST", "/cancel_all", body={"symbol": "BTCUSDT"})
        assert status == 200
    status, body = await gw.call("POST", "/cancel_all", body={})
    assert status == 429
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["message"].startswith("10 requests per 60 seconds exceeded; retry after")
    assert (await other.call("POST", "/cancel_all", body={}))[0] == 200  # per exchange
    assert (await gw.call("GET", "/open_orders"))[0] == 200  # other endpoints unaffected
    sim.clock.advance(51_000)  # type: ignore[attr-defined]  (the first call leaves the window)
    assert (await gw.call("POST", "/cancel_all", body={}))[0] == 200
    assert (await gw.call("POST", "/cancel_all", body={}))[0] == 429
    with pytest.raises(NormalizationError, match="RATE_LIMITED"):
        normalize("EXCHANGE_1", [("rest.cancel_all", body)])


async def test_one_order_cancel_and_fills(sim: Simulator, http: aiohttp.ClientSession) -> None:
    gw = client(sim, http)
    _, placed = await gw.call("POST", "/order", body={**LIMIT, "price": "60010.0"})
    order = placed["data"]
    assert (order["status"], order["executed_quantity"]) == ("FILLED", "0.01")
    assert order["average_price"] == "60000.1"  # the house's best ask
    _, market = await gw.call("POST", "/order", body={"symbol": "BTCUSDT", "side": "SELL",
                              "type": "MARKET", "quantity": "0.030"})  # fmt: skip
    assert market["data"]["status"] == "FILLED"
    assert market["data"]["fee_asset"] == "USDT"
    _, rested = await gw.call("POST", "/order", body={**LIMIT, "client_order_id": "grid-2"})
    status, body = await gw.call("DELETE", "/order", {"client_order_id": "grid-2"})
    assert (status, body["data"]["status"]) == (200, "CANCELLATION_RAISED")
    sim.clock.advance(60)  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    status, body = await gw.call("DELETE", "/order", {"order_id": rested["data"]["order_id"]})
    assert (status, body["error"]["code"]) == (409, "ORDER_CLOSED")
    status, body = await gw.call("POST", "/order", body={**LIMIT, "time_in_force": "GTX",
                                 "price": "60010.0", "client_order_id": "po"})  # fmt: skip
    assert (status, body["error"]["code"]) == (422, "ORDER_REJECTED")
