"""The ClickHouse writer: one batch of output records -> one insert per table, idempotently.

Every insert carries an `insert_deduplication_token` built from the source positions of its
rows (`table:topic:partition:first-last:digest,...`), so a batch retried after a failure or a crash
before the offset commit is stored once (PITFALLS §11); the replacing tables with versions
make a batch cut differently after a restart converge to the same rows under `FINAL`.

Records travel in one of two forms: the records' own bytes (`TableBatch.records`, the sink
on a store that `accepts_json`: ClickHouse parses them, jsonrows.py) or dicts turned into
rows here (`TableBatch.rows`: replay, and a sink writing a ClickHouse server).

A batch the store refuses for its data (`RejectedDataError`: one record with a quantity of
`1e30`) is split in halves, each with a token of its own derived from the batch's, until the
records at fault stand alone; every other record is stored and the refused ones are listed
in `rejected` for the caller to dead-letter. Any other `StoreError` (the store is down) goes
to the caller, which retries the whole batch: the halves already stored are no-ops then.
The writer is synchronous (chDB has no async client); async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.errors import BadInputError, RejectedDataError
from pipeline.sink.rows import TABLES
from pipeline.sink.store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TableBatch:
    """Rows for one table and where they came from (for the deduplication token)."""

    table: str
    rows: list[dict[str, Any]]  # decoded records (replay); empty when `records` is used
    sources: list[str]  # e.g. "orders.state:3:120-180:<digest>"
    records: list[bytes] = field(default_factory=list)  # the records' JSON bytes (sink)

    @property
    def token(self) -> str:
        return f"{self.table}:" + ",".join(sorted(self.sources))

    def __len__(self) -> int:
        return len(self.records) or len(self.rows)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record the store refused: which batch, its index there, and why."""

    batch: TableBatch
    index: int
    reason: str


class TableWriter:
    """Writes `TableBatch`es to the store; raises `StoreError` when the store fails (the
    caller retries), and lists records refused for their data in `rejected`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows_written = 0
        self.rejected: list[Rejected] = []  # those of the last `write`

    def write(self, batches: Sequence[TableBatch]) -> int:
        """Store every batch; the number of rows stored (refused ones in `rejected`)."""
        self.rejected = []
        written = 0
        for batch in batches:
            if not len(batch):
                continue
            insert = self._inserter(batch)
            written += self._isolate(batch, insert, 0, len(batch), whole=True)
        self.rows_written += written
        return written

    def _inserter(self, batch: TableBatch) -> Callable[[int, int, str], int]:
        """insert(lo, hi, token): store records lo..hi of `batch`; rows stored."""
        store = self.store
        if batch.records and store.accepts_json:
            records = batch.records

            def insert_json(lo: int, hi: int, token: str) -> int:
                store.insert_json(batch.table, b"\n".join(records[lo:hi]), dedup_token=token)
                return hi - lo

            return insert_json
        _table, columns, to_row = TABLES[batch.table]
        objects: list[Any] = batch.rows or [_decode(value) for value in batch.records]

        def insert_rows(lo: int, hi: int, token: str) -> int:
            rows = []
            for obj in objects[lo:hi]:
                try:
                    rows.append(to_row(obj))
                except (BadInputError, ArithmeticError, TypeError, ValueError) as exc:
                    # isolated like a record the store refuses
                    raise RejectedDataError(f"not a {batch.table} row: {exc}") from exc
            store.insert(batch.table, rows, columns, dedup_token=token)
            return len(rows)

        return insert_rows

    def _isolate(
        self,
        batch: TableBatch,
        insert: Callable[[int, int, str], int],
        lo: int,
        hi: int,
        whole: bool = False,
    ) -> int:
        """Store records lo..hi, halving around those the store refuses."""
        token = batch.token if whole else f"{batch.token}#{lo}-{hi}"
        try:
            return insert(lo, hi, token)
        except RejectedDataError as exc:
            if hi - lo == 1:
                log.error("%s: record %d of the batch refused: %s", batch.table, lo, exc)
                self.rejected.append(Rejected(batch, lo, str(exc)))
                return 0
            middle = (lo + hi) // 2
            return self._isolate(batch, insert, lo, middle) + self._isolate(
                batch, insert, middle, hi
            )


def _decode(value: bytes) -> Any:
    """A record's JSON (an undecodable one stays bytes: its row conversion refuses it)."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def table_batches(
    per_table: Mapping[str, list[Any]],
    sources: Mapping[str, list[str]],
    raw: bool = False,
) -> list[TableBatch]:
    """Group rows per table with their source ranges, in a fixed table order; `raw`: the
    lists hold the records' JSON bytes rather than dicts."""
    order = ("dead_letters", "order_events", "fills", "positions", "orders")
    return [
        TableBatch(table, [], list(sources.get(table, [])), list(per_table[table]))
        if raw
        else TableBatch(table, list(per_table[table]), list(sources.get(table, [])))
        for table in order
        if per_table.get(table)
    ]
