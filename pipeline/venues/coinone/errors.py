"""Coinone's error classification (FACTS.md §3.5), one rule for ingest and cancels.

A reply is `{"result": "success" | "error", "error_code", "error_msg"}`, mostly with HTTP 200.
Error code 4 ("Blocked user access", the rate limit) and HTTP 429 are throttling, 5xx the
venue failing: transient. Every other error code (104 order does not exist, 107 parameter,
12 invalid token, 120-133 payload / signature / nonce...) is a refusal.
"""

from __future__ import annotations

from typing import Any

from pipeline.venues.errors import VenueError, from_http_status, should_retry

RATE_LIMITED_CODE = "4"

__all__ = ["RATE_LIMITED_CODE", "classify", "failed", "should_retry"]


def failed(status: int, body: Any) -> bool:
    """True unless the reply is a success (HTTP 200 and `result: success`)."""
    return status != 200 or not isinstance(body, dict) or body.get("result") != "success"


def classify(status: int, body: Any, context: str | None = None) -> VenueError:
    """The error a failed reply stands for (`body` parsed, or None when not JSON)."""
    if not isinstance(body, dict):
        message = f"HTTP {status}" if not context else f"{context}: HTTP {status}"
        return from_http_status(status, None, message)
    code = str(body.get("error_code", status))
    message = str(body.get("error_msg", f"HTTP {status}"))
    if context:
        message = f"{context}: error {code} {message}"
    effective = 429 if code == RATE_LIMITED_CODE else (status if status != 200 else 400)
    return from_http_status(effective, code, message)
