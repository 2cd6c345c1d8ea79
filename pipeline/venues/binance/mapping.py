"""Binance Spot's vocabulary translated once: channels, statuses, enums, symbols, quantities.

Precomputed tables keep the hot path at one dict lookup per field. `schemas/venues/binance.md`
documents every row; a test walks them.
"""

from __future__ import annotations

from decimal import Decimal

from pipeline.domain.events import TERMINAL_STATUSES, CancelReason, OrderStatus, Side
from pipeline.errors import NormalizationError

VENUE = "binance"

# Envelope channels (`RawEnvelope.channel`) this normalizer understands.
CHANNEL_USER_DATA = "userData"
"""User data stream events: `{"subscriptionId", "event"}`, a bare event or `{"stream", "data"}`."""
WSAPI_PREFIX = "wsapi."
"""WebSocket API responses travel on `wsapi.<method>`, the method of the request answered."""
CHANNEL_ORDER_PLACE = "wsapi.order.place"
CHANNEL_ORDER_TEST = "wsapi.order.test"
CHANNEL_ORDER_STATUS = "wsapi.order.status"
CHANNEL_ORDER_CANCEL = "wsapi.order.cancel"
CHANNEL_ORDER_CANCEL_REPLACE = "wsapi.order.cancelReplace"
CHANNEL_ORDER_AMEND = "wsapi.order.amend.keepPriority"
CHANNEL_OPEN_ORDERS_STATUS = "wsapi.openOrders.status"
CHANNEL_OPEN_ORDERS_CANCEL_ALL = "wsapi.openOrders.cancelAll"
CHANNEL_MY_TRADES = "wsapi.myTrades"
CHANNEL_ORDER_LIST_PLACE = "wsapi.orderList.place"
"""Order lists (OCO / OTO / OTOCO / OPO / OPOCO; `wsapi.orderList.place.<kind>` for each) and
`orderList.cancel`: the reply's `orderReports` are the legs' states, as on `order.cancel`."""
CHANNEL_ORDER_LIST_PLACE_OCO = "wsapi.orderList.place.oco"
CHANNEL_ORDER_LIST_PLACE_OTO = "wsapi.orderList.place.oto"
CHANNEL_ORDER_LIST_PLACE_OTOCO = "wsapi.orderList.place.otoco"
CHANNEL_ORDER_LIST_PLACE_OPO = "wsapi.orderList.place.opo"
CHANNEL_ORDER_LIST_PLACE_OPOCO = "wsapi.orderList.place.opoco"
CHANNEL_ORDER_LIST_CANCEL = "wsapi.orderList.cancel"
CHANNEL_ORDER_LIST_STATUS = "wsapi.orderList.status"
"""`orderList.status` names the legs (`orders`) but states none of their quantities: nothing."""
CHANNEL_SOR_ORDER_PLACE = "wsapi.sor.order.place"
"""Smart-order-routing orders: an array of order replies whose `fills` carry `tradeId` -1 and
an `allocId` (the fill id is then `alloc:<allocId>`, as on the user stream's `a`)."""
CHANNEL_MY_ALLOCATIONS = "wsapi.myAllocations"
"""SOR allocations of an account (`myAllocations`): fill-bearing events like `myTrades`."""
CHANNEL_MY_PREVENTED_MATCHES = "wsapi.myPreventedMatches"
"""Self-trade prevention records: validated, no event (the prevented quantity of each order
reaches the books on its own executionReport, `A` / `EXPIRED_IN_MATCH`)."""
CHANNELS: tuple[str, ...] = (
    CHANNEL_USER_DATA,
    CHANNEL_ORDER_PLACE,
    CHANNEL_ORDER_TEST,
    CHANNEL_ORDER_STATUS,
    CHANNEL_ORDER_CANCEL,
    CHANNEL_ORDER_CANCEL_REPLACE,
    CHANNEL_ORDER_AMEND,
    CHANNEL_OPEN_ORDERS_STATUS,
    CHANNEL_OPEN_ORDERS_CANCEL_ALL,
    CHANNEL_MY_TRADES,
    CHANNEL_ORDER_LIST_PLACE,
    CHANNEL_ORDER_LIST_PLACE_OCO,
    CHANNEL_ORDER_LIST_PLACE_OTO,
    CHANNEL_ORDER_LIST_PLACE_OTOCO,
    CHANNEL_ORDER_LIST_PLACE_OPO,
    CHANNEL_ORDER_LIST_PLACE_OPOCO,
    CHANNEL_ORDER_LIST_CANCEL,
    CHANNEL_ORDER_LIST_STATUS,
    CHANNEL_SOR_ORDER_PLACE,
    CHANNEL_MY_ALLOCATIONS,
    CHANNEL_MY_PREVENTED_MATCHES,
)

