"""Hostile commands (issue 15): whatever arrives on `commands.cancel`, the executor answers
with one bounded result, raises nothing, and sends nothing to a venue unless the command is
signed with a real key, allowed and fresh."""

from __future__ import annotations

import asyncio
import math

import orjson
from cancel_helpers import state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cancel_executor import KEY, NOW, cmd, setup

from pipeline.commands.auth import sign_command
from pipeline.commands.model import FIELDS as COMMAND_FIELDS
from pipeline.commands.model import MAX_ID_CHARS

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=120, max_size=300),
    st.sampled_from(["", " ", "a|b", "\x00", "\x1b[2J", "\u202eevil", "٣", "x" * 100_000]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 2**53]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e999999999", "1e-999999", "NaN", "-Infinity", "٣", "0x10", "1_000"]),
)
VALUES = st.one_of(
    st.none(), st.booleans(), HOSTILE_TEXT, NUMBERS, st.lists(st.integers(), max_size=3)
)
FIELDS = st.sampled_from([*sorted(COMMAND_FIELDS), "extra"])  # every field, one unknown
COMMANDS = st.one_of(
    st.dictionaries(FIELDS, VALUES, max_size=9),
    # a valid shape with one field made hostile, signed or not
    st.tuples(FIELDS, VALUES, st.booleans()).map(lambda t: _mutated(*t)),
    VALUES,  # not even an object
)


def _mutated(field: str, value: object, sign: bool) -> object:
    base = {
        "command_id": "fz-1",
        "venue": "binance",
        "symbol": "BTCUSDT",
        "order_id": "1",
        "issued_by": "ops",
        "issued_at": NOW,
    }
    base[field] = value
    if not sign:
        return base
    try:
        return sign_command(base, KEY)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits cannot be signed: sent unsigned
        return base


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(COMMANDS)
def test_any_command_gets_one_bounded_answer_and_nothing_unauthenticated_reaches_a_venue(
    raw: object,
) -> None:
    executor, clients, published, _ = setup("binance", state("binance", "1"), timeout=0.05)
    if isinstance(raw, float) and math.isnan(raw):
        raw = None
    result = asyncio.run(executor.handle(raw))
    assert result["status"] in (
        "rejected",
        "completed",
        "partially_completed",
        "failed",
        "timed_out",
    )
    encoded = orjson.dumps(result)
    assert len(encoded) < 4_000, "a hostile command is echoed back whole"
    assert len(str(result["command_id"])) <= MAX_ID_CHARS
    try:
        signed_by_ops = isinstance(raw, dict) and raw == sign_command(raw, KEY)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: nobody can have signed it
        signed_by_ops = False
    if not signed_by_ops:
        assert result["status"] == "rejected"
        assert clients[("binance", "alice")].calls == []
    assert published
    assert published[-1] == result


def test_a_real_command_still_goes_through() -> None:
    executor, clients, _, _ = setup("binance", state("binance", "1"))
    result = asyncio.run(executor.handle(cmd("binance", symbol="BTCUSDT", order_id="1")))
    assert result["status"] == "completed"
    assert clients[("binance", "alice")].calls


def test_an_issued_at_beyond_64_bits_is_rejected_not_raised() -> None:
    """Found by the fuzz above: such a time passed validation and then broke the signature
    check (orjson encodes 64-bit integers only)."""
    executor, _, _, _ = setup("binance", state("binance", "1"))
    raw = {"command_id": "c-big", "venue": "binance", "issued_by": "ops", "issued_at": 2**70}
    result = asyncio.run(executor.handle({**raw, "signature": "00" * 32}))
    assert result["status"] == "rejected"
    assert "issued_at" in result["reason"]
