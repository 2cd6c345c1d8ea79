"""A venue reply larger than Kafka's default message size (1 MB) travels whole: SSI's order
book lists every order of an account's day in one reply, 2-4 MB on a busy simulated day
(found by `make soak`: the publisher retried it forever and ingestion stalled)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.envelope import RawEnvelope, decode_envelope
from pipeline.ingest.publisher import RawPublisher
from pipeline.ingest.stats import IngestStats
from pipeline.kafka import MAX_MESSAGE_BYTES, ensure_topics, raw_topic
from pipeline.local.broker import TansuBroker


async def test_a_4_mb_envelope_is_published_and_read_back_whole(
    fresh_broker: TansuBroker,
) -> None:
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=1)
    orders = [{"orderID": str(n), "note": "x" * 200} for n in range(20_000)]
    big = RawEnvelope("ssi", "alice", "rest.orderBook", 1, {"data": {"orders": orders}})
    small = RawEnvelope("ssi", "alice", "rest.orderBook", 2, {"data": {"orders": []}})
    assert 4_000_000 < len(big.encode()) < MAX_MESSAGE_BYTES
    stats = IngestStats()
    publisher = RawPublisher(bootstrap, stats)
    task = asyncio.create_task(publisher.run())
    await publisher.publish(big, "*")
    await publisher.publish(small, "*")
    await publisher.close()
    await asyncio.wait_for(task, 60)
    assert stats.venue("ssi").published == 2
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(raw_topic("ssi"), 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(got) < 2 and loop.time() < deadline:
            fetched = await consumer.getmany(tp, timeout_ms=500)
            got += [record.value for record in fetched.get(tp, [])]
    finally:
        await consumer.stop()
    assert [decode_envelope(v).received_at for v in got] == [1, 2]
    assert decode_envelope(got[0]).payload == big.payload
