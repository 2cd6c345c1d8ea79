"""SSI FastConnect Trading v2 vocabulary translated once: channels, statuses, sides, types.

SSI writes order statuses as two-to-four letter codes (`QU`, `FFPC`), in mixed case in its
spec appendix (`Qu`), and its SDKs spell them as long names (`QUEUED`, `PARTIAL_FILLED`,
seed 001). All spellings resolve to one code through `status_code`, then one table maps the
code. Every table is what `schemas/venues/ssi.md` documents; a test walks each row.
"""

from __future__ import annotations

from pipeline.domain.events import OrderStatus, Side
from pipeline.errors import NormalizationError

VENUE = "ssi"
QUOTE = "VND"
"""Every instrument on SSI (HOSE/HNX/UPCOM stocks, VNFE derivatives) is priced in VND."""

# Envelope channels (`RawEnvelope.channel`) this normalizer understands.
CHANNEL_ORDER_BOOK = "rest.orderBook"
"""Reply of `GET api/v2/Trading/orderBook`: `{message, status, data: {account, orders}}`."""
CHANNEL_AUDIT_ORDER_BOOK = "rest.auditOrderBook"
"""Reply of `GET api/v2/Trading/auditOrderBook`: as orderBook, items add `lastErrorEvent`."""
CHANNEL_ORDER_HISTORY = "rest.orderHistory"
"""Reply of `GET api/v2/Trading/orderHistory` (past days' orders, `startDate`/`endDate`):
`{message, status, data: {account, orderHistories}}`, items shaped as orderBook items (the
fields of SSI's SDK contract `OrderHistoryResponse.OrderHistoryItem`)."""
CHANNEL_STREAM = "stream"
"""One SignalR `Broadcast` message: `{type, data}` with type orderEvent, orderMatchEvent,
orderError or clientPortfolioEvent (`data` may arrive as a JSON string)."""
CHANNELS: tuple[str, ...] = (
    CHANNEL_ORDER_BOOK,
    CHANNEL_AUDIT_ORDER_BOOK,
    CHANNEL_ORDER_HISTORY,
    CHANNEL_STREAM,
)

STATES_EXPIRED: bool = False
"""Whether a remainder the venue released can read "expired" (else `canceled`, same
reason): no, SSI has `EX` but reports the released remainder of MP/MAK/MOK orders as
`CL` / `FFPC`."""

STATUS_MAP: dict[str, OrderStatus] = {
    "WA": OrderStatus.OPEN,  # waiting approval (accepted by the broker, cancellable)
    "RS": OrderStatus.OPEN,  # ready to send to the exchange
    "SD": OrderStatus.OPEN,  # sent to the exchange
    "QU": OrderStatus.OPEN,  # queued in the exchange (resting)
    "PF": OrderStatus.PARTIALLY_FILLED,
    "FF": OrderStatus.FILLED,
    "FFPC": OrderStatus.CANCELED,  # part filled, remainder canceled; filled if nothing canceled
    "WM": OrderStatus.OPEN,  # waiting modify: still working
    "WC": OrderStatus.PENDING_CANCEL,
    "CL": OrderStatus.CANCELED,
    "RJ": OrderStatus.REJECTED,
    "EX": OrderStatus.EXPIRED,
    "SOR": OrderStatus.UNTRIGGERED,  # stop order ready (waiting for its trigger)
    "SOS": OrderStatus.OPEN,  # stop order sent (triggered)
    "IAV": OrderStatus.OPEN,  # pre-session order, waits for the session
    "SOI": OrderStatus.UNTRIGGERED,  # pre-session stop order
    "PD": OrderStatus.OPEN,  # pending (v3 SDKs)
}
"""Status code -> canonical status, before the quantity refinements in `orders.py`:
a working code with filledQty > 0 is `partially_filled`."""

