"""The Kafka transport: topic names, topic creation, broker reachability.

Topic names are public contracts (DESIGN.md §3). The embedded broker keeps no compaction or
retention (PITFALLS §3), so `cleanup.policy` is recorded for real clusters and every topic is
created up front by `ensure_topics` rather than auto-created on first produce.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.errors import ConfigError, StackError
from pipeline.venues.registry import VENUES

log = logging.getLogger(__name__)

ORDERS_EVENTS = "orders.events"
ORDERS_STATE = "orders.state"
PROCESSOR_GROUP = "pipeline-processor"  # the process role's consumer group on raw.*
POSITIONS_STATE = "positions.state"
FILLS = "fills"
COMMANDS_CANCEL = "commands.cancel"
COMMANDS_RESULTS = "commands.results"
DEAD_LETTERS = "pipeline.dlq"
CHECKPOINTS = "pipeline.checkpoints"  # processing checkpoints (streams/topicstore.py)


def raw_topic(venue: str) -> str:
    """`raw.<venue>`: every venue message, unmodified, in the raw envelope."""
    return f"raw.{venue}"


RAW_TOPICS: tuple[str, ...] = tuple(raw_topic(v) for v in VENUES)


#: The largest raw envelope (and dead letter) the pipeline publishes. A venue reply is kept
#: whole in one envelope, and some are large: SSI's order book lists every order of the day
#: of an account in one reply (4 MB for a busy simulated day). Kafka's default (1 MB) would
#: refuse it, so the raw topics and the dead letters allow this much, and the producers that
#: write them are configured to send it.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    compacted: bool = False
    max_message_bytes: int | None = None  # None: the broker's default

    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.max_message_bytes is not None:
            configs["max.message.bytes"] = str(self.max_message_bytes)
        return configs


PIPELINE_TOPICS: tuple[TopicSpec, ...] = (
    *(TopicSpec(name, max_message_bytes=MAX_MESSAGE_BYTES) for name in RAW_TOPICS),
    TopicSpec(ORDERS_EVENTS),
    TopicSpec(ORDERS_STATE, compacted=True),
    TopicSpec(POSITIONS_STATE, compacted=True),
    TopicSpec(FILLS),
    TopicSpec(COMMANDS_CANCEL),
    TopicSpec(COMMANDS_RESULTS),
    TopicSpec(DEAD_LETTERS, max_message_bytes=MAX_MESSAGE_BYTES),
    TopicSpec(CHECKPOINTS, compacted=True),
)


async def wait_for_broker(bootstrap: str, timeout: float) -> None:
    """Return once the cluster at `bootstrap` answers metadata; `ConfigError` after timeout."""
    from aiokafka.admin import AIOKafkaAdminClient

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error: Exception | None = None
    while loop.time() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=max(1000, int(min(5.0, timeout) * 1000)),
        )
        try:
            await asyncio.wait_for(admin.start(), timeout=max(0.5, deadline - loop.time()))
            await admin.close()
            return
        except Exception as exc:  # aiokafka raises several unrelated types here
            last_error = exc
            await _close_quietly(admin)
        await asyncio.sleep(0.25)
    raise ConfigError(
        "PIPELINE_KAFKA_BOOTSTRAP",
        bootstrap,
        f"no Kafka broker answered within {timeout:g}s ({type(last_error).__name__})",
    )


async def _close_quietly(admin: object) -> None:
    try:
        await admin.close()  # type: ignore[attr-defined]
    except Exception as exc:  # closing a half-started client may fail; nothing to do
        log.debug("ignoring error while closing admin client: %s", exc)


async def ensure_topics(
    bootstrap: str,
    partitions: int,
    replication_factor: int = 1,
    specs: tuple[TopicSpec, ...] = PIPELINE_TOPICS,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created (idempotent)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        await admin.start()
    except Exception as exc:
        await _close_quietly(admin)
        raise StackError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        spec.name, partitions, replication_factor, topic_configs=spec.configs()
                    )
                    for spec in missing
                ]
            )
            for topic, code, message in _topic_errors(response):
                if code not in (0, 36):  # 36 = TOPIC_ALREADY_EXISTS (a racing creator)
                    raise StackError(f"cannot create topic {topic}: error {code} {message or ''}")
        return [spec.name for spec in missing]
    finally:
        await admin.close()


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    errors = getattr(response, "topic_errors", [])
    return [(e[0], e[1], e[2] if len(e) > 2 else None) for e in errors]


async def describe_topics(bootstrap: str) -> dict[str, int]:
    """Topic name -> partition count, for the topics the cluster has."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        names = await admin.list_topics()
        described = await admin.describe_topics(names)
        return {d["topic"]: len(d["partitions"]) for d in described}
    finally:
        await admin.close()


async def read_to_highwater(
    consumer: AIOKafkaConsumer,
    topic: str,
    on_value: Callable[[Any], None],
    timeout_s: float = 60.0,
) -> None:
    """Assign every partition of `topic`, read from the beginning up to the high watermark
    the fetch responses report, calling `on_value` with each decoded value."""
    tps = await _assign(consumer, topic)
    await consumer.seek_to_beginning(*tps)
    await _read_to_highwater(consumer, tps, lambda raw: decode_into(raw, on_value), timeout_s)


async def read_from_committed(
    consumer: AIOKafkaConsumer,
    topic: str,
    on_raw: Callable[[bytes | None], None],
    timeout_s: float = 60.0,
) -> None:
    """Like `read_to_highwater`, from the offsets `consumer`'s group committed (the
    beginning where it committed none), calling `on_raw` with each undecoded value: what the
    group has not processed yet. `consumer` has the group id and does not join the group."""
    tps = await _assign(consumer, topic)
    for tp in tps:
        committed = await consumer.committed(tp)
        if committed is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)
    await _read_to_highwater(consumer, tps, on_raw, timeout_s)


async def _assign(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assign every partition of `topic`. A consumer's metadata covers the topics it is
    assigned, so a topic read after another is unknown until the cluster is asked again:
    every topic's metadata is fetched (a refresh would cover the assigned ones only)."""
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic) or set()
    if not partitions:
        log.warning("%s: no partitions known (does the topic exist?): nothing read", topic)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    return tps


async def _read_to_highwater(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    on_raw: Callable[[bytes | None], None],
    timeout_s: float,
) -> None:
    """Read `tps` up to the high watermarks the fetch responses report (never `end_offsets`:
    wrong on the embedded broker for multi-record batches, PITFALLS §2)."""
    deadline = time.monotonic() + timeout_s
    while True:
        fetched = await consumer.getmany(timeout_ms=300, max_records=10_000)
        for records in fetched.values():
            for record in records:
                on_raw(record.value)
        caught_up = True
        for tp in tps:
            high = consumer.highwater(tp)
            if high is None or await consumer.position(tp) < high:
                caught_up = False
        if caught_up:
            return
        if time.monotonic() > deadline:
            topics = sorted({tp.topic for tp in tps})
            log.warning("%s: not caught up with the high watermark after %.0fs", topics, timeout_s)
            return


def decode_into(raw: bytes | None, on_value: Callable[[Any], None]) -> None:
    if raw is None:
        return
    try:
        on_value(orjson.loads(raw))
    except Exception as exc:  # a bad state record must not stop the view
        log.warning("skipping an unusable record: %s", exc)
