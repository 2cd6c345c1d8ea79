"""Every normalizer, fed any JSON value in any field, yields events or `NormalizationError`.

A malformed wire value (a list where a label belongs, an object as a reason code, a number
as a side...) is a dead letter naming the field, never a `TypeError` / `KeyError` /
`AttributeError` that would crash the consumer. Each venue's real and hand-made payloads
(`tests/resources/venues/<venue>/`) are the seeds; hypothesis replaces the values at a few
of their paths (top level or nested, scalars or containers) with random JSON values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues import normalizer_for

RESOURCES = Path(__file__).parents[2] / "resources" / "venues"
RECEIVED = 1_735_800_000_000

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN / Infinity
    st.text(max_size=8),
    st.sampled_from(["", "0", "-1", "1e3", "NaN", "BUY", "SELL", "trade", "cancel", "NEW"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=4,
)


def _upbit_channel(name: str) -> str:
    if name.startswith("fixture_rest_orders"):
        return "rest.orders"
    if name.startswith("fixture_rest_order"):
        return "rest.order"
    return "myOrder"


def _binance_channel(name: str) -> str:
    if name.startswith("docs_wsapi_"):
        return "wsapi." + name.removeprefix("docs_wsapi_").removesuffix(".json")
    for method in (
        "order.amend.keepPriority",
        "order.cancelReplace",
        "order.cancel",
        "order.place",
        "order.status",
        "order.test",
        "openOrders.status",
        "openOrders.cancelAll",
    ):
        if f"wsapi_{method}" in name:
            return f"wsapi.{method}"
    return "userData"


def _coinone_channel(name: str) -> str:
    if name.startswith("myorder"):
        return "MYORDER"
    for stem, channel in (
        ("active_orders", "rest.active_orders"),
        ("completed_orders", "rest.completed_orders"),
        ("order_cancel", "rest.order_cancel"),
    ):
        if stem in name:
            return channel
    return "rest.order_detail"


def _ssi_channel(name: str) -> str:
    if "orderHistory" in name:
        return "rest.orderHistory"
    if "auditOrderBook" in name:
        return "rest.auditOrderBook"
    if "orderBook" in name:
        return "rest.orderBook"
    return "stream"


def _gateway_channel(name: str) -> str:
    if name.startswith("open_orders"):
        return "rest.open_orders"
    if name.startswith("cancel_all"):
        return "rest.cancel_all"
    if name.startswith("trades"):
        return "rest.trades"
    return "rest.order_status"


CHANNEL_OF: dict[str, Callable[[str], str]] = {
    "upbit": _upbit_channel,
    "binance": _binance_channel,
    "coinone": _coinone_channel,
    "ssi": _ssi_channel,
    "futures_gateway": _gateway_channel,
}


def _seeds(venue: str) -> list[tuple[str, Any]]:
    channel_of = CHANNEL_OF[venue]
    return [
        (channel_of(path.name), json.loads(path.read_text()))
        for path in sorted((RESOURCES / venue).glob("*.json"))
    ]


SEEDS = {venue: _seeds(venue) for venue in CHANNEL_OF}

Path_ = tuple[Any, ...]


def _paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every position inside `value` (object members and array items, at any depth)."""
    found: list[Path_] = []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return found
    for key, item in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(_paths(item, path))
    return found


