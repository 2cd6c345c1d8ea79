"""The cancel role over a real Tansu broker: orders.state -> StateView, commands.cancel ->
the simulated venue -> commands.results and the store.

STUB: orders.state is produced from the simulator's truth (`simstate.py`), not by the
process role."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cancel_rig import KEY, venue_accounts
from cancel_simstate import SimStateFeed

from pipeline.codec import order_state_to_dict
from pipeline.commands.auth import Grant, KeyRing, key_env_name, sign_command
from pipeline.commands.config import CancelConfig
from pipeline.commands.worker import CancelWorker
from pipeline.config import Settings
from pipeline.kafka import COMMANDS_CANCEL, COMMANDS_RESULTS, ORDERS_STATE, ensure_topics
from pipeline.sim.engine import Status


async def read_results(bootstrap: str, wanted: set[str], timeout: float = 30.0) -> dict:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    finals: dict[str, list[dict]] = {}
    try:
        tps = [
            TopicPartition(COMMANDS_RESULTS, p)
            for p in consumer.partitions_for_topic(COMMANDS_RESULTS) or {0}
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not wanted <= set(finals):
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    value = orjson.loads(record.value)
                    if value["final"]:
                        finals.setdefault(value["command_id"], []).append(value)
    finally:
        await consumer.stop()
    return finals


async def test_cancel_worker_end_to_end(fresh_broker, rig, store):
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    sent: list = []

    def to_topic(state) -> None:
        key = f"{state.venue}|{state.account}|{state.order_id}".encode()
        value = orjson.dumps(order_state_to_dict(state))
        sent.append(asyncio.ensure_future(producer.send(ORDERS_STATE, value, key=key)))

    order_id = rig.place("binance")
    feed = SimStateFeed(rig.sim, to_topic)
    feed.start()
    await asyncio.gather(*sent)  # on the topic before the worker starts: read at start-up
    config = CancelConfig(
        accounts=tuple(venue_accounts(rig.sim)),
        grants=(Grant("ops", "binance"),),
        keys=KeyRing(env={key_env_name("ops"): KEY}),
        confirm_timeout_s=10,
        group_id=f"cancel-{uuid.uuid4().hex[:6]}",
    )
    settings = Settings(kafka_bootstrap=bootstrap)
    worker = CancelWorker(bootstrap, settings, config, store=store)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 30)
        now = int(time.time() * 1000)
        good = sign_command(
            {
                "command_id": "good-1",
                "venue": "binance",
                "symbol": "BTCUSDT",
                "order_id": order_id,
                "issued_by": "ops",
                "issued_at": now,
            },
            KEY,
        )
        unsigned = {
            "command_id": "unsigned-1",
            "venue": "binance",
            "issued_by": "ops",
            "issued_at": now,
        }
        other_venue = sign_command(
            {"command_id": "upbit-1", "venue": "upbit", "issued_by": "ops", "issued_at": now}, KEY
        )
        huge = {**unsigned, "command_id": "huge-1", "symbol": "S" * 200_000}
        for command in (good, unsigned, other_venue, huge, good):  # good twice: a redelivery
            await producer.send_and_wait(
                COMMANDS_CANCEL, orjson.dumps(command), key=command["command_id"].encode()
            )
        finals = await read_results(bootstrap, {"good-1", "unsigned-1", "upbit-1", "huge-1"})
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await feed.stop()
        await producer.stop()
    assert finals["good-1"][0]["status"] == "completed"
    assert finals["good-1"][0]["outcomes"][0]["outcome"] == "canceled"
    assert all(r == finals["good-1"][0] for r in finals["good-1"])  # re-sent, not re-run
    assert worker.executor is not None
    assert worker.executor.executions == 1
    assert rig.order("binance", order_id).status is Status.CANCELED
    assert finals["unsigned-1"][0]["status"] == "rejected"
    assert finals["unsigned-1"][0]["reason"] == "not authenticated"
    assert "not allowed" in finals["upbit-1"][0]["reason"]
    rows = store.query(
        f"SELECT command_id, accepted, reject_reason, length(ifNull(symbol, '')) "
        f"FROM {store.database}.cancel_commands FINAL ORDER BY 1"
    ).rows
    assert rows == [
        ("good-1", 1, None, 7),
        ("huge-1", 0, "field 'symbol' is longer than 128 characters", 128),  # stored bounded
        ("unsigned-1", 0, "not authenticated", 0),
        ("upbit-1", 0, "issuer 'ops' is not allowed to cancel on upbit (all accounts)", 0),
    ]
    results = store.query(
        f"SELECT command_id, status, version FROM {store.database}.command_results FINAL ORDER BY 1"
    ).rows
    assert ("good-1", "completed", 2) in results
