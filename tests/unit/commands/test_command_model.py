from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.commands.model import CommandRejected, Scope, parse_command

BASE = {"command_id": "c1", "venue": "coinone", "issued_by": "ops", "issued_at": 1}


def cmd(**extra):
    return {**BASE, **extra}


@pytest.mark.parametrize(
    ("extra", "scope"),
    [
        ({}, Scope.VENUE),
        ({"symbol": "BTC/KRW"}, Scope.SYMBOL),
        ({"symbol": "BTC/KRW", "order_id": "o1"}, Scope.ORDER),
        ({"symbol": "BTC/KRW", "order_id": "o1", "qty": "0.5"}, Scope.PARTIAL),
    ],
)
def test_parse_command_scopes_follow_seed_000(extra, scope):
    assert parse_command(cmd(**extra)).scope is scope


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"order_id": "o1"}, "order_id requires symbol"),
        ({"symbol": "X", "order_id": "o", "qty": "0"}, "qty must be > 0"),
        ({"symbol": "X", "order_id": "o", "qty": "-1"}, "qty must be > 0"),
        ({"symbol": "X", "order_id": "o", "qty": "abc"}, "not a decimal"),
        ({"symbol": "X", "order_id": "o", "qty": 0.5}, "decimal string"),
        ({"symbol": "X", "order_id": "o", "qty": "NaN"}, "finite"),
        ({"symbol": "X", "qty": "1"}, "qty requires order_id"),
        ({"venue": "kraken"}, "unknown venue"),
        ({"colour": "red"}, "unknown field"),
        ({"issued_at": "yesterday"}, "issued_at"),
        ({"account": "mallory"}, "unknown account"),
    ],
)
def test_parse_command_invalid_is_rejected_with_reason(extra, reason):
    with pytest.raises(CommandRejected, match=reason) as info:
        parse_command(cmd(**extra), accounts={"coinone": frozenset({"alice"})})
    assert info.value.reason


def test_parse_command_missing_field_is_rejected():
    raw = dict(BASE)
    del raw["issued_by"]
    with pytest.raises(CommandRejected, match="missing field 'issued_by'"):
        parse_command(raw)


def test_parse_command_not_an_object_is_rejected():
    with pytest.raises(CommandRejected):
        parse_command(["x"])


@given(st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10**9), places=8))
def test_parse_command_positive_decimal_qty_round_trips(qty):
    parsed = parse_command(cmd(symbol="BTC/KRW", order_id="o", qty=format(qty, "f")))
    assert parsed.qty == qty
    assert Decimal(parsed.to_dict()["qty"]) == qty


def test_digest_ignores_signature_but_not_content():
    a = parse_command(cmd(signature="aa"))
    b = parse_command(cmd(signature="bb"))
    c = parse_command(cmd(symbol="BTC/KRW"))
    assert a.digest == b.digest != c.digest
