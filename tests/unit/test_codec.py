"""Codec round trips (hypothesis) and rejection of malformed records."""

from __future__ import annotations

import string
from decimal import Decimal, localcontext

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.codec import (
    dec,
    event_from_dict,
    event_to_dict,
    fill_from_dict,
    fill_to_dict,
    loads,
    opt_dec,
    order_state_from_dict,
    order_state_to_dict,
    position_from_dict,
    position_to_dict,
)
from pipeline.domain.events import AvgPriceSource, Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.domain.orders import OrderState
from pipeline.domain.positions import Position
from pipeline.errors import BadInputError

texts = st.text(string.ascii_letters + string.digits + "-_/:", min_size=1, max_size=12)
opt_texts = st.none() | texts
decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12)
tiny = st.sampled_from([Decimal("1E-8"), Decimal("1E+3"), Decimal("0E-8"), Decimal("-0")])
amounts = decimals | tiny
opt_amounts = st.none() | amounts
millis = st.integers(0, 2**53)

fills = st.builds(
    Fill,
    venue=texts,
    account=texts,
    symbol=texts,
    venue_symbol=texts,
    order_id=texts,
    trade_id=texts,
    side=st.sampled_from(Side),
    price=amounts,
    qty=amounts,
    fee=amounts,
    fee_asset=opt_texts,
    liquidity=st.sampled_from(Liquidity),
    trade_time=millis,
    received_at=millis,
)
events = st.builds(
    OrderEvent,
    event_id=texts,
    venue=texts,
    account=texts,
    order_id=texts,
    symbol=texts,
    venue_symbol=texts,
    side=st.sampled_from(Side),
    order_type=texts,
    status=st.sampled_from(OrderStatus),
    venue_status=texts,
    event_time=millis,
    received_at=millis,
    qty=opt_amounts,
    price=opt_amounts,
    filled_qty=opt_amounts,
    avg_fill_price=opt_amounts,
    canceled_qty=opt_amounts,
    fee=opt_amounts,
    fee_asset=opt_texts,
    quote_qty=opt_amounts,
    stop_price=opt_amounts,
    client_order_id=opt_texts,
    time_in_force=opt_texts,
    cancel_reason=opt_texts,
    fill=st.none() | fills,
    sequence=st.none() | st.integers(0, 2**53),
    is_snapshot=st.booleans(),
    fills_implied=st.booleans(),
)
states = st.builds(
    OrderState,
    venue=texts,
    account=texts,
    order_id=texts,
    symbol=texts,
    venue_symbol=texts,
    side=st.sampled_from(Side),
    order_type=texts,
    status=st.sampled_from(OrderStatus),
    venue_status=texts,
    cancel_reason=opt_texts,
    qty=amounts,
    price=opt_amounts,
    stop_price=opt_amounts,
    quote_qty=opt_amounts,
    filled_qty=amounts,
    remaining_qty=amounts,
    canceled_qty=amounts,
    avg_fill_price=opt_amounts,
    fee=amounts,
    fee_asset=opt_texts,
    client_order_id=opt_texts,
    time_in_force=opt_texts,
    created_at=millis,
    updated_at=millis,
    version=st.integers(0, 2**53),
    last_event_id=texts,
    avg_fill_price_source=st.sampled_from([None, *AvgPriceSource]),
)
positions = st.builds(
    Position,
    venue=texts,
    account=texts,
    symbol=texts,
    qty=amounts,
    avg_price=amounts,
    realized_pnl=amounts,
    fees=st.dictionaries(texts, amounts, max_size=3),
    fill_count=st.integers(0, 2**53),
    updated_at=millis,
    version=st.integers(0, 2**53),
)
CODECS = [
    (fills, fill_to_dict, fill_from_dict),
    (events, event_to_dict, event_from_dict),
    (states, order_state_to_dict, order_state_from_dict),
    (positions, position_to_dict, position_from_dict),
]


