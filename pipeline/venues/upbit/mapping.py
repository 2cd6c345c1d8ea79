"""Upbit's vocabulary translated once: channels, states, sides, order types, market codes.

Everything here is a precomputed table so that the hot path pays one dict lookup per field.
The tables are the reference the venue schema document (`schemas/venues/upbit.md`) describes;
a test walks every row.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.domain.events import OrderStatus, Side
from pipeline.errors import NormalizationError

VENUE = "upbit"

# Envelope channels (`RawEnvelope.channel`) this normalizer understands.
CHANNEL_MY_ORDER = "myOrder"
"""WebSocket `myOrder` frames, DEFAULT or SIMPLE format, one object or a JSON_LIST array."""
CHANNEL_REST_ORDER = "rest.order"
"""One REST order object: the reply of `GET /v1/order` or `DELETE /v1/order` (a snapshot)."""
CHANNEL_REST_ORDERS = "rest.orders"
"""An array of REST order objects: `GET /v1/orders/open`, `/v1/orders/closed` (snapshots)."""
CHANNELS: tuple[str, ...] = (CHANNEL_MY_ORDER, CHANNEL_REST_ORDER, CHANNEL_REST_ORDERS)

STATES_EXPIRED: bool = False
"""Whether a remainder the venue released can read "expired" (else `canceled`, same
reason): no, Upbit's states are wait / watch / done / cancel."""

STATUS_MAP: dict[str, OrderStatus] = {
    "wait": OrderStatus.OPEN,
    "watch": OrderStatus.UNTRIGGERED,
    "trade": OrderStatus.PARTIALLY_FILLED,  # FILLED when the trade leaves nothing remaining
    "done": OrderStatus.FILLED,
    "cancel": OrderStatus.CANCELED,  # FILLED for a `price` market buy that executed (dust)
    "prevented": OrderStatus.CANCELED,  # SMP: live while volume remains, else canceled (SMP)
}
"""Upbit `state` -> canonical status, before the refinements documented in the schema."""

TERMINAL_STATES: frozenset[str] = frozenset({"done", "cancel", "prevented"})
#: the `format` values of a myOrder subscription (DEFAULT: long keys; SIMPLE: short keys)
WS_FORMATS: tuple[str, ...] = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")

# Orders within one uuid are ranked by (trades_count, stage) so that a trade and the terminal
# report stamped with the same millisecond still fold in the order Upbit meant.
STATE_STAGE: dict[str, int] = {
    "wait": 0,
    "watch": 0,
    "trade": 1,
    "done": 2,
    "cancel": 2,
    "prevented": 2,
}

SIDE_MAP: dict[str, Side] = {
    "BID": Side.BUY,
    "ASK": Side.SELL,
    "bid": Side.BUY,  # REST spells sides in lower case
    "ask": Side.SELL,
}

ORDER_TYPE_MAP: dict[str, str] = {
    "limit": "limit",
    "price": "market",  # market buy sized in quote currency (quote_qty is set)
    "market": "market",  # market sell sized in base currency
    "best": "best",  # best-price order (IOC/FOK); a bid is sized in quote currency
}

TIME_IN_FORCE_MAP: dict[str, str] = {"ioc": "ioc", "fok": "fok", "post_only": "post_only"}

STREAM_SNAPSHOT: dict[str, bool] = {"REALTIME": False, "SNAPSHOT": True}

# Message types that may share the myOrder connection but carry no order state.
IGNORED_TYPES: frozenset[str] = frozenset({"myAsset"})


@dataclass(frozen=True, slots=True)
class Keys:
    """Where each field lives in one wire format (DEFAULT, SIMPLE or REST)."""

    type: str
    code: str
    uuid: str
    side: str
    order_type: str
    state: str
    trade_uuid: str
    price: str
    avg_price: str
    volume: str
    remaining_volume: str
    executed_volume: str
    executed_funds: str
    trades_count: str
    paid_fee: str
    trade_fee: str
    time_in_force: str
    is_maker: str
    identifier: str
    prevented_volume: str
    smp_type: str
    trade_timestamp: str
    timestamp: str
    stream_type: str


DEFAULT_KEYS = Keys(
    type="type",
    code="code",
    uuid="uuid",
    side="ask_bid",
    order_type="order_type",
    state="state",
    trade_uuid="trade_uuid",
    price="price",
    avg_price="avg_price",
    volume="volume",
    remaining_volume="remaining_volume",
    executed_volume="executed_volume",
    executed_funds="executed_funds",
    trades_count="trades_count",
    paid_fee="paid_fee",
    trade_fee="trade_fee",
    time_in_force="time_in_force",
    is_maker="is_maker",
    identifier="identifier",
    prevented_volume="prevented_volume",
    smp_type="smp_type",
    trade_timestamp="trade_timestamp",
    timestamp="timestamp",
    stream_type="stream_type",
)

SIMPLE_KEYS = Keys(
    type="ty",
    code="cd",
    uuid="uid",
    side="ab",
    order_type="ot",
    state="s",
    trade_uuid="tuid",
    price="p",
    avg_price="ap",
    volume="v",
    remaining_volume="rv",
    executed_volume="ev",
    executed_funds="ef",
    trades_count="tc",
    paid_fee="pf",
    trade_fee="tf",
    time_in_force="tif",
    is_maker="im",
    identifier="id",
    prevented_volume="pv",
    smp_type="smpt",
    trade_timestamp="ttms",
    timestamp="tms",
    stream_type="st",
)

REST_KEYS = Keys(
    type="",  # REST objects carry no type tag
    code="market",
    uuid="uuid",
    side="side",
    order_type="ord_type",
    state="state",
    trade_uuid="",
    price="price",
    avg_price="avg_price",
    volume="volume",
    remaining_volume="remaining_volume",
    executed_volume="executed_volume",
    executed_funds="executed_funds",
    trades_count="trades_count",
    paid_fee="paid_fee",
    trade_fee="",
    time_in_force="time_in_force",
    is_maker="",
    identifier="identifier",
    prevented_volume="prevented_volume",
    smp_type="smp_type",
    trade_timestamp="",
    timestamp="",  # no update time in the REST object: the ingest clock stands in
    stream_type="",
)

MARKET_CACHE: dict[str, tuple[str, str]] = {}
"""`split_market`'s results; hot paths try it before calling."""
_SYMBOL_CACHE_LIMIT = 4096


def split_market(code: str, field: str) -> tuple[str, str]:
    """`KRW-BTC` -> (`BTC/KRW`, `KRW`): the unified symbol and the quote (fee) currency.

    Upbit writes QUOTE-BASE; the canonical form is BASE/QUOTE. Results are cached because a
    desk trades a few hundred markets at most; the cache is bounded against garbage input.
    """
    found = MARKET_CACHE.get(code)
    if found is not None:
        return found
    quote, sep, base = code.partition("-")
    if not sep or not quote or not base or "-" in base or not code.isupper():
        raise NormalizationError(VENUE, field, code, "expected a market code like KRW-BTC")
    result = (f"{base}/{quote}", quote)
    if len(MARKET_CACHE) < _SYMBOL_CACHE_LIMIT:
        MARKET_CACHE[code] = result
    return result


def to_symbol(code: str, field: str = "code") -> str:
    """The unified `BASE/QUOTE` symbol of an Upbit market code."""
    return split_market(code, field)[0]
