"""Binance as its documentation and public captures show it, not as our simulator does.

Payloads: tests/resources/venues/binance/SOURCES.md (`docs_*` are the docs' own examples,
`nautilus_*` a NautilusTrader fixture, `derived_*` those with the values named there changed).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from venue_harness import VenueHarness

from pipeline.codec import order_state_from_dict, order_state_to_dict
from pipeline.domain.book import TradingBook
from pipeline.domain.events import AvgPriceSource, OrderStatus
from pipeline.venues.binance import BinanceNormalizer

HARNESS = VenueHarness("binance", BinanceNormalizer(), "main", 1_700_000_000_000)
D = Decimal


def _fold(*items: tuple[str, Any]) -> TradingBook:
    book = TradingBook()
    for channel, payload in items:
        for event in HARNESS.run(channel, payload):
            book.apply(event)
    return book


def test_a_trade_with_an_empty_client_order_id_keeps_its_fill() -> None:
    """Item 4: `c` is cosmetic; an empty one must not cost the fill."""
    (event,) = HARNESS.run(
        "userData", HARNESS.load("derived_nautilus_execution_report_trade_empty_c.json")
    )
    assert event.client_order_id is None
    assert event.fill is not None
    assert (event.fill.trade_id, event.fill.qty, event.fill.price) == ("98765432", D(1), D(2500))
    (same,) = HARNESS.run("userData", HARNESS.load("nautilus_execution_report_trade.json"))
    assert same.fill == event.fill
    assert same.client_order_id == "x-TD67BGP9-T0000000000000"


@pytest.mark.parametrize("value", [None, ""])
def test_order_type_and_client_id_absent_or_empty_lose_nothing(value: Any) -> None:
    payload = HARNESS.load("nautilus_execution_report_trade.json")
    payload.update(c=value, o=value)
    (event,) = HARNESS.run("userData", payload)
    assert event.fill is not None
    assert event.order_type == ""  # not stated: the fold keeps what other reports say
    assert event.status is OrderStatus.FILLED


def test_docs_new_report_of_a_small_priced_pair() -> None:
    (event,) = HARNESS.run("userData", HARNESS.load("docs_userData_executionReport_NEW.json"))
    assert (event.symbol, event.status, event.qty, event.price) == (
        "ETH/BTC", OrderStatus.OPEN, D(1), D("0.10264410"),
    )  # fmt: skip


def test_average_price_is_exactly_the_vwap_of_the_orders_fills() -> None:
    """Item 5: Z is rounded to 8 places, so Z / z (0.10264409) is off the fills' VWAP
    (0.102644093); the order's average must be the VWAP of its stored fills, exactly."""
    book = _fold(
        ("userData", HARNESS.load("docs_userData_executionReport_NEW.json")),
        ("userData", HARNESS.load("derived_executionReport_ETHBTC_TRADE_1.json")),
        ("userData", HARNESS.load("derived_executionReport_ETHBTC_TRADE_2.json")),
    )
    (state,) = book.orders()
    fills = [(D("0.3"), D("0.10264410")), (D("0.7"), D("0.10264409"))]
    vwap = sum(q * p for q, p in fills) / sum(q for q, _ in fills)
    assert state.status is OrderStatus.FILLED
    assert state.avg_fill_price == vwap == D("0.102644093")
    assert state.avg_fill_price_source == AvgPriceSource.FILLS  # the row says which
    assert D("0.10264409") / D(1) != vwap  # what the venue's cumulative figures say


def test_average_falls_back_to_the_venues_figures_for_fills_never_seen() -> None:
    """Only the second trade is seen: 0.3 of the filled 1.0 has no fill, so the average is
    the venue's Z / z."""
    book = _fold(("userData", HARNESS.load("derived_executionReport_ETHBTC_TRADE_2.json")))
    (state,) = book.orders()
    assert state.filled_qty == D(1)
    assert state.avg_fill_price == D("0.10264409")
    assert state.avg_fill_price_source == AvgPriceSource.VENUE  # the row says which


