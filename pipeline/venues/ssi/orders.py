"""SSI order reports -> `OrderEvent`s: order objects, matches and order errors.

What is decided here:
- An order object (an orderBook item or a stream `orderEvent`) states cumulative
  `filledQty`/`cancelQty`/`avgPrice`. On the REST order books that is all there is, so those
  events set `fills_implied`. On the stream every match also arrives as an `orderMatchEvent`
  (replayable by notifyID), so stream `orderEvent`s do not imply fills: deriving them there
  would announce every execution twice (once derived, once real, then a void).
- `orderMatchEvent` has no trade id; `<notifyID, zero-padded to 20 digits>:<orderID>` is one
  (notifyID is the stream's message serial, identical on replay). Leading with the padded
  serial makes fills of one millisecond sort in execution (stream) order wherever fills are
  ordered by `(trade_time, trade_id, ...)`, as positions are; `<orderID>:<notifyID>` sorted
  them by order id, and notifyID 10 before 9. SSI reports no fee on the stream: fee 0, asset none.
- `orderError` is usually a failed modify/cancel request and leaves the order as it was; only
  an error about the order's own placing request (`uniqueID == origRequestID`) rejects it.
- Prices of 0 (market orders) and stop prices of 0 (no stop) mean "none".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.domain.events import CancelReason, Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
    choice,
    fast_decimal,
    fast_millis,
    fast_opt_decimal,
    fast_opt_text,
    fast_text,
    field,
    id_number,
    opt_average,
    opt_integer,
    opt_millis,
    trade_report,
)
from pipeline.venues.ssi.mapping import (
    ORDER_TYPE_MAP,
    SIDE_MAP,
    STATUS_MAP,
    UNFILLED_REMAINDER_TYPES,
    VENUE,
    status_code,
    to_symbol,
)

ZERO = Decimal(0)
#: notifyID is zero-padded to this width in trade ids, so that fills of one millisecond sort
#: (as text, which is how positions order them) in the stream's order: any 64-bit serial fits.
NOTIFY_DIGITS = 20
_WORKING = frozenset({OrderStatus.OPEN, OrderStatus.UNTRIGGERED})


def order_event(
    o: dict[str, Any],
    envelope: RawEnvelope,
    path: str,
    account: str,
    sequence: int | None,
) -> OrderEvent:
    """One order object -> one event; `sequence` is the stream's notifyID (None for REST)."""
    order_id = fast_text(VENUE, o, "orderID", path)
    instrument = fast_text(VENUE, o, "instrumentID", path)
    label = fast_text(VENUE, o, "orderStatus", path)
    code = status_code(label, path + "orderStatus")
    status = STATUS_MAP[code]
    type_code = fast_text(VENUE, o, "orderType", path)
    order_type, tif = choice(VENUE, o, "orderType", ORDER_TYPE_MAP, path)
    qty = fast_decimal(VENUE, o, "quantity", path)
    filled = fast_opt_decimal(VENUE, o, "filledQty", path)
    canceled = fast_opt_decimal(VENUE, o, "cancelQty", path)
    modified = opt_millis(VENUE, o, "modifiedTime", path)
    event_time = modified or fast_millis(VENUE, o, "inputTime", path)
    reason: CancelReason | None = None
    if status in _WORKING:
        if filled:
            status = OrderStatus.PARTIALLY_FILLED
    elif code == "FFPC" and not canceled and filled is not None and filled >= qty:
        status = OrderStatus.FILLED
    elif status is OrderStatus.CANCELED:
        if type_code in UNFILLED_REMAINDER_TYPES:
            reason = CancelReason.UNFILLED_REMAINDER
        else:
            reason = CancelReason.USER
    if status.is_terminal and canceled is None and filled is not None:
        canceled = qty - filled
    if sequence is None:
        event_id = (
            f"ssi:state:{order_id}:{code}:{id_number(filled)}:{id_number(canceled)}:"
            f"{modified or event_time}"
        )
    else:
        event_id = f"ssi:event:{order_id}:{sequence}"
    avg = opt_average(VENUE, o, "avgPrice", path)
    price = fast_opt_decimal(VENUE, o, "price", path)
    stop = fast_opt_decimal(VENUE, o, "stopPrice", path)
    return OrderEvent(
        event_id=event_id,
        venue=VENUE,
        account=account,
        order_id=order_id,
        symbol=to_symbol(instrument, path + "instrumentID"),
        venue_symbol=instrument,
        side=choice(VENUE, o, "buySell", SIDE_MAP, path),
        order_type=order_type,
        status=status,
        venue_status=label,
        event_time=event_time,
        received_at=envelope.received_at,
        qty=qty,
        price=price or None,
        filled_qty=filled,
        avg_fill_price=avg if filled and avg else None,
        canceled_qty=canceled,
        stop_price=stop or None,
        client_order_id=_client_order_id(o, path),
        time_in_force=tif,
        cancel_reason=reason,
        sequence=sequence,
        is_snapshot=sequence is None,
        fills_implied=sequence is None,
    )


