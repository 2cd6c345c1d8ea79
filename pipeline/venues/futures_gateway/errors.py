"""The futures gateway's error classification (`schemas/venues/futures_gateway.md`,
"Errors"), one rule for ingest and cancels.

A failed reply is `{"error": {"code", "message"}}` with its HTTP status. 429 (the budget of
10 `cancel_all` per 60 s, 1200 other requests per 60 s) says "retry after N s" in the message,
which becomes the wait; 5xx is transient; everything else (`ORDER_NOT_FOUND`, `UNAUTHORIZED`,
`INVALID_SIGNATURE`...) is a refusal.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from pipeline.venues.errors import VenueError, from_http_status, should_retry

_RETRY_AFTER = re.compile(r"retry after (\d+) s")

__all__ = ["classify", "classify_raw", "error_code", "should_retry"]


def classify(status: int, body: Any, context: str | None = None) -> VenueError:
    """The error of a non-200 reply (`body` parsed, or None)."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message", f"HTTP {status}"))
    wait = _RETRY_AFTER.search(message)
    code = error.get("code")
    if context:
        message = f"{context}: HTTP {status} {code or ''} {message}".strip()
    return from_http_status(status, code, message, int(wait.group(1)) * 1000 if wait else None)


def classify_raw(status: int, raw: bytes, context: str | None = None) -> VenueError:
    """The same from the raw reply bytes (never quoted whole)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    return classify(status, body, context)


def error_code(raw: bytes) -> str:
    """The gateway's error code of a reply (never its whole text)."""
    try:
        error = orjson.loads(raw).get("error") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return str(error.get("code", "")) if isinstance(error, dict) else ""
