"""100,000 hostile raw records through a running process worker (issue 15).

The recorded multi-venue scenario (every record valid) is mixed with ~99,000 hostile ones:
truncated JSON, invalid UTF-8, an unknown venue, nesting deeper than any parser allows, huge
and tiny exponents, NaN, non-ASCII digits, executed above the order quantity, accounts with
`|`, terminal escapes or 100,000 characters. Each hostile record names an account of its own,
so one accepted by mistake would show up as an extra order. The worker and the sink run on a
real Tansu broker and chDB; afterwards every record was consumed, every hostile record is
exactly one dead letter, no valid one is, and the tables equal the oracle of the valid
records. Counts and the process's RSS before and after are printed.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import orjson
from scenario_data import disordered
from stream_helpers import TEST_PROCESSING, TEST_SETTINGS, as_records, count, produce
from test_checkpoint_recovery import EXPECTED, SCENARIO, _assert_oracle, _complete

from pipeline.envelope import envelope_key
from pipeline.kafka import DEAD_LETTERS, ensure_topics
from pipeline.local.broker import TansuBroker
from pipeline.sink.store import Store
from pipeline.streams.checkpoint import FileCheckpoints
from pipeline.streams.process_worker import ProcessWorker
from pipeline.streams.sink_worker import SinkWorker

TOTAL = 100_000
BINANCE = {
    "e": "executionReport",
    "E": 1709654403000,
    "s": "ETHUSDT",
    "c": "cid",
    "S": "BUY",
    "o": "LIMIT",
    "f": "GTC",
    "q": "1.00000000",
    "p": "2500.00000000",
    "P": "0",
    "x": "NEW",
    "X": "NEW",
    "r": "NONE",
    "i": 1,
    "l": "0",
    "z": "0",
    "L": "0",
    "n": "0",
    "N": None,
    "T": 1709654403000,
    "t": -1,
    "w": True,
    "m": False,
    "O": 1709654400000,
    "Z": "0",
    "C": "",
}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _envelope(venue: str, account: str, channel: str, payload: object, n: int) -> bytes:
    return orjson.dumps(
        {
            "venue": venue,
            "account": account,
            "channel": channel,
            "received_at": 1709654403000 + n,
            "payload": payload,
        }
    )


def _binance(n: int, **fields: object) -> tuple[bytes, bytes, str]:
    account = f"hostile-{n}"
    payload = {**BINANCE, "i": n, **fields}
    return (
        envelope_key("binance", account, "ETHUSDT"),
        _envelope("binance", account, "userData", payload, n),
        "binance",
    )


def _account(n: int, account: str) -> tuple[bytes, bytes, str]:
    return (
        f"binance|hostile-{n}|ETHUSDT".encode(),
        _envelope("binance", account, "userData", {**BINANCE, "i": n}, n),
        "binance",
    )


KINDS = {
    "truncated JSON": lambda n: (b"binance|h|ETHUSDT", _binance(n)[1][:40], "binance"),
    "invalid UTF-8": lambda n: (b"binance|h|ETHUSDT", b"\xff\xfe" + _binance(n)[1], "binance"),
    "unknown venue": lambda n: (
        b"binance|h|ETHUSDT",
        _envelope("nasdaq", f"hostile-{n}", "userData", BINANCE, n),
        "binance",
    ),
    "nesting 5,000 deep": lambda n: (
        b"binance|h|ETHUSDT",
        b'{"venue":"binance","account":"h","channel":"userData",'
        b'"received_at":1,"payload":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "binance",
    ),
    "exponent 1e999999999": lambda n: _binance(n, q="1e999999999"),
    "exponent 1e-999999": lambda n: _binance(
        n, x="TRADE", X="FILLED", l="1e-999999", z="1e-999999", L="1", Z="10", t=n
    ),
    "NaN price": lambda n: _binance(n, p="NaN"),
    "Arabic-Indic digits": lambda n: _binance(n, q="١٢"),
    "executed above quantity": lambda n: _binance(
        n, x="TRADE", X="FILLED", l="5", z="5", L="2500", Z="12500", t=n
    ),
    "account with |": lambda n: _account(n, f"a|{n}"),
    "account with ESC": lambda n: _account(n, f"x\x1b[2J{n}"),
    "account with RTL override": lambda n: _account(n, f"\u202e{n}"),
}
RARE = {"account of 100,000 characters": lambda n: _account(n, "A" * 100_000 + str(n))}


def _hostile(count: int, seed: int) -> list[tuple[str, tuple[bytes, bytes, str]]]:
    rng = random.Random(seed)
    names = sorted(KINDS)
    out = []
    for n in range(count):
        if n % 1000 == 0:
            name = next(iter(RARE))
            out.append((name, RARE[name](n)))
        else:
            name = rng.choice(names)
            out.append((name, KINDS[name](n)))
    return out


async def _dead_letters(bootstrap: str, expected: int) -> int:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        DEAD_LETTERS,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while seen < expected and loop.time() < deadline:
            fetched = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(records) for records in fetched.values())
        extra = await consumer.getmany(timeout_ms=1500)  # nothing beyond the expected
        seen += sum(len(records) for records in extra.values())
    finally:
        await consumer.stop()
    return seen


async def test_100k_hostile_records_are_dead_letters_and_no_valid_event_is_lost(
    fresh_broker: TansuBroker, store: Store, tmp_path: Path
) -> None:
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    valid = as_records(disordered(SCENARIO, seed=15))  # duplicated and reordered as a venue does
    hostile = _hostile(TOTAL - len(valid), seed=15)
    # hostile records at random places; the valid ones keep their recorded order
    slots = sorted(random.Random(16).choices(range(len(valid) + 1), k=len(hostile)))
    mixed, at = [], 0
    for slot, (_, record) in zip(slots, hostile, strict=True):
        mixed += valid[at:slot]
        at = max(at, slot)
        mixed.append(record)
    mixed += valid[at:]
    await produce(bootstrap, mixed)
    rss_before = _rss_mb()
    worker = ProcessWorker(
        bootstrap,
        TEST_SETTINGS,
        TEST_PROCESSING,
        group_id="proc",
        checkpoints=FileCheckpoints(tmp_path / "ckpt"),
        checkpoint_interval_s=2.0,
    )
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(sink.run(stop))]
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 240
        while worker.stats.records < TOTAL or not await asyncio.to_thread(_complete, store):
            for task in tasks:
                assert not task.done(), f"a worker stopped: {task.exception()!r}"
            assert loop.time() < deadline, f"stuck at {worker.stats.records} of {TOTAL}"
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    rss_after = _rss_mb()
    letters = await _dead_letters(bootstrap, len(hostile))
    kinds: dict[str, int] = {}
    for name, _ in hostile:
        kinds[name] = kinds.get(name, 0) + 1
    print(
        f"\ninput {TOTAL:,} = valid {len(valid):,} + hostile {len(hostile):,} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); worker: "
        f"{worker.stats.records:,} consumed, {worker.stats.dead_letters:,} dead letters, "
        f"{letters:,} on {DEAD_LETTERS}; RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after"
    )
    assert worker.stats.records == TOTAL
    assert worker.stats.dead_letters == len(hostile)
    assert letters == len(hostile)
    assert count(store, "orders") == len(EXPECTED["orders"])  # no hostile account got in
    _assert_oracle(store)
