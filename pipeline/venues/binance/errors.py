"""Binance's error classification (FACTS.md §1.5-1.6), one rule for ingest and cancels.

A WebSocket API reply is `{"id", "status", "result" | "error": {"code", "msg", "data"?}}`.
Transient: HTTP-like status 429 (throttled), 418 (IP banned until `retryAfter`), 5xx, and the
codes that mean "not now": -1003 too many requests, -1007 timeout, -1015 too many orders,
-1021 timestamp outside the receive window (clock drift: the next request is stamped anew).
Everything else is the venue's refusal (-2011 unknown order on cancel, -2013 no such order).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pipeline.venues.errors import BusinessError, TransientError, VenueError, should_retry

TRANSIENT_CODES = frozenset({-1003, -1007, -1015, -1021})
NO_SUCH_ORDER = -2013  # order.status: the venue does not know the order (any more)

__all__ = ["NO_SUCH_ORDER", "TRANSIENT_CODES", "classify", "error_code", "should_retry"]


def error_code(reply: Mapping[str, Any]) -> Any:
    """The venue's error code of a reply (None for a success)."""
    error = reply.get("error")
    return error.get("code") if isinstance(error, dict) else None


def classify(reply: Mapping[str, Any], context: str | None = None) -> VenueError:
    """The error a non-200 reply stands for; `context` (e.g. the method) prefixes the text."""
    error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
    assert isinstance(error, dict)
    code, message = error.get("code"), str(error.get("msg", ""))
    if context:
        message = f"{context}: HTTP {reply.get('status')} {code} {message}"
    try:
        status = int(reply.get("status", 400))
    except (TypeError, ValueError):
        status = 400
    if status in (429, 418) or status >= 500 or code in TRANSIENT_CODES:
        data = error.get("data")
        retry = data.get("retryAfter") if isinstance(data, dict) else None
        wait = None
        if isinstance(retry, int | float) and not isinstance(retry, bool):
            wait = max(0, int(retry) - time.time_ns() // 1_000_000)
        return TransientError(str(code), message, wait)
    return BusinessError(str(code), message)
