"""`UpbitNormalizer`: dispatch one raw envelope by channel to the order-report parser.

Channels (see `mapping.py` and `schemas/venues/upbit.md`):
- `myOrder`: a WebSocket frame as received. DEFAULT and SIMPLE formats are told apart by the
  type tag (`type` vs `ty`); a JSON array (JSON_LIST / SIMPLE_LIST) yields one event per item.
  `{"error": {...}}` frames raise; `myAsset` frames and the `{"status": "UP"}` keep-alive reply
  carry no order state and yield nothing.
- `rest.order` / `rest.orders`: REST order objects, always snapshots (`is_snapshot=True`);
  an object listing `trades` (`GET /v1/order`) first yields one fill-bearing event per trade
  (`orders.rest_trade_events`), then the order's event.
"""

from __future__ import annotations

from typing import Any

from pipeline.domain.events import OrderEvent
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import check_events, expect_object
from pipeline.venues.upbit.mapping import (
    CHANNEL_MY_ORDER,
    CHANNEL_REST_ORDER,
    CHANNEL_REST_ORDERS,
    CHANNELS,
    DEFAULT_KEYS,
    IGNORED_TYPES,
    REST_KEYS,
    SIMPLE_KEYS,
    VENUE,
)
from pipeline.venues.upbit.orders import order_event, rest_trade_events


class UpbitNormalizer:
    """Pure translation of Upbit messages into canonical `OrderEvent`s."""

    venue = VENUE

    def normalize(self, envelope: RawEnvelope) -> list[OrderEvent]:
        """The events of `envelope`, their identifiers and quantities checked at the edge."""
        return check_events(VENUE, self.translate(envelope))

    def translate(self, envelope: RawEnvelope) -> list[OrderEvent]:
        channel = envelope.channel
        payload = envelope.payload
        if channel == CHANNEL_MY_ORDER:
            if isinstance(payload, list):
                events: list[OrderEvent] = []
                for index, item in enumerate(payload):
                    path = f"[{index}]."
                    events.extend(_ws_frame(expect_object(VENUE, item, path[:-1]), envelope, path))
                return events
            if type(payload) is not dict:
                payload = expect_object(VENUE, payload, "payload")
            return _ws_frame(payload, envelope, "")
        if channel == CHANNEL_REST_ORDER:
            return _rest_order(expect_object(VENUE, payload, "payload"), envelope, "")
        if channel == CHANNEL_REST_ORDERS:
            if not isinstance(payload, list):
                raise NormalizationError(VENUE, "payload", payload, "expected a JSON array")
            out: list[OrderEvent] = []
            for i, item in enumerate(payload):
                out += _rest_order(expect_object(VENUE, item, f"[{i}]"), envelope, f"[{i}].")
            return out
        raise NormalizationError(
            VENUE, "channel", channel, f"unknown channel; expected one of {', '.join(CHANNELS)}"
        )


def _ws_frame(obj: dict[str, Any], envelope: RawEnvelope, path: str) -> list[OrderEvent]:
    if "ty" in obj:
        keys = SIMPLE_KEYS
    elif "type" in obj:
        keys = DEFAULT_KEYS
    elif "error" in obj:
        _raise_error_frame(obj, path)
    elif obj.get("status") == "UP":
        return []  # the server's reply to a client PING
    else:
        raise NormalizationError(VENUE, path + "type", None, "required field is missing")
    kind = obj[keys.type]
    if kind != "myOrder":
        if type(kind) is str and kind in IGNORED_TYPES:
            return []
        raise NormalizationError(VENUE, path + keys.type, kind, "expected myOrder")
    return [order_event(obj, keys, envelope, path, False)]  # rest=False


def _rest_order(obj: dict[str, Any], envelope: RawEnvelope, path: str) -> list[OrderEvent]:
    if "error" in obj:
        _raise_error_frame(obj, path)
    order = order_event(obj, REST_KEYS, envelope, path, rest=True)
    if "trades" not in obj:
        return [order]
    return [*rest_trade_events(obj, order, envelope, path), order]


def _raise_error_frame(obj: dict[str, Any], path: str) -> None:
    """Upbit reports failures as `{"error": {"name", "message"}}`: never an order state."""
    error = obj["error"]
    if isinstance(error, dict):
        problem = f"venue error {error.get('name')!s}: {error.get('message')!s}"
    else:
        problem = "venue error frame"
    raise NormalizationError(VENUE, path + "error", error, problem)
