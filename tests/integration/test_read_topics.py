"""`pipeline.kafka.read_from_committed` / `read_to_highwater`: one consumer reading several
topics in turn reads every record of each, from where a group committed.

Found by the role-kill test: a consumer's metadata covers the topics it is assigned, so the
second topic read with one consumer was unknown and silently read as empty, and a restarted
ingestor missed the orders in half the raw topics' unprocessed tail."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from pipeline.kafka import RAW_TOPICS, ensure_topics, read_from_committed, read_to_highwater
from pipeline.local.broker import TansuBroker

PER_TOPIC = 12


async def _produce(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic in RAW_TOPICS:
            for i in range(PER_TOPIC):
                await producer.send_and_wait(topic, f'{{"n": {i}}}'.encode(), key=f"k{i}".encode())
    finally:
        await producer.stop()


async def test_one_consumer_reads_every_topic_in_turn_from_the_committed_offsets(
    fresh_broker: TansuBroker,
) -> None:
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    await _produce(bootstrap)
    group = "read-topics-test"
    # the group has processed the first record of partition 0 of every raw topic
    committer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        firsts = [TopicPartition(topic, 0) for topic in RAW_TOPICS]
        committer.assign(firsts)
        await committer.seek_to_beginning(*firsts)
        fetched = await committer.getmany(*firsts, timeout_ms=5000)
        assert set(fetched) == set(firsts), "every partition 0 holds records"
        await committer.commit(
            {tp: OffsetAndMetadata(records[0].offset + 1, "") for tp, records in fetched.items()}
        )
    finally:
        await committer.stop()

    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    got: dict[str, list[bytes | None]] = {}
    try:
        for topic in RAW_TOPICS:
            await read_from_committed(reader, topic, got.setdefault(topic, []).append)
    finally:
        await reader.stop()
    assert {topic: len(values) for topic, values in got.items()} == dict.fromkeys(
        RAW_TOPICS, PER_TOPIC - 1
    )

    plain = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await plain.start()
    decoded: dict[str, list[object]] = {}
    try:
        for topic in reversed(RAW_TOPICS):
            await read_to_highwater(plain, topic, decoded.setdefault(topic, []).append)
    finally:
        await plain.stop()
    for topic in RAW_TOPICS:
        assert sorted(v["n"] for v in decoded[topic]) == list(range(PER_TOPIC))  # type: ignore[index]
