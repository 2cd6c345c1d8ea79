"""What a processed batch becomes on the output topics, and which table each topic feeds.

The same dicts travel to Kafka (as orjson) and, during replay, straight to the tables, so a
table rebuilt by `pipeline replay` equals the one the sink fills from the topics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.codec import event_to_dict, fill_to_dict, order_state_to_dict, position_to_dict
from pipeline.kafka import DEAD_LETTERS, FILLS, ORDERS_EVENTS, ORDERS_STATE, POSITIONS_STATE
from pipeline.streams.processor import ProcessedBatch

# output topic -> ClickHouse table it feeds
TOPIC_TABLES: dict[str, str] = {
    ORDERS_EVENTS: "order_events",
    ORDERS_STATE: "orders",
    FILLS: "fills",
    POSITIONS_STATE: "positions",
    DEAD_LETTERS: "dead_letters",
}
OUTPUT_TOPICS: tuple[str, ...] = tuple(TOPIC_TABLES)

Message = tuple[bytes, dict[str, Any]]  # (key, value dict)


def _key(*parts: str) -> bytes:
    return "|".join(parts).encode()


def batch_messages(batch: ProcessedBatch) -> dict[str, list[Message]]:
    """The output messages of `batch`, per topic, in emission order."""
    out: dict[str, list[Message]] = {topic: [] for topic in OUTPUT_TOPICS}
    events = out[ORDERS_EVENTS]
    for event, late, offset in batch.events:
        value = event_to_dict(event)
        value["late"] = late
        value["version"] = offset
        events.append((_key(event.venue, event.account, event.venue_symbol), value))
    base = batch.version_base
    fills = out[FILLS]
    for fill, version in batch.fills:
        value = fill_to_dict(fill)
        value["version"] = version + base
        fills.append((_key(fill.venue, fill.account, fill.venue_symbol), value))
    states = out[ORDERS_STATE]
    for state in batch.orders.values():
        value = order_state_to_dict(state)
        if base:
            value["version"] += base
        states.append((_key(state.venue, state.account, state.order_id), value))
    positions = out[POSITIONS_STATE]
    for position in batch.positions.values():
        key = _key(position.venue, position.account, position.symbol)
        value = position_to_dict(position)
        if base:
            value["version"] += base
        positions.append((key, value))
    letters = out[DEAD_LETTERS]
    for letter in batch.dead_letters:
        letters.append((letter.raw_key.encode(), letter.to_dict()))
    return out


def split_batch(batch: ProcessedBatch, size: int) -> Iterator[ProcessedBatch]:
    """`batch` cut into batches of at most `size` items of each kind (events, fills, order
    states, positions, dead letters), in order: their messages, one slice after the other,
    are `batch_messages(batch)`'s, per topic in the same order. `batch` itself when it is
    small enough."""
    orders, positions = list(batch.orders.items()), list(batch.positions.items())
    longest = max(len(batch.events), len(batch.fills), len(orders), len(positions),
                  len(batch.dead_letters))  # fmt: skip
    if longest <= size:
        yield batch
        return
    for start in range(0, longest, size):
        end = start + size
        yield ProcessedBatch(
            events=batch.events[start:end],
            orders=dict(orders[start:end]),
            fills=batch.fills[start:end],
            positions=dict(positions[start:end]),
            dead_letters=batch.dead_letters[start:end],
            version_base=batch.version_base,
        )
