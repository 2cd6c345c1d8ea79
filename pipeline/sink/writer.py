"""The ClickHouse writer: one batch of output records -> one insert per table, idempotently.

Every insert carries an `insert_deduplication_token` built from the source positions of its
rows (`table:topic:partition:first-last:digest,...`), so a batch retried after a failure or a crash
before the offset commit is stored once (PITFALLS §11); the replacing tables with versions
make a batch cut differently after a restart converge to the same rows under `FINAL`.
The writer is synchronous (chDB has no async client); async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.errors import BadInputError
from pipeline.sink.rows import TABLES
from pipeline.sink.store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TableBatch:
    """Rows for one table and where they came from (for the deduplication token)."""

    table: str
    rows: list[dict[str, Any]]
    sources: list[str]  # e.g. "orders.state:3:120-180"

    @property
    def token(self) -> str:
        return f"{self.table}:" + ",".join(sorted(self.sources))


class TableWriter:
    """Writes `TableBatch`es to the store; raises `StoreError` (the caller retries)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows_written = 0

    def write(self, batches: Sequence[TableBatch]) -> int:
        written = 0
        for batch in batches:
            if not batch.rows:
                continue
            _table, columns, to_row = TABLES[batch.table]
            rows = []
            for obj in batch.rows:
                try:
                    rows.append(to_row(obj))
                except (BadInputError, ArithmeticError, TypeError, ValueError) as exc:
                    # an output record we produced ourselves should never be malformed;
                    # if one is, keep the rest of the batch and say which
                    log.error("skipping malformed %s row %r: %s", batch.table, obj, exc)
            self.store.insert(batch.table, rows, columns, dedup_token=batch.token)
            written += len(rows)
        self.rows_written += written
        return written


def table_batches(
    per_table: Mapping[str, list[dict[str, Any]]], sources: Mapping[str, list[str]]
) -> list[TableBatch]:
    """Group rows per table with their source ranges, in a fixed table order."""
    order = ("dead_letters", "order_events", "fills", "positions", "orders")
    return [
        TableBatch(table, list(per_table[table]), list(sources.get(table, [])))
        for table in order
        if per_table.get(table)
    ]
