"""Coinone's vocabulary translated once: channels, statuses, sides, order types, pairs.

Every table here is what `schemas/venues/coinone.md` documents; a test walks each row. The
hot path pays one dict lookup per enumerated field, and pair spelling is cached per pair.
"""

from __future__ import annotations

from pipeline.domain.events import CancelReason, OrderStatus, Side
from pipeline.errors import NormalizationError

VENUE = "coinone"

# Envelope channels (`RawEnvelope.channel`) this normalizer understands.
CHANNEL_ORDER_DETAIL = "rest.order_detail"
"""Reply of `POST /v2.1/order/detail`: `{result, error_code, order: {...}}` (a snapshot)."""
CHANNEL_ACTIVE_ORDERS = "rest.active_orders"
"""Reply of `POST /v2.1/order/active_orders`: `{..., active_orders: [{...}]}` (snapshots)."""
CHANNEL_COMPLETED_ORDERS = "rest.completed_orders"
"""Reply of `POST /v2.1/order/completed_orders[/all]`: `{..., completed_orders: [trade]}`."""
CHANNEL_ORDER_CANCEL = "rest.order_cancel"
"""Reply of `POST /v2.1/order/cancel`. The reply does not name the pair, so the executor
publishes it on `rest.order_cancel:<TARGET>-<QUOTE>` (the pair it sent), e.g.
`rest.order_cancel:BTC-KRW`; `quote_currency`/`target_currency` in the payload win if present."""
CHANNEL_MYORDER = "MYORDER"
"""A private WebSocket frame of the `MYORDER` channel, in either of its two spellings: the
DEFAULT format (long keys, `{response_type, channel, data: {...}}`, what the venue sends unless
the subscription asks otherwise) or the SHORT one (`{r, c, d: {...}}`, `"format": "SHORT"`)."""
CHANNELS: tuple[str, ...] = (
    CHANNEL_ORDER_DETAIL,
    CHANNEL_ACTIVE_ORDERS,
    CHANNEL_COMPLETED_ORDERS,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_MYORDER,
)

MYORDER_FIELDS: tuple[tuple[str, str], ...] = (
    ("response_type", "r"),
    ("channel", "c"),
    ("data", "d"),
    ("quote_currency", "qc"),
    ("target_currency", "tc"),
    ("order_id", "oi"),
    ("type", "t"),
    ("status", "st"),
    ("side", "s"),
    ("order_price", "op"),
    ("order_qty", "oq"),
    ("order_amount", "oa"),
    ("trade_id", "ti"),
    ("is_maker", "im"),
    ("executed_price", "ep"),
    ("executed_qty", "eq"),
    ("executed_fee", "ef"),
    ("remain_qty", "rq"),
    ("remain_amount", "ra"),
    ("user_order_id", "ui"),
    ("executed_timestamp", "et"),
    ("order_timestamp", "ot"),
    ("timestamp", "ts"),
)
"""MYORDER's one field table, two spellings: (DEFAULT long key, SHORT key), as Coinone's
"내 주문 변동 (MYORDER)" reference lists them (docs.coinone.co.kr/reference/
private-websocket-1-myorder). The short keys double as the attribute names of `MyOrderKeys`."""
MYORDER_FORMATS: tuple[str, ...] = ("DEFAULT", "SHORT")
"""The subscription's `format`: absent or anything but SHORT gives the DEFAULT (long) keys."""

STATES_EXPIRED: bool = False
"""Whether a remainder the venue released can read "expired" (else `canceled`, same
reason): no, Coinone states it as a cancel (`CANCELED_NO_ORDER`, MYORDER `cancel`)."""

STATUS_MAP: dict[str, OrderStatus] = {
    "LIVE": OrderStatus.OPEN,  # partially_filled once executed_qty > 0
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "PARTIALLY_CANCELED": OrderStatus.CANCELED,  # filled part kept; working if remain_qty > 0
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "NOT_TRIGGERED": OrderStatus.UNTRIGGERED,
    "NOT_TRIGGERED_PARTIALLY_CANCELED": OrderStatus.UNTRIGGERED,  # canceled if remain_qty = 0
    "NOT_TRIGGERED_CANCELED": OrderStatus.CANCELED,
    "TRIGGERED": OrderStatus.OPEN,  # the stop fired; the limit order works
    "CANCELED_NO_ORDER": OrderStatus.CANCELED,  # market order: no liquidity left
    "CANCELED_LIMIT_PRICE_EXCEED": OrderStatus.CANCELED,  # market order hit limit_price
    "CANCELED_UNDER_PRODUCT_UNIT": OrderStatus.CANCELED,  # filled when anything executed
}
"""REST order `status` -> canonical status, before the quantity refinements in `orders.py`."""

