"""The fast readers of `pipeline.venues.base` agree with the reference readers exactly.

Same value for every input the reference accepts, and the same `NormalizationError` (field,
value, problem) for every input it rejects: the fast path may only be faster.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import NormalizationError
from pipeline.venues import base
from pipeline.venues.base import (
    decimal_field,
    fast_decimal,
    fast_millis,
    fast_opt_decimal,
    fast_opt_text,
    fast_text,
    millis,
    opt_decimal,
    opt_text,
    text,
    to_decimal,
    wire_decimal,
)

WIRE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["0.00000000", "1e5", "NaN", "-Infinity", " 1.5 ", "1_000", "", "abc"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


def _outcome(reader: Callable[..., Any], obj: dict[str, Any]) -> Any:
    try:
        return ("ok", reader("v", obj, "k", "p."))
    except NormalizationError as exc:
        return ("error", exc.field, repr(exc.value), exc.problem)


def _same(fast: Callable[..., Any], reference: Callable[..., Any], value: Any) -> None:
    obj = {"k": value}
    fast_result, reference_result = _outcome(fast, obj), _outcome(reference, obj)
    assert fast_result == reference_result
    if fast_result[0] == "ok" and fast_result[1] is not None:
        assert type(fast_result[1]) is type(reference_result[1])


@given(WIRE_VALUES)
def test_fast_decimal_agrees_with_decimal_field(value: Any) -> None:
    _same(fast_decimal, decimal_field, value)


@given(WIRE_VALUES)
def test_fast_opt_decimal_agrees_with_opt_decimal(value: Any) -> None:
    _same(fast_opt_decimal, opt_decimal, value)


@given(WIRE_VALUES)
def test_fast_text_agrees_with_text(value: Any) -> None:
    _same(fast_text, text, value)


@given(WIRE_VALUES)
def test_fast_opt_text_agrees_with_opt_text(value: Any) -> None:
    _same(fast_opt_text, opt_text, value)


@given(WIRE_VALUES)
def test_fast_millis_agrees_with_millis(value: Any) -> None:
    _same(fast_millis, millis, value)


def test_fast_readers_name_missing_field_like_reference() -> None:
    for fast, reference in (
        (fast_decimal, decimal_field),
        (fast_text, text),
        (fast_millis, millis),
    ):
        assert _outcome(fast, {}) == _outcome(reference, {})


def _exact(reader: Callable[..., Any], value: Any) -> Any:
    """`_outcome` with decimals compared exactly (exponent and sign of zero included)."""
    outcome = _outcome(reader, {"k": value})
    return (outcome[0], repr(outcome[1]), outcome[2:]) if outcome[0] == "ok" else outcome


@given(WIRE_VALUES | st.floats(min_value=-1e6, max_value=1e6) | st.decimals().map(str))
def test_decimal_cache_hit_is_the_exact_conversion(value: Any) -> None:
    for fast, reference in ((fast_decimal, decimal_field), (fast_opt_decimal, opt_decimal)):
        expected = _exact(reference, value)
        base.DECIMAL_OF_STRING.clear()
        base.DECIMAL_OF_DOUBLE.clear()
        assert _exact(fast, value) == expected  # cold: converts (and caches)
        assert _exact(fast, value) == expected  # warm: a cache hit


@given(WIRE_VALUES | st.floats() | st.decimals().map(str))
def test_wire_decimal_is_to_decimal_or_none(value: Any) -> None:
    try:
        expected: Any = to_decimal("v", "k", value)
    except NormalizationError:
        expected = None
    for _ in range(2):  # cold, then warm
        result = wire_decimal(value)
        assert repr(result) == repr(expected)


def test_zero_doubles_keep_their_sign_and_are_never_cached() -> None:
    assert repr(fast_decimal("v", {"k": 0.0}, "k")) == "Decimal('0.0')"
    assert repr(fast_decimal("v", {"k": -0.0}, "k")) == "Decimal('-0.0')"
    assert repr(fast_opt_decimal("v", {"k": -0.0}, "k")) == "Decimal('-0.0')"
    assert repr(wire_decimal(-0.0)) == "Decimal('-0.0')"
    assert 0.0 not in base.DECIMAL_OF_DOUBLE


def test_decimal_cache_is_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(base, "DECIMAL_CACHE_LIMIT", 4)
    base.DECIMAL_OF_STRING.clear()
    for i in range(10):
        assert wire_decimal(f"{i}.50") == Decimal(f"{i}.50")
        assert len(base.DECIMAL_OF_STRING) <= 4
