"""The publisher retries failed produces until they succeed, applies backpressure, and files
unparseable frames as dead letters; ingestors key by symbol and track live orders."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from pipeline.envelope import RawEnvelope, decode_envelope
from pipeline.ingest.base import LiveOrders
from pipeline.ingest.binance import BinanceIngestor
from pipeline.ingest.config import AccountConfig, Backoff, Credentials
from pipeline.ingest.publisher import RawPublisher
from pipeline.ingest.stats import IngestStats
from pipeline.ingest.upbit import UpbitIngestor
from pipeline.kafka import DEAD_LETTERS

FAST = Backoff(initial=0.001, maximum=0.005)


class FlakyProducer:
    """Fails the first `failures` sends (half at send(), half in the delivery future)."""

    def __init__(self, failures: int = 0, start_failures: int = 0) -> None:
        self.failures = failures
        self.start_failures = start_failures
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.stopped = False

    async def start(self) -> None:
        if self.start_failures:
            self.start_failures -= 1
            raise ConnectionError("broker unreachable")

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            if self.failures % 2:
                raise TimeoutError("metadata not available")
            future.set_exception(ConnectionError("request timed out"))
            return future
        self.sent.append((topic, key, value))
        future.set_result(None)
        return future


def envelope(n: int) -> RawEnvelope:
    return RawEnvelope("upbit", "alice", "myOrder", n, {"code": "KRW-BTC", "n": n})


async def run_publisher(producer: FlakyProducer, items: int, queue_size: int = 100) -> IngestStats:
    stats = IngestStats()
    publisher = RawPublisher("x:1", stats, queue_size, batch_size=7, retry=FAST,
                             producer_factory=lambda _b: producer)  # fmt: skip
    task = asyncio.create_task(publisher.run())
    for n in range(items):
        await publisher.publish(envelope(n), "KRW-BTC")
    await publisher.close()
    await asyncio.wait_for(task, 5)
    return stats


async def test_failed_produces_are_retried_until_every_message_is_sent() -> None:
    producer = FlakyProducer(failures=9, start_failures=2)
    stats = await run_publisher(producer, 40)
    assert sorted(decode_envelope(v).received_at for _, _, v in producer.sent) == list(range(40))
    assert {(t, k) for t, k, _ in producer.sent} == {("raw.upbit", b"upbit|alice|KRW-BTC")}
    assert stats.venue("upbit").published == 40
    assert stats.venue("upbit").produce_retries >= 9 + 2
    assert producer.stopped


async def test_a_full_queue_makes_publish_wait_instead_of_dropping() -> None:
    stats = IngestStats()
    producer = FlakyProducer()
    publisher = RawPublisher("x:1", stats, queue_size=3, producer_factory=lambda _b: producer)
    for n in range(3):
        await publisher.publish(envelope(n), "KRW-BTC")
    blocked = asyncio.create_task(publisher.publish(envelope(3), "KRW-BTC"))
    await asyncio.sleep(0.05)
    assert not blocked.done()  # backpressure: the reader would stop here
    task = asyncio.create_task(publisher.run())
    await asyncio.wait_for(blocked, 2)
    await publisher.close()
    await asyncio.wait_for(task, 2)
    assert len(producer.sent) == 4


async def test_queued_bytes_are_bounded_as_well_as_the_count() -> None:
    """Large envelopes (order books of megabytes) fill the byte budget long before the
    count: publish waits once the queued bytes reach it, and resumes as Kafka takes them."""
    stats = IngestStats()
    producer = FlakyProducer()
    publisher = RawPublisher("x:1", stats, queue_size=1000, max_queued_bytes=2_000_000,
                             producer_factory=lambda _b: producer)  # fmt: skip
    book = RawEnvelope("ssi", "alice", "rest.orderBook", 1, {"orders": ["x" * 900_000]})
    for _ in range(3):  # 2.7 MB: the third fits (the budget was not reached before it)
        await publisher.publish(book, "*")
    blocked = asyncio.create_task(publisher.publish(book, "*"))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    assert publisher.queued_bytes > 2_000_000
    task = asyncio.create_task(publisher.run())
    await asyncio.wait_for(blocked, 2)
    await publisher.close()
    await asyncio.wait_for(task, 2)
    assert len(producer.sent) == 4
    assert publisher.queued_bytes == 0


async def test_abandon_at_shutdown_counts_the_messages_lost() -> None:
    stats = IngestStats()
    producer = FlakyProducer(failures=10_000)
    publisher = RawPublisher("x:1", stats, retry=FAST, producer_factory=lambda _b: producer)
    task = asyncio.create_task(publisher.run())
    await publisher.publish(envelope(1), "KRW-BTC")
    await publisher.close()
    await asyncio.sleep(0.05)
    publisher.abandon()
    await asyncio.wait_for(task, 2)
    assert publisher.lost == 1
    assert stats.venue("upbit").published == 0


def ingestor(kind: type, venue: str) -> tuple[Any, RawPublisher, IngestStats]:
    stats = IngestStats()
    publisher = RawPublisher("x:1", stats)
    config = AccountConfig(venue, "alice", "http://h", "ws://h", ("KRW-BTC",),
                           Credentials("key", "secret"))  # fmt: skip
    return kind(config, publisher, stats), publisher, stats


def queued(publisher: RawPublisher) -> list[Any]:
    items = []
    while not publisher.queue.empty():
        items.append(publisher.queue.get_nowait())
    return items


async def test_file_publishes_unmodified_keys_lists_by_first_market_and_skips_keepalive() -> None:
    upbit, publisher, stats = ingestor(UpbitIngestor, "upbit")
    frame = b'[{"ty":"myOrder","cd":"KRW-ETH","uid":"u1","s":"wait","p":1.10}]'
    await upbit.file("myOrder", frame)
    await upbit.file("myOrder", b'{"status":"UP"}')
    await upbit.file("rest.orders", b"[]", "KRW-BTC")
    (item,) = queued(publisher)
    assert item.key == b"upbit|alice|KRW-ETH"
    decoded = decode_envelope(item.value)
    assert decoded.payload == orjson.loads(frame)
    assert decoded.channel == "myOrder"
    assert stats.venue("upbit").unkeyed == 2
    assert upbit.live.live == {"u1": "KRW-ETH"}


async def test_unparseable_frame_becomes_a_dead_letter_with_the_reason() -> None:
    upbit, publisher, stats = ingestor(UpbitIngestor, "upbit")
    await upbit.file("myOrder", b"\x00garbage{")
    await upbit.file("myOrder", b'{"type":"myOrder","code":"KRW-B')
    first, second = queued(publisher)
    assert first.topic == DEAD_LETTERS
    assert first.dead_letter
    letter = orjson.loads(first.value)
    assert letter["reason"] == "unparseable_frame"
    assert letter["venue"] == "upbit"
    assert letter["raw_value"] == "\x00garbage{"
    assert letter["source_partition"] == -1
    assert orjson.loads(second.value)["source_offset"] > letter["source_offset"]
    assert stats.venue("upbit").dead_letters == 2


async def test_binance_replies_are_keyed_by_the_requested_symbol_and_tracked() -> None:
    binance, publisher, _ = ingestor(BinanceIngestor, "binance")
    reply = {"id": "r1", "status": 200, "result": [
        {"symbol": "BTCUSDT", "orderId": 7, "status": "NEW"}]}  # fmt: skip
    await binance.publish("wsapi.openOrders.status", reply, "BTCUSDT", 1)
    event = {"subscriptionId": 0, "event": {"e": "executionReport", "s": "BTCUSDT", "i": 7,
                                            "X": "FILLED"}}  # fmt: skip
    await binance.publish("userData", event, None, 2)
    balance = {"subscriptionId": 0, "event": {"e": "outboundAccountPosition", "B": []}}
    assert not await binance.publish("userData", balance, None, 3)
    keys = [item.key for item in queued(publisher)]
    assert keys == [b"binance|alice|BTCUSDT"] * 2
    assert binance.live.live == {}  # the FILLED report closed it


def test_live_orders_terminal_wins_over_a_late_live_report() -> None:
    live = LiveOrders(closed_memory=2)
    live.seen("a", "X", True)
    live.seen("b", "X", True)
    live.seen("c", "Y", True)
    live.seen("a", "X", False)
    live.seen("a", "X", True)  # reordered: arrived after the terminal one
    assert live.missing_from("X", ["b"]) == []
    assert live.missing_from("X", []) == ["b"]
    assert live.missing_from("Y", []) == ["c"]


@pytest.mark.parametrize("kind", [UpbitIngestor, BinanceIngestor])
def test_ingestor_repr_never_shows_keys(kind: type) -> None:
    made, _, _ = ingestor(kind, kind.venue)
    assert repr(made) == f"{kind.__name__}({kind.venue}/alice)"
    assert "secret" not in repr(made.config)
    assert "'key'" not in repr(made.config)


def test_ingestor_resumes_its_history_from_a_given_time_never_from_the_future() -> None:
    from pipeline.ingest.base import HISTORY_MARGIN_MS
    from pipeline.ingest.coinone import CoinoneIngestor
    from pipeline.ingest.publisher import now_ms

    stats = IngestStats()
    publisher = RawPublisher("x:1", stats)
    config = AccountConfig("binance", "alice", "http://h", "ws://h", ("BTCUSDT",),
                           Credentials("key", "secret"))  # fmt: skip
    resumed = BinanceIngestor(config, publisher, stats, resume_from=1_700_000_000_000)
    assert resumed.history_since() == 1_700_000_000_000 - HISTORY_MARGIN_MS
    fresh = BinanceIngestor(config, publisher, stats)
    assert fresh.history_since() >= now_ms() - HISTORY_MARGIN_MS - 1_000
    ahead = BinanceIngestor(config, publisher, stats, resume_from=now_ms() + 3_600_000)
    assert ahead.history_since() <= now_ms() - HISTORY_MARGIN_MS
    coinone = AccountConfig("coinone", "alice", "http://h", "ws://h", ("BTC-KRW",),
                            Credentials("key", "secret"))  # fmt: skip
    polled = CoinoneIngestor(coinone, publisher, stats, resume_from=1_700_000_000_000)
    assert polled._started == 1_700_000_000_000 - HISTORY_MARGIN_MS  # computed at creation


class SizeLimitedProducer(FlakyProducer):
    """Refuses, for good, any value over `limit` bytes (as Kafka does a too large record),
    dead letters included."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        from aiokafka.errors import MessageSizeTooLargeError

        if len(value) > self.limit:
            raise MessageSizeTooLargeError(f"the message is {len(value)} bytes")
        return await super().send(topic, value, key)


