"""Insert deduplication tokens name the data, not only its offsets.

A broker that starts empty (the embedded one always does) or a recreated topic hands out the
same offsets again: a token of `topic:partition:first-last` alone would make the store take
new batches for retries of old ones and drop them silently.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import orjson
from stream_helpers import TEST_SETTINGS, run_until

from pipeline.codec import fill_to_dict
from pipeline.domain.events import Fill, Liquidity, Side
from pipeline.kafka import FILLS, ensure_topics
from pipeline.local.broker import TansuBroker
from pipeline.sink.store import Store
from pipeline.streams.producer import BatchingProducer
from pipeline.streams.sink_worker import SinkWorker

T0 = 1_700_000_000_000


def _fills(prefix: str, n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        fill = Fill("binance", "alice", "BTC/USDT", "BTCUSDT", f"{prefix}-o{i}", f"{prefix}-t{i}",
                    Side.BUY, Decimal("100"), Decimal("1"), Decimal("0"), "USDT",
                    Liquidity.TAKER, T0 + i, T0 + i)  # fmt: skip
        out.append((b"binance|alice|BTCUSDT", orjson.dumps({**fill_to_dict(fill), "version": 1})))
    return out


async def _produce_one_batch(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        futures = await BatchingProducer(producer).send_all({FILLS: messages})
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _trade_ids(store: Store) -> set[str]:
    rows = store.query(f"SELECT trade_id FROM {store.database}.fills FINAL").rows
    return {trade_id for (trade_id,) in rows}


async def test_other_data_at_the_same_offsets_after_a_broker_restart_is_stored_too(
    store: Store, tmp_path: Path
) -> None:
    for run, prefix in enumerate(("first", "second")):
        broker = TansuBroker(tmp_path / f"tansu-{run}.log")  # empty, as after a restart
        broker.start()
        try:
            await ensure_topics(broker.bootstrap, partitions=1)
            await _produce_one_batch(broker.bootstrap, _fills(prefix, 5))  # offsets 0-4 again
            sink = SinkWorker(broker.bootstrap, TEST_SETTINGS, store)
            await run_until(
                [sink.run], lambda p=prefix: {f"{p}-t{i}" for i in range(5)} <= _trade_ids(store)
            )
        finally:
            broker.stop()
    assert _trade_ids(store) == {f"{p}-t{i}" for p in ("first", "second") for i in range(5)}
