"""Canonical events: what every venue's dialect is normalised into.

An `OrderEvent` is one venue report about one order, translated: the order's identity, its
canonical status (with the venue's own label kept beside it), the quantities the venue stated
(cumulative, `None` where the venue did not say), and at most one `Fill` when the report is an
execution. Events are past-tense facts; the order state machine folds them.

Quantities and prices are `Decimal`; times are UTC epoch milliseconds. Instances are treated
as immutable (use `dataclasses.replace`); they are plain slotted dataclasses rather than frozen
ones because construction sits on the hot path (a frozen 25-field dataclass costs ~50% more).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class OrderStatus(StrEnum):
    """Canonical order status (DESIGN.md §3)."""

    UNTRIGGERED = "untriggered"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
CANCELLABLE_STATUSES: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.UNTRIGGERED,
        OrderStatus.OPEN,
        OrderStatus.PARTIALLY_FILLED,
    }
)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the direction a fill moves a position."""
        return 1 if self is Side.BUY else -1


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"
    UNKNOWN = "unknown"


class CancelReason(StrEnum):
    """Why an order ended canceled or expired, when the venue tells us."""

    USER = "user"
    SELF_TRADE_PREVENTION = "self_trade_prevention"
    UNFILLED_REMAINDER = "unfilled_remainder"  # IOC/FOK/market remainder, dust returned
    EXCHANGE = "exchange"


@dataclass(slots=True)
class Fill:
    """One execution (trade) of an order: first-class, keyed by the venue's trade id."""

    venue: str
    account: str
    symbol: str
    venue_symbol: str
    order_id: str
    trade_id: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str | None
    liquidity: Liquidity
    trade_time: int
    received_at: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity of a fill: (venue, account, symbol, trade_id)."""
        return (self.venue, self.account, self.symbol, self.trade_id)

    @property
    def position_key(self) -> tuple[str, str, str]:
        return (self.venue, self.account, self.symbol)


@dataclass(slots=True)
class OrderEvent:
    """One venue report about one order, in canonical terms.

    `event_id` is stable across redeliveries: it is derived from the venue's own identifiers
    (order id, trade id, state, event time, sequence), so the same venue event arriving twice
    (reconnect replay, snapshot overlapping realtime) has the same id.

    Quantity fields are cumulative for the order and `None` when this report does not state
    them; `qty` is the order's (current) quantity in base units. `quote_qty` is set for orders
    sized in quote currency (Upbit `ord_type=price` market buys), whose base `qty` is unknown
    until they finish. `is_snapshot` marks reports that restate state (REST polls, SNAPSHOT
    frames, request replies) rather than announce a change; they may be stale.
    `fills_implied` marks reports from a channel that never carries trade-level fills
    (REST polls of cumulative quantities): the order ledger then derives fills from increases
    in `filled_qty` so that positions still see every execution (see `domain.ledger`).
    """

    event_id: str
    venue: str
    account: str
    order_id: str
    symbol: str
    venue_symbol: str
    side: Side
    order_type: str
    status: OrderStatus
    venue_status: str
    event_time: int
    received_at: int
    qty: Decimal | None = None
    price: Decimal | None = None
    filled_qty: Decimal | None = None
    avg_fill_price: Decimal | None = None
    canceled_qty: Decimal | None = None
    fee: Decimal | None = None
    fee_asset: str | None = None
    quote_qty: Decimal | None = None
    stop_price: Decimal | None = None
    client_order_id: str | None = None
    time_in_force: str | None = None
    cancel_reason: str | None = None
    fill: Fill | None = None
    sequence: int | None = None
    is_snapshot: bool = False
    fills_implied: bool = False

    @property
    def order_key(self) -> tuple[str, str, str]:
        """Identity of an order: (venue, account, order_id)."""
        return (self.venue, self.account, self.order_id)
