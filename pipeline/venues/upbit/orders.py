"""One Upbit order report (a myOrder frame or a REST order object) -> one `OrderEvent`.

The WebSocket formats (DEFAULT, SIMPLE) and the REST object say the same things under
different names and number encodings, so one parser serves all three through a `Keys` table
(`mapping.py`); the base readers accept both JSON doubles (via `repr`) and decimal strings.

Upbit's quirks decided here, so the state machine sees plain canonical facts:
- on `state=trade` the `price`/`volume` fields are the *fill's*, not the order's: the order
  quantity is rebuilt as executed + remaining + prevented, and the order price is left unset;
- a `price` order (market buy for a KRW amount) has no base quantity: `quote_qty` carries the
  amount, and it usually ends in `cancel` because leftover KRW dust is returned: with a
  non-zero execution that is reported as `filled` (venue_status stays `cancel`);
- on terminal reports `qty` is final and `canceled_qty = qty - filled_qty`, so
  filled + canceled + remaining = qty holds with remaining 0.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from pipeline.domain.events import CancelReason, Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
    DECIMAL_OF_DOUBLE,
    MAX_MILLIS,
    choice,
    fast_decimal,
    fast_millis,
    fast_opt_decimal,
    fast_opt_text,
    fast_text,
    id_number,
    opt_average,
    opt_flag,
    opt_integer,
    opt_millis,
)
from pipeline.venues.upbit.mapping import (
    MARKET_CACHE,
    ORDER_TYPE_MAP,
    SIDE_MAP,
    STATE_STAGE,
    STATUS_MAP,
    STREAM_SNAPSHOT,
    TERMINAL_STATES,
    TIME_IN_FORCE_MAP,
    VENUE,
    Keys,
    split_market,
)

ZERO = Decimal(0)
MAX_TRADES = 2**40  # trades of one order; `trades_count * 10` is an Int64 sequence
_UNFILLED_REMAINDER_TYPES = frozenset({"price", "market", "best"})
_LIQUIDITY = {True: Liquidity.MAKER, False: Liquidity.TAKER, None: Liquidity.UNKNOWN}
_BUY = Side.BUY

# Reading fields: every report of every order passes here, so each field is read inline with
# its common case first: a JSON double looked up in the decimal cache (`DECIMAL_OF_DOUBLE`), a
# non-empty string, a non-negative integer, a known label looked up in its table. Anything else
# (a cache miss, zero, REST's decimal strings, a wrong type, an unknown label) goes to the
# `base` reader named on the same line, which converts it or raises the documented error. The
# fields are read in a fixed order, which decides the error reported when several are bad.


def order_event(
    obj: dict[str, Any], k: Keys, envelope: RawEnvelope, path: str, rest: bool
) -> OrderEvent:
    """Translate one order report; `rest` marks a REST object (string numbers, a snapshot)."""
    doubles = DECIMAL_OF_DOUBLE
    uuid = obj.get(k.uuid)
    if type(uuid) is not str or not uuid:
        uuid = fast_text(VENUE, obj, k.uuid, path)
    state: Any = obj.get(k.state)  # a label of STATUS_MAP once checked
    status = STATUS_MAP.get(state) if type(state) is str else None
    if status is None:
        status = choice(VENUE, obj, k.state, STATUS_MAP, path)  # raises, naming the field
    if rest and state == "trade":
        raise NormalizationError(
            VENUE, path + k.state, state, "REST order objects never report state trade"
        )
    venue_symbol = obj.get(k.code)
    if type(venue_symbol) is not str or not venue_symbol:
        venue_symbol = fast_text(VENUE, obj, k.code, path)
    symbol, quote = MARKET_CACHE.get(venue_symbol) or split_market(venue_symbol, path + k.code)
    side_label = obj.get(k.side)
    side = SIDE_MAP.get(side_label) if type(side_label) is str else None
    if side is None:
        side = choice(VENUE, obj, k.side, SIDE_MAP, path)
    ord_type = obj.get(k.order_type)
    order_type = ORDER_TYPE_MAP.get(ord_type) if type(ord_type) is str else None
    if order_type is None:
        order_type = choice(VENUE, obj, k.order_type, ORDER_TYPE_MAP, path)
    quote_sized = ord_type == "price" or (ord_type == "best" and side is _BUY)
    value = obj.get(k.executed_volume)
    executed = doubles.get(value) if type(value) is float else None
    if executed is None:
        executed = fast_decimal(VENUE, obj, k.executed_volume, path)
    if executed < 0:
        raise NormalizationError(
            VENUE, path + k.executed_volume, obj[k.executed_volume], "must not be negative"
        )
    trades_count = obj.get(k.trades_count)
    if type(trades_count) is not int or not 0 <= trades_count < MAX_TRADES:
        trades_count = opt_integer(VENUE, obj, k.trades_count, path)
        if trades_count is not None and not 0 <= trades_count < MAX_TRADES:
            raise NormalizationError(
                VENUE, path + k.trades_count, trades_count, "out of range (0 to 2**40)"
            )
    value = obj.get(k.prevented_volume)
    prevented = doubles.get(value) if type(value) is float else None
    if prevented is None:
        prevented = fast_opt_decimal(VENUE, obj, k.prevented_volume, path)
    tif = None if obj.get(k.time_in_force) is None else _time_in_force(obj, k.time_in_force, path)
    if rest:
        event_time = envelope.received_at
    else:
        stamp = obj.get(k.timestamp)
        if type(stamp) is int and 0 <= stamp < MAX_MILLIS:
            event_time = stamp
        else:
            event_time = fast_millis(VENUE, obj, k.timestamp, path)
    terminal = state in TERMINAL_STATES

    if state == "prevented":
        # Upbit's SMP guide (global-docs.upbit.com/docs/smp): `prevented` means self-match
        # prevention cancelled part of the order (volume or amount), whatever the smp_type;
        # an order whose whole remainder is cancelled is sent as `cancel`. So `prevented`
        # leaves the order live while volume remains (reduce, and the prevented part of a
        # cancel_maker / cancel_taker order), and ends it only when nothing remains.
        remaining = fast_opt_decimal(VENUE, obj, k.remaining_volume, path)
        if remaining is not None and remaining > 0:
            terminal = False
            status = OrderStatus.PARTIALLY_FILLED if executed else OrderStatus.OPEN

    fill: Fill | None = None
    price: Decimal | None = None
    quote_qty: Decimal | None = None
    qty: Decimal | None
    if state == "trade":
        fill = _fill(
            obj,
            k,
            path,
            envelope,
            uuid,
            symbol,
            venue_symbol,
            side,
            quote,
            event_time,
            trades_count,
        )
        if quote_sized:
            qty = None
        else:
            value = obj.get(k.remaining_volume)
            remaining = doubles.get(value) if type(value) is float else None
            if remaining is None:
                remaining = fast_decimal(VENUE, obj, k.remaining_volume, path)
            if remaining < 0:
                raise NormalizationError(
                    VENUE, path + k.remaining_volume, obj[k.remaining_volume], "is negative"
                )
            qty = executed + remaining + (prevented or ZERO)
            if not remaining:
                status = OrderStatus.FILLED
    elif quote_sized:
        quote_qty = fast_opt_decimal(VENUE, obj, k.price, path)
        qty = executed if terminal else None
    else:
        value = obj.get(k.volume)
        qty = doubles.get(value) if type(value) is float else None
        if qty is None:
            qty = fast_decimal(VENUE, obj, k.volume, path)
        if qty < executed:
            raise NormalizationError(
                VENUE, path + k.executed_volume, obj[k.executed_volume], "exceeds the volume"
            )
        value = obj.get(k.price)
        price = doubles.get(value) if type(value) is float else None
        if price is None:
            price = fast_opt_decimal(VENUE, obj, k.price, path)

    cancel_reason: str | None = None
    canceled: Decimal | None
    if qty is None:
        canceled = None
    elif terminal:
        canceled = qty - executed
        if state == "cancel":
            if prevented and prevented >= canceled > 0:
                # REST reads an SMP-cancelled order as `cancel`; its `prevented_volume` is
                # the whole remainder (the quantity cancelled by SMP: seeds/003)
                cancel_reason = CancelReason.SELF_TRADE_PREVENTION
            elif ord_type == "price" and executed > 0:
                status = OrderStatus.FILLED  # KRW dust returned: the buy is complete
            elif ord_type in _UNFILLED_REMAINDER_TYPES or tif in ("ioc", "fok"):
                cancel_reason = CancelReason.UNFILLED_REMAINDER
            else:
                cancel_reason = CancelReason.USER
        elif state == "prevented":
            cancel_reason = CancelReason.SELF_TRADE_PREVENTION
    else:
        canceled = prevented or ZERO

    avg: Decimal | None = None
    if executed > 0:
        value = obj.get(k.avg_price)
        avg = doubles.get(value) if type(value) is float else None
        if avg is None:
            avg = opt_average(VENUE, obj, k.avg_price, path)
        if not avg:
            funds = fast_opt_decimal(VENUE, obj, k.executed_funds, path)
            avg = funds / executed if funds else None

    if rest:
        event_id = (
            f"upbit:{uuid}:rest:{state}:{trades_count}:{obj.get(k.executed_volume)}:"
            f"{obj.get(k.remaining_volume)}:{obj.get(k.prevented_volume)}"
        )
        is_snapshot = True
    else:
        if fill is not None:
            event_id = f"upbit:{uuid}:{state}:{fill.trade_id}:{event_time}"
        else:
            # Two reports of one order in one millisecond differ in their volumes (two SMP
            # `reduce` reports); a redelivery (or the other format) of one report does not.
            value = obj.get(k.remaining_volume)
            left = doubles.get(value) if type(value) is float else None
            if left is None:
                left = fast_opt_decimal(VENUE, obj, k.remaining_volume, path)
            event_id = (
                f"upbit:{uuid}:{state}::{event_time}:{id_number(executed)}:{id_number(left)}:"
                f"{id_number(prevented)}"
            )
        stream = obj.get(k.stream_type)
        is_snapshot = False
        if stream is not None:
            known = STREAM_SNAPSHOT.get(stream) if type(stream) is str else None
            if known is None:
                known = choice(VENUE, obj, k.stream_type, STREAM_SNAPSHOT, path)
            is_snapshot = known

    value = obj.get(k.paid_fee)
    fee = doubles.get(value) if type(value) is float else None
    if fee is None:
        fee = fast_opt_decimal(VENUE, obj, k.paid_fee, path)  # cumulative
    client_order_id = obj.get(k.identifier)
    if type(client_order_id) is str:
        client_order_id = client_order_id or None
    elif client_order_id is not None:
        client_order_id = fast_opt_text(VENUE, obj, k.identifier, path)  # raises
    # Positional on purpose: keyword construction of this 27-field dataclass costs ~1 us more
    # per event. The order is pinned by tests/unit/venues/test_event_layout.py.
    return OrderEvent(
        event_id,
        VENUE,
        envelope.account,
        uuid,  # order_id
        symbol,
        venue_symbol,
        side,
        order_type,
        status,
        state,  # venue_status
        event_time,
        envelope.received_at,
        qty,
        price,
        executed,  # filled_qty
        avg,  # avg_fill_price
        canceled,  # canceled_qty
        fee,  # fee (cumulative)
        quote,  # fee_asset
        quote_qty,
        None,  # stop_price: myOrder states none
        client_order_id,
        tif,
        cancel_reason,
        fill,
        None if trades_count is None else trades_count * 10 + STATE_STAGE[state],  # sequence
        is_snapshot,
    )


def _fill(
    obj: dict[str, Any],
    k: Keys,
    path: str,
    envelope: RawEnvelope,
    uuid: str,
    symbol: str,
    venue_symbol: str,
    side: Side,
    quote: str,
    event_time: int,
    trades_count: int | None,
) -> Fill:
    """The execution a `state=trade` report announces (its price and volume are the fill's).

    Older frames (the ccxt-quoted Upbit global example) lack `trade_uuid`, `trade_fee` and
    `trade_timestamp`. The fill is then identified as `<uuid>#<trades_count>` (a trade bumps
    the count by one, so the pair is unique and stable), its fee is `paid_fee` when it is
    the order's first trade, and its time the frame's `timestamp`.
    """
    doubles = DECIMAL_OF_DOUBLE
    value = obj.get(k.volume)
    qty = doubles.get(value) if type(value) is float else None
    if qty is None:
        qty = fast_decimal(VENUE, obj, k.volume, path)
    if qty <= 0:
        raise NormalizationError(VENUE, path + k.volume, obj[k.volume], "fill volume must be > 0")
    trade_id = obj.get(k.trade_uuid)
    if type(trade_id) is not str or not trade_id:
        trade_id = fast_opt_text(VENUE, obj, k.trade_uuid, path)
    if trade_id is None:
        if trades_count is None:
            raise NormalizationError(
                VENUE, path + k.trade_uuid, None, "required when trades_count is absent"
            )
        trade_id = f"{uuid}#{trades_count}"
    value = obj.get(k.trade_fee)
    fee = doubles.get(value) if type(value) is float else None
    if fee is None:
        fee = fast_opt_decimal(VENUE, obj, k.trade_fee, path)
    if fee is None:
        fee = fast_opt_decimal(VENUE, obj, k.paid_fee, path) if trades_count == 1 else None
        if fee is None:
            raise NormalizationError(
                VENUE, path + k.trade_fee, None, "required unless this is the first trade"
            )
    value = obj.get(k.price)
    price = doubles.get(value) if type(value) is float else None
    if price is None:
        price = fast_decimal(VENUE, obj, k.price, path)  # the fill's price on state=trade
    maker = obj.get(k.is_maker)
    liquidity = _LIQUIDITY[maker if type(maker) is bool else opt_flag(VENUE, obj, k.is_maker, path)]
    trade_time = obj.get(k.trade_timestamp)
    if type(trade_time) is not int or not 0 <= trade_time < MAX_MILLIS:
        trade_time = opt_millis(VENUE, obj, k.trade_timestamp, path)
    return Fill(  # positional, like OrderEvent above
        VENUE,
        envelope.account,
        symbol,
        venue_symbol,
        uuid,  # order_id
        trade_id,
        side,
        price,
        qty,
        fee,
        quote,  # fee_asset
        liquidity,
        trade_time or event_time,  # trade_time
        envelope.received_at,
    )


def _time_in_force(obj: dict[str, Any], name: str, path: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    found = TIME_IN_FORCE_MAP.get(value) if isinstance(value, str) else None
    if found is None:
        raise NormalizationError(
            VENUE, path + name, value, "unknown value; expected one of fok, ioc, post_only"
        )
    return found


def rest_trade_events(
    obj: dict[str, Any], order: OrderEvent, envelope: RawEnvelope, path: str
) -> list[OrderEvent]:
    """The `trades[]` of a `GET /v1/order` reply -> one fill-bearing event per trade.

    A documented trade item states no maker flag or millisecond time, so its `Fill` has
    `trade_id` = the trade's `uuid` (the `trade_uuid` of the WebSocket `trade` frame, so the
    two deduplicate), `liquidity` unknown, `trade_time` = its `created_at` (ISO, seconds) and
    the fee the trade states for itself when it states one (`TRADE_FEE_FIELDS`), else a share
    of what the order's cumulative `paid_fee` leaves, proportional to its `funds` (`_fees`), so
    the fills' fees sum to `paid_fee`. The events state no cumulative quantity (the order
    event beside them does, `fee` included) and are stamped `received_at` with no sequence:
    they sort before the order event of the same reply and after every earlier WebSocket
    report, so a trade also heard live keeps the live report's fill (its exact `trade_fee`).
    """
    trades = obj.get("trades")
    if trades is None:
        return []
    if not isinstance(trades, list):
        raise NormalizationError(VENUE, path + "trades", trades, "expected a JSON array")
    parsed: list[tuple[str, Decimal, Decimal, Decimal, int]] = []
    stated: list[Decimal | None] = []
    for index, item in enumerate(trades):
        where = f"{path}trades[{index}]."
        if not isinstance(item, dict):
            raise NormalizationError(VENUE, where[:-1], item, "expected a JSON object")
        trade_id = fast_text(VENUE, item, "uuid", where)
        price = fast_decimal(VENUE, item, "price", where)
        qty = fast_decimal(VENUE, item, "volume", where)
        if qty <= 0:
            raise NormalizationError(VENUE, where + "volume", item["volume"], "must be > 0")
        funds = fast_opt_decimal(VENUE, item, "funds", where)
        parsed.append(
            (trade_id, price, qty, price * qty if funds is None else funds, _iso_ms(item, where))
        )
        stated.append(_trade_fee(item, where))
    if not parsed:
        return []
    fees = _fees(order.fee or ZERO, [p[3] for p in parsed], stated)
    quote = order.fee_asset
    trades_count = obj.get("trades_count")
    events = []
    for (trade_id, price, qty, _, trade_time), fee in zip(parsed, fees, strict=True):
        fill = Fill(
            VENUE,
            envelope.account,
            order.symbol,
            order.venue_symbol,
            order.order_id,
            trade_id,
            order.side,
            price,
            qty,
            fee,
            quote,
            Liquidity.UNKNOWN,
            trade_time,
            envelope.received_at,
        )
        events.append(
            OrderEvent(
                f"upbit:{order.order_id}:rest:trade:{trades_count}:{trade_id}",
                VENUE,
                envelope.account,
                order.order_id,
                order.symbol,
                order.venue_symbol,
                order.side,
                order.order_type,
                OrderStatus.PARTIALLY_FILLED,
                "trade",
                envelope.received_at,
                envelope.received_at,
                fee_asset=quote,
                client_order_id=order.client_order_id,
                fill=fill,
                is_snapshot=True,
            )
        )
    return events


TRADE_FEE_FIELDS: tuple[str, ...] = ("fee", "trade_fee")
"""Per-trade fee amounts a `trades[]` item may state. Upbit's documented `GET /v1/order`
lists none (market, uuid, price, volume, funds, side, created_at), but some API versions and
exchanges with Upbit's API state one; the WebSocket `trade` frame's is `trade_fee`."""


def _trade_fee(item: dict[str, Any], path: str) -> Decimal | None:
    """The fee a trade item states for itself, or `None`."""
    for name in TRADE_FEE_FIELDS:
        fee = fast_opt_decimal(VENUE, item, name, path)
        if fee is not None:
            return fee
    return None


def _fees(paid: Decimal, funds: list[Decimal], stated: list[Decimal | None]) -> list[Decimal]:
    """Each trade's fee: the venue's own where it states one; the rest of the order's
    cumulative `paid` shared among the others pro rata to their funds, rounded down to the
    places `paid` is written with, the last of them taking the remainder (so the fills' fees
    sum to `paid`). Only trades that state nothing get a computed share."""
    if all(fee is not None for fee in stated):
        return [fee for fee in stated if fee is not None]
    left = paid - sum((fee for fee in stated if fee is not None), ZERO)
    unknown = [i for i, fee in enumerate(stated) if fee is None]
    total = sum((funds[i] for i in unknown), ZERO)
    exponent = paid.as_tuple().exponent
    quantum = (
        Decimal(1).scaleb(exponent) if isinstance(exponent, int) and exponent < 0 else Decimal(1)
    )
    fees: list[Decimal] = [ZERO if fee is None else fee for fee in stated]
    shared = ZERO
    for i in unknown[:-1]:
        share = (left * funds[i] / total).quantize(quantum, rounding=ROUND_DOWN) if total else ZERO
        fees[i] = share
        shared += share
    fees[unknown[-1]] = left - shared
    return fees


def _iso_ms(item: dict[str, Any], path: str) -> int:
    """A trade's `created_at` (ISO 8601 with a zone) as epoch ms."""
    value = item.get("created_at")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise NormalizationError(
            VENUE, path + "created_at", value, "expected an ISO 8601 time with a zone"
        )
    return int(moment.timestamp() * 1000)