STATES_EXPIRED: bool = True
"""Whether a remainder the venue released can read "expired" (else `canceled`, same
reason): yes, Binance states `EXPIRED`."""

STATUS_MAP: dict[str, OrderStatus] = {
    "NEW": OrderStatus.OPEN,  # UNTRIGGERED for a stop order not yet working
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,  # cancel_reason user
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,  # documented as unused
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,  # cancel_reason from `eR`, or the order type / TIF
    "EXPIRED_IN_MATCH": OrderStatus.CANCELED,  # cancel_reason self_trade_prevention
    "PENDING_NEW": OrderStatus.UNTRIGGERED,  # pending leg of an OTO/OPO list
}
"""Binance order status (`X`, `status`) -> canonical status."""

CLOSED_STATUSES: frozenset[str] = frozenset(
    {"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"}
)
"""Binance statuses after which an order never changes again (not live any more)."""

EXECUTION_TYPES: dict[str, str] = {
    name: name
    for name in (
        "NEW",
        "CANCELED",
        "REPLACED",
        "REJECTED",
        "TRADE",
        "EXPIRED",
        "TRADE_PREVENTION",
    )
}
"""Binance execution types (`x`); only TRADE changes how the report is read (it has a fill)."""

SIDE_MAP: dict[str, Side] = {"BUY": Side.BUY, "SELL": Side.SELL}

