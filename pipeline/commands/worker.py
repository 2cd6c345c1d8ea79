"""The cancel role: `commands.cancel` in, venue cancels out, `commands.results` back.

    orders.state ──(from the beginning, always)──> StateView
    commands.results ──(once, on start)──> the executor's memory of final results
    commands.cancel ──(group pipeline-cancel)──> CancelExecutor ──> commands.results
                                                                └─> cancel_commands, command_results

Plain aiokafka, like the other roles: this path is low-volume, but it needs what a faust agent
makes awkward — a commit only after the result is produced (at-least-once; the executor makes
a redelivery harmless: same command_id -> the stored result is re-sent), and a state view
rebuilt by reading a topic to its *fetch high watermark*, never to `end_offsets` (wrong on the
embedded broker for multi-record batches, PITFALLS §2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.codec import order_state_from_dict
from pipeline.commands.auth import Authenticator
from pipeline.commands.clients import make_client
from pipeline.commands.config import CancelConfig
from pipeline.commands.executor import CancelExecutor
from pipeline.commands.model import MAX_ID_CHARS
from pipeline.commands.state_view import StateView
from pipeline.config import Settings
from pipeline.kafka import (
    COMMANDS_CANCEL,
    COMMANDS_RESULTS,
    ORDERS_STATE,
    decode_into,
    read_to_highwater,
)
from pipeline.streams.process_worker import consumer_timeouts

log = logging.getLogger(__name__)


def _apply_state(view: StateView) -> Callable[[Any], None]:
    def apply(value: Any) -> None:
        view.apply(order_state_from_dict(value))

    return apply


def _ms(value: int | None) -> datetime:
    return datetime.fromtimestamp((value or 0) / 1000, tz=UTC)


class CancelWorker:
    def __init__(
        self,
        bootstrap: str,
        settings: Settings,
        config: CancelConfig,
        store: Any = None,
        view: StateView | None = None,
        clock: Callable[[], int] | None = None,
        metrics: Any = None,
    ) -> None:
        self.bootstrap, self.settings, self.config, self.store = bootstrap, settings, config, store
        self.metrics = metrics  # a CancelMetrics (pipeline/metrics.py), or None
        self.view = view or StateView()
        self.clock = clock
        self.ready = asyncio.Event()
        self.executor: CancelExecutor | None = None
        self.handled = 0

    def _consumer(self, group_id: str | None = None) -> AIOKafkaConsumer:
        extra = consumer_timeouts(self.settings) if group_id else {}
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            **extra,
        )

    async def run(self, stop: asyncio.Event) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=False, acks="all"
        )
        http = aiohttp.ClientSession()
        state_reader = self._consumer()
        commands = self._consumer(self.config.group_id)
        clients = {
            (a.venue, a.account): make_client(a, http=http, clock=self.clock)
            for a in self.config.accounts
        }
        follower: asyncio.Task[None] | None = None
        await producer.start()
        try:
            await state_reader.start()
            await read_to_highwater(state_reader, ORDERS_STATE, _apply_state(self.view))
            follower = asyncio.create_task(self._follow(state_reader, stop))
            auth = Authenticator(self.config.keys, self.config.grants, self.config.max_age_ms)
            executor = self.executor = CancelExecutor(
                self.view,
                clients,
                auth,
                confirm_timeout_s=self.config.confirm_timeout_s,
                publish=lambda result: self._publish(producer, result),
                clock=self.clock,
            )
            results_reader = self._consumer()
            await results_reader.start()
            try:
                await read_to_highwater(results_reader, COMMANDS_RESULTS, executor.remember)
            finally:
                await results_reader.stop()
            log.info(
                "cancel worker ready: %d order states, %d known results",
                len(self.view),
                len(executor.results),
            )
            await commands.start()
            commands.subscribe([COMMANDS_CANCEL])
            self.ready.set()
            while not stop.is_set():
                await self._step(commands, executor)
        finally:
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            for client in clients.values():
                await client.close()
            await http.close()
            for consumer in (commands, state_reader):
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await producer.stop()

    async def _follow(self, reader: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        apply = _apply_state(self.view)
        while not stop.is_set():
            fetched = await reader.getmany(timeout_ms=200, max_records=10_000)
            for records in fetched.values():
                for record in records:
                    decode_into(record.value, apply)

    async def _step(self, consumer: AIOKafkaConsumer, executor: CancelExecutor) -> None:
        fetched = await consumer.getmany(timeout_ms=300, max_records=100)
        if not fetched:
            return
        jobs = [
            self._handle(executor, record) for records in fetched.values() for record in records
        ]
        await asyncio.gather(*jobs)
        await consumer.commit({tp: records[-1].offset + 1 for tp, records in fetched.items()})

    async def _handle(self, executor: CancelExecutor, record: Any) -> None:
        received = int(time.time() * 1000)
        if self.metrics is not None:
            self.metrics.received.inc()
        try:
            raw = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            raw = {"_unparseable": True}
        result = await executor.handle(raw)
        self.handled += 1
        if self.store is not None and "different command" not in (result.get("reason") or ""):
            await asyncio.to_thread(self._store_command, raw, result, received)

    async def _publish(self, producer: AIOKafkaProducer, result: dict[str, Any]) -> None:
        await producer.send_and_wait(
            COMMANDS_RESULTS, orjson.dumps(result), key=str(result["command_id"]).encode()
        )
        if self.metrics is not None:
            self.metrics.observe_result(result)
        if self.store is not None and "different command" not in (result.get("reason") or ""):
            await asyncio.to_thread(self._store_result, result)

    def _store_command(self, raw: Any, result: dict[str, Any], received: int) -> None:
        """One `cancel_commands` row per command received, rejected ones too. A rejected
        command is anybody's input: every text is cut to `MAX_ID_CHARS` (a 1 MB symbol is
        stored as its first 128 characters), and `reject_reason` says whether it was
        authenticated (`not authenticated`: `issued_by` is only what it claimed)."""
        raw = raw if isinstance(raw, dict) else {}

        def text(name: str) -> str | None:
            value = raw.get(name)
            return value[:MAX_ID_CHARS] if isinstance(value, str) else None

        try:
            qty = Decimal(str(raw["qty"])) if raw.get("qty") is not None else None
            qty = qty if qty is not None and qty.is_finite() and abs(qty) < 10**20 else None
        except Exception:
            qty = None
        issued = raw.get("issued_at") if isinstance(raw.get("issued_at"), int) else 0
        row = [
            result["command_id"],
            str(result.get("venue") or ""),
            text("account"),
            text("symbol"),
            text("order_id"),
            qty,
            text("issued_by") or "",
            _ms(issued),
            _ms(received),
            int(result["status"] != "rejected"),
            result.get("reason"),
        ]
        columns = [
            "command_id",
            "venue",
            "account",
            "symbol",
            "order_id",
            "qty",
            "issued_by",
            "issued_at",
            "received_at",
            "accepted",
            "reject_reason",
        ]
        self.store.insert(
            "cancel_commands",
            [row],
            columns,
            dedup_token=f"cmd:{result['command_id']}:{result.get('status')}",
        )

    def _store_result(self, result: dict[str, Any]) -> None:
        outcomes = result["outcomes"]
        row = [
            result["command_id"],
            result["venue"],
            result.get("account"),
            result["status"],
            int(result["final"]),
            result.get("reason"),
            orjson.dumps(outcomes).decode(),
            len(outcomes),
            sum(o["outcome"] in ("canceled", "partially_canceled", "replaced") for o in outcomes),
            _ms(result["started_at"]),
            _ms(result["finished_at"]),
            result["version"],
        ]
        columns = [
            "command_id",
            "venue",
            "account",
            "status",
            "final",
            "reason",
            "outcomes",
            "orders_targeted",
            "orders_canceled",
            "started_at",
            "finished_at",
            "version",
        ]
        self.store.insert(
            "command_results",
            [row],
            columns,
            dedup_token=f"res:{result['command_id']}:{result['version']}",
        )


async def run_cancel_worker(
    bootstrap: str,
    settings: Settings,
    config: CancelConfig,
    stop: asyncio.Event,
    store: Any = None,
    metrics: Any = None,
) -> None:
    """Run the cancel role until `stop` is set."""
    await CancelWorker(bootstrap, settings, config, store, metrics=metrics).run(stop)
