"""Average-cost positions: plain values and the invariants (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from domain_builders import T0, D, fill
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.domain.errors import ForeignEventError, InvalidQuantityError
from pipeline.domain.events import Side
from pipeline.domain.positions import PositionLedger

KEY = ("upbit", "acc", "BTC/KRW")
BUY, SELL = Side.BUY, Side.SELL


def fold(fills):
    ledger = PositionLedger(KEY)
    for f in fills:
        ledger.apply(f)
    return ledger.position


def test_position_buys_average_at_weighted_cost():
    p = fold([fill("t1", "1", "100", at=T0), fill("t2", "3", "200", at=T0 + 1)])
    assert (p.qty, p.avg_price, p.realized_pnl, p.fill_count) == (4, 175, 0, 2)


def test_position_sell_realizes_against_average_and_excludes_fees():
    p = fold(
        [
            fill("t1", "2", "100", at=T0, fee="1"),
            fill("t2", "1", "130", side=SELL, at=T0 + 1, fee="2"),
        ]
    )
    assert (p.qty, p.avg_price, p.realized_pnl, p.fees) == (1, 100, 30, {"KRW": 3})


def test_position_flip_through_zero_opens_remainder_at_fill_price():
    p = fold([fill("t1", "1", "100", at=T0), fill("t2", "3", "90", side=SELL, at=T0 + 1)])
    assert (p.qty, p.avg_price, p.realized_pnl) == (-2, 90, -10)
    p = fold(
        [
            fill("t1", "1", "100", at=T0),
            fill("t2", "3", "90", side=SELL, at=T0 + 1),
            fill("t3", "2", "80", at=T0 + 2),
        ]
    )
    assert (p.qty, p.avg_price, p.realized_pnl) == (0, 0, 10)


def test_position_short_profits_when_price_falls():
    p = fold([fill("t1", "2", "50", side=SELL, at=T0), fill("t2", "1", "40", at=T0 + 1)])
    assert (p.qty, p.avg_price, p.realized_pnl) == (-1, 50, 10)


def test_position_duplicate_fill_changes_nothing():
    ledger = PositionLedger(KEY)
    first = ledger.apply(fill("t1", "1", "100"))
    assert ledger.apply(fill("t1", "1", "100")) is None
    assert ledger.position == first
    assert first.version == 1


def test_position_revised_fill_replaces_and_void_removes():
    ledger = PositionLedger(KEY)
    ledger.apply(fill("t1", "2", "100", at=T0))
    revised = ledger.apply(fill("t1", "1", "100", at=T0))
    assert (revised.qty, revised.fill_count, revised.version) == (1, 1, 2)
    voided = ledger.apply(fill("t1", "0", "100", at=T0))
    assert (voided.qty, voided.fill_count, voided.version) == (0, 0, 3)
    assert ledger.apply(fill("t9", "0", "100")) is None


def test_position_late_fill_equals_sorted_fold():
    fills = [fill("t1", "1", "100", at=T0), fill("t2", "1", "120", side=SELL, at=T0 + 1)]
    assert fold(fills[::-1]) == fold(fills)
    assert fold(fills).realized_pnl == 20


def test_position_foreign_or_negative_fill_raises():
    ledger = PositionLedger(KEY)
    with pytest.raises(ForeignEventError):
        ledger.apply(fill("t1", "1", "1", symbol="ETH/KRW"))
    with pytest.raises(InvalidQuantityError):
        ledger.apply(fill("t1", "-1", "1"))


def test_position_compact_keeps_result_and_deduplicates():
    fills = [
        fill(f"t{i}", "1", str(100 + i), side=BUY if i % 3 else SELL, at=T0 + i) for i in range(9)
    ]
    ledger = PositionLedger(KEY)
    for f in fills:
        ledger.apply(f)
    before = ledger.position
    assert ledger.compact(T0 + 5) == 5
    assert ledger.apply(fills[2]) is None
    late = ledger.apply(fill("t99", "1", "150", at=T0 + 7))
    assert late is not None
    assert late.fill_count == 10
    assert late.qty == before.qty + 1
    ledger.apply(fill("old", "1", "1", at=T0))
    assert ledger.late_fills == 1


prices = st.decimals(min_value=1, max_value=10_000, places=2)
sizes = st.decimals(min_value=Decimal("0.001"), max_value=100, places=3)


@st.composite
def fill_sets(draw, max_size=12):
    n = draw(st.integers(1, max_size))
    times = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    return [
        fill(
            f"t{i}",
            draw(sizes),
            draw(prices),
            side=draw(st.sampled_from([BUY, SELL])),
            at=T0 + times[i],
            fee=draw(st.decimals(min_value=0, max_value=5, places=2)),
        )
        for i in range(n)
    ]


@settings(max_examples=200, deadline=None)
@given(fills=fill_sets(), data=st.data())
def test_position_any_arrival_order_with_duplicates_same_result(fills, data):
    arrival = data.draw(st.permutations(fills))
    arrival = arrival + data.draw(st.lists(st.sampled_from(fills), max_size=5))
    ordered = sorted(fills, key=lambda f: (f.trade_time, f.trade_id))
    assert fold(arrival) == fold(ordered)


@settings(max_examples=200, deadline=None)
@given(fills=fill_sets())
def test_position_qty_is_sum_of_signed_fills(fills):
    p = fold(fills)
    assert p.qty == sum((f.qty if f.side is BUY else -f.qty) for f in fills)
    assert p.fill_count == len(fills)
    assert p.fees.get("KRW", D(0)) == sum(f.fee for f in fills)
    assert p.version == len(fills)


@settings(max_examples=200, deadline=None)
@given(q=sizes, p=prices, p2=prices, short=st.booleans())
def test_position_round_trip_realizes_price_difference(q, p, p2, short):
    opening, closing = (SELL, BUY) if short else (BUY, SELL)
    pos = fold([fill("a", q, p, side=opening, at=T0), fill("b", q, p2, side=closing, at=T0 + 1)])
    assert pos.qty == 0
    assert pos.realized_pnl == ((p - p2) if short else (p2 - p)) * q


@settings(max_examples=200, deadline=None)
@given(fills=fill_sets(), cut=st.integers(0, 6))
def test_position_compaction_does_not_change_in_order_result(fills, cut):
    ordered = sorted(fills, key=lambda f: (f.trade_time, f.trade_id))
    ledger = PositionLedger(KEY)
    for f in ordered:
        if f.trade_time >= T0 + cut:
            ledger.compact(T0 + cut)
        ledger.apply(f)
    assert ledger.position == fold(ordered)


def test_position_self_trade_same_trade_id_two_orders_counts_both():
    p = fold(
        [
            fill("t1", "1", "100", order_id="buy-order"),
            fill("t1", "1", "100", side=SELL, order_id="sell-order"),
        ]
    )
    assert (p.qty, p.fill_count, p.realized_pnl) == (0, 2, 0)