ORDER_TYPE_MAP: dict[str, str] = {
    "LIMIT": "limit",
    "MARKET": "market",
    "STOP_LOSS": "stop_loss",
    "STOP_LOSS_LIMIT": "stop_loss_limit",
    "TAKE_PROFIT": "take_profit",
    "TAKE_PROFIT_LIMIT": "take_profit_limit",
    "LIMIT_MAKER": "limit_maker",
}
STOP_TYPES: frozenset[str] = frozenset(
    {"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
)
TIME_IN_FORCE_MAP: dict[str, str] = {"GTC": "gtc", "IOC": "ioc", "FOK": "fok"}

EXPIRY_REASON_MAP: dict[str, CancelReason] = {
    "UNFILLED_IOC_QUANTITY_EXPIRED": CancelReason.UNFILLED_REMAINDER,
    "UNFILLED_FOK_ORDER_EXPIRED": CancelReason.UNFILLED_REMAINDER,
    "INSUFFICIENT_LIQUIDITY": CancelReason.UNFILLED_REMAINDER,
    "EXCHANGE_CANCELED": CancelReason.EXCHANGE,
    "EXECUTION_RULE_PRICE_RANGE_EXCEEDED": CancelReason.EXCHANGE,
    "REJECTED": CancelReason.EXCHANGE,
    "OCO_TRIGGER": CancelReason.EXCHANGE,
    "OTO_PHASE_ONE_EXPIRED": CancelReason.EXCHANGE,
}
"""`eR` (expiry reason, 2026-03) -> cancel reason of an EXPIRED order."""

# User-stream events that carry no order state: acknowledged with no event, not an error.
IGNORED_EVENTS: frozenset[str] = frozenset(
    {
        "outboundAccountPosition",
        "balanceUpdate",
        "listStatus",
        "eventStreamTerminated",
        "externalLockUpdate",
        "listenKeyExpired",
        "serverShutdown",
    }
)

QUOTE_ASSETS: tuple[str, ...] = tuple(
    sorted(
        (
            "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "USDP", "USDS", "DAI", "AEUR", "EURI",
            "BTC", "ETH", "BNB", "XRP", "TRX", "DOGE",
            "TRY", "EUR", "GBP", "AUD", "BRL", "JPY", "RUB", "UAH", "ZAR", "NGN", "PLN",
            "RON", "ARS", "MXN", "COP", "CZK", "IDR", "BIDR", "IDRT",
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip
"""Known quote assets, longest first, so `BTCFDUSD` splits at FDUSD and `BTCBIDR` at BIDR."""

SYMBOL_CACHE: dict[str, str] = {}
"""`to_symbol`'s results; hot paths try it before calling."""
_SYMBOL_CACHE_LIMIT = 4096
ZERO = Decimal(0)


def to_symbol(venue_symbol: str, field: str = "s") -> str:
    """`BTCUSDT` -> `BTC/USDT` by the longest known quote-asset suffix (cached).

    Binance symbols carry no separator, so the split needs a table of quote assets; an
    unknown quote raises rather than guessing, naming the symbol.
    """
    found = SYMBOL_CACHE.get(venue_symbol)
    if found is not None:
        return found
    for quote in QUOTE_ASSETS:
        if venue_symbol.endswith(quote) and len(venue_symbol) > len(quote):
            result = f"{venue_symbol[: -len(quote)]}/{quote}"
            if len(SYMBOL_CACHE) < _SYMBOL_CACHE_LIMIT:
                SYMBOL_CACHE[venue_symbol] = result
            return result
    raise NormalizationError(VENUE, field, venue_symbol, "symbol has no known quote asset")


def order_type_of(label: str) -> str:
    """Canonical lower-case order type; a type we do not list passes through lower-cased."""
    return ORDER_TYPE_MAP.get(label) or label.lower()


def time_in_force_of(label: str | None) -> str | None:
    if label is None:
        return None
    return TIME_IN_FORCE_MAP.get(label) or label.lower()


def cancel_reason_of(
    label: str, order_type: str, tif: str | None, expiry_reason: str | None
) -> CancelReason | None:
    """Why a canceled/expired order ended, from its status and what else the venue said."""
    if label == "CANCELED":
        return CancelReason.USER
    if label == "EXPIRED_IN_MATCH":
        return CancelReason.SELF_TRADE_PREVENTION
    if label == "EXPIRED":
        if expiry_reason is not None and expiry_reason in EXPIRY_REASON_MAP:
            return EXPIRY_REASON_MAP[expiry_reason]
        if tif in ("IOC", "FOK") or order_type == "MARKET":
            return CancelReason.UNFILLED_REMAINDER
    return None


def settle(
    status: OrderStatus,
    qty: Decimal | None,
    filled: Decimal,
    prevented: Decimal | None,
    field: str,
) -> tuple[Decimal | None, Decimal | None]:
    """(qty, canceled_qty) such that filled + canceled + remaining = qty.

    Terminal: nothing remains, so canceled = qty - filled (an expired IOC keeps its fills).
    Open: canceled is what self-trade prevention removed (`A` / `preventedQuantity`), as in
    Binance's own `q - z - A` = quantity still available. A quote-sized market order
    (`q` = 0, `Q` > 0) has no base quantity until it ends; then qty = filled.
    """
    if filled < 0:
        raise NormalizationError(VENUE, field, str(filled), "must not be negative")
    if qty is None:
        return (filled, ZERO) if status in TERMINAL_STATUSES else (None, None)
    if filled > qty:
        raise NormalizationError(VENUE, field, str(filled), "exceeds the order quantity")
    if status in TERMINAL_STATUSES:
        return qty, qty - filled
    return qty, prevented or ZERO


def allocation_trade_id(trade_id: str, allocation: object) -> str:
    """The fill id of a trade: the venue's trade id, or `alloc:<id>` for an SOR allocation
    (`tradeId`/`t` -1 with an allocation id), so the reply and the stream name it alike."""
    if trade_id == "-1" and type(allocation) is int and allocation >= 0:
        return f"alloc:{allocation}"
    return trade_id
