"""`BinanceNormalizer`: dispatch one raw envelope by channel to its parser.

Channels (constants in `mapping.py`, shapes in `schemas/venues/binance.md`):
- `userData`: user data stream events; `executionReport` becomes an event, the other event
  types (balances, list status, stream termination) yield nothing.
- `wsapi.<method>`: the response to a WebSocket API request of that method, a snapshot;
  `wsapi.myTrades` yields one fill-bearing event per trade, `wsapi.myAllocations` one per SOR
  allocation; `wsapi.orderList.*` replies yield their legs' reports, `wsapi.sor.order.place`
  its orders with their allocations; `wsapi.myPreventedMatches` is validated, no event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.domain.events import OrderEvent
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import check_events
from pipeline.venues.binance import wsapi
from pipeline.venues.binance.mapping import (
    CHANNEL_MY_ALLOCATIONS,
    CHANNEL_MY_PREVENTED_MATCHES,
    CHANNEL_MY_TRADES,
    CHANNEL_OPEN_ORDERS_CANCEL_ALL,
    CHANNEL_OPEN_ORDERS_STATUS,
    CHANNEL_ORDER_AMEND,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_ORDER_CANCEL_REPLACE,
    CHANNEL_ORDER_LIST_CANCEL,
    CHANNEL_ORDER_LIST_PLACE,
    CHANNEL_ORDER_LIST_PLACE_OCO,
    CHANNEL_ORDER_LIST_PLACE_OPO,
    CHANNEL_ORDER_LIST_PLACE_OPOCO,
    CHANNEL_ORDER_LIST_PLACE_OTO,
    CHANNEL_ORDER_LIST_PLACE_OTOCO,
    CHANNEL_ORDER_LIST_STATUS,
    CHANNEL_ORDER_PLACE,
    CHANNEL_ORDER_STATUS,
    CHANNEL_ORDER_TEST,
    CHANNEL_SOR_ORDER_PLACE,
    CHANNEL_USER_DATA,
    CHANNELS,
    VENUE,
)
from pipeline.venues.binance.user_stream import user_stream

Handler = Callable[[Any, RawEnvelope], list[OrderEvent]]

HANDLERS: dict[str, Handler] = {
    CHANNEL_USER_DATA: user_stream,
    CHANNEL_ORDER_PLACE: wsapi.order_reply,
    CHANNEL_ORDER_TEST: wsapi.dry_run_reply,
    CHANNEL_ORDER_STATUS: wsapi.order_reply,
    CHANNEL_ORDER_CANCEL: wsapi.cancel_reply,
    CHANNEL_ORDER_CANCEL_REPLACE: wsapi.cancel_replace_reply,
    CHANNEL_ORDER_AMEND: wsapi.amend_reply,
    CHANNEL_OPEN_ORDERS_STATUS: wsapi.open_orders_reply,
    CHANNEL_OPEN_ORDERS_CANCEL_ALL: wsapi.cancel_all_reply,
    CHANNEL_MY_TRADES: wsapi.my_trades_reply,
    CHANNEL_ORDER_LIST_PLACE: wsapi.order_list_reply,
    CHANNEL_ORDER_LIST_PLACE_OCO: wsapi.order_list_reply,
    CHANNEL_ORDER_LIST_PLACE_OTO: wsapi.order_list_reply,
    CHANNEL_ORDER_LIST_PLACE_OTOCO: wsapi.order_list_reply,
    CHANNEL_ORDER_LIST_PLACE_OPO: wsapi.order_list_reply,
    CHANNEL_ORDER_LIST_PLACE_OPOCO: wsapi.order_list_reply,
    CHANNEL_ORDER_LIST_CANCEL: wsapi.order_list_cancel_reply,
    CHANNEL_ORDER_LIST_STATUS: wsapi.order_list_reply,
    CHANNEL_SOR_ORDER_PLACE: wsapi.sor_order_reply,
    CHANNEL_MY_ALLOCATIONS: wsapi.my_allocations_reply,
    CHANNEL_MY_PREVENTED_MATCHES: wsapi.prevented_matches_reply,
}


class BinanceNormalizer:
    """Pure translation of Binance Spot messages into canonical `OrderEvent`s."""

    venue = VENUE

    def normalize(self, envelope: RawEnvelope) -> list[OrderEvent]:
        """The events of `envelope`, their identifiers and quantities checked at the edge."""
        return check_events(VENUE, self.translate(envelope))

    def translate(self, envelope: RawEnvelope) -> list[OrderEvent]:
        handler = HANDLERS.get(envelope.channel)
        if handler is None:
            raise NormalizationError(
                VENUE,
                "channel",
                envelope.channel,
                f"unknown channel; expected one of {', '.join(CHANNELS)}",
            )
        return handler(envelope.payload, envelope)
