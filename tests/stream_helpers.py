"""Helpers for stream tests: produce a scenario, run workers, read tables, build expectations."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from decimal import ROUND_DOWN, Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from pipeline.codec import event_to_dict, fill_to_dict, order_state_to_dict, position_to_dict
from pipeline.config import Settings
from pipeline.domain.book import TradingBook
from pipeline.domain.events import Fill
from pipeline.domain.orders import OrderState
from pipeline.domain.positions import Position
from pipeline.envelope import RawEnvelope
from pipeline.kafka import raw_topic
from pipeline.sink.rows import (
    EVENT_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    event_row,
    fill_row,
    order_row,
    position_row,
)
from pipeline.sink.store import Store
from pipeline.venues import normalizer_for

TEST_SETTINGS = Settings(broker_session_timeout=6, broker_rebalance_timeout=6)
Q18 = Decimal("1e-18")


async def produce(bootstrap: str, items: Iterable[tuple[bytes, bytes, str]]) -> int:
    """Produce (key, value, venue) records to raw.<venue>; returns how many."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    count = 0
    try:
        futures = []
        for key, value, venue in items:
            futures.append(await producer.send(raw_topic(venue), value, key=key))
            count += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return count


def as_records(envelopes: Iterable[tuple[bytes, RawEnvelope]]) -> list[tuple[bytes, bytes, str]]:
    return [(key, env.encode(), env.venue) for key, env in envelopes]


async def run_until(
    workers: list[Callable[[asyncio.Event], Awaitable[None]]],
    done: Callable[[], bool],
    timeout: float = 90,
) -> None:
    """Run worker coroutines until `done()` holds (checked every 0.5 s), then stop them."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w(stop)) for w in workers]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if await asyncio.to_thread(done):
                # let in-flight batches land, then check again
                await asyncio.sleep(1.0)
                if await asyncio.to_thread(done):
                    return
            await asyncio.sleep(0.5)
        raise AssertionError("workers did not reach the expected state in time")
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)


def _canon(value: Any) -> Any:
    """Compare values the way the table stores them (Decimal(38, 18) truncates)."""
    if isinstance(value, Decimal):
        return value.quantize(Q18, rounding=ROUND_DOWN).normalize()
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in sorted(value.items())}
    if hasattr(value, "timestamp"):  # datetime from the store -> epoch ms
        return round(value.replace(tzinfo=__import__("datetime").UTC).timestamp() * 1000)
    return value


def canon_rows(rows: Iterable[Iterable[Any]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(_canon(v) for v in row) for row in rows), key=repr)


def table_rows(store: Store, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    cols = ", ".join(columns)
    final = "" if table == "dead_letters" else " FINAL"
    return canon_rows(store.query(f"SELECT {cols} FROM {store.database}.{table}{final}").rows)


def count(store: Store, table: str) -> int:
    return store.query(f"SELECT count() FROM {store.database}.{table} FINAL").rows[0][0]


def expected_state(
    envelopes: Iterable[tuple[bytes, RawEnvelope]],
) -> dict[str, list[tuple[Any, ...]]]:
    """The oracle of DESIGN §4: apply the distinct events sorted by event time, one book."""
    events = {}
    for _key, envelope in envelopes:
        for event in normalizer_for(envelope.venue).normalize(envelope):
            events.setdefault(event.event_id, event)
    ordered = sorted(events.values(), key=lambda e: (e.event_time, e.sequence or 0, e.event_id))
    book = TradingBook()
    fills: dict[tuple[str, str, str, str], tuple[Fill, int]] = {}
    orders: dict[tuple[str, str, str], OrderState] = {}
    positions: dict[tuple[str, str, str], Position] = {}
    for event in ordered:
        version = 1
        for output in book.apply(event):
            if isinstance(output, OrderState):
                orders[output.key] = output
                version = output.version
            elif isinstance(output, Position):
                positions[output.key] = output
            else:
                fills[output.key] = (output, version)
    fill_dicts = []
    for fill, version in fills.values():
        value = fill_to_dict(fill)
        value["version"] = version
        fill_dicts.append(fill_row(value))
    return {
        "orders": canon_rows(order_row(order_state_to_dict(s)) for s in orders.values()),
        "positions": canon_rows(position_row(position_to_dict(p)) for p in positions.values()),
        "fills": canon_rows(fill_dicts),
        "event_ids": sorted(events),
        "events": canon_rows(
            event_row({**event_to_dict(e), "late": False}) for e in events.values()
        ),
    }


COLUMNS = {
    "orders": ORDER_COLUMNS,
    "positions": POSITION_COLUMNS,
    "fills": FILL_COLUMNS,
    "order_events": tuple(c for c in EVENT_COLUMNS if c != "late"),
}
