"""The state directory on disk: a snapshot and a journal, each opened by a header line.

    <state dir>/state.json      {"format": "pipeline-sim-state", "version": 1, "generation": g,
                                 "identity": {...}}  then one line: the state itself
    <state dir>/journal.jsonl   {"format": "pipeline-sim-journal", "version": 1,
                                 "generation": g}    then one record per line

Why it is safe against SIGKILL at any instant:
- a snapshot is written to a temporary file, fsynced and renamed over the old one (then the
  directory is fsynced), so `state.json` is always one whole snapshot, old or new;
- the journal is appended with one `write()` per record straight to the file (no user-space
  buffer): once `append` returns, the record is in the kernel's page cache, which a killed
  process does not lose; a record cut short by a kill mid-write has no newline and is
  ignored on reading (its change never left the simulator: nothing is sent before `append`
  returns);
- the generation ties a journal to the snapshot it continues: a compaction writes snapshot
  g+1, then an empty journal g+1; killed in between, the old journal (g) is already inside
  snapshot g+1 and is not applied again.

Headers are checked before anything else is read: another format, another version or
another simulator setup (seed, venues, accounts) is refused with `SimStateError`, naming
the file and how to start afresh, never half-read.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pipeline.errors import ConfigError

STATE_FORMAT = "pipeline-sim-state"
JOURNAL_FORMAT = "pipeline-sim-journal"
VERSION = 1
SNAPSHOT_NAME = "state.json"
JOURNAL_NAME = "journal.jsonl"


class SimStateError(ConfigError):
    """A saved simulator state that cannot be used as it is (exit code 2)."""

    def __init__(self, path: Path, reason: str) -> None:
        directory = path if path.is_dir() else path.parent
        super().__init__(
            "simulator state",
            str(path),
            f"{reason}; to start the simulated venues afresh, delete {directory}",
        )


@dataclass(frozen=True)
class Header:
    generation: int
    identity: dict[str, Any]


class StateFiles:
    """Reads and writes one state directory (created on first write)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.snapshot_path = directory / SNAPSHOT_NAME
        self.journal_path = directory / JOURNAL_NAME
        self._fd: int | None = None
        self.journal_bytes = 0

    # -- the snapshot ---------------------------------------------------------------------

    def read_header(self) -> Header | None:
        """The snapshot's header, checked; None when there is no snapshot yet."""
        if not self.snapshot_path.exists():
            if self.journal_path.exists():
                raise SimStateError(self.journal_path, f"a journal without {SNAPSHOT_NAME}")
            return None
        with self.snapshot_path.open("rb") as handle:
            first = handle.readline()
        return self._header(self.snapshot_path, first, STATE_FORMAT, snapshot=True)

    def read_snapshot(self) -> tuple[Header, dict[str, Any]] | None:
        """(header, state) of the snapshot, or None when there is none."""
        if self.read_header() is None:
            return None
        raw = self.snapshot_path.read_bytes()
        first, _, rest = raw.partition(b"\n")
        header = self._header(self.snapshot_path, first + b"\n", STATE_FORMAT, snapshot=True)
        try:
            body = orjson.loads(rest)
        except orjson.JSONDecodeError as exc:
            raise SimStateError(
                self.snapshot_path, f"the state is not valid JSON ({exc})"
            ) from None
        if not isinstance(body, dict):
            raise SimStateError(self.snapshot_path, "the state is not a JSON object")
        return header, body

    def write_snapshot(self, header: Header, body: dict[str, Any]) -> int:
        """Replace the snapshot atomically (temp file, fsync, rename, fsync dir); its size."""
        self.directory.mkdir(parents=True, exist_ok=True)
        head = {"format": STATE_FORMAT, "version": VERSION, "generation": header.generation,
                "identity": header.identity}  # fmt: skip
        data = orjson.dumps(head) + b"\n" + orjson.dumps(body) + b"\n"
        self._replace(self.snapshot_path, data)
        return len(data)

    # -- the journal ----------------------------------------------------------------------

    def read_journal(self, generation: int) -> Iterator[dict[str, Any]]:
        """The records of the journal that continues snapshot `generation` (none if the
        journal belongs to an older snapshot, which already holds them)."""
        if not self.journal_path.exists():
            return
        with self.journal_path.open("rb") as handle:
            first = handle.readline()
            header = self._header(self.journal_path, first, JOURNAL_FORMAT, snapshot=False)
            if header.generation < generation:
                return
            if header.generation > generation:
                raise SimStateError(
                    self.journal_path,
                    f"journal generation {header.generation} continues a snapshot newer than "
                    f"{SNAPSHOT_NAME} (generation {generation})",
                )
            number = 1
            for line in handle:
                number += 1
                if not line.endswith(b"\n"):
                    return  # cut short by a kill: its change was never sent
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise SimStateError(
                        self.journal_path, f"line {number} is not valid JSON"
                    ) from None
                if not isinstance(record, dict):
                    raise SimStateError(self.journal_path, f"line {number} is not a record")
                yield record

    def start_journal(self, generation: int) -> None:
        """Begin an empty journal continuing snapshot `generation` and open it for appends."""
        self.close_journal()
        head = {"format": JOURNAL_FORMAT, "version": VERSION, "generation": generation}
        self._replace(self.journal_path, orjson.dumps(head) + b"\n")
        self._fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND)
        self.journal_bytes = 0

    def append(self, record: dict[str, Any]) -> None:
        """One record, whole, into the kernel before returning (see the module docstring)."""
        if self._fd is None:
            raise RuntimeError(f"{self.journal_path} is not open for appends")
        data = memoryview(orjson.dumps(record) + b"\n")
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
            self.journal_bytes += written

    def close_journal(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- helpers --------------------------------------------------------------------------

    def _replace(self, path: Path, data: bytes) -> None:
        temporary = path.with_name(path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory
                os.fsync(directory)
        finally:
            os.close(directory)

    @staticmethod
    def _header(path: Path, line: bytes, expected: str, snapshot: bool) -> Header:
        try:
            head = orjson.loads(line) if line.endswith(b"\n") else None
        except orjson.JSONDecodeError:
            head = None
        if not isinstance(head, dict) or head.get("format") != expected:
            raise SimStateError(path, f"not a simulator {'state' if snapshot else 'journal'} "
                                      f"file (expected format {expected!r})")  # fmt: skip
        if head.get("version") != VERSION:
            raise SimStateError(
                path,
                f"written in format version {head.get('version')!r}, this simulator reads "
                f"version {VERSION} only",
            )
        generation = head.get("generation")
        identity = head.get("identity", {})
        if not isinstance(generation, int) or not isinstance(identity, dict):
            raise SimStateError(path, "the header lacks its generation")
        return Header(generation, identity)
