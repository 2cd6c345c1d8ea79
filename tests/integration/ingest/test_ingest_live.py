"""Ingestors against the simulator and a real Tansu broker: envelopes and keys, reconnects
with snapshots and gap recovery, and raw topics that rebuild the simulator's ground truth
even with duplicated, reordered and malformed frames and forced disconnects."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import orjson
import pytest
from ingest_helpers import (
    Record,
    RunningIngest,
    canonical,
    control,
    fold,
    payload_symbol,
    read_topic,
)

from pipeline import simwiring
from pipeline.ingest import Backoff
from pipeline.kafka import DEAD_LETTERS, ensure_topics, raw_topic
from pipeline.local.broker import TansuBroker
from pipeline.sim.engine import StpMode
from pipeline.sim.kits import UPBIT_KIT
from pipeline.sim.server import SimConfig, Simulator
from pipeline.sim.truth import compare

pytestmark = pytest.mark.integration

# as in test_sim_live_consistency: Upbit SMP `reduce` is left out of the flow until the
# normalizer tells two reduce reports of one order in one millisecond apart
UPBIT_FLOW = replace(
    UPBIT_KIT.flow, stp_modes=(StpMode.NONE, StpMode.CANCEL_MAKER, StpMode.CANCEL_TAKER)
)
FORMATS = {"alice": "DEFAULT", "bob": "SIMPLE", "carol": "JSON_LIST", "house": "SIMPLE_LIST"}


@pytest.fixture
async def kafka(fresh_broker: TansuBroker) -> str:
    await ensure_topics(fresh_broker.bootstrap, partitions=3)
    return fresh_broker.bootstrap


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimConfig(
        seed=11,
        rate=0,
        venues=("upbit", "binance"),
        record=True,
        flow_profiles={"upbit": UPBIT_FLOW},
    )
    async with Simulator(config) as simulator:
        yield simulator


def ingest_config(sim: Simulator, initial: float = 0.05):
    config = simwiring.ingest_config(sim, backoff=Backoff(initial, 1.0), ping_interval=0.3)
    accounts = tuple(
        replace(a, options={"format": FORMATS[a.account]}) if a.venue == "upbit" else a
        for a in config.accounts
    )
    return replace(config, accounts=accounts)


async def trade(sim: Simulator, rounds: int, steps: int = 15) -> None:
    for _ in range(rounds):
        sim.step(steps)
        await asyncio.sleep(0.02)


async def raw_records(bootstrap: str) -> list[Record]:
    return [
        r for venue in ("upbit", "binance") for r in await read_topic(bootstrap, raw_topic(venue))
    ]


async def cancel_in_the_gap(sim: Simulator, running: RunningIngest) -> list[tuple[str, str]]:
    """Drop every connection (control API), cancel orders while the ingestors are away."""
    before = running.stats.total("connects")
    reply = await control(sim, "POST", "/control/disconnect")
    assert reply["dropped"] == len(running.config.accounts)
    canceled = []
    now = sim.clock()
    for venue, exchange in sim.exchanges.items():
        for account in ("alice", "bob"):
            for order in exchange.open_orders(account)[:2]:
                exchange.cancel(order.order_id, now, account=account)
                canceled.append((venue, order.order_id))
    assert running.stats.total("connects") == before, "reconnected before the cancels"
    await running.until(lambda s: s.total("connects") >= before + len(running.config.accounts))
    return canceled


def assert_truth(sim: Simulator, records: list[Record]) -> None:
    book = fold(records)
    result = compare(sim.truth(), book.orders(), book.positions())
    assert result.ok, result.summary() + "\n" + "\n".join(result.problems[:10])
    assert result.orders_total > 100


async def test_ingestors_publish_every_venue_message_in_the_raw_envelope_with_its_key(
    kafka: str, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.ingest")
    config = ingest_config(sim)
    async with RunningIngest(config, kafka) as running:
        await trade(sim, 15)
        await sim.quiesce(drain_seconds=0.2)
        await running.settle()
    records = await raw_records(kafka)

    published = Counter()
    for record in records:
        envelope = record.envelope
        assert record.topic == raw_topic(envelope.venue)
        symbol = payload_symbol(envelope.venue, envelope.payload)
        assert record.key == f"{envelope.venue}|{envelope.account}|{symbol}".encode()
        published[
            envelope.venue, envelope.account, envelope.channel, canonical(envelope.payload)
        ] += 1
    # exactly what the simulator sent (replies that name no order are not published)
    sent = Counter(
        (p.venue, p.account, p.channel, canonical(p.payload))
        for p in sim.recorded()
        if not (isinstance(p.payload, list) and not p.payload)
        and not (isinstance(p.payload, dict) and p.payload.get("result") == [])
    )
    assert published == sent
    channels = {key[2] for key in published}
    assert channels == {"myOrder", "rest.orders", "userData", "wsapi.openOrders.status"}
    stats = running.stats
    assert stats.total("published") == len(records)
    assert stats.total("dead_letters") == 0
    assert stats.total("reconnects") == 0
    assert stats.venue("upbit").unkeyed > 0  # PING replies, empty snapshots
    assert_truth(sim, records)
    # no key or secret in any log line
    for venue in ("upbit", "binance"):
        for credential in sim.credentials(venue):
            assert credential.secret not in caplog.text
            assert credential.key not in caplog.text


async def test_forced_disconnect_reconnects_snapshots_and_recovers_orders_closed_meanwhile(
    kafka: str, sim: Simulator
) -> None:
    config = ingest_config(sim, initial=0.3)
    async with RunningIngest(config, kafka) as running:
        await trade(sim, 8)
        await running.settle()
        snapshots = running.stats.total("snapshots")
        canceled = await cancel_in_the_gap(sim, running)
        await running.settle()
        await sim.quiesce(drain_seconds=0.2)
        await running.settle()
    stats = running.stats
    assert stats.total("reconnects") == len(config.accounts)
    assert stats.total("snapshots") >= snapshots + 3 * len(config.accounts)
    assert stats.total("recovered_orders") >= len(canceled) > 0
    records = await raw_records(kafka)
    recovered = {
        (
            r.envelope.venue,
            str(r.envelope.payload.get("uuid") or r.envelope.payload["result"]["orderId"]),
        )
        for r in records
        if r.envelope.channel in ("rest.order", "wsapi.order.status")
    }
    assert set(canceled) <= recovered
    assert_truth(sim, records)


async def test_raw_topics_rebuild_the_truth_despite_duplicates_reorder_malformed_and_drops(
    kafka: str, sim: Simulator
) -> None:
    config = ingest_config(sim, initial=0.3)
    faults = {"duplicate": 0.15, "reorder": 0.15, "reorder_window": 3, "malformed": 0.05}
    await control(sim, "POST", "/control/faults", faults)
    rng = random.Random(3)
    async with RunningIngest(config, kafka) as running:
        for _ in range(3):
            await trade(sim, rng.randint(4, 7))
            await running.settle(quiet=0.2)
            await cancel_in_the_gap(sim, running)
        await trade(sim, 5)
        await sim.quiesce(drain_seconds=0.3)
        await running.settle()
    records = await raw_records(kafka)
    letters = await read_topic(kafka, DEAD_LETTERS)
    stats = running.stats
    assert stats.total("dead_letters") == len(letters) > 0
    assert {orjson.loads(r.value)["reason"] for r in letters} == {"unparseable_frame"}
    assert {orjson.loads(r.value)["source_topic"] for r in letters} <= {"raw.upbit", "raw.binance"}
    sent = sum(1 for p in sim.recorded() if p.channel in ("myOrder", "userData"))
    streamed = sum(1 for r in records if r.envelope.channel in ("myOrder", "userData"))
    assert streamed > sent  # duplicates arrived and were published as received
    assert stats.total("reconnects") == 3 * len(config.accounts)
    assert_truth(sim, records)