AUTO_CANCEL_LABELS: frozenset[str] = frozenset(
    {"CANCELED_NO_ORDER", "CANCELED_LIMIT_PRICE_EXCEED", "CANCELED_UNDER_PRODUCT_UNIT"}
)
"""Market-order auto-cancels: only the unfilled part is canceled (cancel_reason
`unfilled_remainder`), and an order whose whole size executed is `filled`."""
PARTIAL_CANCEL_LABELS: frozenset[str] = frozenset(
    {"PARTIALLY_CANCELED", "NOT_TRIGGERED_PARTIALLY_CANCELED"}
)
"""Labels that mean "part of the quantity was canceled": terminal only when nothing remains."""

WS_STATUS_MAP: dict[str, OrderStatus] = {
    "wait": OrderStatus.OPEN,
    "watch": OrderStatus.UNTRIGGERED,
    "not_triggered": OrderStatus.UNTRIGGERED,
    "trade": OrderStatus.PARTIALLY_FILLED,  # a fill; the order may still be open
    "trade_done": OrderStatus.FILLED,  # the last fill
    "cancel": OrderStatus.CANCELED,  # open again if remain_qty > 0 (a partial cancel)
    "cancel_post_only": OrderStatus.CANCELED,  # cancel_reason exchange
}
"""MYORDER `st` (compared in lower case) -> canonical status."""
WS_TRADE_LABELS: frozenset[str] = frozenset({"trade", "trade_done"})
#: REST statuses of an order still working (it may change again)
WORKING_STATUSES: frozenset[str] = frozenset(
    {"LIVE", "PARTIALLY_FILLED", "NOT_TRIGGERED", "TRIGGERED"}
)
#: MYORDER statuses of an order still working
WS_WORKING_STATUSES: frozenset[str] = frozenset({"wait", "watch", "not_triggered", "trade"})
WS_CANCEL_REASONS: dict[str, CancelReason] = {
    "cancel": CancelReason.USER,
    "cancel_post_only": CancelReason.EXCHANGE,
}

SIDE_MAP: dict[str, Side] = {
    "BUY": Side.BUY,  # REST
    "SELL": Side.SELL,
    "BID": Side.BUY,  # MYORDER
    "ASK": Side.SELL,
}

ORDER_TYPE_MAP: dict[str, str] = {
    "LIMIT": "limit",
    "MARKET": "market",
    "STOP_LIMIT": "stop_limit",
}

_PAIRS: dict[tuple[str, str], tuple[str, str]] = {}
_PAIR_CACHE_LIMIT = 4096


def venue_symbol(target: str, quote: str) -> str:
    """Coinone's pair as we spell it: `<TARGET>-<QUOTE>`, e.g. `BTC-KRW`.

    Coinone never writes a pair as one string (every call takes `target_currency` and
    `quote_currency`); this base-first spelling reads like the unified symbol and is what the
    raw-topic key (`coinone|<account>|BTC-KRW`) and the cancel channel suffix use.
    """
    return f"{target.upper()}-{quote.upper()}"


def pair_symbols(target: str, quote: str, field: str) -> tuple[str, str]:
    """(`BTC/KRW`, `BTC-KRW`) for target `BTC`, quote `KRW`: unified and venue symbols."""
    key = (target, quote)
    found = _PAIRS.get(key)
    if found is not None:
        return found
    for value, name in ((target, "target_currency"), (quote, "quote_currency")):
        if not value.isalnum():
            raise NormalizationError(VENUE, field + name, value, "expected a currency code")
    base, quote_up = target.upper(), quote.upper()
    result = (f"{base}/{quote_up}", f"{base}-{quote_up}")
    if len(_PAIRS) < _PAIR_CACHE_LIMIT:
        _PAIRS[key] = result
    return result


def split_venue_symbol(pair: str, field: str) -> tuple[str, str]:
    """`BTC-KRW` -> (`BTC`, `KRW`); the inverse of `venue_symbol`."""
    target, sep, quote = pair.partition("-")
    if not sep or not target.isalnum() or not quote.isalnum():
        raise NormalizationError(VENUE, field, pair, "expected a pair like BTC-KRW")
    return target.upper(), quote.upper()
