"""The embedded broker carries raw envelopes intact (real Tansu, real aiokafka)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.envelope import RawEnvelope, decode_envelope, envelope_key
from pipeline.kafka import PIPELINE_TOPICS, describe_topics, ensure_topics, raw_topic


async def _consume_all(bootstrap: str, topic: str, expected: int) -> list:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_raw_envelope_produced_to_raw_upbit_is_consumed_back_intact(
    bootstrap: str,
) -> None:
    await ensure_topics(bootstrap, partitions=3)
    payload = {
        "type": "myOrder",
        "code": "KRW-BTC",
        "uuid": "ac2dc2a3-fce9-40a2-a4f6-5987c25c438f",
        "price": 0.001453,
        "volume": 30.0,
        "state": "trade",
        "timestamp": 1710146517267,
        "note": "한국어 텍스트",
    }
    envelope = RawEnvelope("upbit", "desk-1", "myOrder", 1710146517300, payload)
    key = envelope_key("upbit", "desk-1", "KRW-BTC")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(raw_topic("upbit"), envelope.encode(), key=key)
    finally:
        await producer.stop()

    records = await _consume_all(bootstrap, raw_topic("upbit"), 1)
    mine = [r for r in records if r.key == key]
    assert len(mine) >= 1
    got = decode_envelope(mine[-1].value)
    assert got == envelope
    assert got.payload["price"] == 0.001453  # the venue's double, unmodified
    assert mine[-1].value == envelope.encode()


async def test_ensure_topics_creates_every_topic_once_with_requested_partitions(
    bootstrap: str,
) -> None:
    await ensure_topics(bootstrap, partitions=3)
    again = await ensure_topics(bootstrap, partitions=3)
    assert again == []
    topics = await describe_topics(bootstrap)
    for spec in PIPELINE_TOPICS:
        assert topics[spec.name] == 3
