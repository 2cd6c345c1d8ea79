"""The ClickHouse store: one client for a server over HTTP and for embedded chDB.

clickhouse-connect's chDB backend is synchronous and chDB allows one engine path per process
(and one process per path), so a process holds at most one `Store` per target, shared by its
threads behind a lock, and async code calls it through `asyncio.to_thread`. Library errors
are translated to `StoreError` here, once, with the target's masked URL.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.config import ClickHouseTarget
from pipeline.errors import RejectedDataError, StoreError
from pipeline.sink import jsonrows


@dataclass(slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    types: list[str] | None = None  # ClickHouse type names, when known


class Store:
    """A thread-safe handle on one ClickHouse database (server or chDB directory)."""

    def __init__(self, target: ClickHouseTarget) -> None:
        self.target = target
        self.database = target.database
        # chDB is one engine per process: stores on the same path share one lock.
        self._lock = _lock_for(target.path if target.is_embedded else self)
        self._client: Any = None

    def _connect(self) -> Any:
        import clickhouse_connect

        target = self.target
        try:
            if target.is_embedded:
                assert target.path is not None
                target.path.mkdir(parents=True, exist_ok=True)
                return _open_chdb(target.path)
            return clickhouse_connect.get_client(
                host=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                secure=target.scheme == "https",
                connect_timeout=10,
                send_receive_timeout=60,
            )
        except Exception as exc:
            raise StoreError(f"cannot open ClickHouse at {target.masked_url}: {exc}") from exc

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def command(self, sql: str, settings: dict[str, Any] | None = None) -> Any:
        """Run a statement that returns no rows (DDL, INSERT ... SELECT)."""
        with self._lock:
            try:
                return self.client.command(sql, settings=settings)
            except StoreError:
                raise
            except Exception as exc:
                raise StoreError(f"ClickHouse command failed: {_first_line(exc)}") from exc

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        """Run a query and return its columns and rows."""
        with self._lock:
            try:
                result = self.client.query(sql, parameters=parameters)
            except StoreError:
                raise
            except Exception as exc:
                raise StoreError(f"ClickHouse query failed: {_first_line(exc)}") from exc
            return QueryResult(
                list(result.column_names),
                list(result.result_rows),
                [t.name for t in result.column_types],
            )

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        dedup_token: str | None = None,
    ) -> None:
        """Insert rows into `database.table`; a batch retried with the same token is a no-op.

        The token works on tables with `non_replicated_deduplication_window` (PITFALLS §11).
        """
        if not rows:
            return
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else None
        with self._lock:
            try:
                self.client.insert(
                    f"{self.database}.{table}",
                    rows,
                    column_names=list(columns),
                    settings=settings,
                )
            except StoreError:
                raise
            except (ArithmeticError, TypeError, ValueError) as exc:
                # raised while the client serializes the rows: a value the column cannot hold
                # (e.g. "int too big to convert" for a Decimal(38, 18))
                raise RejectedDataError(
                    f"ClickHouse insert into {self.database}.{table} refused the rows: "
                    f"{_first_line(exc)}"
                ) from exc
            except Exception as exc:
                raise _store_error(f"ClickHouse insert into {self.database}.{table}", exc) from exc

    @property
    def accepts_json(self) -> bool:
        """Can this store take records as JSON lines (`insert_json`)? The embedded one can:
        chDB reads them from a file of this process; a server would need them in the request
        body (`input()`), a path not covered by the tests, so servers take rows."""
        return self.target.is_embedded

    def insert_json(self, table: str, lines: bytes, dedup_token: str | None = None) -> None:
        """Insert output records (JSON lines, as on the topics) into `database.table`; the
        store parses them itself (jsonrows.py). Same deduplication as `insert`."""
        import os
        import tempfile

        if not lines:
            return
        settings: dict[str, Any] = {"input_format_skip_unknown_fields": 1}
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        with self._lock:
            assert self.target.path is not None
            handle, path = tempfile.mkstemp(prefix=f".{table}-", suffix=".jsonl",
                                            dir=self.target.path)  # fmt: skip
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(lines)
                quoted = path.replace("\\", "\\\\").replace("'", "\\'")
                source = f"file('{quoted}', 'JSONEachRow', '{jsonrows.structure(table)}')"
                self.client.command(
                    jsonrows.insert_select(self.database, table, source), settings=settings
                )
            except StoreError:
                raise
            except Exception as exc:
                raise _store_error(f"ClickHouse insert into {self.database}.{table}", exc) from exc
            finally:
                os.unlink(path)

    @property
    def lock(self) -> threading.RLock:
        """Held while this store runs a statement (the embedded endpoint takes turns)."""
        return self._lock

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                finally:
                    self._client = None


def _open_chdb(path: Any, patience: float = 10.0) -> Any:
    """Open the chDB store at `path`, waiting a little if another process holds it.

    chDB admits one process per store directory; a short-lived reader (a `pipeline sql` of
    an older version, an analyst's script) may hold it for a moment.
    """
    import time

    import clickhouse_connect

    deadline = time.monotonic() + patience
    while True:
        try:
            return clickhouse_connect.get_client(dsn=f"chdb://{path}")
        except Exception as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def _store_error(what: str, exc: BaseException) -> StoreError:
    """`what` failed: a `RejectedDataError` when ClickHouse blames the data, else a
    `StoreError` (retried by the caller)."""
    text = str(exc)
    if jsonrows.is_data_error(text):
        return RejectedDataError(f"{what} refused the rows: {_first_line(exc)}")
    return StoreError(f"{what} failed: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


_stores: dict[tuple[str, str], Store] = {}
_stores_lock = threading.RLock()
_path_locks: dict[object, threading.RLock] = {}


def _lock_for(owner: object) -> threading.RLock:
    with _stores_lock:
        lock = _path_locks.get(owner)
        if lock is None:
            lock = _path_locks[owner] = threading.RLock()
        return lock


def open_store(target: ClickHouseTarget) -> Store:
    """The process-wide `Store` for `target` (one per chDB path and database)."""
    key = (target.masked_url, target.database)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(target)
        return store
