"""The crucial check: what the simulator sends on loopback rebuilds its ground truth.

A seeded flow trades on both venues while clients subscribed for every account (Upbit myOrder
in all four formats, Binance user data streams) also act as a pipeline's cancel executor and
poller would: REST cancels and open-order polls on Upbit; WebSocket API places, cancels,
amends, cancel-replaces and open-order polls on Binance. Every payload received must
normalize, and folding them (pipeline.domain's TradingBook) must reproduce the simulator's
final state of every order and position.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aiohttp
from venue_probes import BinanceProbe, UpbitProbe

from pipeline.domain.book import TradingBook
from pipeline.envelope import RawEnvelope
from pipeline.sim.engine import EventKind, StpMode
from pipeline.sim.kits import UPBIT_KIT
from pipeline.sim.server import SimConfig, Simulator
from pipeline.sim.truth import compare
from pipeline.venues import normalizer_for

# Upbit's flow with every SMP mode, `reduce` included (two reduce reports of one order in
# one millisecond stay distinct: tests/unit/sim/test_sim_wire_consistency.py).
UPBIT_FLOW = UPBIT_KIT.flow
FORMATS = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")
BUY_LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}


def fold(received: list[tuple[str, str, str, Any, int]]) -> TradingBook:
    book = TradingBook()
    for venue, account, channel, payload, received_at in received:
        envelope = RawEnvelope(venue, account, channel, received_at, payload)
        for event in normalizer_for(venue).normalize(envelope):
            book.apply(event)
    return book


async def act_like_a_pipeline(
    sim: Simulator,
    rng: random.Random,
    upbit: dict[str, UpbitProbe],
    binance: dict[str, BinanceProbe],
) -> None:
    """One round of client requests, as cancel executors and pollers would send them."""
    upbit_open = sim.exchanges["upbit"].open_orders("alice")
    if upbit_open:
        target = rng.choice(upbit_open)
        await upbit["alice"].request("DELETE", "/v1/order", {"uuid": target.order_id})
    await upbit["bob"].request("GET", "/v1/orders/open", {"states[]": ["wait", "watch"]})

    alice, bob = binance["alice"], binance["bob"]
    price = f"{60000 + rng.randint(-3, 3)}.00"
    await alice.call("order.place", {**BUY_LIMIT, "price": price, "quantity": "0.00030"})
    live = sim.exchanges["binance"].open_orders("alice", "BTCUSDT")
    if live:
        await alice.call(
            "order.cancel", {"symbol": "BTCUSDT", "orderId": rng.choice(live).order_id}
        )
    await alice.call("openOrders.status", {})
    for order in sim.exchanges["binance"].open_orders("bob"):
        lot = order.instrument.lot_size
        if order.remaining >= 2 * lot and order.trigger is None:
            symbol = order.venue_symbol
            await bob.call(
                "order.amend.keepPriority",
                {"symbol": symbol, "orderId": int(order.order_id), "newQty": str(order.qty - lot)},
            )
            await bob.call(
                "order.cancelReplace",
                {"symbol": symbol, "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                 "price": str(order.price), "quantity": str(lot * 3),
                 "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": int(order.order_id)},
            )  # fmt: skip
            break


async def test_live_payloads_fold_back_to_the_ground_truth(http: aiohttp.ClientSession) -> None:
    config = SimConfig(seed=21, rate=0, flow_profiles={"upbit": UPBIT_FLOW})
    async with Simulator(config) as sim:
        endpoints = sim.endpoints()
        accounts = [c.account for c in sim.credentials("upbit")]
        upbit = {
            a: UpbitProbe(http, endpoints["upbit"], sim.credential("upbit", a)) for a in accounts
        }
        # as an ingestor does: subscribe, then snapshot what was open before (the house
        # quoted its books when the simulator started)
        sockets = {
            a: await upbit[a].subscribe(fmt=FORMATS[i % 4], snapshot=True)
            for i, a in enumerate(accounts)
        }
        binance = {}
        for account in accounts:
            probe = BinanceProbe(http, endpoints["binance"], sim.credential("binance", account))
            await probe.connect()
            await probe.subscribe()
            await probe.call("openOrders.status", {})
            binance[account] = probe

        rng = random.Random(5)
        for _ in range(25):
            sim.step(20)
            await act_like_a_pipeline(sim, rng, upbit, binance)
            for account, ws in sockets.items():
                await upbit[account].drain(ws, idle=0.005)
        await sim.quiesce(drain_seconds=0.3)
        for account, ws in sockets.items():
            await upbit[account].drain(ws, idle=0.2)

        received = [
            (venue, account, channel, payload, at)
            for venue, probes in (("upbit", upbit), ("binance", binance))
            for account, probe in probes.items()  # type: ignore[attr-defined]
            for channel, payload, at in probe.received
        ]
        channels = {channel for _, _, channel, _, _ in received}
        assert channels >= {
            "myOrder", "rest.order", "rest.orders", "userData", "wsapi.order.place",
            "wsapi.order.cancel", "wsapi.openOrders.status", "wsapi.order.amend.keepPriority",
            "wsapi.order.cancelReplace",
        }  # fmt: skip
        reduced = [
            e
            for e in sim.exchanges["upbit"].log
            if e.kind is EventKind.PREVENTED and e.stp is StpMode.DECREMENT
        ]
        assert reduced, "the flow never tripped Upbit's SMP reduce: the check would not cover it"
        book = fold(received)
        truth = sim.truth()
        result = compare(truth, book.orders(), book.positions())
        assert result.ok, result.summary() + "\n" + "\n".join(result.problems[:10])
        assert result.orders_total > 300
        assert result.summary() == (
            f"orders {len(truth.orders)}/{len(truth.orders)} match, "
            f"positions {len(truth.positions)}/{len(truth.positions)} match"
        )
        for probe in binance.values():
            await probe.close()
        for ws in sockets.values():
            await ws.close()


async def test_background_flow_runs_at_its_rate_and_settles(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimConfig(seed=3, rate=200, control_port=None)) as sim:
        await asyncio.sleep(0.5)
        assert sim.flow_running
        await sim.quiesce(drain_seconds=0)
        actions = sum(sim.flow.actions.values())
        assert 40 <= actions <= 150
        assert not any(exchange.has_pending for exchange in sim.exchanges.values())
        assert len(sim.truth().orders) > actions / 2
