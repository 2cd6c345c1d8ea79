"""Consumer-group lag from committed offsets against fetch high watermarks, on the real
embedded broker (issue 16 item 7): right after multi-record batches, for which the broker's
ListOffsets(latest) is wrong (PITFALLS.md §2), and counting every member's commits; the
drain of a run trusts it over this process's own counters."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.grouplag import GroupLag
from pipeline.roles import Roles


async def _topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def _produce_batched(bootstrap: str, topic: str, partition: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False,
                                linger_ms=200)  # fmt: skip
    await producer.start()
    try:
        futures = [await producer.send(topic, b"x" * 10, partition=partition) for _ in range(count)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def test_group_lag_counts_every_members_commits_after_batched_produce(
    bootstrap: str, unique: str
) -> None:
    topic, group = f"lag-{unique}", f"group-{unique}"
    await _topic(bootstrap, topic, 2)
    await _produce_batched(bootstrap, topic, 0, 700)
    await _produce_batched(bootstrap, topic, 1, 300)
    probe = GroupLag(bootstrap)
    try:
        assert await probe.lag(group, [topic]) == 1000  # nothing committed yet
        # two members committed, each its own partition
        await _commit(bootstrap, group, {TopicPartition(topic, 0): 650})
        await _commit(bootstrap, group, {TopicPartition(topic, 1): 300})
        assert await probe.lag(group, [topic]) == 50
        await _produce_batched(bootstrap, topic, 1, 25)
        assert await probe.lag(group, [topic]) == 75
        await _commit(
            bootstrap, group, {TopicPartition(topic, 0): 700, TopicPartition(topic, 1): 325}
        )
        assert await probe.lag(group, [topic]) == 0
    finally:
        await probe.close()


def _roles(records: int, published: int, depth: int = 0) -> Roles:
    roles = Roles.__new__(Roles)
    stats = SimpleNamespace(records=records, reorder_depth=depth, messages_out=10)
    roles.process = SimpleNamespace(stats=stats)
    roles.sink = SimpleNamespace(stats=SimpleNamespace(records=10))
    roles.process_lag = roles.sink_lag = None
    return roles


def test_drain_trusts_the_groups_lag_over_this_process_counters() -> None:
    # another process worker did half the work: locally 500 of 1000 published
    roles = _roles(records=500, published=1000)
    assert not roles._caught_up(1000)  # no word from the broker: this process's counters
    roles.process_lag, roles.sink_lag = 0, 0
    assert roles._caught_up(1000)
    roles.sink_lag = 3
    assert not roles._caught_up(1000)
    held = _roles(records=1000, published=1000, depth=2)
    held.process_lag = held.sink_lag = 0
    assert not held._caught_up(1000)  # events held for reordering are not in the outputs yet
