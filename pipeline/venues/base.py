"""What every venue normalizer shares: the interface and typed field readers.

A normalizer is pure: `normalize(envelope)` turns one raw envelope into zero or more
canonical `OrderEvent`s, or raises `NormalizationError` naming the venue, field and value.
The readers below are the only place that converts wire values, so that every venue reports a
bad field the same way. (The Upbit and Binance hot paths look already-converted numbers up in
`DECIMAL_OF_DOUBLE` / `DECIMAL_OF_STRING` first and call these readers for anything else.)
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation
from math import copysign
from typing import Any, Protocol

from pipeline.domain.events import Fill, OrderEvent, OrderStatus
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError


class Normalizer(Protocol):
    """Turns one venue's raw envelopes into canonical events."""

    venue: str

    def normalize(self, envelope: RawEnvelope) -> list[OrderEvent]: ...


_MISSING = object()


def field(venue: str, obj: dict[str, Any], name: str, path: str = "") -> Any:
    """`obj[name]`, or `NormalizationError` if absent or null."""
    value = obj.get(name, _MISSING) if isinstance(obj, dict) else _MISSING
    if value is _MISSING or value is None:
        raise NormalizationError(venue, path + name, None, "required field is missing")
    return value


def text(venue: str, obj: dict[str, Any], name: str, path: str = "") -> str:
    """A required non-empty string field (numbers are accepted and rendered as text)."""
    value = field(venue, obj, name, path)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise NormalizationError(venue, path + name, value, "expected a string")
    value = str(value)
    if not value:
        raise NormalizationError(venue, path + name, value, "must not be empty")
    return value


def opt_text(venue: str, obj: dict[str, Any], name: str, path: str = "") -> str | None:
    value = obj.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise NormalizationError(venue, path + name, value, "expected a string")
    return str(value)


MAX_NUMBER_CHARS = 64
"""The longest wire number read: Decimal(38, 18) needs 38 digits, a sign, a point and an
exponent; anything longer is refused before it is parsed (a 1 MB digit string costs time)."""
MAX_INTEGER_DIGITS = 20
"""Decimal(38, 18), the store's type for money and quantities: 20 digits before the point..."""
MAX_SCALE = 18
"""...and 18 after it. A value beyond either would fail the store's insert (a poison row), and
a huge exponent (`1e999999999`) exhausts memory when formatted, so both are dead letters."""
MAX_INTEGER = 10**MAX_INTEGER_DIGITS
MAX_MILLIS = 10_413_792_000_000
"""2300-01-01T00:00:00Z in epoch ms: past the end of ClickHouse DateTime64(3) (2299-12-31)."""
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A decimal number spelled in ASCII: no NaN/Infinity, no whitespace or `_`, no other
digits (`Decimal` alone accepts Arabic-Indic digits and `1_000`)."""
_NON_FINITE = frozenset({"nan", "snan", "inf", "infinity"})


def parse_number(wire: str) -> Decimal | str:
    """The exact `Decimal` of a wire number, or the reason it is refused.

    Accepted: an ASCII decimal string of at most `MAX_NUMBER_CHARS` characters whose value
    fits Decimal(38, 18): |value| < 1e20 and at most 18 decimal places once trailing zeros
    are dropped (`1.50000000000000000000` is 1.5; `1e-19` is refused, never stored as 0).
    The common spelling (digits, an optional sign and point, no exponent, at most 18 places)
    is checked with string tests alone; anything else takes the full grammar and bounds.
    """
    if len(wire) > MAX_NUMBER_CHARS:
        return f"longer than {MAX_NUMBER_CHARS} characters"
    if wire.isascii() and _PLAIN_CHARS.issuperset(wire) and wire[-1:].isdigit():
        point = wire.find(".")
        digits = len(wire) if point < 0 else point
        if wire[:1] in "+-":
            digits -= 1
        signs = wire.count("-") + wire.count("+")
        if (
            0 < digits <= MAX_INTEGER_DIGITS
            and (point < 0 or len(wire) - point - 1 <= MAX_SCALE)
            and wire.count(".") <= 1
            and signs <= (wire[0] in "+-")
        ):
            return Decimal(wire)  # no exponent, <= 20 integer digits, <= 18 places
    if _NUMBER.fullmatch(wire) is None:
        if wire.lower().lstrip("+-") in _NON_FINITE:
            return "must be a finite number"
        return "expected a decimal number"
    try:
        value = Decimal(wire)
    except InvalidOperation:  # an exponent beyond what `decimal` can represent at all
        return "does not fit Decimal(38, 18): exponent out of range"
    return bound_decimal(value)


_PLAIN_CHARS = frozenset("0123456789.+-")


_SCALE = Decimal(1).scaleb(-MAX_SCALE)
_ROUNDING = Context(prec=MAX_INTEGER_DIGITS + MAX_SCALE + 2)


def opt_average(venue: str, obj: dict[str, Any], name: str, path: str = "") -> Decimal | None:
    """An optional average price: like `opt_decimal`, but a quotient's tail beyond 18 decimal
    places is rounded off (a venue may state 3002.620689655172413793103448), as long as the
    value's first digit is within them; `1e-999999` is still refused, never stored as 0."""
    value = obj.get(name)
    if value is None or value == "":
        return None
    wire = repr(value) if isinstance(value, float) else value
    if isinstance(wire, str) and len(wire) <= MAX_NUMBER_CHARS and _NUMBER.fullmatch(wire):
        try:
            exact = Decimal(wire)
        except InvalidOperation:
            exact = None
        if exact is not None and exact and -MAX_SCALE <= exact.adjusted() < MAX_INTEGER_DIGITS:
            exponent = exact.as_tuple().exponent
            if isinstance(exponent, int) and exponent < -MAX_SCALE:
                return exact.quantize(_SCALE, context=_ROUNDING)
    return to_decimal(venue, path + name, value)


