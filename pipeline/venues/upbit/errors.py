"""Upbit's error classification (FACTS.md §2.5), one rule for ingest and cancels.

Errors are `{"error": {"name", "message"}}` with an HTTP status: 429 when a request group's
per-second budget is spent (transient: retried after the 1 s window), 5xx transient, and the
rest refusals: 400 `validation_error`..., 401 `jwt_verification`, `nonce_used`,
`invalid_query_payload`, 404 `order_not_found`.
"""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.venues.errors import VenueError, from_http_status, should_retry

RATE_WINDOW_MS = 1000  # Upbit counts per second: a throttled request waits the window out

__all__ = ["classify", "classify_raw", "should_retry"]


def classify(status: int, body: Any, context: str | None = None) -> VenueError:
    """The error of a non-200 reply (`body` parsed, or None); `context` prefixes the text."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    message = error.get("message") or f"HTTP {status}"
    if context:
        message = f"{context}: HTTP {status} {error.get('name') or ''} {message}".strip()
    return from_http_status(
        status,
        error.get("name"),
        str(message),
        retry_after_ms=RATE_WINDOW_MS if status == 429 else None,
    )


def classify_raw(status: int, raw: bytes, context: str | None = None) -> VenueError:
    """The same from the raw reply bytes (never quoted whole)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    return classify(status, body, context)
