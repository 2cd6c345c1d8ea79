"""`RawSpool`: the raw envelopes of the embedded stack kept on disk until a checkpoint has them.

The embedded broker keeps nothing across a restart. Killed (SIGKILL of the whole run), it
takes with it the raw records that no processing checkpoint covers yet (up to a checkpoint
interval), and fetching them again from the venues is only as good as each venue's history
API (Upbit's order history restates neither every fee nor why an order was cancelled). So on
the embedded stack the ingest publisher also appends every envelope it publishes, unmodified,
to a spool file before it goes to Kafka, and the next run publishes the spooled records no
checkpoint covers into the new broker before its ingestors start: the processors see exactly
what the killed run's broker held.

    <data dir>/raw-spool/<topic>/<first received_at ms>.jsonl   one record per line

Why it survives SIGKILL: a record is appended with one `write()` straight to the file (no
user-space buffer), so once `append` returns it is in the kernel's page cache, which a killed
process does not lose; a line cut short by a kill mid-write has no newline and is skipped.
Segments roll over every `SEGMENT_MS`; `prune` deletes those whose every record is older
than what the checkpoints cover (less `MARGIN_MS`).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

SEGMENT_MS = 60_000
#: Records this much older than the covered time are replayed too: the covered time is the
#: processor's wall clock, a record's is the ingestor's `received_at`, and a record waits in
#: the publisher's queue between the two. Copies are duplicates to the processors.
MARGIN_MS = 30_000

_SEGMENT = re.compile(r"^(\d+)\.jsonl$")


class RawSpool:
    """Appends, replays and prunes the spool under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._open: dict[str, tuple[int, int]] = {}  # topic -> (segment start, fd)
        self.appended = 0

    def append(self, topic: str, key: bytes, value: bytes, received_at: int) -> None:
        """One record, whole, into the kernel before returning (see the module docstring)."""
        fd = self._segment(topic, received_at)
        line = orjson.dumps([received_at, key.decode(), value.decode()]) + b"\n"
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]
        self.appended += 1

    def since(self, topic: str, since_ms: int) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of every spooled record of `topic` received at `since_ms` or later,
        in the order they were published."""
        segments = self._segments(topic)
        for index, (_, path) in enumerate(segments):
            following = segments[index + 1][0] if index + 1 < len(segments) else None
            if following is not None and following <= since_ms:
                continue  # every record in it is older
            with path.open("rb") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.endswith(b"\n"):
                        break  # cut short by a kill: it never reached Kafka either
                    try:
                        received_at, key, value = orjson.loads(line)
                    except (orjson.JSONDecodeError, ValueError, TypeError):
                        log.error("%s line %d is not a spooled record: skipped", path, number)
                        continue
                    if int(received_at) >= since_ms:
                        yield key.encode(), value.encode()

    def prune(self, covered: Mapping[str, int]) -> int:
        """Delete the segments of each topic whose records are all older than
        `covered[topic] - MARGIN_MS`; how many."""
        removed = 0
        for topic, until in covered.items():
            segments = self._segments(topic)
            open_start = self._open.get(topic, (None, None))[0]
            for (start, path), (following, _) in itertools.pairwise(segments):
                if following <= until - MARGIN_MS and start != open_start:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def close(self) -> None:
        for _, fd in self._open.values():
            os.close(fd)
        self._open.clear()

    # -- helpers --------------------------------------------------------------------------

    def _segment(self, topic: str, received_at: int) -> int:
        current = self._open.get(topic)
        if current is not None and received_at - current[0] < SEGMENT_MS:
            return current[1]
        if current is not None:
            os.close(current[1])
        folder = self.directory / topic
        folder.mkdir(parents=True, exist_ok=True)
        start = received_at
        if current is not None:
            start = max(received_at, current[0] + 1)  # segment names keep growing
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        fd = os.open(folder / f"{start}.jsonl", flags, 0o600)
        self._open[topic] = (start, fd)
        return fd

    def _segments(self, topic: str) -> list[tuple[int, Path]]:
        folder = self.directory / topic
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            match = _SEGMENT.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)


async def republish(spool: RawSpool, bootstrap: str, covered: Mapping[str, int],
                    topics: tuple[str, ...]) -> dict[str, int]:  # fmt: skip
    """Publish, per topic of `topics`, the spooled records received since `covered[topic]`
    less `MARGIN_MS` (all of them for a topic nothing covers yet) and wait until Kafka has
    them all; how many per topic."""
    from pipeline.ingest.publisher import default_producer

    producer = default_producer(bootstrap)
    await producer.start()
    counts: dict[str, int] = {}
    try:
        for topic in topics:
            since = covered[topic] - MARGIN_MS if topic in covered else 0
            pending = []
            for key, value in spool.since(topic, since):
                pending.append(await producer.send(topic, value=value, key=key))
            for future in pending:
                await future
            if pending:
                counts[topic] = len(pending)
    finally:
        await producer.stop()
    return counts
