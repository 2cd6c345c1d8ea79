"""`SsiNormalizer`: dispatch one raw envelope by channel to the order-report parsers.

Channels are documented in `mapping.py` and `schemas/venues/ssi.md`. The account of every
event is the SSI account number the payload names (`account`): one FastConnect consumer
streams the events of all its accounts (stock and derivatives) on one connection. The
envelope's account is used only when the payload names none.

REST replies with a status other than 200 are venue errors and raise (a dead letter naming
the message). `lastErrorEvent` inside auditOrderBook items describes the last *failed request*
on a still-live order (its `orderStatus` is RJ while the order is QU) and is not applied.
"""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.domain.events import OrderEvent
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
    check_events,
    expect_list,
    expect_object,
    fast_opt_text,
    field,
    opt_integer,
)
from pipeline.venues.ssi.mapping import (
    CHANNEL_AUDIT_ORDER_BOOK,
    CHANNEL_ORDER_BOOK,
    CHANNEL_ORDER_HISTORY,
    CHANNEL_STREAM,
    CHANNELS,
    VENUE,
)
from pipeline.venues.ssi.orders import error_events, match_event, order_event

IGNORED_STREAM_TYPES: frozenset[str] = frozenset({"clientPortfolioEvent"})
"""Stream messages with no order state (positions are computed from our own fills)."""


class SsiNormalizer:
    """Pure translation of SSI FastConnect v2 order books and stream messages."""

    venue = VENUE

    def normalize(self, envelope: RawEnvelope) -> list[OrderEvent]:
        """The events of `envelope`, their identifiers and quantities checked at the edge."""
        return check_events(VENUE, self.translate(envelope))

    def translate(self, envelope: RawEnvelope) -> list[OrderEvent]:
        channel = envelope.channel
        if channel == CHANNEL_STREAM:
            return _stream(envelope)
        if channel in (CHANNEL_ORDER_BOOK, CHANNEL_AUDIT_ORDER_BOOK):
            return _order_book(envelope, "orders")
        if channel == CHANNEL_ORDER_HISTORY:
            return _order_book(envelope, "orderHistories")
        raise NormalizationError(
            VENUE, "channel", channel, f"unknown channel; expected one of {', '.join(CHANNELS)}"
        )


def _stream(envelope: RawEnvelope) -> list[OrderEvent]:
    message = expect_object(VENUE, envelope.payload, "payload")
    kind = field(VENUE, message, "type")
    data = field(VENUE, message, "data")
    if isinstance(data, str | bytes):  # some SignalR clients hand over `data` still encoded
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise NormalizationError(VENUE, "data", data, "expected a JSON object") from exc
    data = expect_object(VENUE, data, "data")
    account = fast_opt_text(VENUE, data, "account", "data.") or envelope.account
    if kind == "orderEvent":
        notify = opt_integer(VENUE, data, "notifyID", "data.")
        return [order_event(data, envelope, "data.", account, notify)]
    if kind == "orderMatchEvent":
        return [match_event(data, envelope, account)]
    if kind == "orderError":
        return error_events(data, envelope, account)
    if type(kind) is str and kind in IGNORED_STREAM_TYPES:
        return []
    raise NormalizationError(
        VENUE, "type", kind, "expected orderEvent, orderMatchEvent, orderError or "
        "clientPortfolioEvent"
    )  # fmt: skip


def _order_book(envelope: RawEnvelope, name: str) -> list[OrderEvent]:
    """An order book (`orders`) or order history (`orderHistories`) reply: one snapshot event
    per order, fills implied from its cumulative quantities."""
    reply = expect_object(VENUE, envelope.payload, "payload")
    status = reply.get("status")
    if status is not None and status not in (200, "200"):
        raise NormalizationError(
            VENUE, "status", status, f"venue error reply: {reply.get('message')!s}"
        )
    data = expect_object(VENUE, field(VENUE, reply, "data"), "data")
    account = fast_opt_text(VENUE, data, "account", "data.") or envelope.account
    orders: list[Any] = expect_list(VENUE, field(VENUE, data, name, "data."), f"data.{name}")
    return [
        order_event(
            expect_object(VENUE, item, f"data.{name}[{i}]"),
            envelope,
            f"data.{name}[{i}].",
            account,
            None,
        )
        for i, item in enumerate(orders)
    ]
