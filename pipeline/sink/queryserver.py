"""A loopback query endpoint served by the process that owns an embedded chDB store.

chDB allows one process per store directory (DESIGN.md §2), so while `pipeline run` owns the
store, `pipeline sql` in another terminal cannot open it; it sends its SQL here instead. The
endpoint listens on 127.0.0.1 only and is advertised through the stack state file.

Protocol: `POST /query` with the SQL as the body; answers `{"columns": [...], "rows": [...]}`
(decimals and times as strings), or status 400 with `{"error": "..."}`.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from pipeline.errors import PipelineError, StoreError
from pipeline.sink.store import QueryResult, Store

log = logging.getLogger(__name__)

MAX_SQL_BYTES = 1 << 20


def encode_result(result: QueryResult) -> bytes:
    return orjson.dumps(
        {"columns": result.columns, "rows": [list(row) for row in result.rows]},
        default=str,
    )


class QueryServer:
    """Serves read queries against `store` on 127.0.0.1:<port> from a daemon thread."""

    def __init__(self, store: Store, port: int = 0) -> None:
        self.store = store
        handler = _make_handler(store)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="query-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _make_handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/query":
                self._reply(404, {"error": f"no such endpoint {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_SQL_BYTES:
                self._reply(400, {"error": "send the SQL as the request body (at most 1 MiB)"})
                return
            sql = self.rfile.read(length).decode("utf-8", errors="replace")
            try:
                body = encode_result(store.query(sql))
            except PipelineError as exc:
                self._reply(400, {"error": str(exc)})
                return
            self._send(200, body)

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, orjson.dumps(payload))

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("query server: " + format, *args)

    return Handler


def remote_query(url: str, sql: str, timeout: float = 60.0) -> QueryResult:
    """Run `sql` through the query endpoint at `url`."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url}/query", data=sql.encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = orjson.loads(exc.read()).get("error", str(exc))
        except orjson.JSONDecodeError:
            message = str(exc)
        raise StoreError(message) from exc
    except OSError as exc:
        raise StoreError(f"the store owner at {url} did not answer: {exc}") from exc
    return QueryResult(payload["columns"], [tuple(row) for row in payload["rows"]])
