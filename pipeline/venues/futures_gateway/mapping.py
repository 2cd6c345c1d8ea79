"""The futures gateway's vocabulary (seed 002): channels, statuses, sides, types, symbols.

The seed specifies only `POST /trade/api/v2/futures/cancel_all`; the order status and trade
payloads are our design, documented in `schemas/venues/futures_gateway.md`, and the simulator
serves exactly that. Every table here is a row of that document; a test walks each row.
"""

from __future__ import annotations

from pipeline.domain.events import Liquidity, OrderStatus, Side
from pipeline.errors import NormalizationError

VENUE = "futures_gateway"

# Envelope channels (`RawEnvelope.channel`) this normalizer understands.
CHANNEL_ORDER_STATUS = "rest.order_status"
"""Reply of `GET /trade/api/v2/futures/order?exchange=&order_id=`: `{data: {order}}`."""
CHANNEL_OPEN_ORDERS = "rest.open_orders"
"""Reply of `GET /trade/api/v2/futures/open_orders?exchange=[&symbol=]`:
`{data: {orders: [order]}}`."""
CHANNEL_TRADES = "rest.trades"
"""Reply of `GET /trade/api/v2/futures/trades?exchange=&start_time=[&symbol=]`:
`{data: {trades: [trade]}}`, one real fill per trade."""
CHANNEL_CANCEL_ALL = "rest.cancel_all"
"""Reply of `POST /trade/api/v2/futures/cancel_all`: `{data: {orders_ids: [uuid]}}`. An
acknowledgement only (no symbol, no side): it yields no event; each order's
CANCELLATION_RAISED -> CANCELLED is observed by polling `rest.order_status`."""
CHANNELS: tuple[str, ...] = (
    CHANNEL_ORDER_STATUS,
    CHANNEL_OPEN_ORDERS,
    CHANNEL_TRADES,
    CHANNEL_CANCEL_ALL,
)

STATES_EXPIRED: bool = True
"""Whether a remainder the venue released can read "expired" (else `canceled`, same
reason): yes, the gateway states `EXPIRED`."""

STATUS_MAP: dict[str, OrderStatus] = {
    "NEW": OrderStatus.OPEN,  # untriggered for TP/SL types
    "OPEN": OrderStatus.OPEN,  # untriggered for TP/SL types
    "TRIGGERED": OrderStatus.OPEN,  # a TP/SL whose trigger fired; its market order works
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELLATION_RAISED": OrderStatus.PENDING_CANCEL,
    "CANCELLED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
}
"""Gateway `status` -> canonical status, before the refinements in `orders.py`."""

WAITING_STATUSES: frozenset[str] = frozenset({"NEW", "OPEN"})
#: statuses of an order still open at the gateway (it may change again)
OPEN_STATUSES: frozenset[str] = frozenset(
    {"NEW", "OPEN", "TRIGGERED", "PARTIALLY_FILLED", "CANCELLATION_RAISED"}
)
"""Statuses in which a conditional (TP/SL) order has not been triggered yet."""

SIDE_MAP: dict[str, Side] = {"BUY": Side.BUY, "SELL": Side.SELL}

LIQUIDITY_MAP: dict[bool, Liquidity] = {True: Liquidity.MAKER, False: Liquidity.TAKER}
"""Trade `is_maker` -> the fill's liquidity."""

ORDER_TYPE_MAP: dict[str, str] = {
    "LIMIT": "limit",
    "MARKET": "market",
    "TAKE_PROFIT_MARKET": "take_profit_market",
    "STOP_MARKET": "stop_market",
}
CONDITIONAL_TYPES: frozenset[str] = frozenset({"TAKE_PROFIT_MARKET", "STOP_MARKET"})

TIME_IN_FORCE_MAP: dict[str, str] = {"GTC": "gtc", "IOC": "ioc", "FOK": "fok", "GTX": "post_only"}

SETTLE_QUOTES: tuple[str, ...] = ("FDUSD", "USDT", "USDC", "BUSD")
"""Quote (= settlement) currencies of the linear perpetuals the gateway trades."""

_SYMBOLS: dict[str, str] = {}
_SYMBOL_CACHE_LIMIT = 4096


def to_symbol(venue_symbol: str, field: str) -> str:
    """`BTCUSDT` (a USDT-margined perpetual) -> `BTC/USDT:USDT`.

    CCXT's unified swap notation: `BASE/QUOTE:SETTLE`. The settle suffix keeps a perpetual
    position apart from a spot holding of the same pair in cross-venue analyst views (a
    short BTC/USDT perp is not negative spot BTC).
    """
    found = _SYMBOLS.get(venue_symbol)
    if found is not None:
        return found
    if venue_symbol.isalnum() and venue_symbol.isupper():
        for quote in SETTLE_QUOTES:
            base = venue_symbol[: -len(quote)]
            if venue_symbol.endswith(quote) and base:
                symbol = f"{base}/{quote}:{quote}"
                if len(_SYMBOLS) < _SYMBOL_CACHE_LIMIT:
                    _SYMBOLS[venue_symbol] = symbol
                return symbol
    raise NormalizationError(
        VENUE, field, venue_symbol, f"expected a perpetual like BTCUSDT (quote {SETTLE_QUOTES})"
    )
