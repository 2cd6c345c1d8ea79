"""Hold checkpoints back until the sink has stored every output they cover.

On a real cluster an output acknowledged by the brokers is durable, so a checkpoint may be
written as soon as its outputs are acknowledged. The embedded broker keeps everything in the
memory of `pipeline run`: killed, it takes with it the outputs the sink had not stored yet. A
checkpoint written before the sink stored them would then claim outputs that no table ever
got, and the rows the sink did store from outputs after the checkpoint would carry versions
the restored state would hand out again. The gate removes both: a checkpoint is written only
once the sink group's committed offsets on the output topics reach the end of every output
produced before the checkpoint was taken, so the store is never ahead of the checkpoint and
never behind what it claims.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition

from pipeline.streams.checkpoint import Checkpoint

log = logging.getLogger(__name__)

MAX_HELD = 4  # per partition: older ones become writable first, newer ones replace the newest

Held = tuple[Checkpoint, dict[TopicPartition, int], int | None, float]


class SinkGate:
    """Checkpoints waiting for the sink group `group` to store their outputs."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self._produced: dict[TopicPartition, int] = {}  # output partition -> end offset
        self._held: dict[tuple[str, int], list[Held]] = {}
        self._reader: Any = None  # an AIOKafkaConsumer of the sink group, never joining it
        self._warned = False

    def produced(self, sent: Iterable[tuple[str, int, int, int]]) -> None:
        """Note delivered output batches: (topic, partition, base offset, record count)."""
        produced = self._produced
        for topic, partition, base, count in sent:
            tp = TopicPartition(topic, partition)
            end = base + count
            if end > produced.get(tp, 0):
                produced[tp] = end

    def hold(self, checkpoint: Checkpoint, covered_at: int | None) -> None:
        """Keep `checkpoint` until the outputs produced so far are stored."""
        held = self._held.setdefault((checkpoint.topic, checkpoint.partition), [])
        if len(held) >= MAX_HELD:
            held.pop()
        held.append((checkpoint, dict(self._produced), covered_at, time.monotonic()))

    @property
    def holding(self) -> int:
        return sum(len(held) for held in self._held.values())

    def forget(self, topic: str, partition: int) -> None:
        self._held.pop((topic, partition), None)

    async def ready(self) -> list[tuple[Checkpoint, int | None]]:
        """The newest checkpoint of each partition whose outputs the sink has all stored
        (each with its covered-at time); it and the older ones are no longer held."""
        if not self.holding:
            return []
        stored = await self._stored()
        out = []
        for key, held in list(self._held.items()):
            ready = [
                i
                for i, (_, needed, _, _) in enumerate(held)
                if all(stored.get(tp, -1) >= end for tp, end in needed.items())
            ]
            if ready:
                checkpoint, _, covered_at, _ = held[ready[-1]]
                out.append((checkpoint, covered_at))
                del held[: ready[-1] + 1]
            elif held and time.monotonic() - held[0][3] > 60 and not self._warned:
                self._warned = True
                log.warning(
                    "checkpoints wait for sink group %s, which has stored nothing new for 60 s "
                    "(is a sink running?)",
                    self.group,
                )
            if not held:
                del self._held[key]
        return out

    async def _stored(self) -> dict[TopicPartition, int]:
        """The sink group's committed offsets on the output partitions produced to.

        Asked through a consumer of that group that never joins it (`committed()` is an
        OffsetFetch); the admin client's group-offsets call fails on the embedded broker.
        """
        from aiokafka import AIOKafkaConsumer

        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False
            )
            await reader.start()
            self._reader = reader
        stored: dict[TopicPartition, int] = {}
        try:
            for tp in self._produced:
                offset = await self._reader.committed(tp)
                if offset is not None:
                    stored[tp] = offset
        except Exception as exc:  # the broker is busy or the group is new: try again later
            log.debug("offsets of sink group %s unavailable: %s", self.group, exc)
        return stored

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
