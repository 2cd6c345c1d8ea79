"""One error classifier per venue (`pipeline.venues.<venue>.errors`), shared by ingest and
cancels: throttling and venue failures are transient (retried, after the venue's wait),
refusals are business errors (never retried). Replies as the venues document them."""

from __future__ import annotations

import time

import orjson
import pytest

from pipeline.venues.binance import errors as binance
from pipeline.venues.coinone import errors as coinone
from pipeline.venues.errors import BusinessError, TransientError, should_retry
from pipeline.venues.futures_gateway import errors as gateway
from pipeline.venues.ssi import errors as ssi
from pipeline.venues.upbit import errors as upbit


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (400, -2011, False),  # Unknown order sent (order.cancel)
        (400, -2013, False),  # Order does not exist (order.status)
        (400, -1021, True),  # timestamp outside recvWindow: the next request is stamped anew
        (429, -1003, True),  # too many requests
        (418, -1003, True),  # IP banned until retryAfter
        (503, -1007, True),  # timeout waiting for the backend
        (400, -1015, True),  # too many new orders
    ],
)
def test_binance_classifies_by_status_and_code(status: int, code: int, transient: bool) -> None:
    reply = {"id": "1", "status": status, "error": {"code": code, "msg": "m"}}
    error = binance.classify(reply)
    assert isinstance(error, TransientError if transient else BusinessError)
    assert should_retry(error) is transient
    assert error.code == str(code)


def test_binance_retry_after_becomes_the_wait() -> None:
    until = time.time_ns() // 1_000_000 + 5000
    reply = {"id": "1", "status": 418, "error": {"code": -1003, "msg": "banned",
                                                 "data": {"retryAfter": until}}}  # fmt: skip
    error = binance.classify(reply, "order.cancel")
    assert error.retry_after_ms is not None
    assert 4000 <= error.retry_after_ms <= 5000
    assert error.message.startswith("order.cancel: HTTP 418 -1003")
    assert binance.error_code(reply) == -1003
    assert binance.error_code({"id": "1", "status": 200, "result": {}}) is None


def test_upbit_429_waits_the_window_and_refusals_are_business() -> None:
    throttled = upbit.classify_raw(429, b'{"error":{"name":"too_many_requests","message":"x"}}')
    assert isinstance(throttled, TransientError)
    assert throttled.retry_after_ms == upbit.RATE_WINDOW_MS
    missing = upbit.classify(404, {"error": {"name": "order_not_found", "message": "gone"}})
    assert isinstance(missing, BusinessError)
    assert missing.code == "order_not_found"
    assert isinstance(upbit.classify_raw(502, b"<html>bad gateway</html>"), TransientError)
    context = upbit.classify(401, {"error": {"name": "nonce_used", "message": "m"}}, "GET /o")
    assert context.message == "GET /o: HTTP 401 nonce_used m"


def test_coinone_error_code_4_is_throttling_even_with_http_200() -> None:
    blocked = {"result": "error", "error_code": "4", "error_msg": "Blocked user access"}
    assert coinone.failed(200, blocked)
    assert isinstance(coinone.classify(200, blocked), TransientError)
    unknown = {"result": "error", "error_code": "104", "error_msg": "Order id is not exist"}
    error = coinone.classify(200, unknown, "POST /v2.1/order/cancel")
    assert isinstance(error, BusinessError)
    assert error.code == "104"
    assert "POST /v2.1/order/cancel" in error.message
    assert not coinone.failed(200, {"result": "success", "error_code": "0"})
    assert isinstance(coinone.classify(503, None), TransientError)


def test_ssi_quota_exceeded_is_transient_and_a_refused_login_is_business() -> None:
    quota = {"status": 429, "message": "API calls quota exceeded! maximum admitted 20 per 1s."}
    assert ssi.failed(200, quota)
    assert isinstance(ssi.classify(200, quota), TransientError)
    refused = ssi.classify(200, {"status": 400, "message": "Order not found"})
    assert isinstance(refused, BusinessError)
    assert not ssi.failed(200, {"status": 200, "data": {}})
    login = ssi.login_refused(200, {"status": 400, "message": "Invalid consumerID"})
    assert isinstance(login, BusinessError)
    assert login.code == "login"
    assert isinstance(ssi.login_refused(503, None), TransientError)


def test_gateway_retry_after_seconds_in_the_message_become_the_wait() -> None:
    raw = orjson.dumps(
        {"error": {"code": "RATE_LIMITED", "message": "10 per 60 s; retry after 42 s"}}
    )
    error = gateway.classify_raw(429, raw, "POST /cancel_all")
    assert isinstance(error, TransientError)
    assert error.retry_after_ms == 42_000
    assert error.code == "RATE_LIMITED"
    missing = gateway.classify(404, {"error": {"code": "ORDER_NOT_FOUND", "message": "m"}})
    assert isinstance(missing, BusinessError)
    assert gateway.error_code(raw) == "RATE_LIMITED"
    assert gateway.error_code(b"not json") == ""