async def test_an_envelope_kafka_refuses_for_good_is_dead_lettered_not_retried_forever() -> None:
    """One refused envelope must not stall the venues behind it: it becomes a dead letter
    with the refusal and the envelope's first bytes, and every other envelope is sent."""
    producer = SizeLimitedProducer(limit=400_000)
    stats = IngestStats()
    publisher = RawPublisher("x:1", stats, 100, batch_size=7, retry=FAST,
                             producer_factory=lambda _b: producer)  # fmt: skip
    task = asyncio.create_task(publisher.run())
    huge = RawEnvelope("ssi", "alice", "rest.orderBook", 5, {"orders": ["x" * 1_000_000]})
    for n in range(10):
        await publisher.publish(envelope(n), "KRW-BTC")
        if n == 4:
            await publisher.publish(huge, "*")
    await publisher.close()
    await asyncio.wait_for(task, 5)
    raw = [v for t, _, v in producer.sent if t == "raw.upbit"]
    assert len(raw) == 10
    letters = [orjson.loads(v) for t, _, v in producer.sent if t == DEAD_LETTERS]
    assert len(letters) == 1
    assert letters[0]["reason"] == "unpublishable"
    assert "MessageSizeTooLargeError" in letters[0]["detail"]
    assert letters[0]["raw_key"] == "ssi|alice|"
    assert len(letters[0]["raw_value"]) <= 400_000
    assert stats.venue("ssi").dead_letters == 1
    assert publisher.lost == 0
