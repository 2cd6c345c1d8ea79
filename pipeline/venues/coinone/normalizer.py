"""`CoinoneNormalizer`: dispatch one raw envelope by channel to the report parsers.

Channels are documented in `mapping.py` and `schemas/venues/coinone.md`. REST replies with
`result: "error"` are venue errors, not order state: they raise, so the raw message becomes a
dead letter that names the error code instead of vanishing. MYORDER control frames (PONG,
SUBSCRIBED, CONNECTED) carry no order state and yield nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.domain.events import OrderEvent
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import check_events, expect_list, expect_object, field
from pipeline.venues.coinone.mapping import (
    CHANNEL_ACTIVE_ORDERS,
    CHANNEL_COMPLETED_ORDERS,
    CHANNEL_MYORDER,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_ORDER_DETAIL,
    CHANNELS,
    VENUE,
    split_venue_symbol,
)
from pipeline.venues.coinone.orders import cancel_reply_event, order_object_event, trade_event
from pipeline.venues.coinone.stream import frame_data, myorder_event


class CoinoneNormalizer:
    """Pure translation of Coinone v2.1 REST replies and MYORDER frames into `OrderEvent`s."""

    venue = VENUE

    def normalize(self, envelope: RawEnvelope) -> list[OrderEvent]:
        """The events of `envelope`, their identifiers and quantities checked at the edge."""
        return check_events(VENUE, self.translate(envelope))

    def translate(self, envelope: RawEnvelope) -> list[OrderEvent]:
        kind, sep, suffix = envelope.channel.partition(":")
        handler = _HANDLERS.get(kind)
        if handler is None or (sep and (kind != CHANNEL_ORDER_CANCEL or not suffix)):
            raise NormalizationError(
                VENUE,
                "channel",
                envelope.channel,
                f"unknown channel; expected one of {', '.join(CHANNELS)}",
            )
        return handler(envelope, suffix)


def _myorder(envelope: RawEnvelope, _suffix: str) -> list[OrderEvent]:
    found = frame_data(expect_object(VENUE, envelope.payload, "payload"))
    return [] if found is None else [myorder_event(found[0], envelope, found[1])]


def _order_detail(envelope: RawEnvelope, _suffix: str) -> list[OrderEvent]:
    body = _rest_body(envelope.payload)
    order = expect_object(VENUE, field(VENUE, body, "order"), "order")
    return [order_object_event(order, envelope, "order.", status_required=True)]


def _active_orders(envelope: RawEnvelope, _suffix: str) -> list[OrderEvent]:
    body = _rest_body(envelope.payload)
    items = expect_list(VENUE, field(VENUE, body, "active_orders"), "active_orders")
    return [
        order_object_event(
            expect_object(VENUE, item, f"active_orders[{i}]"),
            envelope,
            f"active_orders[{i}].",
            status_required=False,
        )
        for i, item in enumerate(items)
    ]


def _completed_orders(envelope: RawEnvelope, _suffix: str) -> list[OrderEvent]:
    body = _rest_body(envelope.payload)
    items = expect_list(VENUE, field(VENUE, body, "completed_orders"), "completed_orders")
    return [
        trade_event(
            expect_object(VENUE, item, f"completed_orders[{i}]"),
            envelope,
            f"completed_orders[{i}].",
        )
        for i, item in enumerate(items)
    ]


def _order_cancel(envelope: RawEnvelope, suffix: str) -> list[OrderEvent]:
    body = _rest_body(envelope.payload)
    pair = "-".join(split_venue_symbol(suffix, "channel")) if suffix else ""
    return [cancel_reply_event(body, envelope, pair)]


def _rest_body(payload: Any) -> dict[str, Any]:
    """The reply object, after refusing Coinone's error replies (`result: "error"`)."""
    body = expect_object(VENUE, payload, "payload")
    result = body.get("result")
    if result is not None and result != "success":
        code = body.get("error_code", body.get("errorCode"))
        message = body.get("error_msg", body.get("errorMsg"))
        raise NormalizationError(
            VENUE, "result", result, f"venue error reply: error_code {code}: {message}"
        )
    return body


_HANDLERS: dict[str, Callable[[RawEnvelope, str], list[OrderEvent]]] = {
    CHANNEL_MYORDER: _myorder,
    CHANNEL_ORDER_DETAIL: _order_detail,
    CHANNEL_ACTIVE_ORDERS: _active_orders,
    CHANNEL_COMPLETED_ORDERS: _completed_orders,
    CHANNEL_ORDER_CANCEL: _order_cancel,
}
