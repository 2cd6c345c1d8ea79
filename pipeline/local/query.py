"""Queries from the command line (`pipeline sql`, `status`, `report`): one path, read-only
unless asked.

- a ClickHouse server: clickhouse-connect over HTTP, with `readonly=1` unless `write`;
- an embedded store owned by a running `pipeline run` / sink worker: its ClickHouse HTTP
  endpoint (pipeline/local/chserver.py) with the token from the state file, through
  clickhouse-connect's own HTTP client; that endpoint is read-only, always;
- an embedded store nobody runs: read-only, this process serves the store's endpoint to
  itself for the one query, so the answer is decoded exactly as during a run (the same
  types, the same output); with `write`, the store is opened directly.

Every path decodes ClickHouse's Native format with clickhouse-connect, so values arrive typed
(Decimal, datetime, int, None) whether the run is up or not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.config import ClickHouseTarget, Settings
from pipeline.errors import StoreError
from pipeline.local.statefile import StackState, await_ready
from pipeline.sink.store import QueryResult, open_store


def endpoint_client(url: str, token: str, database: str = "trading", timeout: float = 60.0) -> Any:
    """A clickhouse-connect HTTP client on a store endpoint (or any ClickHouse server)."""
    import clickhouse_connect

    parts = urlsplit(url)
    try:
        return clickhouse_connect.get_client(
            host=parts.hostname, port=parts.port, username="pipeline", password=token,
            database=database, compress=False, connect_timeout=10,
            send_receive_timeout=timeout, autogenerate_session_id=False,
        )  # fmt: skip
    except Exception as exc:
        raise StoreError(f"the store endpoint at {url} did not answer: {_first_line(exc)}") from exc


def endpoint_query(
    url: str, token: str, sql: str, database: str = "trading",
    parameters: dict[str, Any] | None = None,
) -> QueryResult:  # fmt: skip
    """Run `sql` through the ClickHouse HTTP interface at `url`."""
    client = endpoint_client(url, token, database)
    try:
        return _result(client.query(sql, parameters=parameters))
    except Exception as exc:
        raise StoreError(f"ClickHouse query failed: {_first_line(exc)}") from exc
    finally:
        client.close()


def state_query(
    state: StackState, sql: str, database: str = "trading",
    parameters: dict[str, Any] | None = None,
) -> QueryResult:  # fmt: skip
    """Run `sql` through the endpoint a running stack published in its state file."""
    from pipeline.local.chserver import read_token

    if not state.query_url or not state.query_token_file:
        raise StoreError(f"pipeline pid {state.pid} serves no store endpoint")
    try:
        token = read_token(state.query_token_file)
    except OSError as exc:
        raise StoreError(
            f"cannot read the store token {state.query_token_file}: {exc.strerror} "
            "(only the user who runs the pipeline may query it)"
        ) from exc
    return endpoint_query(state.query_url, token, sql, database, parameters)


def owner_state(settings: Settings) -> StackState | None:
    """The running stack that owns the embedded store of `settings`, if another process."""
    target = settings.store
    if not target.is_embedded:
        return None
    state = await_ready(settings.data_dir)
    if (
        state is not None
        and state.pid != os.getpid()
        and state.query_url
        and target.path is not None
        and Path(state.store_path or "").resolve() == target.path.resolve()
    ):
        return state
    return None


def run_query(
    settings: Settings, sql: str, write: bool = False, parameters: dict[str, Any] | None = None
) -> QueryResult:
    """Run `sql` against the configured store (see the module docstring for the paths);
    `parameters` fill `{name:Type}` placeholders."""
    target = settings.store
    if not target.is_embedded:
        return _server_query(target, sql, write, parameters)
    state = owner_state(settings)
    if state is not None:
        if write:
            raise StoreError(
                f"the store is owned by pipeline pid {state.pid}, which serves it read-only; "
                "stop it to write, or drop --write"
            )
        return state_query(state, sql, target.database, parameters)
    if target.path is not None and not target.path.exists():
        # do not create an empty store as a side effect of a query (and never take the
        # directory from a `pipeline run` that is about to start)
        raise StoreError(
            f"no store at {target.path}: start `pipeline run` (or `pipeline migrate`) first"
        )
    try:
        if write:
            return open_store(target).query(sql, parameters)
        return _self_served_query(target, sql, parameters)
    except StoreError as exc:
        if "lock" in str(exc).lower():
            raise StoreError(
                f"the store at {target.path} is held by another process that offers no "
                "query endpoint; stop it or query through it"
            ) from exc
        raise


def _self_served_query(
    target: ClickHouseTarget, sql: str, parameters: dict[str, Any] | None
) -> QueryResult:
    """Serve the idle store's endpoint to ourselves for one read-only query."""
    import secrets

    from pipeline.local.chserver import ClickHouseEndpoint

    assert target.path is not None
    token = secrets.token_urlsafe(32)
    endpoint = ClickHouseEndpoint(target.path, token, database=target.database).start()
    try:
        return endpoint_query(endpoint.url, token, sql, target.database, parameters)
    finally:
        endpoint.stop()


def _server_query(
    target: ClickHouseTarget, sql: str, write: bool, parameters: dict[str, Any] | None
) -> QueryResult:
    import clickhouse_connect

    try:
        client = clickhouse_connect.get_client(
            host=target.host, port=target.port, username=target.username,
            password=target.password, database=target.database,
            secure=target.scheme == "https", connect_timeout=10, send_receive_timeout=60,
            settings={} if write else {"readonly": 1},
        )  # fmt: skip
    except Exception as exc:
        raise StoreError(
            f"cannot open ClickHouse at {target.masked_url}: {_first_line(exc)}"
        ) from exc
    try:
        return _result(client.query(sql, parameters=parameters))
    except Exception as exc:
        raise StoreError(f"ClickHouse query failed: {_first_line(exc)}") from exc
    finally:
        client.close()


def _result(result: Any) -> QueryResult:
    return QueryResult(
        list(result.column_names),
        list(result.result_rows),
        [t.name for t in result.column_types],
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    start = text.find("Code: ")
    text = text[start:] if start >= 0 else text
    return text.splitlines()[0][:500]
