"""The embedded store's ClickHouse HTTP endpoint (issue 16 item 3, issue 15 security):
clickhouse-connect's own HTTP client runs the dashboards' and the cookbook's SQL through it
and gets what the store itself answers; plain HTTP requests as curl or Grafana send them work;
nothing outside the store is reachable, nothing can be written, no token no answer."""

from __future__ import annotations

import base64
import os
import stat
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from test_analyst_sql import clickhouse_panels, cookbook_queries, grafana_sql

from pipeline.local.chserver import ClickHouseEndpoint, new_token
from pipeline.local.secretfile import write_secret_file
from pipeline.sink.store import Store

TOKEN = "t0ken-" + "x" * 20


@pytest.fixture(scope="module")
def endpoint(populated: Store) -> Iterator[ClickHouseEndpoint]:
    assert populated.target.path is not None
    server = ClickHouseEndpoint(
        populated.target.path, TOKEN, lock=populated.lock, database=populated.database
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(endpoint: ClickHouseEndpoint, populated: Store) -> Iterator[object]:
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=endpoint.port, username="default", password=TOKEN,
        database=populated.database,
    )  # fmt: skip
    yield client
    client.close()


def _http(
    endpoint: ClickHouseEndpoint, query: dict[str, str], body: bytes | None = None,
    headers: dict[str, str] | None = None, path: str = "/",
) -> tuple[int, bytes, dict[str, str]]:  # fmt: skip
    url = f"{endpoint.url}{path}?{urllib.parse.urlencode(query)}" if query else endpoint.url + path
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def _basic(password: str, user: str = "default") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(("panel", "sql"), clickhouse_panels(), ids=lambda v: v[:50])
def test_clickhouse_connect_runs_each_dashboard_panel_like_the_store(
    client: object, populated: Store, panel: str, sql: str
) -> None:
    query = grafana_sql(sql, populated)
    remote = client.query(query)  # type: ignore[attr-defined]
    local = populated.query(query)
    assert list(remote.column_names) == local.columns, panel
    assert remote.result_rows == local.rows, panel
    assert remote.result_rows, panel


@pytest.mark.parametrize("sql", cookbook_queries(), ids=lambda s: s.split("FROM")[1][:40])
def test_clickhouse_connect_runs_each_cookbook_query(
    client: object, populated: Store, sql: str
) -> None:
    query = sql.replace("trading.", f"{populated.database}.")
    assert client.query(query).result_rows == populated.query(query).rows  # type: ignore[attr-defined]


def test_parameters_settings_empty_results_and_database(client: object, populated: Store) -> None:
    db = populated.database
    bound = client.query(  # type: ignore[attr-defined]
        "SELECT count() FROM orders FINAL WHERE venue = {venue:String}",
        parameters={"venue": "binance"},
    ).result_rows[0][0]
    want = populated.query(f"SELECT count() FROM {db}.orders FINAL WHERE venue = 'binance'")
    assert bound == want.rows[0][0] > 0
    quoted = client.query("SELECT %(v)s AS v", parameters={"v": "it's; DROP"})  # type: ignore[attr-defined]
    assert quoted.result_rows == [("it's; DROP",)]
    limited = client.query("SELECT number FROM numbers(10)", settings={"max_block_size": 3})  # type: ignore[attr-defined]
    assert [n for (n,) in limited.result_rows] == list(range(10))
    empty = client.query("SELECT venue, qty FROM orders FINAL WHERE 0")  # type: ignore[attr-defined]
    assert list(empty.column_names) == ["venue", "qty"]
    assert [t.name for t in empty.column_types] == ["LowCardinality(String)", "Decimal(38, 18)"]


