"""The simulated futures gateway on loopback: HMAC-signed requests, order status, open
orders, the trade list (paged by time), cancel_all with its 10-per-60-s limit and
CANCELLATION_RAISED -> CANCELLED."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

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


def engine_trades(sim: Simulator, account: str) -> list[tuple]:
    return [
        (f.trade_id, f.order_id, f.side.value.upper(), f.price, f.qty, f.fee, f.fee_asset,
         f.liquidity.value == "maker", f.time)
        for f in sim.exchanges["futures_gateway"].fills if f.account == account
    ]  # fmt: skip


def listed(body: dict) -> list[tuple]:
    return [
        (t["trade_id"], t["order_id"], t["side"], Decimal(t["price"]), Decimal(t["quantity"]),
         Decimal(t["fee"]), t["fee_asset"], t["is_maker"], t["time"])
        for t in body["data"]["trades"]
    ]  # fmt: skip


async def test_trade_list_serves_every_execution_of_the_exchange_oldest_first(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    gw, other = client(sim, http), client(sim, http, "EXCHANGE_2")
    clock: ManualClock = sim.clock  # type: ignore[assignment]
    start = clock.now
    # t0: a buy sweeping three house asks (0.02 each), and a sell of our own that rests
    await gw.call("POST", "/order", body={**LIMIT, "quantity": "0.050", "price": "60010.0"})
    _, resting = await gw.call("POST", "/order", body={
        "symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.10",
        "price": "3000.00", "time_in_force": "GTC"})  # fmt: skip
    clock.advance(7)  # t0 + 7: our market buy takes our own sell (a self-trade)
    _, crossing = await gw.call("POST", "/order", body={
        "symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.05"})  # fmt: skip
    clock.advance(2)
    await other.call("POST", "/order", body={"symbol": "SOLUSDT", "side": "SELL",
                                             "type": "MARKET", "quantity": "1.0"})  # fmt: skip
    truth = engine_trades(sim, "EXCHANGE_1")
    status, body = await gw.call("GET", "/trades", {"start_time": str(start)},
                                 channel="rest.trades")  # fmt: skip
    assert status == 200
    assert listed(body) == sorted(truth, key=lambda t: t[-1]) == truth  # oldest first
    assert [t[-1] for t in truth] == [start] * 3 + [start + 7] * 2
    # the self-trade: one trade id, both of our orders, each with its own side
    own = truth[3:]
    assert {(t[1], t[2], t[7]) for t in own} == {
        (resting["data"]["order_id"], "SELL", True), (crossing["data"]["order_id"], "BUY", False)
    }  # fmt: skip
    assert len({t[0] for t in own}) == 1
    # another exchange's trades are its own; a symbol narrows; a window excludes
    _, theirs = await other.call("GET", "/trades", {"start_time": str(start)})
    assert listed(theirs) == engine_trades(sim, "EXCHANGE_2") != []
    _, btc = await gw.call("GET", "/trades", {"start_time": str(start), "symbol": "BTCUSDT"})
    assert listed(btc) == [t for t in truth if t[-1] == start] != []
    _, later = await gw.call("GET", "/trades", {"start_time": str(start + 1),
                                                "end_time": str(start + 7)})  # fmt: skip
    assert listed(later) == [t for t in truth if t[-1] == start + 7]
    # normalized: one real fill per trade, of the trade's order
    events = normalize("EXCHANGE_1", gw.received)
    assert [(e.fill.trade_id, e.order_id) for e in events if e.fill] == [t[:2] for t in truth]
    assert not any(e.fills_implied for e in events)
    assert "rest.trades" in {p.channel for p in sim.recorded()}


async def test_trade_list_pages_by_time_and_never_ends_inside_a_millisecond(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    gw = client(sim, http)
    clock: ManualClock = sim.clock  # type: ignore[assignment]
    start = clock.now
    await gw.call("POST", "/order", body={**LIMIT, "quantity": "0.050", "price": "60010.0"})
    clock.advance(5)  # three trades at start, two at start + 5
    await gw.call("POST", "/order", body={**LIMIT, "quantity": "0.050", "price": "60010.0",
                                          "client_order_id": "grid-2"})  # fmt: skip
    truth = engine_trades(sim, "EXCHANGE_1")
    first_ms = [t for t in truth if t[-1] == start]
    assert len(first_ms) == 3
    assert len(truth) > 3
    _, page = await gw.call("GET", "/trades", {"start_time": str(start), "limit": "1"})
    assert listed(page) == first_ms  # more than the limit: the millisecond is not split
    pages, cursor = [], start
    while True:
        _, page = await gw.call("GET", "/trades", {"start_time": str(cursor), "limit": "1"})
        pages += listed(page)
        if not page["data"]["trades"]:
            break
        cursor = page["data"]["trades"][-1]["time"] + 1
    assert pages == truth
    _, default = await gw.call("GET", "/trades", {"start_time": str(start)})
    assert listed(default) == truth


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"start_time": "yesterday"},
        {"start_time": "-5"},
        {"start_time": "1000", "end_time": "999"},
        {"start_time": "0"},  # more than 7 days before now
        {"start_time": "1000", "limit": "0"},
        {"start_time": "1000", "limit": "1001"},
        {"start_time": "1000", "symbol": "DOGEUSDT"},
    ],
)
async def test_trade_list_refuses_bad_parameters(
    sim: Simulator, http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    gw = client(sim, http)
    now = sim.clock()
    fixed = {k: (str(now - int(v)) if k == "start_time" and v == "1000" else v)
             for k, v in params.items()}  # fmt: skip
    if "end_time" in fixed:
        fixed["end_time"] = str(int(fixed["start_time"]) - 1)
    status, body = await gw.call("GET", "/trades", fixed)
    assert (status, body["error"]["code"]) == (400, "INVALID_PARAMETER"), fixed
    with pytest.raises(NormalizationError, match="INVALID_PARAMETER"):
        normalize("EXCHANGE_1", [("rest.trades", body)])


async def test_trade_list_is_signed_per_exchange_and_rate_limited_with_the_other_reads(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    gw = client(sim, http)
    start = str(sim.clock() - 1000)
    status, body = await gw.call("GET", "/trades", {"start_time": start}, secret="wrong")
    assert (status, body["error"]["code"]) == (401, "INVALID_SIGNATURE")
    status, body = await gw.call("GET", "/trades", {"start_time": start, "exchange": "EXCHANGE_2"})
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    server = sim.servers["futures_gateway"]
    for _ in range(1200 - 1):  # the two refused above did not count; open_orders is the last
        server.limits.allow("default", "EXCHANGE_1", sim.clock())  # type: ignore[attr-defined]
    assert (await gw.call("GET", "/open_orders"))[0] == 200
    status, body = await gw.call("GET", "/trades", {"start_time": start})
    assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
