"""The composition root of `pipeline run` and `pipeline broker`: wire the stack and roles.

`pipeline run` starts the embedded stack (or uses the configured one), applies migrations,
creates the topics and runs the pipeline roles until Ctrl-C, SIGTERM or `--duration`. Roles
are coroutines taking a `RunContext` and a stop event; later capabilities add theirs here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from pipeline.config import Settings
from pipeline.kafka import RAW_TOPICS, ensure_topics
from pipeline.local.stack import EmbeddedStack
from pipeline.sink.migrations import migrate
from pipeline.sink.store import Store

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """What every role of a running pipeline gets."""

    settings: Settings
    bootstrap: str
    store: Store | None
    out: TextIO


Role = Callable[[RunContext, asyncio.Event], Awaitable[None]]


async def raw_traffic_monitor(ctx: RunContext, stop: asyncio.Event) -> None:
    """Consume raw.* and report the number of venue messages seen per venue every few seconds.

    A read-only observer with its own consumer group: it shows that the broker carries raw
    traffic and never commits offsets on behalf of a processing role.
    """
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *RAW_TOPICS,
        bootstrap_servers=ctx.bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    counts: Counter[str] = Counter()
    last_report = time.monotonic()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, records in batches.items():
                counts[tp.topic.removeprefix("raw.")] += len(records)
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                seen = ", ".join(f"{v}={n}" for v, n in sorted(counts.items())) or "none yet"
                print(f"raw messages seen: {seen}", file=ctx.out, flush=True)
    finally:
        await consumer.stop()


DEFAULT_ROLES: tuple[Role, ...] = (raw_traffic_monitor,)


async def _run_roles(
    ctx: RunContext, roles: tuple[Role, ...], duration: float | None, stop: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    created = await ensure_topics(
        ctx.bootstrap, ctx.settings.partitions, ctx.settings.replication_factor
    )
    if created:
        print(f"topics created: {', '.join(created)}", file=ctx.out, flush=True)
    tasks = [asyncio.create_task(role(ctx, stop), name=role.__name__) for role in roles]
    if duration is not None:
        loop.call_later(duration, stop.set)
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=10)
            if not task.done():
                task.cancel()
        stopper.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_pipeline(
    settings: Settings,
    out: TextIO,
    duration: float | None = None,
    roles: tuple[Role, ...] = DEFAULT_ROLES,
) -> int:
    """Start the stack, migrate, create topics, run `roles`; tear everything down after."""
    stack = EmbeddedStack(settings)
    # SIGTERM before the event loop installs its handlers must still tear the stack down.
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        stack.start()
        assert stack.store is not None
        applied = migrate(stack.store)
        stack.publish_state()
        print(f"broker: {stack.bootstrap}" + (" (embedded Tansu)" if stack.broker else ""),
              file=out, flush=True)
        print(f"store: {settings.store.masked_url} (migrations applied: {len(applied)})",
              file=out, flush=True)
        if stack.query_server is not None:
            print(f"store query endpoint: {stack.query_server.url} (use `pipeline sql`)",
                  file=out, flush=True)
        print("running; Ctrl-C to stop" + (f" (or after {duration:g}s)" if duration else ""),
              file=out, flush=True)
        ctx = RunContext(settings, stack.bootstrap, stack.store, out)
        asyncio.run(_run_roles(ctx, roles, duration, asyncio.Event()))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.stop()
    print("stopped", file=out, flush=True)
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_broker(settings: Settings, out: TextIO, duration: float | None = None) -> int:
    """Run the embedded broker alone (development), create the topics, wait for Ctrl-C."""
    stack = EmbeddedStack(settings.with_overrides(kafka_bootstrap=None), own_store=False)
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        stack.start()
        asyncio.run(ensure_topics(stack.bootstrap, settings.partitions))
        stack.publish_state()
        print(f"broker: {stack.bootstrap}", file=out, flush=True)
        print(f"export PIPELINE_KAFKA_BOOTSTRAP={stack.bootstrap}", file=out, flush=True)
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.stop()
    print("stopped", file=out, flush=True)
    return 0