def match_event(d: dict[str, Any], envelope: RawEnvelope, account: str) -> OrderEvent:
    """One `orderMatchEvent` -> an event carrying its `Fill` ("at least partially filled")."""
    p = "data."
    order_id = fast_text(VENUE, d, "orderID", p)
    notify = opt_integer(VENUE, d, "notifyID", p)
    if notify is None:
        notify = field(VENUE, d, "notifyID", p)  # raises: the trade id is built from it
    if notify < 0:
        raise NormalizationError(VENUE, p + "notifyID", d["notifyID"], "must not be negative")
    instrument = fast_text(VENUE, d, "instrumentID", p)
    symbol = to_symbol(instrument, p + "instrumentID")
    side: Side = choice(VENUE, d, "buySell", SIDE_MAP, p)
    qty = fast_decimal(VENUE, d, "matchQty", p)
    if qty <= 0:
        raise NormalizationError(VENUE, p + "matchQty", d["matchQty"], "must be > 0")
    when = fast_millis(VENUE, d, "matchTime", p)
    trade_id = f"{notify:0{NOTIFY_DIGITS}d}:{order_id}"
    fill = Fill(
        venue=VENUE,
        account=account,
        symbol=symbol,
        venue_symbol=instrument,
        order_id=order_id,
        trade_id=trade_id,
        side=side,
        price=fast_decimal(VENUE, d, "matchPrice", p),
        qty=qty,
        fee=ZERO,
        fee_asset=None,
        liquidity=Liquidity.UNKNOWN,
        trade_time=when,
        received_at=envelope.received_at,
    )
    return trade_report(fill, f"ssi:match:{trade_id}", "match", when, sequence=notify)


def error_events(d: dict[str, Any], envelope: RawEnvelope, account: str) -> list[OrderEvent]:
    """One `orderError` -> a `rejected` event when it rejects the order's own placing request.

    Errors without an orderID concern a request that never became an order; errors whose
    uniqueID is another request (a modify, a cancel) leave the order unchanged and belong to
    the command results. Both yield nothing here; the raw message stays in `raw.ssi`.
    """
    p = "data."
    order_id = fast_opt_text(VENUE, d, "orderID", p)
    request = fast_opt_text(VENUE, d, "uniqueID", p)
    origin = fast_opt_text(VENUE, d, "origRequestID", p)
    if order_id is None or request is None or request != origin:
        return []
    instrument = fast_text(VENUE, d, "instrumentID", p)
    code = fast_text(VENUE, d, "errorCode", p)
    notify = opt_integer(VENUE, d, "notifyID", p)
    order_type, tif = choice(VENUE, d, "orderType", ORDER_TYPE_MAP, p)
    price = fast_opt_decimal(VENUE, d, "price", p)
    return [
        OrderEvent(
            event_id=f"ssi:error:{order_id}:{request}:{code}",
            venue=VENUE,
            account=account,
            order_id=order_id,
            symbol=to_symbol(instrument, p + "instrumentID"),
            venue_symbol=instrument,
            side=choice(VENUE, d, "buySell", SIDE_MAP, p),
            order_type=order_type,
            status=OrderStatus.REJECTED,
            venue_status=code,
            event_time=(
                opt_millis(VENUE, d, "modifiedTime", p) or fast_millis(VENUE, d, "inputTime", p)
            ),
            received_at=envelope.received_at,
            qty=fast_decimal(VENUE, d, "quantity", p),
            price=price or None,
            client_order_id=request,
            time_in_force=tif,
            sequence=notify or None,
        )
    ]


def _client_order_id(o: dict[str, Any], path: str) -> str | None:
    """The order's own request id. A stream `orderEvent` states it as `origRequestID`; its
    `uniqueID` is the id of the request that caused the event (a cancel's, on the cancel), so
    it is read only from order-book rows, which have no `origRequestID`."""
    if "origRequestID" in o:
        return fast_opt_text(VENUE, o, "origRequestID", path)
    return fast_opt_text(VENUE, o, "uniqueID", path)