STATUS_ALIASES: dict[str, str] = {
    "PENDINGAPPROVAL": "WA",
    "WAITINGAPPROVAL": "WA",
    "READY": "RS",
    "READYTOSENDEXCHANGE": "RS",
    "READYTOSENDEXCH": "RS",
    "SENT": "SD",
    "SENTTOEXCHANGE": "SD",
    "SENTTOEXCH": "SD",
    "QUEUED": "QU",
    "QUEUEINEXCHANGE": "QU",
    "QUEUEINEXCH": "QU",
    "PARTIALFILLED": "PF",
    "PARTIALLYFILLED": "PF",
    "FILLED": "FF",
    "FULLYFILLED": "FF",
    "FULLYFILLEDPARTIALLYCANCELLED": "FFPC",
    "PARTIALFILLEDCANCELLED": "FFPC",
    "PARTIALLYFILLEDCANCELLED": "FFPC",
    "WAITINGMODIFY": "WM",
    "WAITINGCANCEL": "WC",
    "PENDINGCANCEL": "WC",
    "CANCELLED": "CL",
    "CANCELED": "CL",
    "REJECTED": "RJ",
    "EXPIRED": "EX",
    "STOPORDERREADY": "SOR",
    "STOPORDERSENT": "SOS",
    "PRESESSIONORDER": "IAV",
    "PRESESSIONSTOPORDER": "SOI",
    "PENDING": "PD",
}
"""Long names (upper case, `_` and spaces removed) -> status code."""

SIDE_MAP: dict[str, Side] = {"B": Side.BUY, "S": Side.SELL, "BUY": Side.BUY, "SELL": Side.SELL}

ORDER_TYPE_MAP: dict[str, tuple[str, str | None]] = {
    "LO": ("limit", None),
    "MP": ("market", None),  # HOSE market order
    "MTL": ("market_to_limit", None),
    "MOK": ("market", "fok"),  # match or kill
    "MAK": ("market", "ioc"),  # match and kill
    "ATO": ("market_on_open", None),
    "ATC": ("market_on_close", None),
    "PLO": ("post_close_limit", None),
    "GTD": ("limit", "gtd"),
}
"""orderType -> (canonical order_type, time_in_force)."""

UNFILLED_REMAINDER_TYPES: frozenset[str] = frozenset({"MP", "MTL", "MOK", "MAK", "ATO", "ATC"})
"""Order types whose unfilled part the exchange cancels by itself (cancel_reason
`unfilled_remainder`); a canceled `LO`/`PLO`/`GTD` was canceled by the user."""

_SYMBOLS: dict[str, str] = {}
_SYMBOL_CACHE_LIMIT = 8192


def status_code(label: str, field: str) -> str:
    """The status code of any accepted spelling: `QU`, `qu`, `Qu`, `QUEUED`, `Queue in Exch`."""
    if label in STATUS_MAP:
        return label
    key = label.upper()
    if key in STATUS_MAP:
        return key
    key = key.replace("_", "").replace(" ", "")
    code = STATUS_ALIASES.get(key)
    if code is None:
        known = ", ".join(STATUS_MAP)
        raise NormalizationError(VENUE, field, label, f"unknown status; expected one of {known}")
    return code


def to_symbol(instrument: str, field: str) -> str:
    """`HPG` -> `HPG/VND`; derivatives keep their contract code: `VN30F2412` -> `VN30F2412/VND`.

    SSI instruments have no quote currency of their own (everything settles in VND), so the
    unified symbol appends it; `venue_symbol` stays the bare instrumentID.
    """
    found = _SYMBOLS.get(instrument)
    if found is not None:
        return found
    if not instrument.isalnum() or not instrument.isascii():
        raise NormalizationError(VENUE, field, instrument, "expected an instrument code like HPG")
    symbol = f"{instrument.upper()}/{QUOTE}"
    if len(_SYMBOLS) < _SYMBOL_CACHE_LIMIT:
        _SYMBOLS[instrument] = symbol
    return symbol
