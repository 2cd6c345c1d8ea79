"""The futures gateway's one signed REST call (`pipeline.venues.futures_gateway.client`),
shared by ingest (GET polls) and cancels (DELETE / POST): what goes on the wire, and how a
reply is judged, on recorded error payloads."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.venues.credentials import Credentials
from pipeline.venues.errors import BusinessError, TransientError, should_retry
from pipeline.venues.futures_gateway import auth, client

RESOURCES = Path(__file__).parents[2] / "resources" / "venues" / "futures_gateway"
KEYS = Credentials("AK-gateway-abc", "S3CRET-gateway-0123456789")
BASE = "https://gw.example"
NOW = 1_767_225_600_000


def recorded(name: str) -> bytes:
    return (RESOURCES / name).read_bytes().strip()


def verified(request: client.Request, method: str, path: str, body: bytes) -> bool:
    query = dict(parse_qsl(urlsplit(request.url).query))
    h = request.headers
    return auth.verify(KEYS.secret_key, h[auth.SIGNATURE_HEADER], h[auth.TIMESTAMP_HEADER],
                       method, path, query, body)  # fmt: skip


def test_a_get_carries_its_parameters_in_the_signed_query_and_no_body() -> None:
    params = {"exchange": "EXCHANGE_2", "symbol": "BTCUSDT", "start_time": "5"}
    request = client.build(KEYS, "GET", BASE, "/trades", params, timestamp=NOW)
    assert (
        request.url
        == f"{BASE}/trade/api/v2/futures/trades?exchange=EXCHANGE_2&symbol=BTCUSDT&start_time=5"
    )
    assert request.data is None
    assert "Content-Type" not in request.headers
    assert request.headers[auth.KEY_HEADER] == KEYS.api_key
    assert request.headers[auth.TIMESTAMP_HEADER] == str(NOW)
    assert verified(request, "GET", "/trade/api/v2/futures/trades", b"")
    assert not verified(request, "GET", "/trade/api/v2/futures/order", b"")  # path is signed


def test_a_post_sends_its_json_body_as_the_signed_bytes_and_no_query() -> None:
    body = {"exchange": "EXCHANGE_2", "symbol": "BTCUSDT"}
    request = client.build(KEYS, "POST", BASE, "/cancel_all", body=body, timestamp=NOW)
    assert request.url == f"{BASE}/trade/api/v2/futures/cancel_all"  # no "?"
    assert request.data == orjson.dumps(body)
    assert request.headers["Content-Type"] == "application/json"
    assert verified(request, "POST", "/trade/api/v2/futures/cancel_all", orjson.dumps(body))
    assert not verified(request, "POST", "/trade/api/v2/futures/cancel_all", b"{}")
    assert KEYS.secret_key not in request.url + "".join(request.headers.values())


def test_without_a_timestamp_the_request_is_stamped_now() -> None:
    before = time.time_ns() // 1_000_000
    request = client.build(KEYS, "DELETE", BASE, "/order", {"order_id": "1"})
    assert before <= int(request.headers[auth.TIMESTAMP_HEADER]) <= time.time_ns() // 1_000_000
    assert verified(request, "DELETE", "/trade/api/v2/futures/order", b"")


@pytest.mark.parametrize(
    ("name", "status", "kind", "code", "retry_after_ms"),
    [
        ("error_reply_rate_limited.json", 429, TransientError, "RATE_LIMITED", 42_000),
        ("error_reply_order_not_found.json", 404, BusinessError, "ORDER_NOT_FOUND", None),
        ("error_reply_invalid_signature.json", 401, BusinessError, "INVALID_SIGNATURE", None),
    ],
)
def test_error_replies_are_classified_by_the_venue_rule(
    name: str, status: int, kind: type[Exception], code: str, retry_after_ms: int | None
) -> None:
    reply = client.Reply(status, recorded(name))
    assert not reply.ok
    error = reply.error("GET /order")
    assert type(error) is kind
    assert error.code == code
    assert error.retry_after_ms == retry_after_ms
    assert should_retry(error) is (kind is TransientError)
    assert str(error).startswith(f"{code}: GET /order: HTTP {status} {code} ")


def test_a_reply_that_is_not_json_is_classified_by_its_status() -> None:
    assert type(client.Reply(503, b"<html>").error()) is TransientError
    assert type(client.Reply(400, b"").error()) is BusinessError
    assert client.Reply(200, b"").json() is None


def test_a_success_reply_is_ok_and_parses() -> None:
    reply = client.Reply(200, recorded("cancel_all_response.json"))
    assert reply.ok
    assert isinstance(reply.json(), dict)


async def test_request_sends_what_build_signed_and_keeps_the_reply_bytes() -> None:
    seen: dict[str, Any] = {}
    answer = recorded("error_reply_order_not_found.json")

    async def handler(request: web.Request) -> web.Response:
        seen["method"], seen["path"] = request.method, request.path
        seen["query"], seen["body"] = dict(request.query), await request.read()
        seen["headers"] = dict(request.headers)
        return web.Response(status=404, body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        base = str(server.make_url("")).rstrip("/")
        params = {"exchange": "EXCHANGE_2", "order_id": "9"}
        timeout = aiohttp.ClientTimeout(total=5)
        reply = await client.request(
            http, KEYS, "DELETE", base, "/order", params, timestamp=NOW, timeout=timeout
        )
    assert (seen["method"], seen["path"]) == ("DELETE", "/trade/api/v2/futures/order")
    assert seen["query"] == {"exchange": "EXCHANGE_2", "order_id": "9"}
    assert seen["body"] == b""
    assert auth.verify(KEYS.secret_key, seen["headers"][auth.SIGNATURE_HEADER], str(NOW),
                       "DELETE", seen["path"], seen["query"], b"")  # fmt: skip
    assert (reply.status, reply.raw) == (404, answer)
    assert type(reply.error()) is BusinessError
