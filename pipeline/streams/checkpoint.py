"""Processing checkpoints: a partition's state with the raw offset it reflects, kept durably.

A checkpoint says "folding the records of `topic:partition` below `offset` gives this state".
The process worker writes one per partition after the outputs of every record below `offset`
were acknowledged by the broker, every `checkpoint_interval_s` or `checkpoint_records`, at a
clean stop and when a partition is revoked. Recovery loads the latest, checks that the topic
is still the one it was taken from (the record at `offset - 1` must have the `fingerprint`
stored), and replays only what follows it. Because a checkpoint is only written once its
outputs are durable, resuming from `max(checkpoint, committed offset)` is exact whatever the
instant of a crash: between outputs, checkpoint and commit.

Encoding (`encode` / `decode`): one JSON header line (format name, format version, where and
what, SHA-256 of the body), then the compressed JSON body (pipeline/streams/state.py): LZ4
frame in format version 2, zlib in version 1 (still read: a checkpoint written by the release
before is restored, not rebuilt; LZ4 compresses a 12 MB body in ~8 ms where zlib's fastest
level took ~40, and decompresses it in ~2 ms against ~14). A file of another format or
version, or whose body does not match its digest, raises `CheckpointError` with what was
found; the worker then rebuilds from the raw topic and says so.
The body's digest also names a checkpoint: `save` returns it, `load` gives it back
(`Checkpoint.digest`), and `FileCheckpoints.digest` reads it alone, so a worker can tell
cheaply whether the checkpoint on record is still the very one it wrote (process_worker.py
keeps the state of a partition revoked and handed back to it only then).

Where they live (`CheckpointStore`): `FileCheckpoints` keeps them under a directory (the data
directory by default): every process on one host shares it, so partitions moving between
workers there resume from it, and on the embedded stack it survives the broker, whose memory
storage does not. `TopicCheckpoints` (topicstore.py) keeps them in a compacted Kafka topic,
for clusters where a partition moves to a worker on another host.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import lz4.frame
import orjson

from pipeline.errors import CheckpointError
from pipeline.streams.gcpolicy import paused
from pipeline.streams.processor import RawRecord

log = logging.getLogger(__name__)

FORMAT = "pipeline-checkpoint"
FORMAT_VERSION = 2
#: format version -> how its body is decompressed (every version this release reads)
_DECOMPRESS: dict[int, Callable[[bytes], bytes]] = {1: zlib.decompress, 2: lz4.frame.decompress}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One partition's processing state at a raw offset.

    `offset`: the next raw offset to fold (the state reflects every record below it).
    `fingerprint`: of the record at `offset - 1` (None when `offset` is 0), to tell the topic
    it was taken from from a new one that hands out the same offsets again.
    `body`: the processor state (state.py), JSON-ready.
    `digest`: the SHA-256 of the encoded body, when the checkpoint was read from a store.
    """

    group: str
    topic: str
    partition: int
    offset: int
    fingerprint: str | None
    written_at: int
    body: dict[str, Any]
    digest: str | None = None


def record_fingerprint(record: RawRecord) -> str:
    """A short digest of one raw record: its key, value and Kafka timestamp."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(record.key or b"")
    digest.update(b"\x00")
    digest.update(record.value or b"")
    timestamp = getattr(record, "timestamp", None)
    digest.update(b"\x00" + str(timestamp).encode())
    return digest.hexdigest()


def encode(checkpoint: Checkpoint) -> bytes:
    return encode_with_digest(checkpoint)[0]


def encode_with_digest(checkpoint: Checkpoint) -> tuple[bytes, str]:
    """The encoded checkpoint and its body's digest (what `Checkpoint.digest` will say)."""
    body = lz4.frame.compress(orjson.dumps(checkpoint.body))
    digest = hashlib.sha256(body).hexdigest()
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "group": checkpoint.group,
        "topic": checkpoint.topic,
        "partition": checkpoint.partition,
        "offset": checkpoint.offset,
        "fingerprint": checkpoint.fingerprint,
        "written_at": checkpoint.written_at,
        "body_sha256": digest,
    }
    return orjson.dumps(header) + b"\n" + body, digest


def decode(data: bytes, where: str) -> Checkpoint:
    """The checkpoint in `data`; `CheckpointError` naming `where` and what is wrong."""
    line, newline, body = data.partition(b"\n")
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        header = None
    if not newline or not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{where} is not a {FORMAT} file")
    version = header.get("format_version")
    decompress = _DECOMPRESS.get(version) if type(version) is int else None
    if decompress is None:
        raise CheckpointError(
            f"{where} has checkpoint format version {version!r}; this release reads "
            f"versions {', '.join(map(str, _DECOMPRESS))}"
        )
    digest = hashlib.sha256(body).hexdigest()
    if digest != header.get("body_sha256"):
        raise CheckpointError(f"{where} is damaged: its body does not match its digest")
    try:
        with paused():  # a large acyclic tree: the collector would rescan it as it grows
            parsed = orjson.loads(decompress(body))
        return Checkpoint(
            group=header["group"],
            topic=header["topic"],
            partition=header["partition"],
            offset=header["offset"],
            fingerprint=header["fingerprint"],
            written_at=header["written_at"],
            body=parsed,
            digest=digest,
        )
    except (KeyError, zlib.error, RuntimeError, orjson.JSONDecodeError) as exc:
        raise CheckpointError(f"{where} is damaged: {type(exc).__name__}: {exc}") from exc


