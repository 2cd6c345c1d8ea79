"""Checkpoints in a compacted Kafka topic, for clusters where partitions move between hosts.

A worker on any host can load the checkpoint another host wrote, so a partition that moves
(a worker dies, the group scales) resumes from it instead of from the raw history.

Layout of `pipeline.checkpoints` (cleanup.policy=compact):
- every checkpoint of one raw partition goes to one checkpoint partition, picked from the
  (group, topic, partition) name, so loading reads one partition of the topic;
- an encoded checkpoint (checkpoint.py) is cut into chunks of at most `CHUNK_BYTES`, below the
  brokers' default message size limit; chunk `i` of slot `s` has the key
  `group|topic|partition|s|i`, and headers name the checkpoint id and the chunk count;
- consecutive checkpoints alternate between two slots, so compaction (which keeps the last
  record per key) can never leave a checkpoint half overwritten: while one slot is being
  written, the other still holds the previous checkpoint whole.

Loading reads the partition from its beginning to the fetch high watermark (never end
offsets, PITFALLS §2) and returns the newest checkpoint whose chunks are all there. With
compaction that is a few records per key; the embedded broker does not compact (PITFALLS §3),
which is why the embedded stack keeps checkpoints in files instead.
"""

from __future__ import annotations

import asyncio
import time
import zlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.errors import CheckpointError
from pipeline.kafka import CHECKPOINTS
from pipeline.streams.checkpoint import Checkpoint, decode, encode_with_digest
from pipeline.streams.readers import stop_reader

CHUNK_BYTES = 512 * 1024


def _name(group: str, topic: str, partition: int) -> str:
    return f"{group}|{topic}|{partition}"


class TopicCheckpoints:
    """`CheckpointStore` on a compacted topic (see the module docstring)."""

    def __init__(self, bootstrap: str, topic: str = CHECKPOINTS, read_timeout_s: float = 60.0):
        self.bootstrap = bootstrap
        self.topic = topic
        self.read_timeout_s = read_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._partitions: int | None = None
        self._slots: dict[str, int] = {}  # name -> slot of the last checkpoint written

    async def _start(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                enable_idempotence=False,  # Tansu rejects InitProducerId (PITFALLS §1)
                acks="all",
                max_request_size=4 * CHUNK_BYTES,
            )
            await producer.start()
            partitions = await producer.partitions_for(self.topic)
            if not partitions:
                await producer.stop()
                raise CheckpointError(f"topic {self.topic} does not exist (run `pipeline topics`)")
            self._producer = producer
            self._partitions = len(partitions)
        return self._producer

    async def _partition_of(self, name: str) -> int:
        await self._start()
        assert self._partitions is not None
        return zlib.crc32(name.encode()) % self._partitions

    async def save(self, checkpoint: Checkpoint) -> str:
        name = _name(checkpoint.group, checkpoint.topic, checkpoint.partition)
        producer = await self._start()
        partition = await self._partition_of(name)
        # off the event loop: a partition's body is megabytes to encode (checkpoint.py)
        data, digest = await asyncio.to_thread(encode_with_digest, checkpoint)
        chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
        slot = 1 - self._slots.get(name, 1)
        ident = str(time.time_ns()).encode()
        count = str(len(chunks)).encode()
        try:
            futures = [
                await producer.send(
                    self.topic,
                    chunk,
                    key=f"{name}|{slot}|{index}".encode(),
                    partition=partition,
                    headers=[("checkpoint", ident), ("chunks", count)],
                )
                for index, chunk in enumerate(chunks)
            ]
            await asyncio.gather(*futures)
        except Exception as exc:  # aiokafka raises many types; one error for the caller
            raise CheckpointError(f"cannot write checkpoint {name} to {self.topic}: {exc}") from exc
        self._slots[name] = slot
        return digest

    async def load(self, group: str, topic: str, partition: int) -> Checkpoint | None:
        name = _name(group, topic, partition)
        tp = TopicPartition(self.topic, await self._partition_of(name))
        # (slot, index) -> (checkpoint id, chunk count, bytes): the last record of each key
        latest: dict[tuple[int, int], tuple[bytes, int, bytes]] = {}
        prefix = f"{name}|".encode()
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=16 * CHUNK_BYTES,
            max_partition_fetch_bytes=8 * CHUNK_BYTES,
        )
        await reader.start()
        try:
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            deadline = time.monotonic() + self.read_timeout_s
            while True:
                fetched = await reader.getmany(tp, timeout_ms=300, max_records=1000)
                for record in fetched.get(tp, []):
                    key = record.key or b""
                    if not key.startswith(prefix):
                        continue
                    slot, _, index = key[len(prefix) :].decode().partition("|")
                    headers = dict(record.headers or ())
                    latest[(int(slot), int(index))] = (
                        headers.get("checkpoint", b""),
                        int(headers.get("chunks", b"1")),
                        record.value or b"",
                    )
                high = reader.highwater(tp)
                if high is not None and await reader.position(tp) >= high:
                    break
                if time.monotonic() > deadline:
                    raise CheckpointError(f"reading {self.topic} for {name} timed out")
        finally:
            await stop_reader(reader)
        newest: tuple[bytes, bytes] | None = None  # (id, encoded)
        for slot in (0, 1):
            first = latest.get((slot, 0))
            if first is None:
                continue
            ident, count, _ = first
            parts = [latest.get((slot, i)) for i in range(count)]
            if all(p is not None and p[0] == ident for p in parts):
                encoded = b"".join(p[2] for p in parts if p is not None)
                if newest is None or int(ident) > int(newest[0]):
                    newest = (ident, encoded)
                    self._slots[name] = slot
        if newest is None:
            return None
        return decode(newest[1], f"checkpoint {name} in {self.topic}")

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
