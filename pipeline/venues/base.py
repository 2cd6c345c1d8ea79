"""What every venue normalizer shares: the interface and typed field readers.

A normalizer is pure: `normalize(envelope)` turns one raw envelope into zero or more
canonical `OrderEvent`s, or raises `NormalizationError` naming the venue, field and value.
The readers below are the only place that converts wire values, so that every venue reports a
bad field the same way.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from pipeline.domain.events import OrderEvent
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
        if isinstance(value, str):
            result = Decimal(value)
        elif isinstance(value, int):
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
    elif isinstance(value, str) and value.isdigit():
        result = int(value)
    elif isinstance(value, float) and value.is_integer():
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
