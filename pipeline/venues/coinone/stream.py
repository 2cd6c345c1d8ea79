"""Coinone's private WebSocket `MYORDER` frames -> `OrderEvent`s.

Frames use short keys (`{r, c, d: {qc, tc, oi, t, st, s, op, oq, oa, ti, im, ep, eq, ef, rq,
ra, ui, et, ot, ts}}`). A `trade`/`trade_done` frame with a trade id carries a real `Fill`;
no frame states a cumulative filled quantity, so `filled_qty` stays unset and
`fills_implied` is false: fills on this channel are always explicit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.domain.events import CancelReason, Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
    choice,
    expect_object,
    fast_decimal,
    fast_opt_decimal,
    fast_opt_text,
    fast_text,
    field,
    opt_millis_lenient,
    to_millis_lenient,
)
from pipeline.venues.coinone.mapping import (
    ORDER_TYPE_MAP,
    SIDE_MAP,
    VENUE,
    WS_CANCEL_REASONS,
    WS_STATUS_MAP,
    WS_TRADE_LABELS,
    pair_symbols,
)
from pipeline.venues.coinone.orders import LIQUIDITY, ZERO, make_fill


def myorder_event(d: dict[str, Any], envelope: RawEnvelope) -> OrderEvent:
    """The `d` object of one MYORDER DATA frame -> one event (with a `Fill` on trades).

    `eq` is the fill quantity on trades and the canceled quantity on cancels. A cancel that
    leaves `rq` > 0 is a partial cancel: the order keeps working. MYORDER states no
    cumulative filled quantity, so `filled_qty` stays unset and nothing is implied.
    """
    p = "d."
    order_id = fast_text(VENUE, d, "oi", p)
    quote = fast_text(VENUE, d, "qc", p)
    symbol, vsym = pair_symbols(fast_text(VENUE, d, "tc", p), quote, p)
    label = fast_text(VENUE, d, "st", p)
    key = label.lower()
    status = WS_STATUS_MAP.get(key)
    if status is None:
        known = ", ".join(sorted(WS_STATUS_MAP))
        raise NormalizationError(VENUE, p + "st", label, f"unknown value; expected one of {known}")
    side: Side = choice(VENUE, d, "s", SIDE_MAP, p)
    ts = opt_millis_lenient(VENUE, d, "ts", p) or opt_millis_lenient(VENUE, d, "et", p)
    event_time = ts or to_millis_lenient(VENUE, p + "ot", field(VENUE, d, "ot", p))
    qty = fast_opt_decimal(VENUE, d, "oq", p)
    remain = fast_opt_decimal(VENUE, d, "rq", p)
    trade_id = fast_opt_text(VENUE, d, "ti", p)
    fill: Fill | None = None
    canceled: Decimal | None = None
    reason: CancelReason | None = None
    if key in WS_TRADE_LABELS:
        if trade_id is None and key == "trade":
            field(VENUE, d, "ti", p)  # raises: a fill needs its trade id
        if trade_id is not None:
            fill = make_fill(
                envelope,
                order_id=order_id,
                trade_id=trade_id,
                symbol=symbol,
                venue_symbol=vsym,
                side=side,
                price=fast_decimal(VENUE, d, "ep", p),
                qty=fast_decimal(VENUE, d, "eq", p),
                qty_field=p + "eq",
                fee=fast_opt_decimal(VENUE, d, "ef", p) or ZERO,
                fee_asset=quote,
                liquidity=_liquidity(d, p),
                trade_time=opt_millis_lenient(VENUE, d, "et", p) or event_time,
            )
    elif status is OrderStatus.CANCELED:
        canceled = fast_opt_decimal(VENUE, d, "eq", p)
        if remain:
            status = OrderStatus.OPEN  # a partial cancel; the remainder still works
        else:
            reason = WS_CANCEL_REASONS[key]
    return OrderEvent(
        event_id=f"coinone:ws:{order_id}:{key}:{trade_id or ''}:{event_time}",
        venue=VENUE,
        account=envelope.account,
        order_id=order_id,
        symbol=symbol,
        venue_symbol=vsym,
        side=side,
        order_type=choice(VENUE, d, "t", ORDER_TYPE_MAP, p),
        status=status,
        venue_status=label,
        event_time=event_time,
        received_at=envelope.received_at,
        qty=qty,
        price=fast_opt_decimal(VENUE, d, "op", p),
        canceled_qty=canceled,
        quote_qty=fast_opt_decimal(VENUE, d, "oa", p),
        client_order_id=fast_opt_text(VENUE, d, "ui", p),
        cancel_reason=reason,
        fill=fill,
    )


def _liquidity(d: dict[str, Any], p: str) -> Liquidity:
    """`im` (documented as "true"/"false"; booleans also read); another scalar is unknown."""
    maker = d.get("im")
    if isinstance(maker, list | dict):
        raise NormalizationError(VENUE, p + "im", maker, "expected a boolean")
    return LIQUIDITY.get(maker, Liquidity.UNKNOWN)


def frame_data(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The `d` object of a MYORDER DATA frame; `None` for control frames (PONG, SUBSCRIBED)."""
    kind = payload.get("r", payload.get("response_type"))
    if kind is None:
        field(VENUE, payload, "r")  # raises: required field is missing
    if kind != "DATA":
        if kind == "ERROR":
            raise NormalizationError(VENUE, "r", kind, f"venue error frame: {payload!r}")
        return None
    channel = field(VENUE, payload, "c")
    if channel != "MYORDER":
        raise NormalizationError(VENUE, "c", channel, "expected MYORDER")
    return expect_object(VENUE, field(VENUE, payload, "d"), "d")
