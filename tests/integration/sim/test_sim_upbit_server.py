"""The simulated Upbit on loopback: JWT auth, myOrder frames, REST cancel and queries."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from venue_probes import UpbitProbe

from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.sim.engine import Order, OrderRequest, OrderType, Side, TriggerKind
from pipeline.sim.server import Simulator
from pipeline.venues import normalizer_for
from pipeline.venues.upbit import auth as upbit_auth

D = Decimal


def probe(
    sim: Simulator, http: aiohttp.ClientSession, account: str = "alice", **kw: str
) -> UpbitProbe:
    return UpbitProbe(http, sim.endpoints()["upbit"], sim.credential("upbit", account), **kw)


def place(
    sim: Simulator, account: str, side: Side, qty: str, price: int | None = None, **kw: Any
) -> Order:
    """An order of `account` straight into the engine, as another client of the venue."""
    request = OrderRequest(
        account,
        kw.pop("symbol", "KRW-BTC"),
        side,
        OrderType.LIMIT if price else OrderType.MARKET,
        qty=D(qty),
        price=None if price is None else D(price),
        **kw,
    )
    return sim.exchanges["upbit"].place(request, sim.clock())[0]


def normalize(account: str, channel: str, payload: object) -> list[object]:
    return normalizer_for("upbit").normalize(RawEnvelope("upbit", account, channel, 1, payload))


async def test_myorder_frames_arrive_binary_and_follow_the_order(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    upbit = probe(sim, http)
    ws = await upbit.subscribe()
    # the house quotes 0.002 at each of 140,001,000 .. 140,005,000: three levels fill 0.006
    order = place(sim, "alice", Side.BUY, "0.007", 140_003_000, client_order_id="bot-1")
    frames = await upbit.drain(ws)
    assert set(ws.message_types) == {aiohttp.WSMsgType.BINARY}
    assert [f["state"] for f in frames] == ["wait", "trade", "trade", "trade"]
    assert {f["uuid"] for f in frames} == {order.order_id}
    assert frames[0]["identifier"] == "bot-1"
    assert frames[-1]["remaining_volume"] == 0.001
    events = [e for f in frames for e in normalize("alice", "myOrder", f)]
    assert events[-1].filled_qty == D("0.006")
    assert events[-1].status.value == "partially_filled"
    await ws.close()


async def test_simple_format_hs512_and_only_the_accounts_own_codes(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    upbit = probe(sim, http, algorithm="HS512")
    ws = await upbit.subscribe(codes=["KRW-ETH"], fmt="SIMPLE")
    place(sim, "alice", Side.BUY, "0.01", 139_000_000)  # another market
    place(sim, "bob", Side.BUY, "0.01", 4_990_000, symbol="KRW-ETH")  # another account
    mine = place(sim, "alice", Side.BUY, "0.01", 4_990_000, symbol="KRW-ETH")
    frames = await upbit.drain(ws)
    assert [(f["ty"], f["uid"], f["s"]) for f in frames] == [("myOrder", mine.order_id, "wait")]
    assert normalize("alice", "myOrder", frames[0])[0].order_id == mine.order_id
    await ws.close()


async def test_snapshot_on_request_restates_open_orders(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    resting = place(sim, "alice", Side.SELL, "0.01", 141_000_000)
    stop = place(
        sim,
        "alice",
        Side.BUY,
        "0.01",
        142_000_000,
        trigger=TriggerKind.STOP_LOSS,
        stop_price=D(141_500_000),
    )
    upbit = probe(sim, http)
    ws = await upbit.subscribe(snapshot=True, fmt="JSON_LIST")
    frames = [item for batch in await upbit.drain(ws) for item in batch]
    by_uuid = {f["uuid"]: f for f in frames}
    assert by_uuid[resting.order_id]["state"] == "wait"
    assert by_uuid[stop.order_id]["state"] == "watch"
    assert {f["stream_type"] for f in frames} == {"SNAPSHOT"}
    await ws.close()


async def test_websocket_auth_and_request_errors_are_error_frames(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ws_url = sim.endpoints()["upbit"]["ws"]
    bad = jwt.encode({"access_key": sim.credential("upbit", "alice").key, "nonce": "n"}, "w" * 32)
    ws = await http.ws_connect(ws_url, headers={"Authorization": f"Bearer {bad}"})
    message = await ws.receive(timeout=2)
    assert orjson.loads(message.data)["error"]["name"] == "INVALID_AUTH"
    assert (await ws.receive(timeout=2)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    upbit = probe(sim, http)
    ws = await http.ws_connect(ws_url, headers={"Authorization": upbit.authorization()})
    replies = []
    for request in (
        '[{"type": "myOrder"}]',
        "not json",
        '[{"ticket": "t"}]',
        '[{"ticket": "t"}, {"type": "myOrder"}, {"format": "XML"}]',
        "PING",
    ):
        await ws.send_str(request)
        replies.append(orjson.loads((await ws.receive(timeout=2)).data))
    assert [r.get("error", {}).get("name") for r in replies[:4]] == [
        "NO_TICKET",
        "WRONG_FORMAT",
        "NO_TYPE",
        "WRONG_FORMAT",
    ]
    assert replies[4] == {"status": "UP"}
    for reply in replies[:4]:  # the pipeline dead-letters venue error frames
        with pytest.raises(NormalizationError, match="error"):
            normalize("alice", "myOrder", reply)
    await ws.close()


async def test_rest_cancel_registers_then_the_cancel_frame_follows(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    upbit = probe(sim, http)
    ws = await upbit.subscribe()
    order = place(sim, "alice", Side.BUY, "0.01", 139_000_000, client_order_id="c-1")
    await upbit.drain(ws, idle=0.1)
    status, body = await upbit.request("DELETE", "/v1/order", {"identifier": "c-1"})
    assert (status, body["uuid"], body["state"]) == (200, order.order_id, "wait")
    frames = await upbit.drain(ws)
    assert [f["state"] for f in frames] == ["cancel"]
    status, body = await upbit.request("GET", "/v1/order", {"uuid": order.order_id})
    assert (status, body["state"], body["trades"]) == (200, "cancel", [])
    assert normalize("alice", "rest.order", body)[0].status.value == "canceled"
    status, body = await upbit.request("DELETE", "/v1/order", {"uuid": order.order_id})
    assert (status, body["error"]["name"]) == (404, "order_not_found")
    await ws.close()


async def test_rest_authentication_failures_use_upbits_names(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    upbit = probe(sim, http)
    url = sim.endpoints()["upbit"]["rest"] + "/v1/orders/open"
    alice = sim.credential("upbit", "alice")

    async def get(authorization: str | None, query: str = "") -> tuple[int, str]:
        headers = {"Authorization": authorization} if authorization else {}
        async with http.get(url + query, headers=headers) as response:
            return response.status, (await response.json())["error"]["name"]

    assert await get(None) == (401, "jwt_verification")
    wrong_secret = upbit_auth.token(alice.key, "not-the-secret", str(uuid.uuid4()))
    assert await get(f"Bearer {wrong_secret}") == (401, "jwt_verification")
    unknown = upbit_auth.token("nobody", alice.secret, str(uuid.uuid4()))
    assert await get(f"Bearer {unknown}") == (401, "invalid_access_key")
    reused = upbit.authorization()
    async with http.get(url, headers={"Authorization": reused}) as response:
        assert response.status == 200
        assert response.headers["Remaining-Req"].startswith("group=default; min=1800; sec=")
    assert await get(reused) == (401, "nonce_used")
    other_hash = upbit.authorization({"market": "KRW-ETH"})
    assert await get(other_hash, "?market=KRW-BTC") == (401, "invalid_query_payload")


async def test_open_orders_and_cancel_all_with_its_rate_limit(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    upbit = probe(sim, http)
    resting = [place(sim, "alice", Side.BUY, "0.01", 139_000_000 - i * 1000) for i in range(3)]
    watch = place(
        sim,
        "alice",
        Side.BUY,
        "0.01",
        142_000_000,
        trigger=TriggerKind.STOP_LOSS,
        stop_price=D(141_500_000),
    )
    status, body = await upbit.request("GET", "/v1/orders/open", {"states[]": ["wait", "watch"]})
    assert status == 200
    assert {o["uuid"] for o in body} >= {o.order_id for o in [*resting, watch]}
    assert len(normalize("alice", "rest.orders", body)) == len(body)

    status, body = await upbit.request("DELETE", "/v1/orders/open", {"pairs": "KRW-BTC"})
    assert status == 200
    assert {o["uuid"] for o in body["success"]["orders"]} == {o.order_id for o in resting}
    status, body = await upbit.request("DELETE", "/v1/orders/open", {"pairs": "KRW-BTC"})
    assert (status, body["error"]["name"]) == (429, "too_many_requests")
    await asyncio.sleep(0.1)
    assert all(o.status.value == "canceled" for o in resting)
    assert watch.is_live  # WATCH orders are not canceled by cancel-all


async def test_cancel_by_uuids_reports_success_and_failure(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    upbit = probe(sim, http)
    order = place(sim, "alice", Side.BUY, "0.01", 139_000_000)
    status, body = await upbit.request(
        "DELETE", "/v1/orders/uuids", {"uuids": [order.order_id, "no-such-order"]}
    )
    assert status == 200
    assert body["success"]["count"] == 1
    assert body["failed"]["orders"][0]["uuid"] == "no-such-order"


async def test_every_recorded_upbit_payload_normalizes(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    probes = [probe(sim, http, account) for account in ("alice", "bob", "carol", "house")]
    sockets = [
        await p.subscribe(fmt=fmt)
        for p, fmt in zip(probes, ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST"), strict=True)
    ]
    sim.step(200)
    for p, ws in zip(probes, sockets, strict=True):
        await p.drain(ws, idle=0.2)
        await ws.close()
    recorded = [r for r in sim.recorded() if r.venue == "upbit"]
    assert len(recorded) > 50
    for item in recorded:
        normalize(item.account, item.channel, orjson.loads(orjson.dumps(item.payload)))
