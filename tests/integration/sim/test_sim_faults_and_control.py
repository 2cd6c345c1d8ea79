"""Faults on loopback (duplicates, reordering, malformed frames, drops, slow replies) and the
control API. Duplicated and reordered streams must still fold back to the ground truth."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import aiohttp
import orjson
from venue_probes import BinanceProbe, MyOrderStream, UpbitProbe

from pipeline.domain.book import TradingBook
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.sim.engine import StpMode
from pipeline.sim.faults import FaultPlan
from pipeline.sim.kits import UPBIT_KIT
from pipeline.sim.server import SimConfig, Simulator
from pipeline.sim.truth import compare
from pipeline.venues import normalizer_for

UPBIT_FLOW = replace(
    UPBIT_KIT.flow, stp_modes=(StpMode.NONE, StpMode.CANCEL_MAKER, StpMode.CANCEL_TAKER)
)


async def run_with_faults(
    http: aiohttp.ClientSession, plan: FaultPlan, steps: int = 200
) -> tuple[Simulator, list[tuple[str, str, str, Any, int]]]:
    config = SimConfig(
        seed=4,
        rate=0,
        faults={"upbit": plan, "binance": plan},
        flow_profiles={"upbit": UPBIT_FLOW},
        control_port=None,
    )
    sim = Simulator(config)
    await sim.start()
    accounts = [c.account for c in sim.credentials("upbit")]
    upbit = {
        a: UpbitProbe(http, sim.endpoints()["upbit"], sim.credential("upbit", a)) for a in accounts
    }
    streams = {a: await upbit[a].subscribe(fmt="SIMPLE", snapshot=True) for a in accounts}
    binance = {}
    for account in accounts:
        probe = BinanceProbe(http, sim.endpoints()["binance"], sim.credential("binance", account))
        await probe.connect()
        await probe.subscribe()
        await probe.call("openOrders.status", {})
        binance[account] = probe
    for _ in range(steps // 20):
        sim.step(20)
        await asyncio.sleep(0.01)
    await sim.quiesce(drain_seconds=0.3)
    for stream in streams.values():
        await stream.drain(0.2)
    received = [
        (venue, account, channel, payload, at)
        for venue, probes in (("upbit", upbit), ("binance", binance))
        for account, probe in probes.items()  # type: ignore[attr-defined]
        for channel, payload, at in probe.received
    ]
    for probe in binance.values():
        await probe.close()
    for stream in streams.values():
        await stream.close()
    await sim.stop()
    return sim, received


def fold(received: list[tuple[str, str, str, Any, int]]) -> tuple[TradingBook, int]:
    book, rejected = TradingBook(), 0
    for venue, account, channel, payload, at in received:
        try:
            events = normalizer_for(venue).normalize(
                RawEnvelope(venue, account, channel, at, payload)
            )
        except NormalizationError:
            rejected += 1  # a dead letter in the pipeline
            continue
        for event in events:
            book.apply(event)
    return book, rejected


async def test_duplicated_and_reordered_streams_still_fold_to_the_truth(
    http: aiohttp.ClientSession,
) -> None:
    plan = FaultPlan(duplicate=0.2, reorder=0.3, reorder_window=4)
    sim, received = await run_with_faults(http, plan)
    book, rejected = fold(received)
    assert rejected == 0
    frames = [p for v, _, c, p, _ in received if c == "myOrder"]
    uids = [f["uid"] + f["s"] + str(f["tms"]) for f in frames]
    assert len(uids) > len(set(uids)), "some frames should have arrived twice"
    result = compare(sim.truth(), book.orders(), book.positions())
    assert result.ok, result.summary() + "\n" + "\n".join(result.problems[:10])


async def test_malformed_frames_are_dead_letters_and_lose_nothing(
    http: aiohttp.ClientSession,
) -> None:
    sim, received = await run_with_faults(http, FaultPlan(malformed=0.2))
    book, rejected = fold(received)
    corrupt = [p for _, _, c, p, _ in received if c == "myOrder" and isinstance(p, str)]
    assert rejected == len(corrupt) > 0
    result = compare(sim.truth(), book.orders(), book.positions())
    assert result.ok, result.summary() + "\n" + "\n".join(result.problems[:10])


async def test_drop_fault_and_forced_disconnect_close_streams(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    upbit = UpbitProbe(http, sim.endpoints()["upbit"], sim.credential("upbit", "house"))
    stream: MyOrderStream = await upbit.subscribe()
    binance = BinanceProbe(http, sim.endpoints()["binance"], sim.credential("binance", "house"))
    await binance.connect()
    await binance.subscribe()
    async with http.post(f"{sim.control_url}/control/disconnect?venue=binance") as response:
        assert (await response.json())["dropped"] == 1
    await asyncio.sleep(0.1)
    assert binance.closed
    assert not stream.closed
    sim.set_faults(FaultPlan(drop=1.0), "upbit")
    sim.step(30)
    await asyncio.sleep(0.2)
    assert stream.closed
    assert stream.frames == []


async def test_slow_fault_delays_rest_replies(sim: Simulator, http: aiohttp.ClientSession) -> None:
    upbit = UpbitProbe(http, sim.endpoints()["upbit"], sim.credential("upbit", "alice"))
    sim.set_faults(FaultPlan(slow=1.0, slow_ms=(150, 150)), "upbit")
    started = time.perf_counter()
    status, _ = await upbit.request("GET", "/v1/orders/open")
    assert status == 200
    assert time.perf_counter() - started >= 0.14


async def test_control_api(sim: Simulator, http: aiohttp.ClientSession) -> None:
    base = f"{sim.control_url}/control"
    async with http.get(f"{base}/status") as response:
        status = await response.json()
    assert set(status["endpoints"]) == {"upbit", "binance"}
    assert status["accounts"]["upbit"] == ["alice", "bob", "carol", "house"]
    assert "secret" not in orjson.dumps(status).decode().lower()
    async with http.post(f"{base}/faults", json={"venue": "upbit", "duplicate": 0.5}) as response:
        assert response.status == 200
    assert sim.servers["upbit"].faults.duplicate == 0.5
    assert sim.servers["binance"].faults.duplicate == 0.0
    for bad in ({"duplicate": 5}, {"venue": "nowhere"}, {"bogus": 1}):
        async with http.post(f"{base}/faults", json=bad) as response:
            assert response.status == 400
    async with http.post(f"{base}/flow?action=resume") as response:
        assert (await response.json())["running"] is True
    await asyncio.sleep(0.2)
    async with http.post(f"{base}/settle") as response:
        assert (await response.json())["settled"] is True
    assert not sim.flow_running
    async with http.get(f"{base}/truth?accounts=house") as response:
        truth = await response.json()
    assert truth["orders"]
    assert {row["account"] for row in truth["orders"]} == {"house"}
    assert all(isinstance(row["qty"], str) for row in truth["orders"])