def _replace(value: Any, path: Path_, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(value[head], rest, new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, venue: str) -> tuple[str, Any]:
    """A seed payload of `venue` with the values at one to three of its paths replaced."""
    channel, payload = draw(st.sampled_from(SEEDS[venue]))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        payload = _replace(payload, path, draw(JSON_VALUES))
    return channel, payload


def _normalize_or_reject(venue: str, channel: str, payload: Any) -> None:
    envelope = RawEnvelope(venue, "main", channel, RECEIVED, payload)
    error: NormalizationError | None = None
    try:
        events = normalizer_for(venue).normalize(envelope)
    except NormalizationError as exc:  # anything else propagates and fails the test
        error = exc
    if error is None:
        assert isinstance(events, list)
    else:
        assert error.venue == venue
        assert isinstance(error.field, str)
        assert error.field


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("venue", sorted(CHANNEL_OF))
def test_seed_payloads_of_every_venue_are_found(venue: str) -> None:
    assert len(SEEDS[venue]) >= 5


def test_futures_gateway_seeds_cover_every_channel() -> None:
    from pipeline.venues.futures_gateway import CHANNELS

    assert {channel for channel, _ in SEEDS["futures_gateway"]} == set(CHANNELS)


@FUZZ
@given(mutated("upbit"))
def test_upbit_any_json_value_in_any_field_yields_events_or_normalization_error(
    case: tuple[str, Any],
) -> None:
    _normalize_or_reject("upbit", *case)


@FUZZ
@given(mutated("binance"))
def test_binance_any_json_value_in_any_field_yields_events_or_normalization_error(
    case: tuple[str, Any],
) -> None:
    _normalize_or_reject("binance", *case)


@FUZZ
@given(mutated("coinone"))
def test_coinone_any_json_value_in_any_field_yields_events_or_normalization_error(
    case: tuple[str, Any],
) -> None:
    _normalize_or_reject("coinone", *case)


@FUZZ
@given(mutated("ssi"))
def test_ssi_any_json_value_in_any_field_yields_events_or_normalization_error(
    case: tuple[str, Any],
) -> None:
    _normalize_or_reject("ssi", *case)


@FUZZ
@given(mutated("futures_gateway"))
def test_futures_gateway_any_json_value_in_any_field_yields_events_or_normalization_error(
    case: tuple[str, Any],
) -> None:
    _normalize_or_reject("futures_gateway", *case)


def _seed(venue: str, name: str) -> Any:
    return json.loads((RESOURCES / venue / name).read_text())


def _error(venue: str, channel: str, payload: Any) -> NormalizationError:
    with pytest.raises(NormalizationError) as info:
        normalizer_for(venue).normalize(RawEnvelope(venue, "main", channel, RECEIVED, payload))
    return info.value


@pytest.mark.parametrize("value", [["myOrder"], {"a": 1}])
def test_upbit_type_of_a_list_or_object_raises_normalization_error(value: Any) -> None:
    payload = {**_seed("upbit", "fixture_myOrder_limit_1_wait.json"), "type": value}
    error = _error("upbit", "myOrder", payload)
    assert (error.venue, error.field, error.value) == ("upbit", "type", value)


@pytest.mark.parametrize("value", [["INSUFFICIENT_LIQUIDITY"], {"reason": "x"}, True])
def test_binance_expiry_reason_not_a_string_raises_normalization_error(value: Any) -> None:
    payload = _seed("binance", "binance_spot_executionReport_EXPIRED_IOC_expiryReason.json")
    payload["eR"] = value
    error = _error("binance", "userData", payload)
    assert (error.venue, error.field, error.value) == ("binance", "eR", value)


@pytest.mark.parametrize("value", [["orderEvent"], {"a": 1}])
def test_ssi_stream_type_of_a_list_or_object_raises_normalization_error(value: Any) -> None:
    payload = {**_seed("ssi", "stream_orderEvent_PF.json"), "type": value}
    error = _error("ssi", "stream", payload)
    assert (error.venue, error.field, error.value) == ("ssi", "type", value)


@pytest.mark.parametrize("value", [[True], {"a": 1}])
def test_coinone_myorder_maker_flag_of_a_list_or_object_raises_normalization_error(
    value: Any,
) -> None:
    payload = _seed("coinone", "myorder_trade.json")
    payload["d"]["im"] = value
    error = _error("coinone", "MYORDER", payload)
    assert (error.venue, error.field, error.value) == ("coinone", "d.im", value)
