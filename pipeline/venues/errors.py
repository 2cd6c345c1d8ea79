"""How a venue's refusal is classified, shared by ingest and commands: every venue's
`errors` module turns its own reply into one of these.

    VenueError
     ├── TransientError   timeouts, connection failures, throttling (429), 5xx, and the
     │                    venue's own "try again" codes: retried (after `retry_after_ms`)
     └── BusinessError    the venue understood and refused (unknown order, bad parameter,
                          refused credentials): retrying cannot help

Commands retry a transient error and give up on a business error; ingest ends the session on
either and reconnects (a snapshot follows), and logs which it was. One rule for both sides,
so that "the venue was busy" never means two different things.
"""

from __future__ import annotations

from pipeline.errors import PipelineError


class VenueError(PipelineError):
    """A venue request failed; `code` is the venue's own error code (text), never a secret."""

    def __init__(self, code: str | None, message: str, retry_after_ms: int | None = None) -> None:
        self.code = code
        self.message = message[:300]
        self.retry_after_ms = retry_after_ms
        super().__init__(f"{code}: {self.message}" if code else self.message)


class TransientError(VenueError):
    """Worth retrying: the request may not have reached the venue, or was throttled."""


class BusinessError(VenueError):
    """The venue understood and refused; retrying cannot help."""


def transient_status(status: int) -> bool:
    """HTTP statuses every venue means as "not now": throttled (429) or failing on its side
    (5xx). (Binance adds its 418 IP ban, `pipeline.venues.binance.errors`.)"""
    return status == 429 or status >= 500


def from_http_status(
    status: int, code: str | None, message: str, retry_after_ms: int | None = None
) -> VenueError:
    """429 and 5xx are transient; every other refusal is a business error."""
    if transient_status(status):
        return TransientError(code or str(status), message, retry_after_ms)
    return BusinessError(code or str(status), message)


def should_retry(error: BaseException) -> bool:
    """True for the errors worth another attempt (transient ones)."""
    return isinstance(error, TransientError)
