"""The Upbit and Binance hot paths give the same result with a cold and a warm decimal cache.

Their numeric fields are read through `base.DECIMAL_OF_DOUBLE` / `DECIMAL_OF_STRING` first;
a hit must be the very value a conversion gives (exponent and sign of zero included, which
`Decimal.__eq__` would hide, hence the comparison of reprs), and a bad value must raise the
same error either way.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues import base, normalizer_for

RESOURCES = Path(__file__).parents[2] / "resources" / "venues"
UPBIT = [
    json.loads(path.read_text()) for path in sorted((RESOURCES / "upbit").glob("*myOrder*.json"))
]
BINANCE = [
    json.loads(path.read_text())
    for path in sorted((RESOURCES / "binance").glob("*executionReport*.json"))
]
UPBIT_NUMBERS = [
    "price",
    "avg_price",
    "volume",
    "remaining_volume",
    "executed_volume",
    "executed_funds",
    "paid_fee",
    "trade_fee",
    "prevented_volume",
]
BINANCE_NUMBERS = ["q", "p", "P", "Q", "z", "Z", "l", "L", "n", "A"]
NUMBERS = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, 1e-7, 1e21, "0", "-0", "0E-8", "0.00000000", "", None]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
    st.decimals(allow_nan=False, allow_infinity=False, places=8).map(str),
    st.integers(-(10**6), 10**6),
)


def _outcome(venue: str, channel: str, payload: Any) -> Any:
    envelope = RawEnvelope(venue, "acc", channel, 1735800000000, copy.deepcopy(payload))
    try:
        return ("ok", repr(normalizer_for(venue).normalize(envelope)))
    except NormalizationError as exc:
        return ("error", exc.field, repr(exc.value), exc.problem)


def _cold_and_warm(venue: str, channel: str, payload: Any) -> None:
    base.DECIMAL_OF_DOUBLE.clear()
    base.DECIMAL_OF_STRING.clear()
    cold = _outcome(venue, channel, payload)
    assert _outcome(venue, channel, payload) == cold


def _mutate(frame: dict[str, Any], names: list[str], data: st.DataObject) -> None:
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3)):
        frame[name] = data.draw(NUMBERS)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_upbit_frames_same_with_cold_and_warm_cache(data: st.DataObject) -> None:
    payload = copy.deepcopy(data.draw(st.sampled_from(UPBIT)))
    frames = payload if isinstance(payload, list) else [payload]
    for frame in frames:
        if isinstance(frame, dict) and "type" in frame:
            _mutate(frame, UPBIT_NUMBERS, data)
    _cold_and_warm("upbit", "myOrder", payload)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_binance_reports_same_with_cold_and_warm_cache(data: st.DataObject) -> None:
    payload = copy.deepcopy(data.draw(st.sampled_from(BINANCE)))
    report = payload.get("event") or payload.get("data") or payload
    _mutate(report, BINANCE_NUMBERS, data)
    _cold_and_warm("binance", "userData", payload)
