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
from pipeline.domain.events import Fill, OrderEvent
from pipeline.domain.orders import OrderState, order_sort_key
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
from pipeline.streams.processor import ProcessingSettings
from pipeline.venues import normalizer_for

TEST_SETTINGS = Settings(broker_session_timeout=6, broker_rebalance_timeout=6)
# The recorded payloads span 2022-2026; keep finished orders for the whole span so that the
# memory bound (eviction by event time) never decides the result of these tests.
TEST_PROCESSING = ProcessingSettings(order_retention_ms=10 * 365 * 86_400_000)
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
    if isinstance(value, str):
        return str(value)  # StrEnum members compare equal but print differently
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
    # a fill with qty 0 is a void: a derived fill retracted when real fills arrived (whether
    # one was ever emitted depends on arrival order; the fills that executed do not)
    where = " WHERE qty > 0" if table == "fills" else ""
    sql = f"SELECT {cols} FROM {store.database}.{table}{final}{where}"
    return canon_rows(store.query(sql).rows)


def count(store: Store, table: str) -> int:
    return store.query(f"SELECT count() FROM {store.database}.{table} FINAL").rows[0][0]


def expected_state(
    envelopes: Iterable[tuple[bytes, RawEnvelope]],
) -> dict[str, list[tuple[Any, ...]]]:
    """The oracle of DESIGN §4: apply the distinct events sorted by event time, one book."""
    events: dict[tuple[str, str, str, str], OrderEvent] = {}
    for _key, envelope in envelopes:
        for event in normalizer_for(envelope.venue).normalize(envelope):
            identity = (*event.order_key, event.event_id)
            known = events.get(identity)
            # one venue event seen twice (two polls of one state): its earliest report counts
            if known is None or (order_sort_key(event), event.received_at) < (
                order_sort_key(known),
                known.received_at,
            ):
                events[identity] = event
    ordered = sorted(events.values(), key=order_sort_key)
    book = TradingBook()
    fills: dict[tuple[tuple[str, str, str, str], str], tuple[Fill, int]] = {}
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
                fills[output.key, output.order_id] = (output, version)
    fill_dicts = [fill_row(fill_to_dict(f))[:-1] for f, _version in fills.values() if f.qty > 0]
    return {
        "orders": canon_rows(order_row(order_state_to_dict(s)) for s in orders.values()),
        "positions": canon_rows(position_row(position_to_dict(p)) for p in positions.values()),
        "fills": canon_rows(fill_dicts),
        "event_ids": sorted(events),
        "events": canon_rows(
            _without(event_row(event_to_dict(e))[:-1], EVENT_COLUMNS.index("late"))
            for e in events.values()
        ),
    }


def _without(row: list[Any], index: int) -> list[Any]:
    return row[:index] + row[index + 1 :]


COLUMNS = {
    "orders": ORDER_COLUMNS,
    "positions": POSITION_COLUMNS,
    # a fill's version is the order version that last emitted it: it orders the revisions of
    # one fill, but its value depends on arrival order; the content must not
    "fills": tuple(c for c in FILL_COLUMNS if c != "version"),
    # `late` and `version` record how this delivery arrived, not what happened
    "order_events": tuple(c for c in EVENT_COLUMNS if c not in ("late", "version")),
}


def assert_same_rows(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]], what: str) -> None:
    """Equal row lists, or an error listing exactly the rows missing and the rows extra."""
    if got == want:
        return
    missing = [row for row in want if row not in got]
    extra = [row for row in got if row not in want]
    lines = [f"{what}: {len(missing)} expected row(s) missing, {len(extra)} unexpected"]
    lines += [f"  missing: {row!r}" for row in missing[:5]]
    lines += [f"  extra:   {row!r}" for row in extra[:5]]
    raise AssertionError("\n".join(lines))


def remote_rows(state: Any, database: str, table: str, columns: tuple[str, ...]) -> list:
    """Rows of a table owned by another process, through its ClickHouse endpoint (`state`:
    the owner's StackState)."""
    from pipeline.local.query import state_query

    where = " WHERE qty > 0" if table == "fills" else ""
    sql = f"SELECT {', '.join(columns)} FROM {database}.{table} FINAL{where}"
    return canon_rows(state_query(state, sql, database).rows)
