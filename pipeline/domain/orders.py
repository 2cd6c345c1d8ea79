"""Order state and the fold step that advances it by one canonical event.

`OrderState` is what the `orders.state` topic and the `trading.orders` table carry. It is
produced only by `fold_event`, one event at a time in sort order (`order_sort_key`); the
`OrderLedger` (ledger.py) owns ordering, deduplication and refolding. States are never mutated
after construction, so the ledger can keep them as free checkpoints and hand them out.

Rules the fold applies after the transition table (transitions.py) has chosen the status:

- Cumulative `filled_qty` never decreases: it is the largest of what the venue stated so far
  and the sum of the distinct real fills seen. Figures on a stale report (its `filled_qty`
  below ours) are not taken (`avg_fill_price`, `fee`, `canceled_qty`). A live order's
  `canceled_qty` (partial cancels, self-trade reductions) is cumulative too and never
  decreases, so two reports tied in sort order (two SMP `reduce` reports in one millisecond)
  give the same result whichever folds last.
- Average fill price: while the real fills account for the whole filled quantity it is
  exactly their VWAP (`sum(qty * price) / sum(qty)`, the same Decimal computation as over
  `trading.fills`), whatever the venue states (Binance's `Z / z` is off it by Z's rounding to
  8 places); the venue's own average is taken only while some filled quantity has no fill
  seen (REST polls of orders whose trades we missed). `avg_fill_price_source` says which
  (`AvgPriceSource`: `fills` or `venue`; None while nothing is filled).
- Fee: the sum of the real fills' fees until a (fresh) report states the cumulative fee; then
  the latest such statement plus the fees of the real fills that take the real filled
  quantity beyond what that statement covered (its cumulative filled quantity). A statement
  at least as recent as the fills is therefore the fee; a fill after it (in sort order, and
  beyond its quantity) adds its own fee, and a fill it already covers is not counted twice.
- Cancel reason: the reason of the report whose terminal status is taken. Once the order is
  terminal the reason only becomes more specific, by any later report (snapshot or live):
  none -> `user` -> a specific one (`self_trade_prevention`, `unfilled_remainder`,
  `exchange`), never back, and between two specific reasons the first stays. A venue's plain
  "canceled" label (a REST poll of an SMP-canceled order, Coinone MYORDER `cancel` next to
  REST `CANCELED_NO_ORDER` in the same millisecond) thus never hides the specific reason,
  whatever the sort order of the reports.
- Conservation: `filled_qty + canceled_qty + remaining_qty == qty`, none negative. A terminal
  order has `remaining_qty == 0` and `canceled_qty = qty - filled_qty` (also for `rejected`
  and for a `filled` label that came short), so a venue's own `canceled_qty` is used only
  while the order lives (partial cancels). A report of more filled than the order's quantity
  raises `qty` to `filled_qty` rather than make `remaining_qty` negative.
- Orders sized in quote currency (`quote_qty` set, no base `qty` stated, e.g. Upbit
  `ord_type=price`) have `qty = filled_qty` throughout: `remaining_qty` is 0 while open.
- Quantities come from whatever report states them first: an order whose base size was never
  stated and that a report ends as canceled/expired with a canceled quantity (a Coinone
  MYORDER `cancel` of a market buy, seen before or without any other frame) has
  `qty = filled_qty + canceled_qty` from that report on, not 0.
- Truth from quantities: `canceled`/`expired` with `filled_qty > 0` and `filled_qty >= qty` is
  `filled` (Upbit market buys end in `cancel` with dust returned); a `filled` label whose
  stated `filled_qty` is short of `qty` is `canceled`; a live order whose fills reach its
  stated `qty` is `filled`; `open`/`untriggered` with fills is `partially_filled`. The raw
  label always stays in `venue_status`, the label of the last report whose status was taken.
- After a terminal status the order's `qty` is frozen; only fills may still grow (a trade
  stamped a millisecond after the cancel), moving quantity from canceled to filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pipeline.domain.events import (
    TERMINAL_STATUSES,
    AvgPriceSource,
    CancelReason,
    Fill,
    OrderEvent,
    OrderStatus,
    Side,
)
from pipeline.domain.implied import ImpliedBase, derive_fill
from pipeline.domain.transitions import NEXT_STATUS, PROGRESS_RANK

ZERO = Decimal(0)
_FROM_FILLS: str = AvgPriceSource.FILLS.value
_FROM_VENUE: str = AvgPriceSource.VENUE.value
_FILLED = OrderStatus.FILLED
_CANCELED = OrderStatus.CANCELED
_EXPIRED = OrderStatus.EXPIRED
_PARTIAL = OrderStatus.PARTIALLY_FILLED
_NOT_YET_FILLED = frozenset({OrderStatus.OPEN, OrderStatus.UNTRIGGERED})
_CANCEL_ENDS = frozenset({OrderStatus.CANCELED, OrderStatus.EXPIRED})
#: How specific a cancel reason is: none < `user` (the default a venue's plain "canceled"
#: label gives) < any other reason (self-trade prevention, unfilled remainder, exchange).
_REASON_RANK: dict[str | None, int] = {None: 0, CancelReason.USER: 1}

#: Sort key of an event: (event_time, sequence or -1, progress rank, filled_qty or 0, event_id).
OrderSortKey = tuple[int, int, int, Decimal, str]


def order_sort_key(event: OrderEvent) -> OrderSortKey:
    """Where an event belongs in its order's history.

    Event time first, then the venue's sequence number; ties (same millisecond, e.g. Upbit
    `trade` and `done`) go by status progress, then cumulative fill, then event id, which makes
    the order total and independent of arrival.
    """
    sequence = event.sequence
    filled = event.filled_qty
    return (
        event.event_time,
        -1 if sequence is None else sequence,
        PROGRESS_RANK[event.status],
        ZERO if filled is None else filled,
        event.event_id,
    )


@dataclass(slots=True)
class OrderState:
    """The canonical current state of one order (the `orders.state` wire format)."""

    venue: str
    account: str
    order_id: str
    symbol: str
    venue_symbol: str
    side: Side
    order_type: str
    status: OrderStatus
    venue_status: str
    cancel_reason: str | None
    qty: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    quote_qty: Decimal | None
    filled_qty: Decimal
    remaining_qty: Decimal
    canceled_qty: Decimal
    avg_fill_price: Decimal | None
    fee: Decimal
    fee_asset: str | None
    client_order_id: str | None
    time_in_force: str | None
    created_at: int
    updated_at: int
    version: int
    last_event_id: str
    avg_fill_price_source: str | None  # AvgPriceSource value; None while nothing is filled

    def __init__(
        self,
        venue: str,
        account: str,
        order_id: str,
        symbol: str,
        venue_symbol: str,
        side: Side,
        order_type: str,
        status: OrderStatus,
        venue_status: str,
        cancel_reason: str | None,
        qty: Decimal,
        price: Decimal | None,
        stop_price: Decimal | None,
        quote_qty: Decimal | None,
        filled_qty: Decimal,
        remaining_qty: Decimal,
        canceled_qty: Decimal,
        avg_fill_price: Decimal | None,
        fee: Decimal,
        fee_asset: str | None,
        client_order_id: str | None,
        time_in_force: str | None,
        created_at: int,
        updated_at: int,
        version: int,
        last_event_id: str,
        avg_fill_price_source: str | None = None,
    ) -> None:
        # Written out, not generated by @dataclass: mypyc compiles this one (see
        # pipeline/compiled.py), the generated one runs as interpreted code.
        self.venue = venue
        self.account = account
        self.order_id = order_id
        self.symbol = symbol
        self.venue_symbol = venue_symbol
        self.side = side
        self.order_type = order_type
        self.status = status
        self.venue_status = venue_status
        self.cancel_reason = cancel_reason
        self.qty = qty
        self.price = price
        self.stop_price = stop_price
        self.quote_qty = quote_qty
        self.filled_qty = filled_qty
        self.remaining_qty = remaining_qty
        self.canceled_qty = canceled_qty
        self.avg_fill_price = avg_fill_price
        self.fee = fee
        self.fee_asset = fee_asset
        self.client_order_id = client_order_id
        self.time_in_force = time_in_force
        self.created_at = created_at
        self.updated_at = updated_at
        self.version = version
        self.last_event_id = last_event_id
        self.avg_fill_price_source = avg_fill_price_source

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.venue, self.account, self.order_id)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(slots=True)
class FoldMemo:
    """What the fold remembers beside `OrderState` (not part of the wire format)."""

    stated_qty: Decimal | None  # the order quantity a venue stated; None if quote-sized
    real_filled: Decimal  # sum of distinct real fills so far
    real_notional: Decimal
    real_fee: Decimal
    stated_fee: Decimal | None  # the latest cumulative fee a fresh report stated, if any
    fee_level: Decimal  # the cumulative filled quantity that statement covers
    fee_after: Decimal  # fees of the real fills that took real_filled beyond fee_level since
    implied: ImpliedBase  # where the next derived fill starts
    derived: Fill | None  # the fill this step derived (implied.py), if any

    def __init__(
        self,
        stated_qty: Decimal | None,
        real_filled: Decimal,
        real_notional: Decimal,
        real_fee: Decimal,
        stated_fee: Decimal | None,
        fee_level: Decimal,
        fee_after: Decimal,
        implied: ImpliedBase,
        derived: Fill | None,
    ) -> None:
        # Written out, not generated by @dataclass: mypyc compiles this one (see
        # pipeline/compiled.py), the generated one runs as interpreted code.
        self.stated_qty = stated_qty
        self.real_filled = real_filled
        self.real_notional = real_notional
        self.real_fee = real_fee
        self.stated_fee = stated_fee
        self.fee_level = fee_level
        self.fee_after = fee_after
        self.implied = implied
        self.derived = derived


_START_MEMO = FoldMemo(
    None, ZERO, ZERO, ZERO, None, ZERO, ZERO, ImpliedBase(ZERO, ZERO, ZERO, None), None
)


def fold_event(
    prev: OrderState | None, memo: FoldMemo | None, event: OrderEvent, count_fill: bool
) -> tuple[OrderState, FoldMemo]:
    """Advance `prev` by `event`; return the new state and memo (with the derived fill, if any).

    The memo object is reused when this step changed nothing in it (the common case of a report
    without fills), which spares an allocation on the hot path.

    `count_fill` says whether `event.fill` is the first occurrence of its trade id in sort
    order (the ledger knows); only then does it add to the order's real filled quantity.
    """
    if prev is None or memo is None:
        memo = _START_MEMO
        current: OrderStatus | None = None
        p_filled = p_canceled = p_fee = ZERO
        p_avg = p_price = p_stop = p_quote = None
        p_avg_source: str | None = None
        p_reason = p_fee_asset = p_client = p_tif = None
        p_venue_status = event.venue_status
        p_type = event.order_type
        created_at = event.event_time
        version = 1
    else:
        current = prev.status
        p_filled, p_canceled, p_fee = prev.filled_qty, prev.canceled_qty, prev.fee
        p_avg, p_price, p_stop, p_quote = (
            prev.avg_fill_price,
            prev.price,
            prev.stop_price,
            prev.quote_qty,
        )
        p_avg_source = prev.avg_fill_price_source
        p_reason, p_fee_asset = prev.cancel_reason, prev.fee_asset
        p_client, p_tif = prev.client_order_id, prev.time_in_force
        p_venue_status = prev.venue_status
        p_type = prev.order_type
        created_at = prev.created_at
        version = prev.version + 1

    taken = NEXT_STATUS[event.is_snapshot][(current, event.status)]  # = next_status(...)
    status: OrderStatus = taken if taken is not None else current  # type: ignore[assignment]
    was_terminal = current in TERMINAL_STATUSES

    stated = memo.stated_qty
    if event.qty is not None and (stated is None or not was_terminal):
        stated = event.qty

    real_filled, real_notional, real_fee = memo.real_filled, memo.real_notional, memo.real_fee
    stated_fee, fee_level, fee_after = memo.stated_fee, memo.fee_level, memo.fee_after
    fill = event.fill if count_fill else None
    if fill is not None:
        real_filled += fill.qty
        real_notional += fill.qty * fill.price
        real_fee += fill.fee
        if stated_fee is not None and real_filled > fee_level:
            fee_after += fill.fee  # a fill the last fee statement did not cover

    reported = event.filled_qty
    fresh = reported is None or reported >= p_filled
    filled = p_filled
    if reported is not None and reported > filled:
        filled = reported
    if real_filled > filled:
        filled = real_filled
    if taken is _FILLED and reported is None and stated is not None and stated > filled:
        filled = stated  # "filled" with no quantity: the venue says all of it

    avg, avg_source = p_avg, p_avg_source
    if real_filled > 0 and real_filled >= filled:
        if fill is not None or avg is None or event.avg_fill_price is not None:
            avg = real_notional / real_filled  # every fill is known: exactly their VWAP
            avg_source = _FROM_FILLS
    elif event.avg_fill_price is not None and fresh:
        avg = event.avg_fill_price  # fills we never saw: the venue's cumulative figure
        avg_source = _FROM_VENUE

    fee = p_fee
    if event.fee is not None and fresh:
        fee = event.fee
        if fee != stated_fee or filled != fee_level or fee_after:
            stated_fee, fee_level, fee_after = fee, filled, ZERO
    elif fill is not None:
        fee = real_fee if stated_fee is None else stated_fee + fee_after
    fee_asset = event.fee_asset or (fill.fee_asset if fill is not None else None) or p_fee_asset

    if stated is None and taken is not None and taken in _CANCEL_ENDS:
        stated_canceled = event.canceled_qty
        if stated_canceled is not None and stated_canceled > 0:
            stated = filled + stated_canceled  # the order's size from its first statement
    qty = stated if stated is not None and stated >= filled else filled
    if status in TERMINAL_STATUSES:
        if status is _CANCELED or status is _EXPIRED:
            if filled > 0 and filled >= qty:
                status = _FILLED
        elif status is _FILLED and filled < qty:
            status = _CANCELED
        remaining = ZERO
        canceled = qty - filled
    elif stated is not None and filled > 0 and filled >= qty:
        status, remaining, canceled = _FILLED, ZERO, ZERO
    else:
        if filled > 0 and status in _NOT_YET_FILLED:
            status = _PARTIAL
        canceled = p_canceled
        stated_canceled = event.canceled_qty
        if stated_canceled is not None and fresh and stated_canceled > canceled:
            canceled = stated_canceled  # cumulative: reports tied in sort order cannot undo it
        available = qty - filled
        if canceled > available:
            canceled = available
        remaining = available - canceled

    reason = p_reason
    incoming = event.cancel_reason
    if (
        taken is not None
        and incoming
        and (not was_terminal or _REASON_RANK.get(incoming, 2) > _REASON_RANK.get(p_reason, 2))
    ):
        reason = incoming  # once terminal, a reason only becomes more specific

    implied = memo.implied
    derived: Fill | None = None
    if event.fills_implied and reported is not None and reported > implied.level:
        derived, implied = derive_fill(implied, event)
    if (
        derived is None
        and fill is None
        and memo.derived is None
        and implied is memo.implied
        and stated_fee is memo.stated_fee
        and fee_level is memo.fee_level
        and fee_after is memo.fee_after
        and stated == memo.stated_qty
    ):
        next_memo = memo
    else:
        next_memo = FoldMemo(
            stated,
            real_filled,
            real_notional,
            real_fee,
            stated_fee,
            fee_level,
            fee_after,
            implied,
            derived,
        )

    state = OrderState(
        event.venue,
        event.account,
        event.order_id,
        event.symbol,
        event.venue_symbol,
        event.side,
        event.order_type or p_type,  # "" = not stated (fill-only reports): keep the known type
        status,
        event.venue_status if taken is not None else p_venue_status,
        reason,
        qty,
        event.price if event.price is not None else p_price,
        event.stop_price if event.stop_price is not None else p_stop,
        event.quote_qty if event.quote_qty is not None else p_quote,
        filled,
        remaining,
        canceled,
        avg,
        fee,
        fee_asset,
        event.client_order_id or p_client,
        event.time_in_force or p_tif,
        created_at,
        event.event_time,
        version,
        event.event_id,
        avg_source if avg is not None else None,
    )
    return state, next_memo
