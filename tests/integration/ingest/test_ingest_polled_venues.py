"""Coinone, SSI and futures-gateway ingestors against the simulator and a real Tansu broker:
the raw topics carry the simulator's payloads in the right envelope, channel and key, and
folding them rebuilds the ground truth (orders and positions), also across forced
disconnects and poll gaps."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from ingest_helpers import Record, RunningIngest, canonical, control, fold, read_topic

from pipeline.envelope import RawEnvelope
from pipeline.ingest import Backoff, IngestConfig, IngestStats
from pipeline.ingest.publisher import now_ms
from pipeline.ingest.service import build_ingestor
from pipeline.kafka import DEAD_LETTERS, ensure_topics, raw_topic
from pipeline.local.broker import TansuBroker
from pipeline.sim.clock import ManualClock
from pipeline.sim.server import SimConfig, Simulator
from pipeline.sim.truth import GroundTruth, compare
from pipeline.simwiring import ingest_config

pytestmark = pytest.mark.integration

VENUES = ("coinone", "ssi", "futures_gateway")
ACCOUNTS = ("EXCHANGE_1", "EXCHANGE_2")


@pytest.fixture
async def kafka(fresh_broker: TansuBroker) -> str:
    await ensure_topics(fresh_broker.bootstrap, partitions=3)
    return fresh_broker.bootstrap


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimConfig(seed=21, rate=0, venues=VENUES, accounts=ACCOUNTS, record=True)
    async with Simulator(config) as simulator:
        yield simulator


def config_for(sim: Simulator, venue: str, poll: float = 0.05) -> IngestConfig:
    return ingest_config(
        sim, venues=[venue], backoff=Backoff(0.2, 1.0), ping_interval=0.3, poll_interval=poll,
        rate_limit=60.0, rate_burst=20.0,
    )  # fmt: skip


async def trade(sim: Simulator, rounds: int, steps: int = 15) -> None:
    for _ in range(rounds):
        sim.step(steps)
        await asyncio.sleep(0.03)


def venue_truth(sim: Simulator, venue: str) -> GroundTruth:
    truth = sim.truth()
    return GroundTruth(
        {k: v for k, v in truth.orders.items() if k[0] == venue},
        {k: v for k, v in truth.fills.items() if k[0] == venue},
        {k: v for k, v in truth.positions.items() if k[0] == venue},
    )


def assert_truth(sim: Simulator, venue: str, records: list[Record], minimum: int = 50) -> None:
    book = fold(records)
    result = compare(venue_truth(sim, venue), book.orders(), book.positions())
    assert result.ok, result.summary() + "\n" + "\n".join(result.problems[:10])
    assert result.orders_total >= minimum
    assert result.positions_total > 0


def sent(sim: Simulator, venue: str) -> Counter[tuple[str, str, bytes]]:
    return Counter(
        (p.account, p.channel, canonical(p.payload)) for p in sim.recorded() if p.venue == venue
    )


def published(records: list[Record]) -> Counter[tuple[str, str, bytes]]:
    return Counter(
        (r.envelope.account, r.envelope.channel, canonical(r.envelope.payload)) for r in records
    )


def first_order(payload: dict[str, Any]) -> dict[str, Any]:
    for name in ("active_orders", "completed_orders"):
        if payload.get(name):
            return payload[name][0]
    return payload["order"]


async def cancel_some(sim: Simulator, venue: str, per_account: int = 2) -> list[str]:
    exchange, now, canceled = sim.exchanges[venue], sim.clock(), []
    for account in ACCOUNTS:
        for order in exchange.open_orders(account)[:per_account]:
            exchange.cancel(order.order_id, now, account=account)
            canceled.append(order.order_id)
    return canceled


async def test_coinone_polls_and_myorder_rebuild_the_truth_across_a_disconnect(
    kafka: str, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.ingest")
    config = config_for(sim, "coinone")
    assert {a.account for a in config.accounts} == {*ACCOUNTS, "house"}
    async with RunningIngest(config, kafka) as running:
        await trade(sim, 8)
        await running.settle()
        before = running.stats.total("connects")
        reply = await control(sim, "POST", "/control/disconnect?venue=coinone")
        assert reply["dropped"] == len(config.accounts)
        canceled = await cancel_some(sim, "coinone")  # while MYORDER is away
        await running.until(lambda s: s.total("connects") >= before + len(config.accounts))
        await trade(sim, 6)
        await sim.quiesce(drain_seconds=0.2)
        await running.settle()
    records = await read_topic(kafka, raw_topic("coinone"))
    for record in records:
        envelope = record.envelope
        payload = envelope.payload
        data = payload.get("d") or payload.get("data") or {}  # SHORT or DEFAULT spelling
        pair = (
            f"{data.get('tc', data.get('target_currency'))}-"
            f"{data.get('qc', data.get('quote_currency'))}"
            if envelope.channel == "MYORDER"
            else "{target_currency}-{quote_currency}".format(**first_order(payload))
        )
        assert record.key == f"coinone|{envelope.account}|{pair}".encode()
    got, emitted = published(records), sent(sim, "coinone")
    assert not got - emitted  # every message is one the venue sent, unmodified
    assert {c for _, c, _ in got} == {
        "MYORDER", "rest.active_orders", "rest.completed_orders", "rest.order_detail"
    }  # fmt: skip
    spellings = {
        "DEFAULT" if "data" in r.envelope.payload else "SHORT"
        for r in records
        if r.envelope.channel == "MYORDER"
    }
    assert spellings == {"DEFAULT", "SHORT"}  # the accounts alternate the two formats
    myorder = Counter({k: n for k, n in emitted.items() if k[1] == "MYORDER"})
    assert Counter({k: n for k, n in got.items() if k[1] == "MYORDER"}) == myorder
    polled = sum(n for k, n in emitted.items() if k[1] == "rest.active_orders")
    assert sum(n for k, n in got.items() if k[1] == "rest.active_orders") < polled / 2
    details = {r.envelope.payload["order"]["order_id"] for r in records
               if r.envelope.channel == "rest.order_detail"}  # fmt: skip
    assert set(canceled) <= details
    stats = running.stats.venue("coinone")
    assert stats.reconnects == len(config.accounts)
    assert stats.dead_letters == stats.errors == 0
    assert_truth(sim, "coinone", records)
    for credential in sim.credentials("coinone"):
        assert credential.secret not in caplog.text
        assert credential.key not in caplog.text


async def test_ssi_stream_resumes_from_the_last_notify_id_and_rebuilds_the_truth(
    kafka: str, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.ingest")
    config = config_for(sim, "ssi")
    faults = {"venue": "ssi", "duplicate": 0.1, "malformed": 0.03}
    await control(sim, "POST", "/control/faults", faults)
    async with RunningIngest(config, kafka) as running:
        await trade(sim, 8)
        await running.settle()
        for _ in range(2):
            before = running.stats.total("connects")
            await control(sim, "POST", "/control/disconnect?venue=ssi")
            sim.step(40)  # trading while the stream is away: replayed from the last notifyID
            await running.until(lambda s, b=before: s.total("connects") >= b + len(config.accounts))
        await trade(sim, 4)
        await sim.quiesce(drain_seconds=0.2)
        await running.settle()
    records = await read_topic(kafka, raw_topic("ssi"))
    for record in records:
        assert record.key == f"ssi|{record.envelope.account}|*".encode()
    assert {r.envelope.channel for r in records} == {"stream", "rest.orderBook"}
    # every stream message of the day reached the topic, in each account's notify order
    notify: dict[str, list[int]] = {}
    for r in records:
        if r.envelope.channel == "stream":
            notify.setdefault(r.envelope.account, []).append(r.envelope.payload["data"]["notifyID"])
    ssi_server: Any = sim.servers["ssi"]
    for account in (*ACCOUNTS, "house"):
        day = [m["data"]["notifyID"] for a, m in ssi_server.messages if a == account]
        assert sorted(set(notify[account])) == day
    letters = await read_topic(kafka, DEAD_LETTERS)
    stats = running.stats.venue("ssi")
    assert stats.dead_letters == len(letters) > 0
    assert stats.reconnects == 2 * len(config.accounts)
    assert_truth(sim, "ssi", records)
    for credential in sim.credentials("ssi"):
        assert credential.secret not in caplog.text
        assert credential.private_key not in caplog.text  # type: ignore[attr-defined]


@pytest.fixture
async def gateway() -> AsyncIterator[Simulator]:
    config = SimConfig(seed=5, rate=0, venues=("futures_gateway",), accounts=ACCOUNTS,
                       record=True)  # fmt: skip
    async with Simulator(config) as simulator:
        yield simulator


def gateway_config(sim: Simulator) -> IngestConfig:
    config = config_for(sim, "futures_gateway", poll=0.1)
    return replace(config, accounts=tuple(a for a in config.accounts if a.account in ACCOUNTS))


def gateway_truth(sim: Simulator) -> GroundTruth:
    """The truth of the two exchanges ingested (the house account is not ingested here)."""
    truth = venue_truth(sim, "futures_gateway")
    return GroundTruth(
        {k: v for k, v in truth.orders.items() if k[1] in ACCOUNTS},
        {k: v for k, v in truth.fills.items() if k[1] in ACCOUNTS},
        {k: v for k, v in truth.positions.items() if k[1] in ACCOUNTS},
    )


def check_gateway_records(sim: Simulator, records: list[Record]) -> None:
    """Keys, unmodified payloads, and trade replies published only with something new."""
    published_trades: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for record in records:
        envelope = record.envelope
        data = envelope.payload["data"]
        if envelope.channel == "rest.trades":
            items = data["trades"]
            keys = {(t["trade_id"], t["order_id"]) for t in items}
            seen = published_trades.setdefault((envelope.account, items[0]["symbol"]), set())
            assert keys - seen, "a trades reply was published with nothing new"
            seen |= keys
        else:
            items = data["orders"] if envelope.channel == "rest.open_orders" else [data]
            assert {o["exchange"] for o in items} == {envelope.account}
        symbols = {item["symbol"] for item in items}
        assert len(symbols) == 1, "one message, one symbol"
        assert record.key == f"futures_gateway|{envelope.account}|{symbols.pop()}".encode()
    assert not published(records) - sent(sim, "futures_gateway")
    # every execution of the two exchanges reached the raw topic, as a trade
    fills = {(k[3], k[2]) for k in gateway_truth(sim).fills}
    assert fills
    assert set().union(*published_trades.values()) == fills
    polled = sum(n for k, n in sent(sim, "futures_gateway").items() if k[1] == "rest.trades")
    assert sum(1 for r in records if r.envelope.channel == "rest.trades") < polled


def assert_gateway_truth(sim: Simulator, records: list[Record]) -> GroundTruth:
    truth = gateway_truth(sim)
    book = fold(records)
    result = compare(truth, book.orders(), [p for p in book.positions() if p.account in ACCOUNTS])
    assert result.ok, result.summary() + "\n" + "\n".join(result.problems[:10])
    assert result.orders_matched == len(truth.orders)
    assert result.positions_matched == len(truth.positions) > 0
    return truth


async def test_gateway_polls_orders_history_and_trades_and_rebuilds_orders_and_positions(
    kafka: str, gateway: Simulator
) -> None:
    sim = gateway
    async with RunningIngest(gateway_config(sim), kafka) as running:
        canceled: list[str] = []
        for round_ in range(15):
            snapshots = running.stats.total("snapshots")
            await running.until(lambda s, n=snapshots: s.total("snapshots") >= n + 2)
            # between two polls, so all of it happens in one poll gap: cancel orders the
            # last poll listed, then trade (orders start and end between two polls)
            if round_ % 3 == 2:
                canceled += await cancel_some(sim, "futures_gateway", 1)
            sim.step(8)
        await sim.quiesce(drain_seconds=0.4)
        await running.settle()
    records = await read_topic(kafka, raw_topic("futures_gateway"))
    check_gateway_records(sim, records)
    channels = {r.envelope.channel for r in records}
    assert {"rest.open_orders", "rest.trades"} <= channels
    assert channels <= {"rest.open_orders", "rest.order_status", "rest.trades"}
    finished = {
        o["order_id"]: o["status"]
        for r in records
        if r.envelope.channel != "rest.trades"
        for o in (
            r.envelope.payload["data"]["orders"]
            if r.envelope.channel == "rest.open_orders"
            else [r.envelope.payload["data"]]
        )
    }
    assert canceled
    assert all(finished[i] == "CANCELLED" for i in canceled)
    # the order history holds what started and ended between two polls, the trade list every
    # execution: every order and every position of the two exchanges ends right
    truth = assert_gateway_truth(sim, records)
    assert len(truth.orders) > 50
    heard_by_snapshots = {
        o["order_id"]
        for r in records
        if r.envelope.channel == "rest.open_orders"
        for o in r.envelope.payload["data"]["orders"]
        if o["status"] not in ("FILLED", "CANCELLED", "EXPIRED")
    }
    assert len(truth.orders) - len(heard_by_snapshots) > 20  # only the history knew those


async def test_gateway_trades_of_the_boundary_millisecond_are_not_lost(kafka: str) -> None:
    """The gateway's clock stands still: every trade has one time, and trades keep arriving
    in the millisecond the ingestor has already read up to. Each is published once it
    exists (and a reply with nothing new is not); the positions end equal to the truth."""
    clock = ManualClock(start_ms=now_ms())
    config = SimConfig(seed=8, rate=0, venues=("futures_gateway",), accounts=ACCOUNTS,
                       record=True)  # fmt: skip
    async with Simulator(config, clock=clock) as sim:
        async with RunningIngest(gateway_config(sim), kafka) as running:
            for round_ in range(6):
                snapshots = running.stats.total("snapshots")
                await running.until(lambda s, n=snapshots: s.total("snapshots") >= n + 2)
                sim.step(6)
                if round_ == 3:
                    clock.advance(2)  # a new millisecond, then more trades in it
            await sim.quiesce(drain_seconds=0.3)
            await running.settle()
        records = await read_topic(kafka, raw_topic("futures_gateway"))
        trade_times = {
            t["time"]
            for r in records
            if r.envelope.channel == "rest.trades"
            for t in r.envelope.payload["data"]["trades"]
        }
        assert trade_times == {clock.now - 2, clock.now}
        replies = [r for r in records if r.envelope.channel == "rest.trades"]
        assert len(replies) > len(ACCOUNTS) * 2  # several rounds, each in a known millisecond
        check_gateway_records(sim, records)
        assert_gateway_truth(sim, records)


class RecordingPublisher:
    """Stands in for the Kafka publisher: keeps what the ingestor publishes."""

    def __init__(self) -> None:
        self.published: list[tuple[RawEnvelope, str | None]] = []

    async def publish(self, envelope: RawEnvelope, symbol: str | None) -> None:
        self.published.append((envelope, symbol))

    async def dead_letter(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"unexpected dead letter {args} {kwargs}")


async def test_gateway_back_after_more_than_a_week_resumes_with_the_last_seven_days(
    gateway: Simulator,
) -> None:
    """The gateway refuses history and trade requests reaching back more than 7 days; an
    ingestor whose cursors are older resumes from 7 days ago instead of failing forever."""
    sim = gateway
    sim.step(40)
    account = gateway_config(sim).accounts[0]
    publisher = RecordingPublisher()
    ingestor = build_ingestor(account, publisher, IngestStats())  # type: ignore[arg-type]
    symbol = account.symbols[0]
    eight_days_ago = now_ms() - 8 * 86_400_000
    ingestor._history_from[symbol] = eight_days_ago  # type: ignore[attr-defined]
    ingestor._trades_from[symbol] = eight_days_ago  # type: ignore[attr-defined]
    async with aiohttp.ClientSession() as http:
        await ingestor.history(http, symbol)  # type: ignore[attr-defined]
        await ingestor.trades(http, symbol)  # type: ignore[attr-defined]
    channels = {envelope.channel for envelope, _ in publisher.published}
    assert "rest.trades" in channels  # the trades of the last 7 days, this flow's included
    assert ingestor._trades_from[symbol] > eight_days_ago  # type: ignore[attr-defined]