class CheckpointStore(Protocol):
    """Where checkpoints are kept. `load` gives the latest saved for the partition (None if
    none); `save` returns the digest of the body it wrote (None: unknown); both raise
    `CheckpointError` when that cannot be done. A store may also have `digest(group, topic,
    partition)`: the digest of the latest one without reading its body."""

    async def load(self, group: str, topic: str, partition: int) -> Checkpoint | None: ...

    async def save(self, checkpoint: Checkpoint) -> str | None: ...

    async def close(self) -> None: ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class FileCheckpoints:
    """One file per (group, topic, partition) under `root`, replaced atomically.

    Written to a temporary file, flushed to disk, then renamed over the previous one (and the
    directory synced), so a reader sees the old checkpoint or the new one, never a mix.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, group: str, topic: str, partition: int) -> Path:
        return self.root / _UNSAFE.sub("_", group) / f"{_UNSAFE.sub('_', topic)}-{partition}.ckpt"

    async def load(self, group: str, topic: str, partition: int) -> Checkpoint | None:
        return await asyncio.to_thread(self._load, self.path(group, topic, partition))

    async def save(self, checkpoint: Checkpoint) -> str:
        path = self.path(checkpoint.group, checkpoint.topic, checkpoint.partition)
        # encoded in the thread too: a partition's body is megabytes (JSON, LZ4, SHA-256),
        # tens to hundreds of milliseconds that would otherwise block the event loop
        return await asyncio.to_thread(self._encode_and_write, path, checkpoint)

    def _encode_and_write(self, path: Path, checkpoint: Checkpoint) -> str:
        data, digest = encode_with_digest(checkpoint)
        self._write(path, data)
        return digest

    async def digest(self, group: str, topic: str, partition: int) -> str | None:
        """The body digest the latest checkpoint's header states (None: no checkpoint, or
        not one this release reads); the body is neither read nor checked."""
        return await asyncio.to_thread(self._digest, self.path(group, topic, partition))

    async def close(self) -> None:
        return None

    def cover_path(self, group: str, topic: str, partition: int) -> Path:
        return self.path(group, topic, partition).with_suffix(".covered")

    async def mark_covered(self, group: str, topic: str, partition: int, until_ms: int) -> None:
        """Record that every record published to the partition before `until_ms` is folded
        into its latest checkpoint (the worker was caught up on it when that held)."""
        path = self.cover_path(group, topic, partition)
        await asyncio.to_thread(self._write, path, str(until_ms).encode(), False)

    def latest(self, group: str, topics: Iterable[str]) -> list[Checkpoint]:
        """Every partition's latest checkpoint of `topics` in `group` (unreadable ones, of
        another format above all, are left out: the worker refuses and rebuilds those)."""
        out = []
        directory = self.path(group, "x", 0).parent
        for topic in topics:
            for path in sorted(directory.glob(f"{_UNSAFE.sub('_', topic)}-*.ckpt")):
                try:
                    checkpoint = self._load(path)
                except CheckpointError:
                    continue
                if checkpoint is not None:
                    out.append(checkpoint)
        return out

    def covered_until(self, group: str, topics: Iterable[str]) -> dict[str, int]:
        """Per raw topic: the oldest `mark_covered` time of its partitions (topics with none
        are left out). Raw records published since may not be in any checkpoint: with a
        broker that keeps nothing (the embedded one), an ingestor must fetch from there."""
        out: dict[str, int] = {}
        directory = self.path(group, "x", 0).parent
        for topic in topics:
            times = []
            for path in directory.glob(f"{_UNSAFE.sub('_', topic)}-*.covered"):
                try:
                    times.append(int(path.read_text()))
                except (OSError, ValueError):
                    continue  # unreadable: as if absent
            if times:
                out[topic] = min(times)
        return out

    @staticmethod
    def _load(path: Path) -> Checkpoint | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
        return decode(data, f"checkpoint {path}")

    @staticmethod
    def _digest(path: Path) -> str | None:
        try:
            with open(path, "rb") as handle:
                line = handle.readline(64 * 1024)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
        try:
            header = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if (
            not isinstance(header, dict)
            or header.get("format") != FORMAT
            or type(header.get("format_version")) is not int
            or header["format_version"] not in _DECOMPRESS
        ):
            return None
        digest = header.get("body_sha256")
        return digest if isinstance(digest, str) else None

    @staticmethod
    def _write(path: Path, data: bytes, sync: bool = True) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                if sync:
                    os.fsync(handle.fileno())
            os.replace(temporary, path)
            if sync:
                directory = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        except OSError as exc:
            raise CheckpointError(f"cannot write checkpoint {path}: {exc}") from exc


def open_checkpoints(settings: Any, bootstrap: str) -> CheckpointStore | None:
    """The checkpoint store `settings` name (`Settings.checkpoint_store`), None when off."""
    kind = settings.checkpoint_store
    if kind == "off":
        return None
    if kind == "topic":
        from pipeline.streams.topicstore import TopicCheckpoints

        return TopicCheckpoints(bootstrap)
    return FileCheckpoints(settings.checkpoint_dir)
