"""The simulated Coinone v2.1 on loopback: signed POSTs, errors, order endpoints, MYORDER."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import orjson
import pytest
from more_venue_clients import CoinoneClient

from pipeline.envelope import RawEnvelope
from pipeline.sim.clock import ManualClock
from pipeline.sim.engine import OrderRequest, OrderType, Side
from pipeline.sim.server import SimConfig, Simulator
from pipeline.venues import normalizer_for
from pipeline.venues.coinone import auth as coinone_auth

D = Decimal
BTC = {"quote_currency": "KRW", "target_currency": "BTC"}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimConfig(seed=3, rate=0, venues=("coinone",), record=True, house=False)
    simulator = Simulator(config, clock=ManualClock())
    await simulator.start()
    yield simulator
    await simulator.stop()


def client(sim: Simulator, http: aiohttp.ClientSession, account: str = "alice") -> CoinoneClient:
    return CoinoneClient(http, sim.endpoints()["coinone"], sim.credential("coinone", account))


def normalize(account: str, channel: str, payload: object) -> list:
    envelope = RawEnvelope("coinone", account, channel, 1, payload)
    return normalizer_for("coinone").normalize(envelope)


async def test_signed_request_is_accepted_and_bad_ones_get_coinone_codes(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    alice = client(sim, http)
    status, body = await alice.post("/v2.1/order/active_orders", {})
    assert (status, body["result"], body["error_code"]) == (200, "success", "0")
    _, body = await alice.post("/v2.1/order/active_orders", {}, secret="wrong")
    assert body == {"result": "error", "error_code": "122", "error_msg": "Signature is not correct"}
    _, body = await alice.post("/v2.1/order/active_orders", {},
                               secret=alice.credential.secret.upper())  # fmt: skip
    assert body["result"] == "success"  # legacy clients upper-case the secret
    raw, headers = alice.signed({})
    for _ in range(2):
        async with http.post(alice.rest + "/v2.1/order/detail", data=raw, headers=headers) as r:
            body = await r.json()
    assert body["error_code"] == "132"  # the nonce was used by the first call
    for nonce, code in ((None, "130"), ("17", "131"), (str(uuid.uuid1()), "131")):
        raw = orjson.dumps({"access_token": alice.credential.key, "nonce": nonce})
        headers = coinone_auth.headers(alice.credential.secret, raw)
        async with http.post(alice.rest + "/v2.1/order/active_orders", data=raw,
                             headers=headers) as r:  # fmt: skip
            assert (await r.json())["error_code"] == code
    raw = orjson.dumps({"access_token": "nobody", "nonce": str(uuid.uuid4())})
    async with http.post(alice.rest + "/v2.1/order/active_orders", data=raw,
                         headers=coinone_auth.headers("x", raw)) as r:  # fmt: skip
        assert (await r.json())["error_code"] == "12"
    async with http.post(alice.rest + "/v2.1/order/active_orders", data=b"{}") as r:
        assert (await r.json())["error_code"] == "120"
    assert not [p for p in sim.recorded() if p.payload.get("result") == "error"]


async def test_place_detail_active_cancel_and_completed_orders(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    alice = client(sim, http)
    _, placed = await alice.post("/v2.1/order", {**BTC, "side": "BUY", "type": "LIMIT",
                                 "price": "139990000", "qty": "0.001", "post_only": False,
                                 "user_order_id": "bot-1"})  # fmt: skip
    order_id = placed["order_id"]
    _, missing = await alice.post("/v2.1/order", {**BTC, "side": "BUY", "type": "LIMIT",
                                  "price": "139990000", "qty": "0.001"})  # fmt: skip
    assert missing["error_code"] == "163"
    _, duplicate = await alice.post("/v2.1/order", {**BTC, "side": "BUY", "type": "LIMIT",
                                    "price": "139990000", "qty": "0.001", "post_only": True,
                                    "user_order_id": "bot-1"})  # fmt: skip
    assert duplicate["error_code"] == "312"
    # bob sells into alice's bid: alice is partially filled
    sim.exchanges["coinone"].place(OrderRequest("bob", "BTC-KRW", Side.SELL, OrderType.LIMIT,
                                   qty=D("0.0004"), price=D(139_990_000)), sim.clock())  # fmt: skip
    _, detail = await alice.post("/v2.1/order/detail", {**BTC, "user_order_id": "bot-1"},
                                 "rest.order_detail")  # fmt: skip
    order = detail["order"]
    assert (order["status"], order["executed_qty"], order["remain_qty"]) == (
        "PARTIALLY_FILLED",
        "0.0004",
        "0.0006",
    )
    _, active = await alice.post("/v2.1/order/active_orders", BTC, "rest.active_orders")
    assert [o["order_id"] for o in active["active_orders"]] == [order_id]
    assert "status" not in active["active_orders"][0]
    _, canceled = await alice.post("/v2.1/order/cancel", {**BTC, "order_id": order_id},
                                   "rest.order_cancel:BTC-KRW")  # fmt: skip
    assert (canceled["qty"], canceled["traded_qty"], canceled["remain_qty"]) == (
        "0.0006",
        "0.0004",
        "0",
    )
    _, again = await alice.post("/v2.1/order/cancel", {**BTC, "order_id": order_id})
    assert again["qty"] == "0"  # nothing left to cancel: the reply restates the order
    _, fills = await alice.post("/v2.1/order/completed_orders", {**BTC, "size": 10},
                                "rest.completed_orders")  # fmt: skip
    [trade] = fills["completed_orders"]
    assert (trade["order_id"], trade["qty"], trade["is_ask"], trade["is_maker"]) == (
        order_id,
        "0.0004",
        False,
        True,
    )
    _, unknown = await alice.post("/v2.1/order/detail", {**BTC, "order_id": str(uuid.uuid4())})
    assert unknown["error_code"] == "104"
    events = [e for channel, body in alice.received for e in normalize("alice", channel, body)]
    assert [e.status.value for e in events] == [
        "partially_filled",
        "partially_filled",
        "canceled",
        "partially_filled",
    ]
    recorded = {p.channel for p in sim.recorded()}
    assert recorded >= {"rest.order_detail", "rest.active_orders", "rest.order_cancel:BTC-KRW",
                        "rest.completed_orders"}  # fmt: skip


async def test_market_buy_by_amount_and_stop_limit(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    alice = client(sim, http)
    sim.exchanges["coinone"].place(OrderRequest("bob", "BTC-KRW", Side.SELL, OrderType.LIMIT,
                                   qty=D("0.01"), price=D(140_000_000)), sim.clock())  # fmt: skip
    _, placed = await alice.post("/v2.1/order", {**BTC, "side": "BUY", "type": "MARKET",
                                 "amount": "50000"})  # fmt: skip
    _, detail = await alice.post("/v2.1/order/detail", {**BTC, "order_id": placed["order_id"]})
    order = detail["order"]
    assert order["original_qty"] is None
    assert order["original_amount"] == "50000"
    # 50,000 KRW buys 0.0003 BTC at 140,000,000 (42,000 KRW); the rest is below one lot
    assert (order["status"], order["executed_qty"]) == ("CANCELED_UNDER_PRODUCT_UNIT", "0.0003")
    [event] = normalize("alice", "rest.order_detail", detail)
    assert (event.status.value, event.qty) == ("filled", D("0.0003"))
    _, stop = await alice.post("/v2.1/order", {**BTC, "side": "SELL", "type": "STOP_LIMIT",
                               "price": "100000000", "qty": "0.001",
                               "trigger_price": "100001000"})  # fmt: skip
    _, detail = await alice.post("/v2.1/order/detail", {**BTC, "order_id": stop["order_id"]})
    assert (detail["order"]["status"], detail["order"]["is_triggered"]) == ("NOT_TRIGGERED", False)


@pytest.mark.parametrize("fmt", ["SHORT", None])
async def test_myorder_frames_follow_the_order_and_normalize(
    sim: Simulator, http: aiohttp.ClientSession, fmt: str | None
) -> None:
    """Both spellings: SHORT when asked for, the DEFAULT long keys when the request names no
    format (as the venue does); the normalizer reads both to the same events."""
    alice = client(sim, http)
    stream = await alice.myorder([{"quote_currency": "KRW", "target_currency": "BTC"}], fmt)
    r, c, d, oi, st = ("r", "c", "d", "oi", "st") if fmt else (
        "response_type", "channel", "data", "order_id", "status")  # fmt: skip
    assert await stream.drain() == [{r: "SUBSCRIBED", c: "MYORDER"}]
    sell = {**BTC, "side": "SELL", "type": "LIMIT", "price": "140010000", "qty": "0.001"}
    _, placed = await alice.post("/v2.1/order", {**sell, "post_only": True})
    await alice.post(
        "/v2.1/order",
        {
            "quote_currency": "KRW",
            "target_currency": "ETH",
            "side": "SELL",
            "type": "LIMIT",
            "price": "5010000",
            "qty": "0.01",
            "post_only": True,
        },
    )  # fmt: skip  (another pair: not subscribed)
    sim.exchanges["coinone"].place(OrderRequest("bob", "BTC-KRW", Side.BUY, OrderType.MARKET,
                                   qty=D("0.0005")), sim.clock())  # fmt: skip
    await alice.post("/v2.1/order", {**BTC, "side": "BUY", "type": "LIMIT",
                     "price": "150000000", "qty": "0.001", "post_only": True})  # fmt: skip
    frames = await stream.drain()
    states = [(f[d][oi] == placed["order_id"], f[d][st]) for f in frames]
    assert states[:2] == [(True, "wait"), (True, "trade")]
    assert [s for _, s in states[2:]] == ["wait", "cancel_post_only"]
    events = [e for f in frames for e in normalize("alice", "MYORDER", f)]
    assert [e.status.value for e in events] == ["open", "partially_filled", "open", "canceled"]
    assert events[1].fill is not None
    assert events[-1].cancel_reason == "exchange"
    ws = await http.ws_connect(alice.ws_url)  # no signature: close code 4280
    message = await ws.receive()
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4280
    await stream.close()
