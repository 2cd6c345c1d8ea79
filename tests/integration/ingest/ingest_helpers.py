"""Helpers for ingest tests: run the ingest role in the background, read topics back, fold
raw envelopes the way the processors do (distinct events in event-time order)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.domain.book import TradingBook
from pipeline.domain.events import OrderEvent
from pipeline.domain.orders import order_sort_key
from pipeline.envelope import RawEnvelope, decode_envelope
from pipeline.ingest import IngestConfig, IngestStats, run_ingestors
from pipeline.sim.server import Simulator
from pipeline.venues import normalizer_for


@dataclass
class Record:
    topic: str
    key: bytes
    value: bytes

    @property
    def envelope(self) -> RawEnvelope:
        return decode_envelope(self.value)


async def read_topic(bootstrap: str, topic: str, timeout: float = 10.0) -> list[Record]:
    """Every record of `topic`, partition by partition, up to the fetch high watermark."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        fetched_once = False
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for tp_records in batch.values():
                records += [Record(r.topic, r.key, r.value) for r in tp_records]
            fetched_once = fetched_once or bool(batch)
            caught_up = True
            for tp in partitions:
                high = consumer.highwater(tp)
                if high is None or await consumer.position(tp) < high:
                    caught_up = False
            if caught_up and (fetched_once or not batch):
                return records
        raise AssertionError(f"could not read {topic} to its end in {timeout}s")
    finally:
        await consumer.stop()


@dataclass
class RunningIngest:
    """`run_ingestors` as a background task with its stats."""

    config: IngestConfig
    bootstrap: str
    stats: IngestStats = field(default_factory=IngestStats)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RunningIngest:
        self.task = asyncio.create_task(
            run_ingestors(self.config, self.bootstrap, self.stop, self.stats)
        )
        await self.until(lambda s: s.total("connects") >= len(self.config.accounts))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.finish()

    async def finish(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)

    async def until(self, predicate: Callable[[IngestStats], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.stats):
            if self.task is not None and self.task.done():
                self.task.result()
                raise AssertionError("ingest stopped")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; stats {self.stats.snapshot()}")
            await asyncio.sleep(0.02)

    async def settle(self, quiet: float = 0.4, timeout: float = 10.0) -> None:
        """Wait until no order message was received or published for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            now = (
                self.stats.total("received") - self.stats.total("unkeyed"),
                self.stats.total("published"),
                self.stats.queue_depth,
            )
            if now == last:
                return
            last = now
            await asyncio.sleep(quiet)
        raise AssertionError("ingest did not settle")


async def control(sim: Simulator, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{sim.control_url}{path}", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


def payload_symbol(venue: str, payload: Any) -> str:
    first = payload[0] if isinstance(payload, list) else payload
    if venue == "upbit":
        return first.get("code") or first.get("cd") or first["market"]
    if "result" in first:
        result = first["result"]
        return (result[0] if isinstance(result, list) else result)["symbol"]
    return first["event"]["s"]


def fold(records: list[Record]) -> TradingBook:
    """The processors' semantics: distinct events (by order and event id), event-time order."""
    events: dict[tuple[Any, ...], OrderEvent] = {}
    for record in records:
        envelope = record.envelope
        for event in normalizer_for(envelope.venue).normalize(envelope):
            identity = (*event.order_key, event.event_id)
            known = events.get(identity)
            if known is None or order_sort_key(event) < order_sort_key(known):
                events[identity] = event
    book = TradingBook()
    for event in sorted(events.values(), key=order_sort_key):
        book.apply(event)
    return book


def canonical(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


async def stop_quietly(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