def bound_decimal(result: Decimal) -> Decimal | str:
    """`result` if it fits Decimal(38, 18) (trailing zeros beyond 18 places dropped), else
    the reason it does not. Plain tuple arithmetic: a context operation would round."""
    if not result.is_finite():
        return "must be a finite number"
    sign, digits, exponent = result.as_tuple()
    if not isinstance(exponent, int):
        return "must be a finite number"
    if not result:
        return _ZERO if exponent > 0 or exponent < -MAX_SCALE else result  # 0E+999999999
    if result.adjusted() >= MAX_INTEGER_DIGITS:
        return "does not fit Decimal(38, 18): more than 20 digits before the point"
    if exponent < -MAX_SCALE:
        end = len(digits)
        while digits[end - 1] == 0:  # a non-zero number has a non-zero digit
            end -= 1
        exponent += len(digits) - end
        if exponent < -MAX_SCALE:
            return "does not fit Decimal(38, 18): more than 18 decimal places"
        result = Decimal((sign, digits[:end], exponent))
    return result


_ZERO = Decimal(0)


def to_decimal(venue: str, name: str, value: Any) -> Decimal:
    """Convert a wire number (decimal string, int, or JSON double) to an exact Decimal that
    fits the store's Decimal(38, 18) (see `parse_number`).

    JSON doubles (Upbit WebSocket) go through `repr`, which yields the shortest string that
    round-trips, so 0.1 becomes Decimal('0.1') rather than its binary expansion.
    """
    if isinstance(value, bool):
        raise NormalizationError(venue, name, value, "expected a decimal number")
    if isinstance(value, str):
        result = parse_number(value)
    elif isinstance(value, int):
        if -MAX_INTEGER < value < MAX_INTEGER:
            return Decimal(value)
        result = "does not fit Decimal(38, 18): more than 20 digits before the point"
    elif isinstance(value, float):
        result = parse_number(repr(value))
    else:
        raise NormalizationError(venue, name, value, "expected a decimal number")
    if isinstance(result, str):
        raise NormalizationError(venue, name, value, result)
    return result


def decimal_field(venue: str, obj: dict[str, Any], name: str, path: str = "") -> Decimal:
    """A required decimal field."""
    return to_decimal(venue, path + name, field(venue, obj, name, path))


