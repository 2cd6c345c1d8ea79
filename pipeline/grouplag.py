"""Consumer-group lag as the group sees it: committed offsets against fetch high watermarks.

The live view and the drain of `pipeline run` used this process's own counters ("published
minus processed here"), which lie as soon as another `pipeline worker --role process` shares
the partitions: the view showed a lag of thousands for minutes while the group's was 0, and
the stop waited 60 s for records another worker had processed. The group's committed offsets
count every member's work. The end of each partition is the high watermark of a fetch
response, never ListOffsets(latest), which the embedded broker answers wrongly for
multi-record batches (PITFALLS.md §2).

A `GroupLag` keeps one consumer per group that never joins it (an OffsetFetch reader, as
the sink gate uses) and one unassigned-group reader that fetches from the last high
watermark it saw, so each look costs one empty fetch per partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


class GroupLag:
    """Lag of consumer groups on `bootstrap`: sum over partitions of high watermark minus the
    group's committed offset (a partition it never committed counts from 0)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._readers: dict[str, Any] = {}
        self._probe: Any = None
        self._high: dict[Any, int] = {}

    async def _reader(self, group: str) -> Any:
        from aiokafka import AIOKafkaConsumer

        reader = self._readers.get(group)
        if reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
            )
            await reader.start()
            self._readers[group] = reader
        return reader

    async def _highwaters(self, topics: Sequence[str]) -> dict[Any, int]:
        """Each partition's fetch high watermark (fetching from the last one seen)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        if self._probe is None:
            self._probe = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                fetch_max_wait_ms=50, max_partition_fetch_bytes=64 * 1024,
            )  # fmt: skip
            await self._probe.start()
        probe = self._probe
        await probe.topics()  # refresh metadata: topics created since
        wanted = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(probe.partitions_for_topic(topic) or ())
        ]
        assigned = set(probe.assignment())
        if not set(wanted) <= assigned:
            probe.assign(sorted(assigned | set(wanted)))
        for tp in wanted:
            probe.seek(tp, self._high.get(tp, 0))
        out: dict[Any, int] = {}
        for _ in range(20):  # until every partition answered a fetch (about 50 ms each)
            await probe.getmany(*wanted, timeout_ms=100, max_records=1)
            for tp in wanted:
                high = probe.highwater(tp)
                if high is not None:
                    out[tp] = high
            if len(out) == len(wanted):
                break
            for tp in wanted:  # what was fetched is not wanted: read from the end again
                if tp not in out:
                    probe.seek(tp, self._high.get(tp, 0))
        self._high.update(out)
        return out

    async def lag(self, group: str, topics: Sequence[str]) -> int | None:
        """The group's total lag on `topics`, or None when the broker did not answer."""
        try:
            highs = await asyncio.wait_for(self._highwaters(topics), timeout=10)
            reader = await self._reader(group)
            total = 0
            for tp, high in highs.items():
                committed = await reader.committed(tp)
                total += max(high - (committed or 0), 0)
            return total
        except Exception as exc:  # a busy or restarting broker: the caller shows no figure
            log.debug("lag of group %s unavailable: %s", group, exc)
            return None

    async def close(self) -> None:
        for consumer in [*self._readers.values(), self._probe]:
            if consumer is not None:
                with contextlib.suppress(Exception):
                    await consumer.stop()
        self._readers.clear()
        self._probe = None
