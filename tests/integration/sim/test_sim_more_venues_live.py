"""Coinone, SSI and the futures gateway served together with a seeded flow: every payload the
servers emitted (recorded) normalizes, and the pipeline's fold agrees with the ground truth
about every order it heard of."""

from __future__ import annotations

import aiohttp
from more_venue_clients import CoinoneClient, GatewayClient, SsiClient

from pipeline.domain.book import TradingBook
from pipeline.envelope import RawEnvelope
from pipeline.sim.clock import ManualClock
from pipeline.sim.server import SimConfig, Simulator
from pipeline.sim.truth import GroundTruth
from pipeline.venues import normalizer_for

VENUES = ("coinone", "ssi", "futures_gateway")


async def test_recorded_payloads_normalize_and_agree_with_the_truth(
    http: aiohttp.ClientSession,
) -> None:
    clock = ManualClock(step_ms=1)
    config = SimConfig(seed=9, rate=0, venues=VENUES, accounts=("EXCHANGE_1", "EXCHANGE_2"),
                       record=True)  # fmt: skip
    async with Simulator(config, clock=clock) as sim:
        coinone = CoinoneClient(http, sim.endpoints()["coinone"],
                                sim.credential("coinone", "EXCHANGE_1"))  # fmt: skip
        ssi = SsiClient(http, sim.endpoints()["ssi"], sim.credential("ssi", "EXCHANGE_1"))
        key = sim.credential("futures_gateway", "EXCHANGE_1")
        gateway = GatewayClient(http, sim.endpoints()["futures_gateway"], key, sim.clock)
        await ssi.login()
        myorder, stream = await coinone.myorder(), await ssi.stream(notify_id=0)
        for round_ in range(6):
            sim.step(60)
            await coinone.post("/v2.1/order/active_orders", {})
            await coinone.post("/v2.1/order/completed_orders/all", {"size": 100})
            await ssi.book(audit=round_ % 2 == 1)
            await gateway.call("GET", "/open_orders")
        await gateway.call("POST", "/cancel_all", body={})
        await sim.quiesce()
        await myorder.drain()
        await stream.drain()
        recorded = [p for p in sim.recorded() if p.account == "EXCHANGE_1"]
        truth = sim.truth(["EXCHANGE_1"])
        await myorder.close()
        await stream.close()
    assert {(p.venue, p.channel.partition(":")[0]) for p in recorded} >= {
        ("coinone", "MYORDER"), ("coinone", "rest.active_orders"),
        ("coinone", "rest.completed_orders"), ("ssi", "stream"), ("ssi", "rest.orderBook"),
        ("ssi", "rest.auditOrderBook"), ("futures_gateway", "rest.open_orders"),
        ("futures_gateway", "rest.cancel_all"),
    }  # fmt: skip
    books = {venue: TradingBook() for venue in VENUES}
    for item in recorded:  # every emitted payload normalizes (a failure raises here)
        envelope = RawEnvelope(item.venue, item.account, item.channel, item.time, item.payload)
        for event in normalizer_for(item.venue).normalize(envelope):
            books[item.venue].apply(event)
    streamed = {"coinone", "ssi"}  # complete channels: every order is heard of
    for venue in streamed:
        states = {s.order_id: s for s in books[venue].orders()}
        rows = [r for (v, _, _), r in truth.orders.items() if v == venue]
        assert rows
        assert set(states) == {r["order_id"] for r in rows}
        for row in rows:
            state = states[row["order_id"]]
            assert (state.filled_qty, state.remaining_qty) == (row["filled_qty"],
                                                               row["remaining_qty"])  # fmt: skip
    assert isinstance(truth, GroundTruth)
