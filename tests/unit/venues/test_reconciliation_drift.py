"""Reconciliation drift (issue 16 item 9): a venue's own view of an order changing an order its
streams had already made final is counted, per venue and source, and exported as
`pipeline_process_final_state_corrections_total`; normal polling never moves it.

Payloads: Binance's recorded `executionReport` fixtures (NEW, TRADE partial, the CANCELED
capture) and the `order.status` reply of seed 004, all for order 9400000001 as SOURCES.md
lists them; the values a scenario changes are set here, next to the test that needs them.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry
from venue_harness import VenueHarness

from pipeline.domain.book import TradingBook
from pipeline.domain.events import OrderStatus
from pipeline.envelope import RawEnvelope, envelope_key
from pipeline.metrics import PipelineMetrics
from pipeline.streams.process_worker import ProcessStats
from pipeline.streams.processor import FileRecord, PartitionProcessor, ProcessingSettings
from pipeline.venues.binance import BinanceNormalizer

HARNESS = VenueHarness("binance", BinanceNormalizer(), "main", 1_772_500_000_000)
STREAM, STATUS = "userData", "wsapi.order.status"
D = Decimal
ORDER = 9400000001
CANCELED_AT = 1_772_500_002_000


def _stream_until_canceled() -> list[tuple[str, Any]]:
    """NEW, a 0.005 fill, then CANCELED stating that 0.005: final on the stream."""
    canceled = HARNESS.load("binance_spot_wsapi_executionReport_CANCELED.json")
    canceled["event"].update(
        i=ORDER, c="web_1a2b3c", q="0.02000000", z="0.00500000", Z="7.50000000",
        E=CANCELED_AT, T=CANCELED_AT, O=1_772_500_000_000,
    )  # fmt: skip
    return [
        (STREAM, HARNESS.load("fixture_executionReport_NEW.json")),
        (STREAM, HARNESS.load("fixture_executionReport_TRADE_partial.json")),
        (STREAM, canceled),
    ]


def _poll(status: str, executed: str, quote: str, update_time: int) -> tuple[str, Any]:
    """An `order.status` reply (seed 004's shape) for the order, as a poll would see it."""
    reply = HARNESS.load("seed004_wsapi_order.status.json")
    reply["result"].update(
        symbol="ETHUSDC", orderId=ORDER, clientOrderId="web_1a2b3c", side="BUY",
        price="1500.00000000", origQty="0.02000000", executedQty=executed,
        cummulativeQuoteQty=quote, status=status, time=1_772_500_000_000,
        updateTime=update_time, workingTime=1_772_500_000_000, preventedQuantity="0",
    )  # fmt: skip
    return (STATUS, reply)


def _book(items: list[tuple[str, Any]]) -> TradingBook:
    book = TradingBook()
    for channel, payload in items:
        for event in HARNESS.run(channel, payload):
            book.apply(event)
    return book


def test_polls_restating_or_predating_a_final_order_count_nothing() -> None:
    """Normal polling: a poll of the final state, and polls older than it (still open, less
    filled: they sort before the cancel), change nothing and count nothing."""
    book = _book(
        [
            *_stream_until_canceled(),
            _poll("CANCELED", "0.00500000", "7.50000000", CANCELED_AT),
            _poll("CANCELED", "0.00500000", "7.50000000", CANCELED_AT),
            _poll("NEW", "0.00000000", "0.00000000", 1_772_500_000_500),
            _poll("PARTIALLY_FILLED", "0.00500000", "7.50000000", 1_772_500_001_500),
        ]
    )
    (state,) = book.orders()
    assert (state.status, state.filled_qty, state.canceled_qty) == (
        OrderStatus.CANCELED, D("0.005"), D("0.015"),
    )  # fmt: skip
    assert (book.snapshot_corrections, book.stream_corrections) == (0, 0)
    assert book.late_events == 2  # the older polls were folded in their place


def test_a_poll_reporting_more_filled_than_the_final_order_is_counted_once() -> None:
    """Drift: the venue says 0.008 executed; the stream's cancel said 0.005 (a trade the
    stream never delivered). The order is corrected and the correction counted once, as a
    snapshot's; the same poll again is a duplicate and counts nothing."""
    drift = _poll("CANCELED", "0.00800000", "12.00000000", CANCELED_AT + 1)
    book = _book([*_stream_until_canceled(), drift, drift])
    (state,) = book.orders()
    assert (state.status, state.filled_qty, state.canceled_qty) == (
        OrderStatus.CANCELED, D("0.008"), D("0.012"),
    )  # fmt: skip
    assert (book.snapshot_corrections, book.stream_corrections) == (1, 0)


def test_a_live_trade_after_the_cancel_is_a_stream_correction() -> None:
    trade = HARNESS.load("fixture_executionReport_TRADE_partial.json")
    trade["event"].update(
        t=5002, l="0.00300000", z="0.00800000", Z="12.00000000",
        E=CANCELED_AT + 500, T=CANCELED_AT + 500,
    )  # fmt: skip
    book = _book([*_stream_until_canceled(), (STREAM, trade)])
    (state,) = book.orders()
    assert state.filled_qty == D("0.008")
    assert (book.snapshot_corrections, book.stream_corrections) == (0, 1)


def _records(items: list[tuple[str, Any]]) -> list[FileRecord]:
    key = envelope_key("binance", "main", "ETHUSDC")
    received = 1_772_500_000_000
    return [
        FileRecord(
            "raw.binance",
            0,
            offset,
            key,
            RawEnvelope("binance", "main", channel, received + offset, payload).encode(),
        )
        for offset, (channel, payload) in enumerate(items)
    ]


def _exported(stats: ProcessStats) -> dict[tuple[str, str], float]:
    metrics = PipelineMetrics(CollectorRegistry())
    metrics.watch(SimpleNamespace(process=SimpleNamespace(stats=stats, group_id="g")))
    return {
        (s.labels["venue"], s.labels["source"]): s.value
        for family in metrics.registry.collect()
        if family.name == "pipeline_process_final_state_corrections"
        for s in family.samples
    }


def test_the_processor_counts_drift_per_venue_and_the_metric_exports_it() -> None:
    """Raw records through the partition processor into the worker's stats and out as the
    metric: flat (every venue and source at 0) after normal polling, 1 for binance/snapshot
    after the drifting poll; a replay of the same records (recovery) adds nothing."""
    processor = PartitionProcessor("raw.binance", 0, ProcessingSettings())
    stats = ProcessStats()
    normal = [*_stream_until_canceled(), _poll("CANCELED", "0.00500000", "7.50000000", CANCELED_AT)]
    records = _records([*normal, _poll("CANCELED", "0.00800000", "12.00000000", CANCELED_AT + 1)])

    stats.add(processor.process(records[: len(normal)], now_ms=0))
    flat = _exported(stats)
    assert set(flat.values()) == {0}
    assert {("binance", "snapshot"), ("upbit", "stream")} <= set(flat)

    stats.add(processor.process(records[len(normal) :], now_ms=0))
    drifted = _exported(stats)
    assert drifted[("binance", "snapshot")] == 1
    assert {k: v for k, v in drifted.items() if v} == {("binance", "snapshot"): 1}

    stats.add(processor.process(records, now_ms=0))  # redelivered: duplicates, nothing new
    assert {k: v for k, v in _exported(stats).items() if v} == {("binance", "snapshot"): 1}


def _canceled_without_its_trade() -> list[tuple[str, Any]]:
    """The stream lost the TRADE frame: NEW, then the CANCELED stating 0.005 executed."""
    new, _trade, canceled = _stream_until_canceled()
    return [new, canceled]


def test_a_final_order_whose_fills_fall_short_counts_once_settled() -> None:
    """Ground-truth drift: the venue's CANCELED says 0.005 executed, no fill of it reached us.
    Counted once the order is settled (a minute, for trades a moment late), not before."""
    book = _book(_canceled_without_its_trade())
    (state,) = book.orders()
    assert (state.status, state.filled_qty) == (OrderStatus.CANCELED, D("0.005"))
    assert book.final_orders_missing_fills(CANCELED_AT - 1) == 0  # not settled yet
    assert book.final_orders_missing_fills(CANCELED_AT + 60_000) == 1


def test_final_orders_with_all_their_fills_count_nothing() -> None:
    book = _book(
        [
            *_stream_until_canceled(),
            _poll("CANCELED", "0.00500000", "7.50000000", CANCELED_AT),
        ]
    )
    assert book.final_orders_missing_fills(CANCELED_AT + 600_000) == 0
    late = _book([*_canceled_without_its_trade()])
    (channel, trade) = _stream_until_canceled()[1]
    for event in HARNESS.run(channel, trade):  # the lost trade, redelivered
        late.apply(event)
    assert late.final_orders_missing_fills(CANCELED_AT + 600_000) == 0


def test_the_processor_exports_final_orders_missing_fills_per_venue() -> None:
    """Through the partition processor's eviction pass into the gauge: another order's report
    two minutes later moves the watermark past the grace; redelivering the lost trade and
    passing another minute brings the gauge back to 0."""
    from pipeline.streams.processor import MISSING_FILLS_GRACE_MS

    def later_order(offset_ms: int, order: int) -> tuple[str, Any]:
        new = HARNESS.load("fixture_executionReport_NEW.json")
        at = CANCELED_AT + offset_ms
        new["event"].update(i=order, E=at, T=at, O=at, W=at)
        return (STREAM, new)

    processor = PartitionProcessor("raw.binance", 0, ProcessingSettings())
    stats = ProcessStats()
    lost = [*_canceled_without_its_trade(), later_order(MISSING_FILLS_GRACE_MS + 70_000, 2)]
    processor.process(_records(lost), now_ms=0)
    stats.missing_fills = {"binance": processor.missing_fills}

    def gauge() -> dict[str, float]:
        metrics = PipelineMetrics(CollectorRegistry())
        metrics.watch(SimpleNamespace(process=SimpleNamespace(stats=stats, group_id="g")))
        return {
            s.labels["venue"]: s.value
            for family in metrics.registry.collect()
            if family.name == "pipeline_process_final_orders_missing_fills"
            for s in family.samples
        }

    assert gauge() == {"binance": 1, "coinone": 0, "futures_gateway": 0, "ssi": 0, "upbit": 0}
    trade = _stream_until_canceled()[1]
    more = [trade, later_order(MISSING_FILLS_GRACE_MS + 200_000, 3)]
    records = _records([*lost, *more])[len(lost) :]
    processor.process(records, now_ms=0)
    stats.missing_fills = {"binance": processor.missing_fills}
    assert set(gauge().values()) == {0}
