"""The composition root of `pipeline run` and `pipeline broker`: wire the stack and roles.

`pipeline run` starts the embedded stack (or uses the configured one), applies migrations,
creates the topics and runs the pipeline roles (process + sink) until Ctrl-C, SIGTERM or
`--duration`; `pipeline worker --role` runs chosen roles against a configured or running
stack. Roles are coroutines taking a `RunContext` and a stop event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from typing import Any, TextIO

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.kafka import ensure_topics
from pipeline.local.chserver import ClickHouseEndpoint, new_token
from pipeline.local.stack import EmbeddedStack
from pipeline.local.statefile import StackState, claim_store, release_store, store_owner
from pipeline.roles import Roles, RunContext, run_roles
from pipeline.sink.migrations import migrate
from pipeline.sink.store import Store

log = logging.getLogger(__name__)


DEFAULT_ROLES: tuple[str, ...] = ("process", "sink")


async def _run(ctx: RunContext, names: tuple[str, ...], duration: float | None) -> Roles:
    """Create the topics, then run the roles until a signal or the duration ends them."""
    requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, requested.set)
    if _term_requested.is_set():  # SIGTERM arrived while the stack was starting
        requested.set()
    try:
        created = await ensure_topics(
            ctx.bootstrap, ctx.settings.partitions, ctx.settings.replication_factor
        )
        if created:
            print(f"topics created: {', '.join(created)}", file=ctx.out, flush=True)
        return await run_roles(ctx, names, duration, requested)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main_job_roles(ingest_config: Any, cancel_config: Any, sim: bool) -> tuple[str, ...]:
    """`pipeline run`'s roles: ingest from (and cancel on) the configured venues, or the
    simulator's."""
    if sim and ingest_config is None:
        return ("sim", "ingest", "cancel", *DEFAULT_ROLES)
    roles: tuple[str, ...] = ("ingest",) if ingest_config is not None else ()
    roles += ("cancel",) if cancel_config is not None else ()
    return (*roles, *DEFAULT_ROLES)


def run_pipeline(
    settings: Settings,
    out: TextIO,
    duration: float | None = None,
    sim_rate: float | None = 20.0,
    sim_seed: int = 1,
    ingest_config: Any = None,
    cancel_config: Any = None,
    sim_faults: str | None = None,
    metrics_port: int | None = None,
) -> int:
    """Start the stack, migrate, create topics, run the roles; tear everything down after.

    Exit code 1 when the tables do not match the simulator's ground truth (a run on the
    simulator); 0 otherwise.

    `metrics_port` None: PIPELINE_METRICS_PORT (default 9400); 0: no /metrics endpoint.
    """
    stack = EmbeddedStack(settings)
    metrics = _start_metrics(metrics_port, out)
    # SIGTERM before the event loop installs its handlers must still tear the stack down.
    previous = _catch_term()
    try:
        stack.start()
        assert stack.store is not None
        applied = migrate(stack.store, cluster=settings.clickhouse_cluster)
        sim = sim_rate is not None and ingest_config is None
        keys = None
        if sim and cancel_config is None:
            from pipeline.commands.config import create_local_keys

            keys = create_local_keys(settings.data_dir)
            stack.command_keys = str(keys.resolve())
        names = main_job_roles(ingest_config, cancel_config, sim=sim)
        stack.roles = names
        stack.publish_state()
        endpoints = [
            f"broker: {stack.bootstrap}" + (" (embedded Tansu)" if stack.broker else ""),
            f"store: {settings.store.masked_url} (migrations applied: {len(applied)})",
        ]
        if stack.query_server is not None:
            endpoints.append(
                f"store: ClickHouse HTTP endpoint {stack.query_server.url}, read-only "
                f"(password: {stack.query_token_file}; or use `pipeline sql`)"
            )
        if metrics is not None:
            endpoints.append(f"metrics: {metrics.url}")
        for line in endpoints:
            print(line, file=out, flush=True)
        print(
            "running; Ctrl-C to stop" + (f" (or after {duration:g}s)" if duration else ""),
            file=out,
            flush=True,
        )
        ctx = RunContext(
            settings, stack.bootstrap, stack.store, out,
            sim_rate=sim_rate, sim_seed=sim_seed, sim_faults=sim_faults,
            ingest_config=ingest_config,
            cancel_config=cancel_config, command_keys=keys,
            metrics=metrics.metrics if metrics else None, endpoints=tuple(endpoints),
        )  # fmt: skip
        roles = asyncio.run(_run(ctx, names, duration))
        summary = roles.truth_summary()
        if summary:
            print(summary, file=out, flush=True)
        mismatch = roles.truth_ok is False
    except KeyboardInterrupt:
        mismatch = False
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.stop()
        if metrics is not None:
            metrics.stop()
    print("stopped" + (" (the tables do not match the ground truth)" if mismatch else ""),
          file=out, flush=True)  # fmt: skip
    return 1 if mismatch else 0


