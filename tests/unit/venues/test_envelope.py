"""`decode_envelope`'s fast path accepts and rejects exactly what `envelope_from_dict` does.

Every raw record is decoded before a normalizer sees it; the fast path may only be faster:
same envelope for a good record, same `EnvelopeError` message for a bad one.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.envelope import RawEnvelope, decode_envelope, envelope_from_dict
from pipeline.errors import EnvelopeError

FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "upbit", "acc", "myOrder"]),
    st.text(max_size=5),
    st.lists(st.integers(-5, 5), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(-5, 5), max_size=2),
)
GOOD = {
    "venue": "upbit",
    "account": "acc",
    "channel": "myOrder",
    "received_at": 1,
    "payload": {"a": 1},
}


@st.composite
def envelope_objects(draw: Any) -> Any:
    obj = dict(GOOD)
    for name in draw(st.lists(st.sampled_from([*GOOD, "extra"]), max_size=3)):
        if draw(st.booleans()):
            obj.pop(name, None)
        else:
            obj[name] = draw(FIELD_VALUES)
    return obj


def _reference(raw: bytes) -> Any:
    try:
        return ("ok", _fields(envelope_from_dict(orjson.loads(raw))))
    except EnvelopeError as exc:
        return ("error", str(exc))


def _fast(raw: bytes) -> Any:
    try:
        return ("ok", _fields(decode_envelope(raw)))
    except EnvelopeError as exc:
        return ("error", str(exc))


def _fields(envelope: RawEnvelope) -> Any:
    values = (envelope.venue, envelope.account, envelope.channel, envelope.received_at)
    return (*values, [type(v) for v in values], envelope.payload)


@given(envelope_objects() | FIELD_VALUES)
def test_decode_envelope_agrees_with_envelope_from_dict(obj: Any) -> None:
    raw = orjson.dumps(obj)
    assert _fast(raw) == _reference(raw)


def test_decode_envelope_good_record() -> None:
    envelope = decode_envelope(orjson.dumps(GOOD))
    assert envelope == RawEnvelope("upbit", "acc", "myOrder", 1, {"a": 1})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "must be a JSON object, got list"),
        (b'{"venue": "upbit"}', "lacks field(s) account, channel, received_at, payload"),
        (orjson.dumps({**GOOD, "received_at": True}), "'received_at' must be epoch"),
        (orjson.dumps({**GOOD, "received_at": -1}), "'received_at' must be epoch"),
        (orjson.dumps({**GOOD, "venue": ""}), "'venue' must be a non-empty string"),
    ],
)
def test_decode_envelope_names_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=re.escape(message)):
        decode_envelope(raw)
