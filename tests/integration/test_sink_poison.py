"""A record the store cannot hold never stalls the sink (issue 15): it is isolated and
dead-lettered with the store's reason, every valid record of its batch is stored, and the
offsets move on. A store that is down, on the other hand, is retried, never dead-lettered."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from stream_helpers import TEST_SETTINGS, run_until

from pipeline.codec import fill_to_dict
from pipeline.domain.events import Fill, Liquidity, Side
from pipeline.errors import RejectedDataError, StoreError
from pipeline.kafka import FILLS, ensure_topics
from pipeline.local.broker import TansuBroker
from pipeline.sink.store import Store
from pipeline.sink.writer import TableBatch, TableWriter
from pipeline.streams.producer import BatchingProducer
from pipeline.streams.sink_worker import SinkWorker

pytestmark = pytest.mark.integration
T0 = 1_700_000_000_000


def _fill(i: int, qty: str = "1") -> bytes:
    fill = Fill("binance", "alice", "BTC/USDT", "BTCUSDT", f"o{i}", f"t{i}", Side.BUY,
                Decimal("100"), Decimal(qty), Decimal("0"), "USDT", Liquidity.TAKER,
                T0 + i, T0 + i)  # fmt: skip
    return orjson.dumps({**fill_to_dict(fill), "version": 1})


async def _produce(bootstrap: str, values: list[bytes]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        messages = [(b"binance|alice|BTCUSDT", value) for value in values]
        await asyncio.gather(*await BatchingProducer(producer).send_all({FILLS: messages}))
    finally:
        await producer.stop()


def _rows(store: Store, sql: str) -> list[tuple]:
    return store.query(sql.format(db=store.database)).rows


async def test_sink_out_of_range_quantity_among_valid_ones_dead_lettered_rest_stored(
    store: Store, tmp_path: Path
) -> None:
    values = [_fill(i) for i in range(40)]
    values[17] = values[17].replace(b'"qty":"1"', b'"qty":"1e30"')  # no Decimal(38, 18)
    values[29] = b'{"venue": "binance", not json'
    broker = TansuBroker(tmp_path / "tansu.log")
    broker.start()
    try:
        await ensure_topics(broker.bootstrap, partitions=1)
        await _produce(broker.bootstrap, values)
        sink = SinkWorker(broker.bootstrap, TEST_SETTINGS, store)

        def done() -> bool:
            fills = _rows(store, "SELECT count() FROM {db}.fills FINAL")[0][0]
            letters = _rows(store, "SELECT count() FROM {db}.dead_letters FINAL")[0][0]
            return fills == 38 and letters == 2

        await run_until([sink.run], done, timeout=60)
    finally:
        broker.stop()
    stored = {t for (t,) in _rows(store, "SELECT trade_id FROM {db}.fills FINAL")}
    assert stored == {f"t{i}" for i in range(40)} - {"t17", "t29"}
    letters = _rows(
        store,
        "SELECT source_topic, source_offset, reason, detail, raw_value FROM {db}.dead_letters "
        "FINAL ORDER BY source_offset",
    )
    assert [(topic, offset, reason) for topic, offset, reason, _d, _v in letters] == [
        (FILLS, 17, "store_rejected"),
        (FILLS, 29, "store_rejected"),
    ]
    assert "1e30" in letters[0][3] or "too big" in letters[0][3]  # the store's reason
    assert letters[0][4] == values[17].decode()  # the record, unchanged
    assert sink.stats.rejected == 2
    assert sink.stats.errors == 0  # isolated, not retried


def test_writer_store_down_is_retried_not_rejected(store: Store) -> None:
    """A transient failure reaches the caller as a plain StoreError (it retries the batch);
    nothing is listed as refused."""

    class DownStore:
        accepts_json = True

        def insert_json(self, table: str, lines: bytes, dedup_token: str | None = None) -> None:
            raise StoreError("ClickHouse insert failed: Code: 210. Connection refused")

    writer = TableWriter(DownStore())  # type: ignore[arg-type]
    batch = TableBatch("fills", [], ["fills:0:0-1:x"], [_fill(1), _fill(2)])
    with pytest.raises(StoreError) as caught:
        writer.write([batch])
    assert not isinstance(caught.value, RejectedDataError)
    assert writer.rejected == []


def test_writer_isolates_each_refused_record_with_its_own_token(store: Store) -> None:
    values = [_fill(i) for i in range(10)]
    values[3] = values[3].replace(b'"price":"100"', b'"price":"1e40"')
    store.command(f"SYSTEM STOP MERGES {store.database}.fills")  # count copies, not merges
    writer = TableWriter(store)
    batch = TableBatch("fills", [], ["fills:0:0-9:abc"], values)
    assert writer.write([batch]) == 9
    assert [item.index for item in writer.rejected] == [3]
    assert writer.write([batch]) == 9  # a retry stores nothing twice (same tokens)
    rows = _rows(store, "SELECT count() FROM {db}.fills")[0][0]
    assert rows == 9


def test_writer_rows_path_isolates_a_value_the_client_cannot_serialize(store: Store) -> None:
    """Replay (and a sink writing a ClickHouse server) insert rows built in Python: a
    quantity of 1e30 fails in the client's serialization, is isolated the same way, and the
    other rows are stored (a replay no longer aborts on it)."""
    rows = [orjson.loads(_fill(i)) for i in range(6)]
    rows[4]["qty"] = "1e30"
    writer = TableWriter(store)
    assert writer.write([TableBatch("fills", rows, ["replay:0:0-5:x"])]) == 5
    assert [item.index for item in writer.rejected] == [4]
    stored = {t for (t,) in _rows(store, "SELECT trade_id FROM {db}.fills FINAL")}
    assert stored == {"t0", "t1", "t2", "t3", "t5"}
