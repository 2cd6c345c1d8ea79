"""SSI FastConnect's error classification (FACTS.md §4.3), one rule for ingest and cancels.

A reply is `{"status": 200 | <code>, "message", "data"}`; the HTTP status is mostly 200 and
the reply's own `status` says what happened. 429 ("API calls quota exceeded!") and 5xx are
transient; a refused AccessToken, an unknown order or a bad signature are refusals.
"""

from __future__ import annotations

from typing import Any

from pipeline.venues.errors import VenueError, from_http_status, should_retry

__all__ = ["classify", "failed", "should_retry"]


def failed(status: int, body: Any) -> bool:
    """True unless the reply is a success (its own `status` 200)."""
    return not (isinstance(body, dict) and body.get("status") in (200, "200"))


def classify(status: int, body: Any, context: str | None = None) -> VenueError:
    """The error a failed reply stands for (`body` parsed, or None when not JSON)."""
    if isinstance(body, dict):
        message = str(body.get("message", ""))
        code = str(body.get("status", status))
    else:
        message, code = f"HTTP {status}", str(status)
    if context:
        message = f"{context}: HTTP {status} {code} {message}".strip()
    effective = 429 if code == "429" else (status if status != 200 else 400)
    return from_http_status(effective, code, message)


def login_refused(status: int, body: Any) -> VenueError:
    """The error of a refused AccessToken call (a 200 without a token counts as 401)."""
    message = body.get("message", "") if isinstance(body, dict) else ""
    return from_http_status(
        status if status != 200 else 401, "login", f"access token refused: {message}"
    )
