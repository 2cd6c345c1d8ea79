"""The raw envelope: how every venue message travels on `raw.<venue>` (DESIGN.md §3).

Value: orjson of `{"venue", "account", "channel", "received_at", "payload"}` where `payload`
is the venue's message exactly as received. Key: `venue|account|symbol` with the symbol as the
venue spells it, so one order's events and one position's fills share a partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from pipeline.errors import EnvelopeError

VENUES: tuple[str, ...] = ("upbit", "binance", "coinone", "ssi", "futures_gateway")
ENVELOPE_FIELDS: tuple[str, ...] = ("venue", "account", "channel", "received_at", "payload")


@dataclass(slots=True)
class RawEnvelope:
    """One venue message as received, with where and when it came from."""

    venue: str
    account: str
    channel: str
    received_at: int
    payload: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "account": self.account,
            "channel": self.channel,
            "received_at": self.received_at,
            "payload": self.payload,
        }

    def encode(self) -> bytes:
        return orjson.dumps(self.to_dict())


def envelope_key(venue: str, account: str, venue_symbol: str) -> bytes:
    """The Kafka key of a raw message: `venue|account|symbol` (symbol as the venue spells it)."""
    return f"{venue}|{account}|{venue_symbol}".encode()


def envelope_from_dict(obj: Any) -> RawEnvelope:
    """Validate a decoded envelope object; raise `EnvelopeError` naming what is wrong."""
    if not isinstance(obj, dict):
        raise EnvelopeError(f"envelope must be a JSON object, got {type(obj).__name__}")
    missing = [name for name in ENVELOPE_FIELDS if name not in obj]
    if missing:
        raise EnvelopeError(f"envelope lacks field(s) {', '.join(missing)}")
    venue, account, channel, received_at = (
        obj["venue"],
        obj["account"],
        obj["channel"],
        obj["received_at"],
    )
    if not isinstance(venue, str) or not venue:
        raise EnvelopeError(f"envelope field 'venue' must be a non-empty string, got {venue!r}")
    if not isinstance(account, str) or not account:
        raise EnvelopeError(f"envelope field 'account' must be a non-empty string, got {account!r}")
    if not isinstance(channel, str):
        raise EnvelopeError(f"envelope field 'channel' must be a string, got {channel!r}")
    if isinstance(received_at, bool) or not isinstance(received_at, int) or received_at < 0:
        raise EnvelopeError(
            f"envelope field 'received_at' must be epoch milliseconds, got {received_at!r}"
        )
    return RawEnvelope(venue, account, channel, received_at, obj["payload"])


def decode_envelope(raw: bytes | str) -> RawEnvelope:
    """Parse and validate one raw envelope; raise `EnvelopeError` on malformed input.

    Fast path: every raw record passes here, so a well-formed envelope is accepted with one
    C-level fetch of its five fields and one `type()` test per field; anything else goes to
    `envelope_from_dict`, which applies the same rules and names what is wrong.
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"envelope is not valid JSON: {exc}") from exc
    try:
        venue, account, channel, received_at, payload = _envelope_fields(obj)
    except (KeyError, TypeError):  # a field is missing, or not a JSON object at all
        return envelope_from_dict(obj)
    if (
        type(venue) is str
        and venue
        and type(account) is str
        and account
        and type(channel) is str
        and type(received_at) is int
        and received_at >= 0
    ):
        return RawEnvelope(venue, account, channel, received_at, payload)
    return envelope_from_dict(obj)


_envelope_fields = itemgetter(*ENVELOPE_FIELDS)  # one C call for the five fields
