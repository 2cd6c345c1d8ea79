"""The embedded store's ClickHouse HTTP interface, served by the process that owns it.

chDB admits one process per store directory (DESIGN.md §2), so while `pipeline run` (or a
sink worker) owns the store, every other reader goes through that process. It speaks the
subset of ClickHouse's HTTP interface that ClickHouse clients use, so clickhouse-connect,
Grafana's ClickHouse plugin, DBeaver and `curl` connect to `make run` as to a server:

- `GET /ping` and `GET /` answer `Ok.`;
- `POST /` (SQL in the body, or in `?query=` followed by the body) and `GET /?query=...`;
  `FORMAT` in the query or `default_format` (default TabSeparated), `database`, settings as
  URL parameters, query parameters as `param_<name>` for `{name:Type}` placeholders;
- answers carry `X-ClickHouse-Format`, `-Timezone`, `-Query-Id`, `-Summary`; errors are
  ClickHouse's text (`Code: N. DB::Exception: ...`) with `X-ClickHouse-Exception-Code`.

It listens on 127.0.0.1 only, requires the token of `<data dir>/store.token` (mode 0600, new
every run) as the password (HTTP basic auth, `X-ClickHouse-Key` or `password=`) or as a bearer
token, and runs only what `pipeline.local.readonly.vet` lets through, on a handle set to
`readonly=1` (issue 15: the endpoint read host files through `file()` before).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from pipeline.local.readonly import QueryRefused, table_functions, vet
from pipeline.local.secretfile import write_secret_file

log = logging.getLogger(__name__)

TOKEN_FILE_NAME = "store.token"
MAX_QUERY_BYTES = 1 << 20
DEFAULT_FORMAT = "TabSeparated"

#: URL parameters the HTTP layer consumes itself: never engine settings.
TRANSPORT_PARAMS = frozenset(
    {
        "query", "database", "default_format", "user", "password", "query_id", "session_id",
        "session_timeout", "session_check", "compress", "decompress", "buffer_size",
        "wait_end_of_query", "client_protocol_version", "role", "quota_key",
        "enable_http_compression", "send_progress_in_http_headers",
        "http_headers_progress_interval_ms", "cancel_http_readonly_queries_on_client_close",
        "http_wait_end_of_query", "http_response_buffer_size", "add_http_cors_header",
        "output_format_parallel_formatting",
    }
)  # fmt: skip
_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE_RE = re.compile(r"Code: (\d+)")
_CONTENT_TYPES = {
    "Native": "application/octet-stream",
    "RowBinary": "application/octet-stream",
    "RowBinaryWithNamesAndTypes": "application/octet-stream",
    "Arrow": "application/octet-stream",
    "Parquet": "application/octet-stream",
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8",
    "CSVWithNames": "text/csv; charset=UTF-8",
}


class ClickHouseEndpoint:
    """Serves the store at `store_path` read-only on 127.0.0.1:<port> from a daemon thread.

    `lock` is the lock the owner's own store handle holds while it runs a statement: the
    endpoint's queries take turns with the owner's writes rather than racing them.
    """

    def __init__(
        self, store_path: Path, token: str, lock: Any = None, database: str = "trading",
        port: int = 0,
    ) -> None:  # fmt: skip
        self.store_path = Path(os.path.realpath(store_path))
        self.token = token
        self.database = database
        self.lock = lock if lock is not None else threading.RLock()
        self._table_functions: frozenset[str] | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):  # the type allows it (AF_UNIX); a TCP server gives str
            host = host.decode()
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> ClickHouseEndpoint:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="clickhouse-endpoint", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def authorized(self, headers: Any, params: dict[str, str]) -> bool:
        """Is the store's token among the credentials ClickHouse clients send?"""
        offered: list[str] = []
        auth = headers.get("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                offered.append(base64.b64decode(value).decode().partition(":")[2])
        elif scheme.lower() == "bearer":
            offered.append(value.strip())
        for candidate in (headers.get("X-ClickHouse-Key"), params.get("password")):
            if candidate:
                offered.append(candidate)
        expected = self.token.encode()
        return any(hmac.compare_digest(o.encode(), expected) for o in offered)

    def execute(
        self, sql: str, database: str, fmt: str | None, settings: dict[str, str],
        parameters: dict[str, str],
    ) -> tuple[bytes, str]:  # fmt: skip
        """Run one vetted query on a fresh read-only handle: (body, format)."""
        import chdb

        with self.lock:
            handle = chdb.connect(str(self.store_path))
            try:
                for name, value in settings.items():
                    if not _SETTING_NAME_RE.match(name):
                        raise QueryRefused(f"{name!r} is not a setting name")
                    handle.query(f"SET {name} = {_quote(value)}")
                handle.query("SET readonly = 2")
                if self._table_functions is None:
                    self._table_functions = table_functions(handle)
                handle.query(f"USE {_identifier(database)}")
                vetted = vet(handle, sql, self._table_functions, parameters)
                fmt = vetted.format or fmt or DEFAULT_FORMAT
                body = _bytes(handle.query(vetted.sql, fmt, params=parameters))
                if not body and fmt == "Native":
                    # chDB sends no block for an empty result; ClickHouse sends the header
                    body = _native_header(
                        _bytes(
                            handle.query(vetted.sql, "TSVRawWithNamesAndTypes", params=parameters)
                        )
                    )
                return body, fmt
            finally:
                handle.close()


def _bytes(result: Any) -> bytes:
    return result.bytes() if hasattr(result, "bytes") else bytes(result)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _native_string(text: str) -> bytes:
    raw = text.encode()
    return _varint(len(raw)) + raw


def _native_header(tsv: bytes) -> bytes:
    """A zero-row Native block with the columns of a TSVRawWithNamesAndTypes answer."""
    lines = tsv.decode().split("\n")
    if len(lines) < 2 or not lines[0]:
        return b""
    names, types = lines[0].split("\t"), lines[1].split("\t")
    out = _varint(len(names)) + _varint(0)
    for name, kind in zip(names, types, strict=True):
        out += _native_string(name) + _native_string(kind)
    return out


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data body (clickhouse-connect sends a query with
    bound parameters as `query` and `param_<name>` fields); external data files are refused."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if part.get_filename() is not None:
            raise ValueError(f"external data ({name}) is not supported by this endpoint")
        payload = part.get_payload(decode=True)
        fields[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return fields


def _make_handler(endpoint: ClickHouseEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_QUERY_BYTES:
                self._error(413, 0, f"the query is larger than {MAX_QUERY_BYTES} bytes")
                self.close_connection = True
                return
            self._handle(self.rfile.read(length) if length > 0 else b"")

        def _handle(self, body: bytes) -> None:
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            if parts.path in ("/ping", "/") and "query" not in params and not body:
                self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
                return
            if parts.path != "/":
                self._error(404, 0, f"there is no handler for {parts.path}")
                return
            if not endpoint.authorized(self.headers, params):
                self._error(
                    401,
                    516,
                    f"Authentication failed: use the store's token ({TOKEN_FILE_NAME} in the "
                    "data directory) as the password",
                )
                return
            if self.headers.get("Content-Encoding"):
                self._error(415, 0, "compressed request bodies are not supported")
                return
            content_type = self.headers.get("Content-Type") or ""
            if content_type.startswith("multipart/form-data"):
                try:
                    params.update(_form_fields(content_type, body))
                except ValueError as exc:
                    self._error(400, 0, str(exc))
                    return
                body = b""
            sql = "\n".join(
                part for part in (params.get("query", ""), body.decode("utf-8", "replace")) if part
            )
            database = params.get("database") or self.headers.get("X-ClickHouse-Database")
            settings = {
                k: v
                for k, v in params.items()
                if k not in TRANSPORT_PARAMS and not k.startswith("param_")
            }
            parameters = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
            query_id = params.get("query_id") or str(uuid.uuid4())
            started = time.monotonic()
            try:
                result, fmt = endpoint.execute(
                    sql, database or endpoint.database,
                    params.get("default_format") or self.headers.get("X-ClickHouse-Format"),
                    settings, parameters,
                )  # fmt: skip
            except QueryRefused as exc:
                text = str(exc)
                code = _CODE_RE.search(text)
                self._error(400 if code else 403, int(code.group(1)) if code else 164, text)
                return
            except Exception as exc:  # the engine's own error, as ClickHouse words it
                text = str(exc).strip()
                start = text.find("Code: ")
                text = text[start:] if start >= 0 else text
                code = _CODE_RE.search(text)
                self._error(400 if code else 500, int(code.group(1)) if code else 1000, text)
                return
            elapsed_ns = int((time.monotonic() - started) * 1e9)
            summary = {"read_rows": "0", "read_bytes": "0", "written_rows": "0",
                       "written_bytes": "0", "total_rows_to_read": "0", "result_rows": "0",
                       "result_bytes": str(len(result)), "elapsed_ns": str(elapsed_ns)}  # fmt: skip
            headers = {
                "Content-Type": _CONTENT_TYPES.get(fmt, "text/plain; charset=UTF-8"),
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Timezone": "UTC",
                "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Summary": orjson.dumps(summary).decode(),
            }
            accepted = (self.headers.get("Accept-Encoding") or "").lower()
            if params.get("enable_http_compression") == "1" and "gzip" in accepted:
                import gzip

                result = gzip.compress(result, compresslevel=3)
                headers["Content-Encoding"] = "gzip"
            self._send(200, result, headers)

        def _error(self, status: int, code: int, message: str) -> None:
            text = message if message.startswith("Code: ") else f"Code: {code}. {message}"
            self._send(
                status,
                (text.rstrip() + "\n").encode(),
                {
                    "Content-Type": "text/plain; charset=UTF-8",
                    "X-ClickHouse-Exception-Code": str(code),
                },
            )

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("clickhouse endpoint: " + format, *args)

    return Handler


def new_token(data_dir: Path) -> tuple[str, Path]:
    """A fresh token for this run's endpoint, in a file only the owner's user can read."""
    token = secrets.token_urlsafe(32)
    path = write_secret_file(data_dir / TOKEN_FILE_NAME, token + "\n")
    return token, path.resolve()  # other commands may run from another directory


def read_token(path: str | Path) -> str:
    return Path(path).read_text().strip()
