"""What every venue normalizer shares: the interface and typed field readers.

A normalizer is pure: `normalize(envelope)` turns one raw envelope into zero or more
canonical `OrderEvent`s, or raises `NormalizationError` naming the venue, field and value.
The readers below are the only place that converts wire values, so that every venue reports a
bad field the same way. (The Upbit and Binance hot paths look already-converted numbers up in
`DECIMAL_OF_DOUBLE` / `DECIMAL_OF_STRING` first and call these readers for anything else.)
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
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


def to_decimal(venue: str, name: str, value: Any) -> Decimal:
    """Convert a wire number (decimal string, int, or JSON double) to an exact Decimal.

    JSON doubles (Upbit WebSocket) go through `repr`, which yields the shortest string that
    round-trips, so 0.1 becomes Decimal('0.1') rather than its binary expansion.
    """
    if isinstance(value, bool):
        raise NormalizationError(venue, name, value, "expected a decimal number")
    try:
        if isinstance(value, str | int):
            result = Decimal(value)
        elif isinstance(value, float):
            result = Decimal(repr(value))
        else:
            raise NormalizationError(venue, name, value, "expected a decimal number")
    except InvalidOperation as exc:
        raise NormalizationError(venue, name, value, "expected a decimal number") from exc
    if not result.is_finite():
        raise NormalizationError(venue, name, value, "must be a finite number")
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
    elif (isinstance(value, str) and value.isascii() and value.isdigit()) or (
        isinstance(value, float) and value.is_integer()
    ):
        result = int(value)
    else:
        raise NormalizationError(venue, name, value, "expected epoch milliseconds")
    if result < 0:
        raise NormalizationError(venue, name, value, "must not be negative")
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
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    raise NormalizationError(venue, path + name, value, "expected an integer")


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
        return Decimal(value)
    return None


def _convert(cache: dict[Any, Decimal], key: Any, wire: str) -> Decimal | None:
    """Convert a cache miss; remember it when it is a finite number."""
    try:
        result = Decimal(wire)
    except InvalidOperation:
        return None
    if not result.is_finite():
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
    """`millis` with a fast path for a non-negative JSON integer."""
    value = obj.get(name)
    if type(value) is int and value >= 0:
        return value
    return millis(venue, obj, name, path)


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
