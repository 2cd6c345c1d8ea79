"""Why the engine refused a request. Adapters translate a `RejectCode` into the venue's error.

The engine raises `EngineRejection` before it changes anything, so a refused request
leaves no trace in the books or the event log (like a venue answering with an error).
"""

from __future__ import annotations

from enum import StrEnum

from pipeline.errors import SimulatedVenueError


class RejectCode(StrEnum):
    UNKNOWN_SYMBOL = "unknown_symbol"
    INVALID_QUANTITY = "invalid_quantity"  # not positive, or off the lot grid
    INVALID_PRICE = "invalid_price"  # missing for a limit, or off the tick grid
    INVALID_PARAMETERS = "invalid_parameters"  # an impossible combination
    UNSUPPORTED = "unsupported"  # the venue does not allow this (STP mode, partial cancel)
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    STOP_WOULD_TRIGGER = "stop_would_trigger"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_CLOSED = "order_closed"  # the order exists but is terminal
    AMEND_NOT_REDUCING = "amend_not_reducing"
    AMEND_LIMIT = "amend_limit"


class EngineRejection(SimulatedVenueError):
    """A request the engine refused, with a machine-readable code and a human message."""

    def __init__(self, code: RejectCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")
