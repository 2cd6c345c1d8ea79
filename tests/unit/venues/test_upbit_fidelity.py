"""Upbit as its documentation describes it: self-match prevention and per-trade fees.

SMP (Upbit's guide, global-docs.upbit.com/docs/smp, and the myOrder reference): `prevented`
means SMP cancelled part of the order (volume or amount), whatever the smp_type; an order
whose whole remainder is cancelled is sent as `cancel` with `prevented_volume`. The payloads
are the hand-made fixtures of tests/resources/venues/upbit/SOURCES.md with the fields named
here changed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from venue_harness import VenueHarness

from pipeline.domain.book import TradingBook
from pipeline.domain.events import CancelReason, OrderStatus
from pipeline.venues.upbit import UpbitNormalizer

HARNESS = VenueHarness("upbit", UpbitNormalizer(), "main", 1_735_700_999_000)
D = Decimal
SMP_TYPES = ["reduce", "cancel_maker", "cancel_taker"]


def _prevented(smp_type: str, remaining: float, prevented: float) -> dict[str, Any]:
    frame = HARNESS.load("fixture_myOrder_prevented_cancel_maker.json")  # volume 0.02
    frame.update(smp_type=smp_type, remaining_volume=remaining, prevented_volume=prevented)
    return frame


@pytest.mark.parametrize("smp_type", SMP_TYPES)
def test_prevented_with_volume_left_keeps_the_order_live(smp_type: str) -> None:
    (event,) = HARNESS.run("myOrder", _prevented(smp_type, 0.015, 0.005))
    assert event.status is OrderStatus.OPEN
    assert (event.qty, event.canceled_qty, event.cancel_reason) == (D("0.02"), D("0.005"), None)


@pytest.mark.parametrize("smp_type", SMP_TYPES)
def test_prevented_with_nothing_left_ends_the_order_by_smp(smp_type: str) -> None:
    (event,) = HARNESS.run("myOrder", _prevented(smp_type, 0.0, 0.02))
    assert event.status is OrderStatus.CANCELED
    assert event.cancel_reason == CancelReason.SELF_TRADE_PREVENTION


@pytest.mark.parametrize("smp_type", SMP_TYPES)
def test_a_fully_prevented_order_arriving_as_cancel_is_smp(smp_type: str) -> None:
    frame = _prevented(smp_type, 0.0, 0.02)
    frame["state"] = "cancel"
    (event,) = HARNESS.run("myOrder", frame)
    assert event.status is OrderStatus.CANCELED
    assert event.cancel_reason == CancelReason.SELF_TRADE_PREVENTION


@pytest.mark.parametrize("smp_type", SMP_TYPES)
def test_partial_prevention_then_cancel_of_the_rest(smp_type: str) -> None:
    book = TradingBook()
    first = _prevented(smp_type, 0.015, 0.005)
    last = {**_prevented(smp_type, 0.0, 0.02), "state": "cancel", "timestamp": 1735700500000}
    for frame in (first, last):
        for event in HARNESS.run("myOrder", frame):
            book.apply(event)
    (state,) = book.orders()
    assert (state.status, state.cancel_reason) == (
        OrderStatus.CANCELED, CancelReason.SELF_TRADE_PREVENTION,
    )  # fmt: skip
    assert state.qty == state.canceled_qty == D("0.02")


def _done_with_trade_fees(*fees: str | None) -> dict[str, Any]:
    reply = HARNESS.load("fixture_rest_order_done.json")  # paid_fee 700 over two trades
    for trade, fee in zip(reply["trades"], fees, strict=True):
        if fee is not None:
            trade["fee"] = fee
    return reply


def _fill_fees(reply: dict[str, Any]) -> list[Decimal]:
    return [e.fill.fee for e in HARNESS.run("rest.order", reply) if e.fill is not None]


def test_per_trade_fees_the_venue_states_are_used_as_stated() -> None:
    """Item 3: 280 + 420 would be the pro-rata split; the venue says 300 + 400."""
    assert _fill_fees(_done_with_trade_fees(None, None)) == [D(280), D(420)]
    assert _fill_fees(_done_with_trade_fees("300", "400")) == [D(300), D(400)]


def test_only_trades_without_a_stated_fee_share_what_is_left() -> None:
    assert _fill_fees(_done_with_trade_fees("300", None)) == [D(300), D(400)]
    assert _fill_fees(_done_with_trade_fees(None, "100")) == [D(600), D(100)]