def test_plain_http_get_post_ping_and_formats(
    endpoint: ClickHouseEndpoint, populated: Store
) -> None:
    assert _http(endpoint, {}, path="/ping")[:2] == (200, b"Ok.\n")
    status, body, headers = _http(
        endpoint,
        {"query": "SELECT count() AS n FROM orders FINAL", "database": populated.database,
         "default_format": "JSONEachRow"},
        headers=_basic(TOKEN),
    )  # fmt: skip
    want = populated.query(f"SELECT count() FROM {populated.database}.orders FINAL").rows[0][0]
    assert (status, body) == (200, f'{{"n":{want}}}\n'.encode())
    assert headers["X-ClickHouse-Format"] == "JSONEachRow"
    status, body, headers = _http(
        endpoint, {"database": populated.database, "param_v": "upbit"},
        body=b"SELECT count() FROM orders FINAL WHERE venue = {v:String} FORMAT TabSeparated",
        headers={"X-ClickHouse-User": "default", "X-ClickHouse-Key": TOKEN},
    )  # fmt: skip
    upbit = populated.query(
        f"SELECT count() FROM {populated.database}.orders FINAL WHERE venue = 'upbit'"
    ).rows[0][0]
    assert (status, body.strip()) == (200, str(upbit).encode())
    status, body, _ = _http(
        endpoint, {"query": "SELECT 1"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert (status, body) == (200, b"1\n")  # TabSeparated by default


def test_http_compression_when_asked(endpoint: ClickHouseEndpoint) -> None:
    import gzip

    query = {"query": "SELECT number FROM numbers(1000)", "enable_http_compression": "1"}
    status, body, headers = _http(
        endpoint, query, headers={**_basic(TOKEN), "Accept-Encoding": "gzip"}
    )
    assert (status, headers.get("Content-Encoding")) == (200, "gzip")
    assert gzip.decompress(body).split() == [str(n).encode() for n in range(1000)]
    plain = _http(
        endpoint, {"query": "SELECT 1"}, headers={**_basic(TOKEN), "Accept-Encoding": "gzip"}
    )
    assert plain[1] == b"1\n"
    assert "Content-Encoding" not in plain[2]


@pytest.mark.parametrize(
    "headers",
    [{}, _basic("wrong"), {"X-ClickHouse-Key": "wrong"}, {"Authorization": "Bearer wrong"}],
    ids=["none", "basic", "key", "bearer"],
)
def test_no_or_wrong_token_is_refused(
    endpoint: ClickHouseEndpoint, headers: dict[str, str]
) -> None:
    status, body, response_headers = _http(endpoint, {"query": "SELECT 1"}, headers=headers)
    assert status == 401
    assert body.startswith(b"Code: 516.")
    assert response_headers["X-ClickHouse-Exception-Code"] == "516"


def test_endpoint_listens_on_loopback_only(endpoint: ClickHouseEndpoint) -> None:
    assert endpoint.url.startswith("http://127.0.0.1:")


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "command-keys.json"
    path.write_text("SECRET-CANARY-7d1f")
    return path


@pytest.mark.parametrize(
    "template",
    [
        "SELECT file('{path}')",
        "SELECT FILE('{path}') AS x",
        "SELECT * FROM file('{path}', 'LineAsString')",
        "SELECT * FROM numbers(1) WHERE (SELECT count() FROM file('{path}', 'RawBLOB')) > 0",
        "DESCRIBE TABLE file('{path}', 'LineAsString')",
        "WITH (SELECT file('{path}')) AS s SELECT s",
        "SELECT * FROM url('http://127.0.0.1:9/{path}', 'LineAsString')",
        "SELECT * FROM s3('http://127.0.0.1:9/b/{path}', 'LineAsString')",
        "SELECT * FROM remote('127.0.0.1:9', system.one)",
        "SELECT * FROM mysql('127.0.0.1:9', 'd', 't', 'u', 'p')",
        "SELECT * FROM postgresql('127.0.0.1:9', 'd', 't', 'u', 'p')",
        "SELECT * FROM executable('cat {path}', 'LineAsString', 'x String')",
        "SELECT * FROM filesystem('{dir}')",
        "SELECT 1 INTO OUTFILE '{dir}/out.txt'",
        "SELECT 1; SELECT file('{path}')",
        "CREATE DATABASE evil_{tag}",
        "CREATE TABLE evil_{tag} (a String) ENGINE = File(LineAsString, '{path}')",
        "INSERT INTO FUNCTION file('{dir}/written.txt', 'LineAsString') SELECT 'x'",
        "DROP TABLE orders",
        "SET readonly = 0",
        "SELECT 1 SETTINGS readonly = 0",
    ],
)
def test_nothing_outside_the_store_is_reachable_and_nothing_is_written(
    client: object, endpoint: ClickHouseEndpoint, populated: Store, secret_file: Path,
    template: str,
) -> None:  # fmt: skip
    sql = template.format(path=secret_file, dir=secret_file.parent, tag=os.getpid())
    with pytest.raises(DatabaseError) as refused:
        client.query(sql)  # type: ignore[attr-defined]
    assert "SECRET-CANARY" not in str(refused.value)
    status, body, _ = _http(
        endpoint, {"query": sql, "database": populated.database}, headers=_basic(TOKEN)
    )
    assert status in (400, 403), (status, body)
    assert b"SECRET-CANARY" not in body
    assert sorted(p.name for p in secret_file.parent.iterdir()) == [secret_file.name]
    databases = populated.query("SELECT name FROM system.databases").rows
    assert not any(name.startswith("evil_") for (name,) in databases)
    assert populated.query(f"EXISTS TABLE {populated.database}.orders").rows == [(1,)]


def test_token_and_secret_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    token, path = new_token(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == token
    older = tmp_path / "keys.json"
    older.write_text("old")
    older.chmod(0o644)
    previous = os.umask(0)
    try:
        write_secret_file(older, "new")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(older.stat().st_mode) == 0o600
    assert older.read_text() == "new"


def test_the_local_command_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    from pipeline.commands.config import create_local_keys

    (tmp_path / "placeholder").touch()
    previous = os.umask(0)
    try:
        path = create_local_keys(tmp_path)
        path.chmod(0o644)  # an older, wider copy is replaced, not rewritten in place
        path = create_local_keys(tmp_path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