def test_average_source_turns_to_fills_once_the_missing_trade_arrives() -> None:
    """The first trade, delivered late, completes the fills: the average becomes their VWAP
    and the row says so; before any fill nothing is averaged."""
    (opened,) = _fold(("userData", HARNESS.load("docs_userData_executionReport_NEW.json"))).orders()
    assert (opened.avg_fill_price, opened.avg_fill_price_source) == (None, None)
    book = _fold(
        ("userData", HARNESS.load("derived_executionReport_ETHBTC_TRADE_2.json")),
        ("userData", HARNESS.load("derived_executionReport_ETHBTC_TRADE_1.json")),
    )
    (state,) = book.orders()
    assert (state.avg_fill_price, state.avg_fill_price_source) == (D("0.102644093"), "fills")
    wire = order_state_to_dict(state)
    assert wire["avg_fill_price_source"] == "fills"
    assert order_state_from_dict(wire) == state


def test_sor_trade_on_the_stream_is_a_fill_keyed_by_its_allocation() -> None:
    """Item 7: SOR fills have `t` -1 and an allocation id `a`; before, a dead letter."""
    (event,) = HARNESS.run("userData", HARNESS.load("derived_executionReport_SOR_TRADE.json"))
    assert event.fill is not None
    assert (event.fill.trade_id, event.fill.qty, event.fill.price) == (
        "alloc:0", D("0.5"), D(28000),
    )  # fmt: skip


def test_sor_place_reply_and_stream_report_are_one_fill() -> None:
    reply = HARNESS.load("docs_wsapi_sor.order.place.json")
    (placed,) = HARNESS.run("wsapi.sor.order.place", reply)
    assert placed.fill is not None
    assert placed.fill.trade_id == "alloc:0"
    book = _fold(
        ("wsapi.sor.order.place", reply),
        ("userData", HARNESS.load("derived_executionReport_SOR_TRADE.json")),
    )
    (state,) = book.orders()
    (position,) = book.positions()
    assert (state.filled_qty, state.avg_fill_price) == (D("0.5"), D(28000))
    assert position.qty == D("0.5")  # the allocation counted once


def test_my_allocations_are_fills_with_the_allocation_id() -> None:
    (event,) = HARNESS.run("wsapi.myAllocations", HARNESS.load("docs_wsapi_myAllocations.json"))
    assert event.fill is not None
    assert (event.order_id, event.fill.trade_id, event.fill.qty) == ("500", "alloc:0", D("0.1"))


@pytest.mark.parametrize(
    ("method", "legs"),
    [
        ("orderList.place.oco", [("2", OrderStatus.UNTRIGGERED), ("3", OrderStatus.OPEN)]),
        ("orderList.place.oto", [("13", OrderStatus.OPEN), ("14", OrderStatus.UNTRIGGERED)]),
        (
            "orderList.place.otoco",
            [
                ("23", OrderStatus.OPEN),
                ("24", OrderStatus.UNTRIGGERED),
                ("25", OrderStatus.UNTRIGGERED),
            ],
        ),
        (
            "orderList.cancel",
            [("12569138901", OrderStatus.CANCELED), ("12569138902", OrderStatus.CANCELED)],
        ),
    ],
)
def test_order_list_replies_yield_every_legs_state(method: str, legs: list[Any]) -> None:
    """Item 7: the reply snapshot of an order list was dropped; its legs are now events."""
    events = HARNESS.run(f"wsapi.{method}", HARNESS.load(f"docs_wsapi_{method}.json"))
    assert [(e.order_id, e.status) for e in events] == legs
    assert all(e.is_snapshot for e in events)


def test_order_list_status_and_prevented_matches_are_read_but_state_nothing() -> None:
    status = HARNESS.load("docs_wsapi_orderList.status.json")
    assert HARNESS.run("wsapi.orderList.status", status) == []
    matches = HARNESS.load("docs_wsapi_myPreventedMatches.json")
    assert HARNESS.run("wsapi.myPreventedMatches", matches) == []
    del matches["result"][0]["makerPreventedQuantity"]
    with pytest.raises(Exception, match="makerPreventedQuantity"):
        HARNESS.run("wsapi.myPreventedMatches", matches)