@pytest.mark.parametrize(
    ("values", "encode", "decode"), CODECS, ids=lambda c: getattr(c, "__name__", "")
)
def test_codec_round_trip_through_json_is_exact(values, encode, decode):
    @settings(max_examples=200, deadline=None)
    @given(value=values)
    def check(value):
        wire = orjson.loads(orjson.dumps(encode(value)))
        assert decode(wire) == value
        assert list(wire) == list(type(value).__dataclass_fields__)

    check()


def test_codec_decimals_are_plain_strings_without_exponent():
    wire = position_to_dict(
        Position("v", "a", "X/Y", Decimal("1E-8"), Decimal("1E+3"), Decimal("-0.50"), {}, 0, 0, 1)
    )
    assert (wire["qty"], wire["avg_price"], wire["realized_pnl"]) == ("0.00000001", "1000", "-0.50")


def test_codec_enums_travel_as_values():
    wire = order_state_to_dict(
        OrderState(
            "v", "a", "o", "X/Y", "XY", Side.SELL, "limit", OrderStatus.PENDING_CANCEL, "PC",
            None, Decimal(1), None, None, None, Decimal(0), Decimal(1), Decimal(0), None,
            Decimal(0), None, None, None, 1, 2, 3, "e",
        )
    )  # fmt: skip
    assert (wire["side"], wire["status"]) == ("sell", "pending_cancel")


def _a_state_wire() -> dict:
    return order_state_to_dict(
        OrderState(
            "v", "a", "o", "X/Y", "XY", Side.BUY, "limit", OrderStatus.FILLED, "F", None,
            Decimal(1), None, None, None, Decimal(1), Decimal(0), Decimal(0), Decimal(2),
            Decimal(0), None, None, None, 1, 2, 3, "e", AvgPriceSource.VENUE,
        )
    )  # fmt: skip


def test_codec_order_state_written_before_avg_source_existed_loads_as_unknown():
    """orders.state records from before issue 14 lack `avg_fill_price_source`."""
    wire = _a_state_wire()
    assert wire["avg_fill_price_source"] == "venue"
    del wire["avg_fill_price_source"]
    state = order_state_from_dict(wire)
    assert (state.avg_fill_price, state.avg_fill_price_source) == (Decimal(2), None)


@pytest.mark.parametrize("value", ["vwap", 1])
def test_codec_order_state_unknown_avg_source_is_refused_naming_it(value):
    wire = {**_a_state_wire(), "avg_fill_price_source": value}
    with pytest.raises(BadInputError, match="avg_fill_price_source"):
        order_state_from_dict(wire)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"qty": 1.5}, "'qty'"),
        ({"qty": "abc"}, "'qty'"),
        ({"qty": "NaN"}, "'qty'"),
        ({"status": "nope"}, "'status'"),
        ({"event_time": "1"}, "'event_time'"),
        ({"event_time": True}, "'event_time'"),
        ({"is_snapshot": "yes"}, "'is_snapshot'"),
        ({"fill": {"trade_id": "t"}}, "missing"),
        ({"venue": None}, "'venue'"),
    ],
)
def test_codec_bad_event_field_raises_bad_input_naming_field(change, message):
    wire = event_to_dict(
        OrderEvent("e", "v", "a", "o", "X/Y", "XY", Side.BUY, "limit", OrderStatus.OPEN, "o", 1, 2)
    )
    wire.update(change)
    with pytest.raises(BadInputError, match=message):
        event_from_dict(wire)


def test_codec_missing_field_and_non_object_raise_bad_input():
    with pytest.raises(BadInputError, match="'event_id' is missing"):
        event_from_dict({})
    with pytest.raises(BadInputError, match="JSON object"):
        fill_from_dict([])  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="not valid JSON"):
        loads("{")


@settings(max_examples=500)
@given(
    value=st.decimals()
    | st.builds(
        lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
        st.integers(-(10**30), 10**30),
        st.integers(-40, 40),
    ),
    capitals=st.sampled_from([0, 1]),
)
def test_codec_decimal_text_is_format_f_exactly(value, capitals):
    """`dec` takes `str`'s faster spelling only where it equals `format(value, "f")`."""
    with localcontext() as context:
        context.capitals = capitals
        assert dec(value) == format(value, "f")
        assert opt_dec(value) == format(value, "f")
    assert opt_dec(None) is None
