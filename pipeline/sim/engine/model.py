"""The matching engine's vocabulary: instruments, order requests, orders and fills.

Everything here is venue-neutral. A venue protocol adapter translates its wire request into
an `OrderRequest` and renders `Order` snapshots and `Fill`s back into its own payloads; the
engine never knows how Upbit or Binance spell a status.

Quantities and prices are `Decimal` end to end. Statuses use the canonical names of
`pipeline.domain.events.OrderStatus` (`open`, `partially_filled`, ...) so that ground truth
can be compared with what the pipeline computes without a translation table; the engine
never reports `pending_cancel` as a status (a pending cancel is the `cancel_pending` flag:
only some venues show it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class TriggerKind(StrEnum):
    """Conditional orders: which way the last price must move to wake the order up."""

    STOP_LOSS = "stop_loss"  # buy when last >= stop, sell when last <= stop
    TAKE_PROFIT = "take_profit"  # buy when last <= stop, sell when last >= stop


class StpMode(StrEnum):
    """Self-trade prevention, decided by the taker's mode when it meets its own account.

    Upbit `smp_type` cancel_maker / cancel_taker / reduce and Binance EXPIRE_MAKER /
    EXPIRE_TAKER / EXPIRE_BOTH / DECREMENT map onto these.
    """

    NONE = "none"
    CANCEL_MAKER = "cancel_maker"
    CANCEL_TAKER = "cancel_taker"
    CANCEL_BOTH = "cancel_both"
    DECREMENT = "decrement"  # both orders shrink by the overlap and live on


class Status(StrEnum):
    """Engine order status, spelled like the canonical `OrderStatus`."""

    UNTRIGGERED = "untriggered"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in (Status.FILLED, Status.CANCELED, Status.EXPIRED)


class EndReason(StrEnum):
    """Why an order ended canceled or expired (canonical `CancelReason` values)."""

    USER = "user"
    SELF_TRADE_PREVENTION = "self_trade_prevention"
    UNFILLED_REMAINDER = "unfilled_remainder"
    EXCHANGE = "exchange"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable symbol of one venue, with its filters and fee schedule.

    `fee_in_base_on_buy` models Binance charging a buyer's commission in the base asset;
    Upbit charges every fee in the quote currency. Fees are rounded down to `fee_quantum`
    so that every venue encoding (Binance 8-decimal strings, Upbit JSON doubles) can carry
    them exactly, which keeps ground truth and normalized payloads comparable to the unit.
    """

    venue: str
    venue_symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    maker_fee_rate: Decimal = Decimal("0.0005")
    taker_fee_rate: Decimal = Decimal("0.0005")
    fee_in_base_on_buy: bool = False
    fee_quantum: Decimal = Decimal("0.00000001")

    @property
    def symbol(self) -> str:
        """Unified `BASE/QUOTE`, as the normalizers spell it."""
        return f"{self.base}/{self.quote}"

    def fee(self, side: Side, price: Decimal, qty: Decimal, liquidity: Liquidity) -> Decimal:
        rate = self.maker_fee_rate if liquidity is Liquidity.MAKER else self.taker_fee_rate
        base_amount = qty if (side is Side.BUY and self.fee_in_base_on_buy) else price * qty
        return (base_amount * rate).quantize(self.fee_quantum, rounding=ROUND_DOWN)

    def fee_asset(self, side: Side) -> str:
        return self.base if (side is Side.BUY and self.fee_in_base_on_buy) else self.quote

    def on_tick(self, price: Decimal) -> bool:
        return price > 0 and price % self.tick_size == 0

    def on_lot(self, qty: Decimal) -> bool:
        return qty > 0 and qty % self.lot_size == 0

    def lots_for(self, budget: Decimal, price: Decimal) -> Decimal:
        """The largest quantity on the lot grid that `budget` buys at `price`."""
        if price <= 0 or budget <= 0:
            return ZERO
        return (budget / price / self.lot_size).to_integral_value(ROUND_DOWN) * self.lot_size


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a client asks for. `symbol` is the venue's spelling (`KRW-BTC`, `BTCUSDT`).

    Exactly one of `qty` (base units) and `quote_qty` (a market buy for an amount of quote
    currency: Upbit `ord_type=price`, Binance `quoteOrderQty`) is set.
    """

    account: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal | None = None
    price: Decimal | None = None
    quote_qty: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    trigger: TriggerKind | None = None
    stop_price: Decimal | None = None
    stp: StpMode = StpMode.NONE
    client_order_id: str | None = None
    expire_at: int | None = None


@dataclass(slots=True)
class Order:
    """One order as the engine holds it. Mutated only by the `Exchange`; events carry copies.

    Conservation, always: `filled_qty + canceled_qty + remaining == qty`. While the order
    lives, `canceled_qty` is what self-trade prevention or a partial cancel removed; once it
    is terminal, `canceled_qty = qty - filled_qty`. A quote-sized order has `qty ==
    filled_qty` throughout (its base size is known only from what it bought).
    """

    order_id: str
    client_order_id: str | None
    venue: str
    account: str
    instrument: Instrument
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    post_only: bool
    price: Decimal | None
    qty: Decimal
    quote_qty: Decimal | None
    trigger: TriggerKind | None
    stop_price: Decimal | None
    stp: StpMode
    created_at: int
    updated_at: int
    expire_at: int | None = None
    status: Status = Status.OPEN
    end_reason: EndReason | None = None
    orig_qty: Decimal = ZERO
    orig_client_order_id: str | None = None
    filled_qty: Decimal = ZERO
    filled_quote: Decimal = ZERO
    canceled_qty: Decimal = ZERO
    prevented_qty: Decimal = ZERO
    fee: Decimal = ZERO
    trades_count: int = 0
    amend_count: int = 0
    working_at: int | None = None
    cancel_pending: bool = False
    priority: int = 0
    fills: list[Fill] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def venue_symbol(self) -> str:
        return self.instrument.venue_symbol

    @property
    def quote_sized(self) -> bool:
        return self.quote_qty is not None

    @property
    def remaining(self) -> Decimal:
        """Base quantity still working (0 for quote-sized orders and terminal ones)."""
        if self.status.is_terminal or self.quote_sized:
            return ZERO
        return self.qty - self.filled_qty - self.canceled_qty

    @property
    def budget_left(self) -> Decimal:
        """Quote amount a quote-sized order may still spend."""
        if self.quote_qty is None or self.status.is_terminal:
            return ZERO
        return self.quote_qty - self.filled_quote

    @property
    def avg_price(self) -> Decimal | None:
        return self.filled_quote / self.filled_qty if self.filled_qty else None

    @property
    def fee_asset(self) -> str:
        return self.instrument.fee_asset(self.side)

    @property
    def is_live(self) -> bool:
        return not self.status.is_terminal

    def snapshot(self) -> Order:
        """An independent copy for an event: later changes to this order do not touch it."""
        clone = copy.copy(self)
        clone.fills = list(self.fills)
        return clone


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of one trade: what the order's owner sees (fees are per side)."""

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
    fee_asset: str
    liquidity: Liquidity
    time: int
    counter_order_id: str

    @property
    def quote_amount(self) -> Decimal:
        return self.price * self.qty