def opt_decimal(venue: str, obj: dict[str, Any], name: str, path: str = "") -> Decimal | None:
    """An optional decimal field: `None` when absent, null or empty."""
    value = obj.get(name)
    if value is None or value == "":
        return None
    return to_decimal(venue, path + name, value)


def millis(venue: str, obj: dict[str, Any], name: str, path: str = "") -> int:
    """A required epoch-milliseconds field (int or numeric string)."""
    value = field(venue, obj, name, path)
    return to_millis(venue, path + name, value)


def to_millis(venue: str, name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise NormalizationError(venue, name, value, "expected epoch milliseconds")
    if isinstance(value, int):
        result = value
    elif (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20) or (
        isinstance(value, float) and value.is_integer()
    ):
        result = int(value)
    else:
        raise NormalizationError(venue, name, value, "expected epoch milliseconds")
    if result < 0:
        raise NormalizationError(venue, name, value, "must not be negative")
    if result >= MAX_MILLIS:
        raise NormalizationError(venue, name, value, "after the year 2299: out of range")
    return result


def expect_object(venue: str, value: Any, name: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else `NormalizationError`."""
    if not isinstance(value, dict):
        raise NormalizationError(venue, name, value, "expected a JSON object")
    return value


def opt_millis(venue: str, obj: dict[str, Any], name: str, path: str = "") -> int | None:
    """An optional epoch-milliseconds field: `None` when absent or null."""
    value = obj.get(name)
    if value is None:
        return None
    return to_millis(venue, path + name, value)


def opt_flag(venue: str, obj: dict[str, Any], name: str, path: str = "") -> bool | None:
    """An optional JSON boolean: `None` when absent or null, an error for anything else.

    Strings such as "true" are refused on purpose: a venue that changes a flag's type has
    changed its protocol, and that should surface as a dead letter, not a guess.
    """
    value = obj.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise NormalizationError(venue, path + name, value, "expected a boolean")


def choice(
    venue: str, obj: dict[str, Any], name: str, table: dict[str, Any], path: str = ""
) -> Any:
    """A required enumerated field translated through `table` (venue label -> our value).

    One dict lookup on the hot path; an unknown label names the labels we do know.
    """
    value = field(venue, obj, name, path)
    try:
        return table[value]
    except (KeyError, TypeError):
        known = ", ".join(sorted(str(k) for k in table))
        raise NormalizationError(
            venue, path + name, value, f"unknown value; expected one of {known}"
        ) from None


def opt_integer(venue: str, obj: dict[str, Any], name: str, path: str = "") -> int | None:
    """An optional integer (a JSON integer or a string of digits): `None` when absent/null."""
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        if len(value) > 20:
            raise NormalizationError(venue, path + name, value, "out of the 62-bit range")
        result = int(value)
    else:
        raise NormalizationError(venue, path + name, value, "expected an integer")
    if not -INT64 <= result < INT64:  # sequences are stored as Int64 (with an epoch added)
        raise NormalizationError(venue, path + name, value, "out of the 62-bit range")
    return result


INT64 = 4_611_686_018_427_387_903
"""2**62 - 1: the bound of a stated sequence number. Sequences are stored as Int64 with an
epoch added; the bound also keeps them in mypyc's unboxed integers on the hot path."""


SECONDS_CUTOFF = 100_000_000_000
"""Epoch values below this are seconds: 1e11 ms is 1973-03-03, 1e11 s is the year 5138."""


def to_millis_lenient(venue: str, name: str, value: Any) -> int:
    """Epoch milliseconds from a value that may be seconds or milliseconds.

    Some venues document a field as milliseconds and send seconds (Coinone's cancel response
    `canceled_at`); any time after 1973 is unambiguous, so the magnitude decides.
    """
    result = to_millis(venue, name, value)
    return result * 1000 if result < SECONDS_CUTOFF else result


def opt_millis_lenient(venue: str, obj: dict[str, Any], name: str, path: str = "") -> int | None:
    """An optional epoch time in seconds or milliseconds, as milliseconds; `None` if absent."""
    value = obj.get(name)
    if value is None or value == "":
        return None
    return to_millis_lenient(venue, path + name, value)


def expect_list(venue: str, value: Any, name: str) -> list[Any]:
    """`value` if it is a JSON array, else `NormalizationError`."""
    if not isinstance(value, list):
        raise NormalizationError(venue, name, value, "expected a JSON array")
    return value


def id_number(value: Decimal | None) -> str:
    """A decimal rendered for an event id: `-` for unknown, no exponent, no trailing zeros.

    Two reports of the same quantity spelled differently ("0.50" and "0.5") must give the
    same event id, so ids never embed the wire text.
    """
    if value is None:
        return "-"
    if not value:
        return "0"
    return f"{value.normalize():f}"


# Fast paths. The readers above are the reference; these have the same contract (and, by
# falling back to them for anything unusual, the very same errors) but answer the common case
# (a well-typed value) with one `type()` test, which matters at ~100k events/s. `obj` must be
# a dict (pass it through `expect_object` first).

DECIMAL_CACHE_LIMIT = 16_384
"""Entries per wire-number cache; a full cache is emptied and refills with what is hot."""

DECIMAL_OF_STRING: dict[str, Decimal] = {}
"""Decimal strings seen on the wire -> their exact `Decimal` (see `wire_decimal`)."""
DECIMAL_OF_DOUBLE: dict[float, Decimal] = {}
"""Non-zero finite JSON doubles seen -> `Decimal(repr(value))` (see `wire_decimal`).

Hot paths may look a value up here directly and fall back to a `fast_*` reader on a miss:
zero never hits (0.0 and -0.0 are one dict key but two decimals), so the reader sorts it out.
"""
_POSITIVE_ZERO = Decimal("0.0")  # Decimal(repr(0.0))
_NEGATIVE_ZERO = Decimal("-0.0")  # Decimal(repr(-0.0))


def wire_decimal(value: Any) -> Decimal | None:
    """The exact `Decimal` of a decimal string, JSON double or integer; `None` for anything
    else (absent, null, empty, bool, other types, not a number, not finite).

    Why a cache: converting costs ~150 ns (string) to ~230 ns (double, via `repr`), a dict
    hit ~35 ns, and a venue restates the same few numbers over and over (quantities, tick
    prices, `0.00000000`). The cache is keyed by the exact wire value and `Decimal` is
    immutable, so a hit is the very value a conversion would give (exponent included). Only
    finite results are cached. `0.0 == -0.0` as dict keys, so zero doubles bypass the cache.
    Callers pass `None` on to the reference reader, which raises the documented error.
    """
    kind = type(value)
    if kind is str:
        found = DECIMAL_OF_STRING.get(value)
        if found is None:
            found = _convert(DECIMAL_OF_STRING, value, value)
        return found
    if kind is float:
        if not value:
            return _POSITIVE_ZERO if copysign(1.0, value) > 0 else _NEGATIVE_ZERO
        found = DECIMAL_OF_DOUBLE.get(value)
        if found is None:
            found = _convert(DECIMAL_OF_DOUBLE, value, repr(value))
        return found
    if kind is int:
        return Decimal(value) if -MAX_INTEGER < value < MAX_INTEGER else None
    return None


def _convert(cache: dict[Any, Decimal], key: Any, wire: str) -> Decimal | None:
    """Convert a cache miss; remember it when it is a number that fits (`parse_number`)."""
    result = parse_number(wire)
    if isinstance(result, str):
        return None
    if len(cache) >= DECIMAL_CACHE_LIMIT:
        cache.clear()
    cache[key] = result
    return result


def fast_decimal(venue: str, obj: dict[str, Any], name: str, path: str = "") -> Decimal:
    """`decimal_field` with a fast path for decimal strings, JSON doubles and integers.

    The cache lookups of `wire_decimal` are repeated inline: this runs for most numeric
    fields of every report, and a nested call would cost as much as the lookup.
    """
    value: Any = obj.get(name)
    kind = type(value)
    if kind is str:
        found = DECIMAL_OF_STRING.get(value)
    elif kind is float:
        if not value:  # zero doubles are never cached (see wire_decimal)
            return _POSITIVE_ZERO if copysign(1.0, value) > 0 else _NEGATIVE_ZERO
        found = DECIMAL_OF_DOUBLE.get(value)
    else:
        found = None
    if found is None:
        found = wire_decimal(value)
        if found is None:
            return decimal_field(venue, obj, name, path)  # raises, naming the field
    return found


def fast_opt_decimal(venue: str, obj: dict[str, Any], name: str, path: str = "") -> Decimal | None:
    """`opt_decimal` with the same fast path: `None` when absent, null or empty."""
    value: Any = obj.get(name)
    kind = type(value)
    if kind is str:
        if not value:
            return None
        found = DECIMAL_OF_STRING.get(value)
    elif kind is float:
        if not value:
            return _POSITIVE_ZERO if copysign(1.0, value) > 0 else _NEGATIVE_ZERO
        found = DECIMAL_OF_DOUBLE.get(value)
    elif value is None:
        return None
    else:
        found = None
    if found is None:
        found = wire_decimal(value)
        if found is None:
            return decimal_field(venue, obj, name, path)  # raises, naming the field
    return found


def fast_text(venue: str, obj: dict[str, Any], name: str, path: str = "") -> str:
    """`text` with a fast path for a non-empty string or an integer (rendered as text)."""
    value: Any = obj.get(name)
    kind = type(value)
    if kind is str and value:
        return value
    if kind is int:
        return str(value)
    return text(venue, obj, name, path)


def fast_opt_text(venue: str, obj: dict[str, Any], name: str, path: str = "") -> str | None:
    """`opt_text` with a fast path for a string."""
    value = obj.get(name)
    if type(value) is str:
        return value or None
    return opt_text(venue, obj, name, path)


def fast_millis(venue: str, obj: dict[str, Any], name: str, path: str = "") -> int:
    """`millis` with a fast path for a JSON integer in range."""
    value = obj.get(name)
    if type(value) is int and 0 <= value < MAX_MILLIS:
        return value
    return millis(venue, obj, name, path)


MAX_ID_CHARS = 128
"""The longest identifier accepted (accounts, symbols, order, trade and client ids). Venues
use at most 64 (a UUID is 36); a 4 MB id is an attack on the live view and the store."""


def check_identifier(venue: str, name: str, value: str) -> None:
    """Refuse an identifier that is too long, holds a `|` (the raw-topic key separator) or a
    character that is not printable: NUL, ESC and other controls, line separators, bidi
    overrides (Unicode format characters), which would be printed raw by the live view."""
    if len(value) > MAX_ID_CHARS:
        raise NormalizationError(venue, name, value, f"longer than {MAX_ID_CHARS} characters")
    if not value.isprintable():
        raise NormalizationError(
            venue, name, value, "holds a control, format (bidi) or other unprintable character"
        )
    if "|" in value:
        raise NormalizationError(venue, name, value, "holds '|', the key separator")


_CHECKED_IDS: set[str] = set()
"""Identifiers that passed `check_identifier`: accounts, symbols and labels repeat on every
report and an order's id on each of its reports, so most checks are one set lookup."""
_CHECKED_LIMIT = 65_536
MAX_EVENT_ID_CHARS = 1024
_ZERO = Decimal(0)


def _checked_id(venue: str, name: str, value: str) -> None:
    """`check_identifier` for a value not seen before; remembered once it passes."""
    check_identifier(venue, name, value)
    if len(_CHECKED_IDS) >= _CHECKED_LIMIT:
        _CHECKED_IDS.clear()
    _CHECKED_IDS.add(value)


def check_events(venue: str, events: list[OrderEvent]) -> list[OrderEvent]:
    """`events` once every identifier and quantity in them is one the books can hold.

    The last step of every normalizer: whatever the wire spelling, an event leaves the edge
    with printable bounded ids and consistent quantities (none negative; filled, and filled
    plus canceled, within the order's quantity when it is stated), or not at all. Written
    out field by field with a set of ids already checked: it runs for every event.
    """
    known = _CHECKED_IDS
    zero = _ZERO
    for event in events:
        if event.account not in known:
            _checked_id(venue, "account", event.account)  # SSI states it in the payload
        if event.order_id not in known:
            _checked_id(venue, "order_id", event.order_id)
        if event.venue_symbol not in known:
            _checked_id(venue, "symbol", event.venue_symbol)
        if event.symbol not in known:
            _checked_id(venue, "symbol", event.symbol)
        if event.venue_status not in known:
            _checked_id(venue, "venue_status", event.venue_status)
        text = event.order_type
        if text and text not in known:
            _checked_id(venue, "order_type", text)
        optional = event.client_order_id
        if optional is not None and optional not in known:
            _checked_id(venue, "client_order_id", optional)
        optional = event.time_in_force
        if optional is not None and optional not in known:
            _checked_id(venue, "time_in_force", optional)
        optional = event.fee_asset
        if optional is not None and optional not in known:
            _checked_id(venue, "fee_asset", optional)
        qty = event.qty
        filled = event.filled_qty
        canceled = event.canceled_qty
        if qty is not None and qty < zero:
            raise NormalizationError(venue, "qty", str(qty), "must not be negative")
        if filled is not None:
            if filled < zero:
                raise NormalizationError(venue, "filled_qty", str(filled), "must not be negative")
            if qty is not None and filled > qty:
                raise NormalizationError(
                    venue, "filled_qty", str(filled), f"exceeds the order quantity {qty}"
                )
        if canceled is not None and canceled:
            if canceled < zero:
                raise NormalizationError(
                    venue, "canceled_qty", str(canceled), "must not be negative"
                )
            if qty is not None and canceled + (zero if filled is None else filled) > qty:
                raise NormalizationError(
                    venue, "canceled_qty", str(canceled),
                    f"filled {filled or 0} + canceled exceeds the order quantity {qty}",
                )  # fmt: skip
        amount = event.price
        if amount is not None and amount < zero:
            raise NormalizationError(venue, "price", str(amount), "must not be negative")
        amount = event.avg_fill_price
        if amount is not None and amount < zero:
            raise NormalizationError(venue, "avg_fill_price", str(amount), "must not be negative")
        amount = event.quote_qty
        if amount is not None and amount < zero:
            raise NormalizationError(venue, "quote_qty", str(amount), "must not be negative")
        amount = event.stop_price
        if amount is not None and amount < zero:
            raise NormalizationError(venue, "stop_price", str(amount), "must not be negative")
        fill = event.fill
        if fill is not None:
            if fill.trade_id not in known:
                _checked_id(venue, "fill.trade_id", fill.trade_id)
            if fill.qty <= zero:
                raise NormalizationError(venue, "fill.qty", str(fill.qty), "must be > 0")
            if fill.price < zero:
                raise NormalizationError(
                    venue, "fill.price", str(fill.price), "must not be negative"
                )
            optional = fill.fee_asset
            if optional is not None and optional not in known:
                _checked_id(venue, "fill.fee_asset", optional)
        if len(event.event_id) > MAX_EVENT_ID_CHARS:  # built from wire values by some venues
            raise NormalizationError(
                venue, "event_id", event.event_id, f"longer than {MAX_EVENT_ID_CHARS} characters"
            )
    return events


def trade_report(
    fill: Fill,
    event_id: str,
    venue_status: str,
    event_time: int,
    *,
    order_type: str = "",
    client_order_id: str | None = None,
    sequence: int | None = None,
    is_snapshot: bool = False,
) -> OrderEvent:
    """The event of a report that states one execution of an order and nothing else.

    Trade lists and match notices say nothing of the order beyond "at least partially
    filled": the status is `partially_filled`, no cumulative quantity is stated, and
    `order_type` "" (not stated) keeps the type the order's own reports give. The fold takes
    the rest from those reports, whichever arrives first.
    """
    return OrderEvent(
        event_id,
        fill.venue,
        fill.account,
        fill.order_id,
        fill.symbol,
        fill.venue_symbol,
        fill.side,
        order_type,
        OrderStatus.PARTIALLY_FILLED,
        venue_status,
        event_time,
        fill.received_at,
        client_order_id=client_order_id,
        fill=fill,
        sequence=sequence,
        is_snapshot=is_snapshot,
    )
