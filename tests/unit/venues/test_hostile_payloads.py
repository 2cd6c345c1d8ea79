"""Hostile input at the venue edge (issue 15): every payload ends as events or a dead letter.

Numbers that do not fit the store's Decimal(38, 18) (`1e999999999`, `1e30`, `1e-999999`),
NaN / Infinity, Arabic-Indic digits, identifiers with `|`, NUL, ESC or a bidi override, 1 MB
strings and quantities that contradict each other are refused with a `NormalizationError`
naming the field, never a crash, a `MemoryError` or a silent 0. Hypothesis plants such values
in the recorded payloads of every venue (the seeds of `test_malformed_payloads`); whatever
comes out as an event must be one the books and the store can hold.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.codec import event_to_dict
from pipeline.domain.events import OrderEvent
from pipeline.envelope import RawEnvelope, decode_envelope
from pipeline.errors import EnvelopeError, NormalizationError
from pipeline.seams import normalize_lines
from pipeline.venues import normalizer_for
from pipeline.venues.base import MAX_ID_CHARS, parse_number, to_decimal
from tests.unit.venues.test_malformed_payloads import CHANNEL_OF, RECEIVED, SEEDS, _paths, _replace

MEGABYTE = "7" * 1_000_000
HOSTILE_NUMBERS = [
    "1e999999999",
    "-1e999999999",
    "1e30",
    "1e20",
    "1e-999999",
    "1e-99999999999",
    "1e-19",
    "NaN",
    "-Infinity",
    "inf",
    "sNaN",
    "١٢٣",  # Arabic-Indic digits: Decimal() alone accepts them
    "1_000",
    " 1",
    "0x10",
    MEGABYTE,
    "0." + "0" * 5000 + "1",
]
HOSTILE_TEXT = [
    "a|b",
    "nul\x00",
    "\x1b[31mred",
    "rtl\u202eoverride",
    "line\u2028sep",
    "x" * (MAX_ID_CHARS + 1),
    "y" * 1_000_000,
]
HOSTILE = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS),
    st.sampled_from(HOSTILE_TEXT),
    st.sampled_from([-1, -(2**63), 10**20, 2**64, -1.5, 1e300, 5e-324, 1e-19, -0.0]),
    st.sampled_from(["-1", "-0.00000001", "100000000000", "99999999999999999999.9"]),
    st.recursive(st.just([]), lambda inner: st.lists(inner, max_size=2), max_leaves=40),
)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIMIT = Decimal(10) ** 20


@st.composite
def hostile(draw: st.DrawFn, venue: str) -> tuple[str, Any]:
    """A recorded payload of `venue` with one to three of its values made hostile."""
    channel, payload = draw(st.sampled_from(SEEDS[venue]))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(payload)
        if not paths:
            break
        payload = _replace(payload, draw(st.sampled_from(paths)), draw(HOSTILE))
    return channel, payload


def _fits(value: Decimal | None) -> bool:
    if value is None:
        return True
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -18 and abs(value) < LIMIT


def _holdable(event: OrderEvent) -> None:
    """An event that left a normalizer: ids printable and bounded, numbers in Decimal(38, 18),
    quantities consistent, and the whole event serializable in bounded size."""
    for ident in (event.account, event.order_id, event.symbol, event.venue_symbol):
        assert len(ident) <= MAX_ID_CHARS
        assert ident.isprintable()
        assert "|" not in ident
    numbers = [
        event.qty,
        event.price,
        event.filled_qty,
        event.avg_fill_price,
        event.canceled_qty,
        event.quote_qty,
        event.stop_price,
    ]
    for number in numbers:
        assert number is None or number >= 0, event.event_id[:200]
    if event.fill is not None:
        numbers += [event.fill.qty, event.fill.price, event.fill.fee]
        assert event.fill.qty > 0
        assert event.fill.trade_id.isprintable()
        assert "|" not in event.fill.trade_id
    # avg_fill_price and fees are computed (a quotient has 28 digits); the stated ones fit
    for number in (event.qty, event.filled_qty, event.canceled_qty, event.quote_qty):
        assert _fits(number), event.event_id[:200]
    if event.qty is not None and event.filled_qty is not None:
        assert event.filled_qty <= event.qty
    assert len(orjson.dumps(event_to_dict(event))) < 10_000


def _edge(venue: str, channel: str, payload: Any) -> None:
    envelope = RawEnvelope(venue, "main", channel, RECEIVED, payload)
    error: NormalizationError | None = None
    try:
        events = normalizer_for(venue).normalize(envelope)
    except NormalizationError as exc:  # anything else (MemoryError, Overflow...) fails
        error = exc
    if error is not None:
        assert error.venue == venue
        assert error.field
        assert len(str(error)) < 1_000  # the dead letter's reason stays short
        return
    for event in events:
        _holdable(event)


@pytest.mark.parametrize("venue", sorted(CHANNEL_OF))
@FUZZ
@given(data=st.data())
def test_hostile_values_in_recorded_payloads_end_as_events_or_dead_letters(
    venue: str, data: st.DataObject
) -> None:
    _edge(venue, *data.draw(hostile(venue)))


@pytest.mark.parametrize("wire", HOSTILE_NUMBERS)
def test_numbers_that_do_not_fit_decimal_38_18_are_refused_naming_the_field(wire: str) -> None:
    with pytest.raises(NormalizationError) as info:
        to_decimal("binance", "event.l", wire)
    assert info.value.field == "event.l"
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        ("0.00000001", Decimal("0.00000001")),
        ("12345678901234567890.123456789012345678", None),  # the widest that fits
        ("1.50000000000000000000", Decimal("1.5")),  # zeros beyond 18 places are no loss
        ("0E-30", Decimal(0)),
        ("1E+5", Decimal(100000)),
    ],
)
def test_numbers_that_fit_are_exact(wire: str, value: Decimal | None) -> None:
    result = parse_number(wire)
    assert isinstance(result, Decimal)
    assert result == (Decimal(wire) if value is None else value)


def test_a_tiny_exponent_is_refused_not_stored_as_zero() -> None:
    assert parse_number("1e-999999") == "does not fit Decimal(38, 18): more than 18 decimal places"
    with pytest.raises(NormalizationError):
        to_decimal("upbit", "executed_volume", 1e-19)  # a JSON double too


def _binance_trade(**changes: Any) -> dict[str, Any]:
    seed = dict(
        next(
            p
            for c, p in SEEDS["binance"]
            if c == "userData" and p.get("event", {}).get("x") == "TRADE"
        )
    )
    seed["event"] = {**seed["event"], **changes}
    return seed


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"l": "1e999999999"}, "event.l"),
        ({"z": "1e-999999", "Z": "10"}, "event.z"),  # was decimal.Overflow in Z / z
        ({"q": "1e30"}, "event.q"),
        ({"L": "١٢٣"}, "event.L"),
        ({"n": "NaN"}, "event.n"),
        ({"i": "\x1b]0;pwned\x07"}, "order_id"),
        ({"s": "BTC|USDT"}, "symbol"),
        ({"c": "id\u202e"}, "client_order_id"),
        ({"t": "t" * 1_000_000}, "fill.trade_id"),
        ({"q": "-1"}, "event.z"),  # z = 0.01 > q,
    ],
)
def test_binance_hostile_field_is_a_dead_letter_naming_it(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(NormalizationError) as info:
        normalizer_for("binance").normalize(
            RawEnvelope("binance", "main", "userData", RECEIVED, _binance_trade(**changes))
        )
    assert info.value.field == field, info.value


def test_coinone_executed_beyond_the_order_quantity_is_refused() -> None:
    channel, payload = next(
        (c, p) for c, p in SEEDS["coinone"] if c == "rest.order_detail" and "order" in p
    )
    order = {**payload["order"], "original_qty": "1", "executed_qty": "2", "remain_qty": "0"}
    with pytest.raises(NormalizationError) as info:
        normalizer_for("coinone").normalize(
            RawEnvelope("coinone", "main", channel, RECEIVED, {**payload, "order": order})
        )
    assert info.value.field == "filled_qty"


def test_coinone_channel_with_an_empty_suffix_is_refused() -> None:
    _, payload = next((c, p) for c, p in SEEDS["coinone"] if c == "MYORDER")
    with pytest.raises(NormalizationError) as info:
        normalizer_for("coinone").normalize(
            RawEnvelope("coinone", "main", "MYORDER:", RECEIVED, payload)
        )
    assert info.value.field == "channel"


ENVELOPE = {"venue": "upbit", "account": "main", "channel": "myOrder", "received_at": 1}


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=64),
        st.builds(
            lambda account, extra: orjson.dumps({**ENVELOPE, "account": account, "payload": extra}),
            st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE_TEXT)),
            st.none(),
        ),
        st.builds(
            lambda raw: (
                b'{"venue":"upbit","account":"main","channel":"x","received_at":1,'
                + b'"payload":"'
                + raw
                + b'"}'
            ),
            st.binary(max_size=16),
        ),
    )
)
def test_envelope_decoder_returns_an_envelope_or_an_envelope_error(raw: bytes) -> None:
    try:
        envelope = decode_envelope(raw)
    except EnvelopeError:
        return
    assert envelope.account
    assert envelope.account.isprintable()
    assert "|" not in envelope.account
    assert len(envelope.account) <= MAX_ID_CHARS


@pytest.mark.parametrize("account", HOSTILE_TEXT)
def test_envelope_with_a_hostile_account_is_refused(account: str) -> None:
    with pytest.raises(EnvelopeError, match="account"):
        decode_envelope(orjson.dumps({**ENVELOPE, "account": account, "payload": {}}))


def test_pipeline_normalize_skips_invalid_utf8_and_overflow_lines_and_goes_on() -> None:
    good = orjson.dumps(
        {**ENVELOPE, "venue": "binance", "channel": "userData", "payload": _binance_trade()}
    )
    overflow = orjson.dumps(
        {
            **ENVELOPE,
            "venue": "binance",
            "channel": "userData",
            "payload": _binance_trade(z="1e-999999", Z="10"),
        }
    )
    lines = [good, b"\xff\xfe{not utf-8}", overflow, b'{"venue": "upbit", "acc\xc3', good]
    out, err = io.StringIO(), io.StringIO()
    code = normalize_lines(io.BytesIO(b"\n".join(lines) + b"\n"), out, err)
    assert code == 1
    assert len(out.getvalue().splitlines()) == 2  # both good lines, after the bad ones
    rejected = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in rejected] == ["line 2", "line 3", "line 4"]
    assert "event.z" in rejected[1]


def test_an_average_price_keeps_18_places_and_refuses_a_tiny_one() -> None:
    from pipeline.venues.base import opt_average

    stated = {"avg": "3002.620689655172413793103448", "tiny": "1e-999999"}
    assert opt_average("coinone", stated, "avg") == Decimal("3002.620689655172413793")
    with pytest.raises(NormalizationError) as info:
        opt_average("coinone", stated, "tiny", "order.")
    assert info.value.field == "order.tiny"


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["", "-", "+"]),
    st.text("0123456789", max_size=24),
    st.none() | st.text("0123456789", max_size=24),
    st.none() | st.integers(-40, 40),
)
def test_parse_number_accepts_exactly_what_fits_decimal_38_18(
    sign: str, whole: str, fraction: str | None, exponent: int | None
) -> None:
    """The fast path (plain spellings) and the full grammar agree with one reference rule."""
    from decimal import Context, InvalidOperation

    wire = sign + whole + ("" if fraction is None else "." + fraction)
    wire += "" if exponent is None else f"e{exponent}"
    result = parse_number(wire)
    try:
        exact = Decimal(wire)
    except InvalidOperation:
        assert isinstance(result, str)
        return
    wide = Context(prec=200)
    fits = abs(exact) < LIMIT and exact == exact.quantize(Decimal("1e-18"), context=wide)
    if len(wire) > 64:
        assert isinstance(result, str)
    elif fits:
        assert result == exact
    else:
        assert isinstance(result, str)
