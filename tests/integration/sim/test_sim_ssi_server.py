"""The simulated SSI FastConnect v2 on loopback: token, RSA-signed writes acknowledged first,
the order stream (WC then CL), order books and the day's replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest
from more_venue_clients import SsiClient

from pipeline.domain.book import TradingBook
from pipeline.envelope import RawEnvelope
from pipeline.sim.clock import ManualClock
from pipeline.sim.engine import OrderRequest, OrderType, Side
from pipeline.sim.server import SimConfig, Simulator
from pipeline.venues import normalizer_for

D = Decimal
BUY_HPG = {"instrumentID": "HPG", "market": "VN", "buySell": "B", "orderType": "LO",
           "channelID": "TA", "price": 26950, "quantity": 1000, "stopOrder": False,
           "stopPrice": 0, "code": "", "deviceId": "00:11:22:33:44:55"}  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimConfig(seed=4, rate=0, venues=("ssi",), house=False, record=True)
    simulator = Simulator(config, clock=ManualClock())
    await simulator.start()
    yield simulator
    await simulator.stop()


async def logged_in(
    sim: Simulator, http: aiohttp.ClientSession, account: str = "alice"
) -> SsiClient:
    client = SsiClient(http, sim.endpoints()["ssi"], sim.credential("ssi", account))
    status, reply = await client.login()
    assert (status, reply["status"], reply["message"]) == (200, 200, "Success")
    return client


def fold(account: str, received: list) -> TradingBook:
    book = TradingBook()
    for channel, payload in received:
        for event in normalizer_for("ssi").normalize(
            RawEnvelope("ssi", account, channel, 1, payload)
        ):
            book.apply(event)
    return book


async def test_token_and_signature_are_checked(sim: Simulator, http: aiohttp.ClientSession) -> None:
    client = SsiClient(http, sim.endpoints()["ssi"], sim.credential("ssi", "alice"))
    _, reply = await client.login(consumerSecret="wrong")
    assert reply == {"message": "Invalid consumerID or consumerSecret", "status": 400, "data": None}
    status, reply = await client.write("NewOrder", {**BUY_HPG, "requestID": client.request_id()})
    assert (status, reply["status"]) == (401, 401)  # no token
    await client.login()
    status, reply = await client.write(
        "NewOrder", {**BUY_HPG, "requestID": client.request_id()}, signature="00" * 256
    )
    assert (status, reply["message"]) == (401, "Invalid signature.")
    _, reply = await client.write("NewOrder", {**BUY_HPG, "requestID": "not-a-number"})
    assert reply["status"] == 400
    _, reply = await client.write("NewOrder", {**BUY_HPG, "requestID": client.request_id(),
                                               "account": "bob"})  # fmt: skip
    assert reply == {"message": "Account is not exist.", "status": 400, "data": None}
    await client.login(isSave=False)
    _, reply = await client.write("NewOrder", {**BUY_HPG, "requestID": client.request_id()})
    assert reply["message"] == "'Code' must not be empty."


async def test_cancel_is_acknowledged_first_then_completes_on_the_stream(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    alice = await logged_in(sim, http)
    stream = await alice.stream()
    new_id = alice.request_id()
    status, ack = await alice.write("NewOrder", {**BUY_HPG, "requestID": new_id})
    assert (status, ack["status"], ack["data"]["requestID"]) == (200, 200, new_id)
    [accepted] = await stream.drain()
    order_id = accepted["data"]["orderID"]
    assert (accepted["type"], accepted["data"]["orderStatus"]) == ("orderEvent", "QU")
    assert accepted["data"]["origRequestID"] == new_id
    sim.exchanges["ssi"].place(OrderRequest("bob", "HPG", Side.SELL, OrderType.LIMIT,
                               qty=D(400), price=D(26950)), sim.clock())  # fmt: skip
    match, filled = await stream.drain()
    assert (match["type"], match["data"]["matchQty"], filled["data"]["orderStatus"]) == (
        "orderMatchEvent",
        400,
        "PF",
    )
    cancel_id = alice.request_id()
    _, ack = await alice.write("CancelOrder", {"orderID": order_id, "requestID": cancel_id,
                               "marketID": "VN", "instrumentID": "HPG", "buySell": "B",
                               "code": ""})  # fmt: skip
    assert (ack["message"], ack["status"], ack["data"]["requestID"]) == ("Success", 200, cancel_id)
    [waiting] = await stream.drain()
    assert (waiting["data"]["orderStatus"], waiting["data"]["uniqueID"]) == ("WC", cancel_id)
    book = await alice.book()
    assert [o["orderStatus"] for o in book["data"]["orders"]] == ["WC"]
    sim.clock.advance(50)  # type: ignore[attr-defined]  (ManualClock)
    await asyncio.sleep(0.05)
    [done] = await stream.drain()
    assert (done["data"]["orderStatus"], done["data"]["cancelQty"], done["data"]["filledQty"]) == (
        "FFPC",
        600,
        400,
    )
    again = {"orderID": order_id, "requestID": alice.request_id(), "marketID": "VN",
             "instrumentID": "HPG", "buySell": "B"}  # fmt: skip
    _, ack = await alice.write("CancelOrder", again)
    assert ack["status"] == 200
    [error] = await stream.drain()
    assert (error["type"], error["data"]["message"]) == (
        "orderError",
        "Invalid Order Transition Error!",
    )
    audit = await alice.book(audit=True)
    [item] = audit["data"]["orders"]
    assert item["orderStatus"] == "FFPC"
    assert item["lastErrorEvent"]["orderStatus"] == "RJ"
    state = fold("alice", alice.received).order(("ssi", "alice", order_id))
    assert state is not None
    assert (state.status.value, state.filled_qty, state.canceled_qty) == ("canceled", 400, 600)
    assert state.client_order_id == new_id
    await stream.close()


async def test_stream_replays_the_day_and_refused_orders_are_order_errors(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    alice = await logged_in(sim, http)
    await alice.write("NewOrder", {**BUY_HPG, "requestID": alice.request_id()})
    await alice.write("NewOrder", {**BUY_HPG, "requestID": alice.request_id(), "price": 26951})
    replay = await alice.stream(notify_id=0)
    frames = await replay.drain()
    assert [f["type"] for f in frames] == ["orderEvent", "orderError"]
    assert frames[1]["data"]["errorCode"] == "ORD004"  # off the 50 VND tick
    assert not fold("alice", [("stream", f) for f in frames]).order(("ssi", "alice", "x"))
    later = await alice.stream(notify_id=frames[0]["data"]["notifyID"])
    assert await later.drain() == frames[1:]
    bob = await logged_in(sim, http, "bob")
    assert await (await bob.stream(notify_id=0)).drain() == []  # another account's messages
    await replay.close()
    await later.close()
