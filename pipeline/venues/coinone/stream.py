"""Coinone's private WebSocket `MYORDER` frames -> `OrderEvent`s.

Coinone spells a frame two ways, chosen by the subscription: the DEFAULT format with long keys
(`{response_type, channel, data: {quote_currency, order_id, executed_qty, ...}}`), sent unless
the subscribe request says `"format": "SHORT"`, and the SHORT format (`{r, c, d: {qc, tc, oi,
t, st, s, op, oq, oa, ti, im, ep, eq, ef, rq, ra, ui, et, ot, ts}}`). One field table
(`mapping.MYORDER_FIELDS`) gives both spellings; a frame is read with the `MyOrderKeys` of its
own spelling, so an error names the field as the frame spelled it.
A `trade`/`trade_done` frame with a trade id carries a real `Fill`;
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
    MYORDER_FIELDS,
    ORDER_TYPE_MAP,
    SIDE_MAP,
    VENUE,
    WS_CANCEL_REASONS,
    WS_STATUS_MAP,
    WS_TRADE_LABELS,
    pair_symbols,
)
from pipeline.venues.coinone.orders import LIQUIDITY, ZERO, make_fill


class MyOrderKeys:
    """The keys of one MYORDER spelling, by the field's short name (`k.oi` is `order_id` in
    the DEFAULT spelling, `oi` in SHORT)."""

    def __init__(self, names: dict[str, str], path: str) -> None:
        self.qc = names["qc"]
        self.tc = names["tc"]
        self.oi = names["oi"]
        self.t = names["t"]
        self.st = names["st"]
        self.s = names["s"]
        self.op = names["op"]
        self.oq = names["oq"]
        self.oa = names["oa"]
        self.ti = names["ti"]
        self.im = names["im"]
        self.ep = names["ep"]
        self.eq = names["eq"]
        self.ef = names["ef"]
        self.rq = names["rq"]
        self.ra = names["ra"]
        self.ui = names["ui"]
        self.et = names["et"]
        self.ot = names["ot"]
        self.ts = names["ts"]
        self.path = path  # `d.` or `data.`: where the order's fields sit in the frame


SHORT_KEYS = MyOrderKeys({short: short for _, short in MYORDER_FIELDS}, "d.")
DEFAULT_KEYS = MyOrderKeys({short: long for long, short in MYORDER_FIELDS}, "data.")


def myorder_event(
    d: dict[str, Any], envelope: RawEnvelope, k: MyOrderKeys = SHORT_KEYS
) -> OrderEvent:
    """The `d` object of one MYORDER DATA frame -> one event (with a `Fill` on trades).

    `eq` is the fill quantity on trades and the canceled quantity on cancels. A cancel that
    leaves `rq` > 0 is a partial cancel: the order keeps working. MYORDER states no
    cumulative filled quantity, so `filled_qty` stays unset and nothing is implied.
    """
    p = k.path
    order_id = fast_text(VENUE, d, k.oi, p)
    quote = fast_text(VENUE, d, k.qc, p)
    symbol, vsym = pair_symbols(fast_text(VENUE, d, k.tc, p), quote, p)
    label = fast_text(VENUE, d, k.st, p)
    key = label.lower()
    status = WS_STATUS_MAP.get(key)
    if status is None:
        known = ", ".join(sorted(WS_STATUS_MAP))
        raise NormalizationError(VENUE, p + k.st, label, f"unknown value; expected one of {known}")
    side: Side = choice(VENUE, d, k.s, SIDE_MAP, p)
    order_type: str = choice(VENUE, d, k.t, ORDER_TYPE_MAP, p)
    ts = opt_millis_lenient(VENUE, d, k.ts, p) or opt_millis_lenient(VENUE, d, k.et, p)
    event_time = ts or to_millis_lenient(VENUE, p + k.ot, field(VENUE, d, k.ot, p))
    qty = fast_opt_decimal(VENUE, d, k.oq, p)
    remain = fast_opt_decimal(VENUE, d, k.rq, p)
    trade_id = fast_opt_text(VENUE, d, k.ti, p)
    fill: Fill | None = None
    canceled: Decimal | None = None
    reason: CancelReason | None = None
    if key in WS_TRADE_LABELS:
        if trade_id is None and key == "trade":
            field(VENUE, d, k.ti, p)  # raises: a fill needs its trade id
        if trade_id is not None:
            fill = make_fill(
                envelope,
                order_id=order_id,
                trade_id=trade_id,
                symbol=symbol,
                venue_symbol=vsym,
                side=side,
                price=fast_decimal(VENUE, d, k.ep, p),
                qty=fast_decimal(VENUE, d, k.eq, p),
                qty_field=p + k.eq,
                fee=fast_opt_decimal(VENUE, d, k.ef, p) or ZERO,
                fee_asset=quote,
                liquidity=_liquidity(d, p, k.im),
                trade_time=opt_millis_lenient(VENUE, d, k.et, p) or event_time,
            )
    elif status is OrderStatus.CANCELED:
        canceled = fast_opt_decimal(VENUE, d, k.eq, p)
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
        order_type=order_type,
        status=status,
        venue_status=label,
        event_time=event_time,
        received_at=envelope.received_at,
        qty=qty,
        price=fast_opt_decimal(VENUE, d, k.op, p),
        canceled_qty=canceled,
        quote_qty=fast_opt_decimal(VENUE, d, k.oa, p),
        client_order_id=fast_opt_text(VENUE, d, k.ui, p),
        cancel_reason=reason,
        fill=fill,
    )


def _liquidity(d: dict[str, Any], p: str, name: str) -> Liquidity:
    """`im` / `is_maker` (documented as "true"/"false"; booleans also read); another scalar is
    unknown."""
    maker = d.get(name)
    if isinstance(maker, list | dict):
        raise NormalizationError(VENUE, p + name, maker, "expected a boolean")
    return LIQUIDITY.get(maker, Liquidity.UNKNOWN)


def frame_data(payload: dict[str, Any]) -> tuple[dict[str, Any], MyOrderKeys] | None:
    """The order object of a MYORDER DATA frame with the keys of its spelling; `None` for
    control frames (PONG, SUBSCRIBED). `response_type` marks the DEFAULT spelling, `r` SHORT."""
    if "response_type" in payload:
        kind, k, names = (
            payload["response_type"],
            DEFAULT_KEYS,
            ("response_type", "channel", "data"),
        )
    else:
        kind, k, names = payload.get("r"), SHORT_KEYS, ("r", "c", "d")
    if kind is None:
        field(VENUE, payload, names[0])  # raises: required field is missing
    if kind != "DATA":
        if kind == "ERROR":
            raise NormalizationError(VENUE, names[0], kind, f"venue error frame: {payload!r}")
        return None
    channel = field(VENUE, payload, names[1])
    if channel != "MYORDER":
        raise NormalizationError(VENUE, names[1], channel, "expected MYORDER")
    return expect_object(VENUE, field(VENUE, payload, names[2]), names[2]), k
