"""Coinone MYORDER in both of its spellings, and what a frame alone says of an order.

Coinone sends MYORDER with long keys (the DEFAULT format) unless the subscription asks for
`"format": "SHORT"`. The `myorder_DEFAULT_*.json` payloads are the SHORT ones respelled with the
long keys of Coinone's own field table (tests/resources/venues/coinone/SOURCES.md): both must
give the very same events, and errors name the field as the frame spelled it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from venue_harness import VenueHarness

from pipeline.domain.book import TradingBook
from pipeline.domain.events import CancelReason, OrderStatus
from pipeline.errors import NormalizationError
from pipeline.ingest.coinone import CoinoneIngestor
from pipeline.ingest.config import AccountConfig, Credentials
from pipeline.ingest.publisher import RawPublisher
from pipeline.ingest.stats import IngestStats
from pipeline.venues.coinone import CoinoneNormalizer
from pipeline.venues.coinone.mapping import MYORDER_FIELDS

HARNESS = VenueHarness("coinone", CoinoneNormalizer(), "main", 1732000999000)
D = Decimal
FRAMES = ["wait", "trade", "cancel", "trade_done_market_sell"]


@pytest.mark.parametrize("name", FRAMES)
def test_default_format_frame_gives_the_events_of_its_short_twin(name: str) -> None:
    default = HARNESS.load(f"myorder_DEFAULT_{name}.json")
    short = HARNESS.load(f"myorder_{name}.json")
    assert "response_type" in default
    assert "order_id" in default["data"]
    events = HARNESS.run("MYORDER", default)
    assert events == HARNESS.run("MYORDER", short)
    assert len(events) == 1


def test_the_field_table_spells_every_documented_field_twice() -> None:
    longs = [long for long, _ in MYORDER_FIELDS]
    shorts = [short for _, short in MYORDER_FIELDS]
    assert len(set(longs)) == len(set(shorts)) == len(MYORDER_FIELDS) == 23
    assert {"order_id", "executed_qty", "remain_qty", "timestamp"} <= set(longs)


def test_default_format_error_names_the_long_key() -> None:
    frame = HARNESS.load("myorder_DEFAULT_trade.json")
    frame["data"]["executed_qty"] = "-1"
    with pytest.raises(NormalizationError) as info:
        HARNESS.run("MYORDER", frame)
    assert info.value.field == "data.executed_qty"


def test_default_format_control_frames_yield_nothing() -> None:
    assert HARNESS.run("MYORDER", {"response_type": "PONG"}) == []
    with pytest.raises(NormalizationError) as info:
        HARNESS.run("MYORDER", {"response_type": "ERROR", "channel": "MYORDER"})
    assert info.value.field == "response_type"


def _ingestor(**options: Any) -> CoinoneIngestor:
    stats = IngestStats()
    config = AccountConfig("coinone", "alice", "http://h", "ws://h", ("BTC-KRW",),
                           Credentials("key", "secret"), options=options)  # fmt: skip
    return CoinoneIngestor(config, RawPublisher("x:1", stats), stats)


@pytest.mark.parametrize("name", ["myorder_wait.json", "myorder_DEFAULT_wait.json"])
def test_ingestor_keys_and_tracks_frames_of_either_spelling(name: str) -> None:
    ingestor = _ingestor()
    payload = HARNESS.load(name)
    assert ingestor.symbol_of(payload) == "BTC-KRW"
    ingestor.observe("MYORDER", payload)
    assert ingestor.live.live == {payload.get("d", payload.get("data"))[
        "oi" if "d" in payload else "order_id"]: "BTC-KRW"}  # fmt: skip


def test_ingestor_subscribes_with_an_explicit_format() -> None:
    assert _ingestor().format == "SHORT"
    assert _ingestor(format="default").format == "DEFAULT"
    assert _ingestor(format="JSON").format == "SHORT"


def test_ingestor_fetches_the_detail_of_a_market_order_ended_by_cancel() -> None:
    """Item 8: MYORDER says only `cancel`; the order's detail (CANCELED_NO_ORDER) says the
    venue cancelled the unfilled remainder, so the next poll asks for it."""
    ingestor = _ingestor()
    frame = _market_buy_cancel("0.00085")
    ingestor.observe("MYORDER", frame)
    assert ingestor._stated["BTC-KRW"] == {frame["data"]["order_id"]}
    limit = _ingestor()
    limit.observe("MYORDER", HARNESS.load("myorder_DEFAULT_cancel.json"))
    assert not limit._stated.get("BTC-KRW")


def _fold(*frames: dict[str, Any]) -> Any:
    book = TradingBook()
    for frame in frames:
        for event in HARNESS.run("MYORDER", frame):
            book.apply(event)
    (state,) = book.orders()
    return state


def _market_buy_cancel(executed: str | None) -> dict[str, Any]:
    """A market buy (sized by `order_amount`, no `order_qty`) ended by the venue."""
    frame = HARNESS.load("myorder_DEFAULT_cancel.json")
    frame["data"].update(
        type="MARKET", side="BID", order_price=None, order_qty=None, order_amount="100000",
        executed_qty=executed, remain_qty=None, remain_amount="0",
    )  # fmt: skip
    return frame


def test_a_cancel_seen_first_keeps_the_quantity_it_states() -> None:
    """Item 2: no earlier frame; the cancel states the canceled quantity (`executed_qty`):
    the order's quantity is what it states, and filled + canceled + remaining = qty."""
    state = _fold(_market_buy_cancel("0.00085"))
    assert (state.qty, state.filled_qty, state.canceled_qty, state.remaining_qty) == (
        D("0.00085"), D(0), D("0.00085"), D(0),
    )  # fmt: skip
    limit = _fold(HARNESS.load("myorder_DEFAULT_cancel.json"))
    assert limit.qty == limit.filled_qty + limit.canceled_qty + limit.remaining_qty == D("0.001")


def test_a_market_order_cancelled_unfilled_ends_with_the_details_reason() -> None:
    """Item 8: the MYORDER `cancel` alone reads as the owner's cancel; the detail fetched
    after it (CANCELED_NO_ORDER) makes the reason specific, in whichever order they fold."""
    frame = _market_buy_cancel("0.00085")
    reply = HARNESS.load("order_detail_limit_PARTIALLY_FILLED.json")
    order = {**reply["order"], "order_id": frame["data"]["order_id"], "type": "MARKET",
             "status": "CANCELED_NO_ORDER", "executed_qty": "0", "canceled_qty": "0.00085",
             "remain_qty": "0", "original_qty": "0.00085"}  # fmt: skip
    detail = {**reply, "order": order}
    assert _fold(frame).cancel_reason == CancelReason.USER
    for events in ((frame, detail), (detail, frame)):
        book = TradingBook()
        for payload in events:
            channel = "MYORDER" if "data" in payload else "rest.order_detail"
            for event in HARNESS.run(channel, payload):
                book.apply(event)
        (state,) = book.orders()
        assert state.status is OrderStatus.CANCELED
        assert state.cancel_reason == CancelReason.UNFILLED_REMAINDER
