"""Coinone's one signed REST call (`pipeline.venues.coinone.client`), shared by ingest and
cancels: what goes on the wire, and how a reply is judged, on recorded error payloads."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.venues.coinone import auth, client
from pipeline.venues.credentials import Credentials
from pipeline.venues.errors import BusinessError, TransientError, should_retry

RESOURCES = Path(__file__).parents[2] / "resources" / "venues" / "coinone"
KEYS = Credentials("AK-coinone-abc", "S3CRET-coinone-0123456789")
NONCE = "5c8b7d6e-1f2a-4b3c-8d9e-0a1b2c3d4e5f"
PAIR = {"quote_currency": "KRW", "target_currency": "BTC"}


def recorded(name: str) -> bytes:
    return (RESOURCES / name).read_bytes().strip()


def test_build_signs_exactly_the_body_it_sends() -> None:
    url, body, headers = client.build(KEYS, "https://api.coinone.co.kr", "/v2.1/order/detail",
                                      {"order_id": "o-1", **PAIR}, NONCE)  # fmt: skip
    assert url == "https://api.coinone.co.kr/v2.1/order/detail"
    # the key and the nonce first, then the parameters in the caller's order
    assert body == orjson.dumps({"access_token": KEYS.api_key, "nonce": NONCE,
                                 "order_id": "o-1", **PAIR})  # fmt: skip
    assert base64.b64decode(headers[auth.PAYLOAD_HEADER]) == body
    assert auth.verify(KEYS.secret_key, headers[auth.PAYLOAD_HEADER],
                       headers[auth.SIGNATURE_HEADER])  # fmt: skip
    assert headers["Content-Type"] == "application/json"
    assert KEYS.secret_key not in body.decode() + "".join(headers.values())


def test_every_request_gets_a_fresh_uuid4_nonce() -> None:
    nonces = [orjson.loads(client.build(KEYS, "", "/p", PAIR)[1])["nonce"] for _ in range(3)]
    assert len(set(nonces)) == 3
    assert all(uuid.UUID(n).version == 4 for n in nonces)


def test_a_success_reply_has_not_failed() -> None:
    raw = recorded("coinone_v2.1_order_cancel_response.json")
    reply = client.Reply(200, raw, client.parse(raw))
    assert not reply.failed
    assert reply.body["result"] == "success"


@pytest.mark.parametrize(
    ("name", "status", "kind", "code"),
    [
        ("error_reply.json", 200, BusinessError, "104"),  # order does not exist
        ("error_reply_price.json", 200, BusinessError, "105"),  # the docs' example
        ("error_reply_rate_limited.json", 200, TransientError, "4"),  # the rate limit
        ("error_reply_rate_limited.json", 429, TransientError, "4"),
    ],
)
def test_error_replies_are_classified_by_the_venue_rule(
    name: str, status: int, kind: type[Exception], code: str
) -> None:
    raw = recorded(name)
    reply = client.Reply(status, raw, client.parse(raw))
    assert reply.failed
    error = reply.error("POST /v2.1/order/detail")
    assert type(error) is kind
    assert error.code == code
    assert should_retry(error) is (kind is TransientError)
    assert str(error).startswith(f"{code}: POST /v2.1/order/detail: error {code} ")


@pytest.mark.parametrize(("status", "kind"), [(502, TransientError), (429, TransientError),
                                              (403, BusinessError)])  # fmt: skip
def test_a_reply_that_is_not_json_is_classified_by_its_status(
    status: int, kind: type[Exception]
) -> None:
    reply = client.Reply(status, b"<html>Bad Gateway</html>", client.parse(b"<html>"))
    assert reply.body is None
    assert reply.failed
    assert type(reply.error()) is kind
    assert client.parse(b"") is None  # an empty body is not JSON either


async def test_post_sends_the_signed_body_and_keeps_the_reply_bytes() -> None:
    seen: dict[str, Any] = {}
    answer = recorded("error_reply.json")

    async def handler(request: web.Request) -> web.Response:
        seen["method"], seen["path"] = request.method, request.path
        seen["body"], seen["headers"] = await request.read(), dict(request.headers)
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        base = str(server.make_url("")).rstrip("/")
        reply = await client.post(http, base, "/v2.1/order/detail", {"order_id": "o-1"}, KEYS,
                                  aiohttp.ClientTimeout(total=5))  # fmt: skip
    assert (seen["method"], seen["path"]) == ("POST", "/v2.1/order/detail")
    body = orjson.loads(seen["body"])
    assert body["access_token"] == KEYS.api_key
    assert body["order_id"] == "o-1"
    assert base64.b64decode(seen["headers"][auth.PAYLOAD_HEADER]) == seen["body"]
    assert auth.verify(KEYS.secret_key, seen["headers"][auth.PAYLOAD_HEADER],
                       seen["headers"][auth.SIGNATURE_HEADER])  # fmt: skip
    assert reply.raw == answer
    assert reply.status == 200
    assert reply.failed
    assert reply.error().code == "104"
