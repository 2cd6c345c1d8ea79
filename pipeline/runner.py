"""The composition root of `pipeline run` and `pipeline broker`: wire the stack and roles.

`pipeline run` starts the embedded stack (or uses the configured one), applies migrations,
creates the topics and runs the pipeline roles (process + sink) until Ctrl-C, SIGTERM or
`--duration`; `pipeline worker --role` runs chosen roles against a configured or running
stack. Roles are coroutines taking a `RunContext` and a stop event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.kafka import ensure_topics
from pipeline.local.stack import EmbeddedStack
from pipeline.local.statefile import StackState, clear_state, write_state
from pipeline.sink.migrations import migrate
from pipeline.sink.queryserver import QueryServer
from pipeline.sink.store import Store

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """What every role of a running pipeline gets."""

    settings: Settings
    bootstrap: str
    store: Store | None
    out: TextIO
    status_every: float = 5.0


Role = Callable[[RunContext, asyncio.Event], Awaitable[None]]


def build_roles(ctx: RunContext, names: tuple[str, ...]) -> list[Role]:
    """The roles named (`process`, `sink`), plus a status reporter when there are any."""
    from pipeline.streams.process_worker import ProcessWorker
    from pipeline.streams.sink_worker import SinkWorker

    roles: list[Role] = []
    process = sink = None
    if "process" in names:
        process = ProcessWorker(ctx.bootstrap, ctx.settings, ctx.settings.processing)
        roles.append(_named("process", process.run))
    if "sink" in names:
        if ctx.store is None:
            raise ConfigError("--role", "sink", "the sink role needs the store")
        sink = SinkWorker(ctx.bootstrap, ctx.settings, ctx.store)
        roles.append(_named("sink", sink.run))
    if roles:
        roles.append(_named("status", lambda stop: _report(ctx, process, sink, stop)))
    return roles


def _named(name: str, run: Callable[[asyncio.Event], Awaitable[None]]) -> Role:
    async def role(ctx: RunContext, stop: asyncio.Event) -> None:
        await run(stop)

    role.__name__ = name
    return role


async def _report(ctx: RunContext, process: Any, sink: Any, stop: asyncio.Event) -> None:
    """Print what flowed every `status_every` seconds, and once more at the end."""
    last = ""
    while True:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ctx.status_every)
        parts = []
        if process is not None:
            p = process.stats
            parts.append(
                f"raw in {p.records}, events {p.normalized}, duplicates {p.duplicates}, "
                f"late {p.late}, dead letters {p.dead_letters}, buffered {p.reorder_depth}"
            )
        if sink is not None:
            s = sink.stats
            parts.append(f"rows written {s.rows_written}, store errors {s.errors}")
        line = "; ".join(parts)
        if line != last:
            print(line, file=ctx.out, flush=True)
            last = line
        if stop.is_set():
            return


DEFAULT_ROLES: tuple[str, ...] = ("process", "sink")


async def _run_roles(
    ctx: RunContext, names: tuple[str, ...], duration: float | None, stop: asyncio.Event
) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    created = await ensure_topics(
        ctx.bootstrap, ctx.settings.partitions, ctx.settings.replication_factor
    )
    if created:
        print(f"topics created: {', '.join(created)}", file=ctx.out, flush=True)
    roles = build_roles(ctx, names)
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
    roles: tuple[str, ...] = DEFAULT_ROLES,
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
        print(
            f"broker: {stack.bootstrap}" + (" (embedded Tansu)" if stack.broker else ""),
            file=out,
            flush=True,
        )
        print(
            f"store: {settings.store.masked_url} (migrations applied: {len(applied)})",
            file=out,
            flush=True,
        )
        if stack.query_server is not None:
            print(
                f"store query endpoint: {stack.query_server.url} (use `pipeline sql`)",
                file=out,
                flush=True,
            )
        print(
            "running; Ctrl-C to stop" + (f" (or after {duration:g}s)" if duration else ""),
            file=out,
            flush=True,
        )
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


def run_worker(
    settings: Settings, out: TextIO, roles: tuple[str, ...], duration: float | None = None
) -> int:
    """Run `roles` against the configured (or running embedded) broker.

    Processing scales out: start as many `--role process` workers as there are partitions to
    share. The sink owns the store; with the embedded chDB store only one process may.
    """
    from pipeline.local.stack import resolve_bootstrap
    from pipeline.local.statefile import read_state
    from pipeline.sink.store import open_store

    bootstrap = resolve_bootstrap(settings)
    store = None
    if "sink" in roles:
        state = read_state(settings.data_dir)
        if settings.store.is_embedded and state is not None and state.store_path:
            raise ConfigError(
                "PIPELINE_CLICKHOUSE_URL",
                settings.store.masked_url,
                f"the embedded store is owned by pipeline pid {state.pid}, whose sink already "
                "writes it; run only `--role process` workers beside it",
            )
        store = open_store(settings.store)
        migrate(store)
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    query_server = None
    try:
        if store is not None and settings.store.is_embedded:
            query_server = _serve_store(settings, store, out)
        print(f"worker roles {', '.join(roles)} on {bootstrap}", file=out, flush=True)
        ctx = RunContext(settings, bootstrap, store, out)
        asyncio.run(_run_roles(ctx, roles, duration, asyncio.Event()))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if query_server is not None:
            query_server.stop()
            clear_state(settings.data_dir, os.getpid())
    print("stopped", file=out, flush=True)
    return 0


def _serve_store(settings: Settings, store: Store, out: TextIO) -> QueryServer:
    """The sink owns the embedded store: let `pipeline sql` reach it while it runs."""
    server = QueryServer(store)
    server.start()
    write_state(
        settings.data_dir,
        StackState(
            pid=os.getpid(),
            started_at=int(time.time() * 1000),
            store_path=str(settings.store.path),
            query_url=server.url,
        ),
    )
    print(f"store query endpoint: {server.url} (use `pipeline sql`)", file=out, flush=True)
    return server