def _start_metrics(port: int | None, out: TextIO) -> Any:
    """This process's /metrics endpoint (a MetricsServer), or None when off."""
    from pipeline.metrics import metrics_port, serve_metrics

    if port is not None and not 0 <= port <= 65535:
        raise ConfigError("--metrics-port", port, "must be between 0 and 65535 (0 = off)")
    server = serve_metrics(metrics_port() if port is None else port)
    if server is not None:
        print(f"metrics: {server.url}", file=out, flush=True)
    return server


_term_requested = threading.Event()


def _note_term(signum: int, frame: object) -> None:
    """SIGTERM outside the event loop (startup, the broker-only loop): remember it.

    Raising from a signal handler could land anywhere, even inside the event loop's own
    machinery; a flag is checked at the points where stopping is clean.
    """
    _term_requested.set()


def _catch_term() -> Any:
    _term_requested.clear()
    return signal.signal(signal.SIGTERM, _note_term)


def run_broker(settings: Settings, out: TextIO, duration: float | None = None) -> int:
    """Run the embedded broker alone (development), create the topics, wait for Ctrl-C."""
    stack = EmbeddedStack(settings.with_overrides(kafka_bootstrap=None), own_store=False)
    previous = _catch_term()
    try:
        stack.start()
        asyncio.run(ensure_topics(stack.bootstrap, settings.partitions))
        stack.publish_state()
        print(f"broker: {stack.bootstrap}", file=out, flush=True)
        print(f"export PIPELINE_KAFKA_BOOTSTRAP={stack.bootstrap}", file=out, flush=True)
        deadline = None if duration is None else time.monotonic() + duration
        while (deadline is None or time.monotonic() < deadline) and not _term_requested.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.stop()
    print("stopped", file=out, flush=True)
    return 0


def run_worker(
    settings: Settings,
    out: TextIO,
    roles: tuple[str, ...],
    duration: float | None = None,
    ingest_config: Any = None,
    cancel_config: Any = None,
    metrics_port: int | None = None,
) -> int:
    """Run `roles` against the configured (or running embedded) broker.

    Each worker process serves its own /metrics (`metrics_port`, else PIPELINE_METRICS_PORT,
    default 9400): give every worker on one host a port of its own.

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
        owner = store_owner(state) if state is not None else None
        if settings.store.is_embedded and owner is not None:
            raise ConfigError(
                "PIPELINE_CLICKHOUSE_URL",
                settings.store.masked_url,
                f"the embedded store is owned by pipeline pid {owner}, whose sink already "
                "writes it; run only `--role process` workers beside it",
            )
        store = open_store(settings.store)
        migrate(store, cluster=settings.clickhouse_cluster)
    previous = _catch_term()
    query_server = None
    metrics = _start_metrics(metrics_port, out)
    try:
        if store is not None and settings.store.is_embedded:
            query_server = _serve_store(settings, store, out)
        print(f"worker roles {', '.join(roles)} on {bootstrap}", file=out, flush=True)
        ctx = RunContext(
            settings, bootstrap, store, out,
            ingest_config=ingest_config, cancel_config=cancel_config,
            metrics=metrics.metrics if metrics else None,
        )  # fmt: skip
        asyncio.run(_run(ctx, roles, duration))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if query_server is not None:
            query_server.stop()
            release_store(settings.data_dir, os.getpid())
        if metrics is not None:
            metrics.stop()
    print("stopped", file=out, flush=True)
    return 0


def _serve_store(settings: Settings, store: Store, out: TextIO) -> ClickHouseEndpoint:
    """The sink owns the embedded store: serve its ClickHouse endpoint while it runs, and say
    so in the state file without taking a running `pipeline broker`'s entries away."""
    assert settings.store.path is not None
    token, token_file = new_token(settings.data_dir)
    server = ClickHouseEndpoint(
        settings.store.path, token, lock=store.lock, database=settings.store.database
    ).start()
    claim_store(
        settings.data_dir,
        StackState(
            pid=os.getpid(),
            started_at=int(time.time() * 1000),
            store_path=str(settings.store.path.resolve()),
            query_url=server.url,
            query_token_file=str(token_file),
        ),
    )
    print(f"store: ClickHouse HTTP endpoint {server.url} (password: {token_file})",
          file=out, flush=True)  # fmt: skip
    return server
