"""The embedded stack: broker + store, started by `pipeline run` / `pipeline broker`.

Whatever is configured is used as is (PIPELINE_KAFKA_BOOTSTRAP, PIPELINE_CLICKHOUSE_URL);
whatever is not is provided locally: a Tansu child on a free loopback port, and a chDB store
under the data directory owned by this process, with a query endpoint so that other
processes can read it. The state file tells later commands where everything is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field

from pipeline.config import ENV_KAFKA, Settings
from pipeline.errors import ConfigError
from pipeline.kafka import wait_for_broker
from pipeline.local.broker import TansuBroker
from pipeline.local.chserver import ClickHouseEndpoint, new_token
from pipeline.local.statefile import (
    StackState,
    await_ready,
    clear_state,
    read_state,
    write_state,
)
from pipeline.sink.store import Store, open_store

log = logging.getLogger(__name__)


@dataclass
class EmbeddedStack:
    """Starts what is not configured and records it in the state file; `stop()` undoes it."""

    settings: Settings
    own_store: bool = True
    broker: TansuBroker | None = None
    store: Store | None = None
    query_server: ClickHouseEndpoint | None = None
    query_token_file: str | None = None
    bootstrap: str = ""
    command_keys: str | None = None
    roles: tuple[str, ...] = ()
    _state_written: bool = field(default=False, repr=False)

    def start(self) -> EmbeddedStack:
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        running = read_state(settings.data_dir)
        if running is not None and running.pid != os.getpid():
            raise ConfigError(
                "PIPELINE_DATA_DIR",
                str(settings.data_dir.resolve()),
                f"another pipeline process (pid {running.pid}) already runs a stack here; "
                "stop it or use another data directory",
            )
        self._announce_start()
        try:
            if settings.kafka_bootstrap:
                self.bootstrap = settings.kafka_bootstrap
                asyncio.run(wait_for_broker(self.bootstrap, settings.connect_timeout))
            else:
                self.broker = TansuBroker(settings.data_dir / "logs" / "tansu.log")
                self.broker.start(timeout=settings.connect_timeout)
                self.bootstrap = self.broker.bootstrap
            if self.own_store:
                self.store = open_store(settings.store)
                if settings.store.is_embedded:
                    assert settings.store.path is not None
                    token, token_file = new_token(settings.data_dir)
                    self.query_token_file = str(token_file)
                    self.query_server = ClickHouseEndpoint(
                        settings.store.path, token, lock=self.store.lock,
                        database=settings.store.database,
                    ).start()  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def _announce_start(self) -> None:
        """Claim the data directory before opening anything (see `await_ready`)."""
        store_target = self.settings.store
        write_state(
            self.settings.data_dir,
            StackState(
                pid=os.getpid(),
                started_at=int(time.time() * 1000),
                store_path=str(store_target.path.resolve())
                if self.own_store and store_target.is_embedded and store_target.path is not None
                else None,
                starting=True,
            ),
        )
        self._state_written = True

    def publish_state(self) -> None:
        """Tell other commands where the stack is (call once it is ready to serve)."""
        store_target = self.settings.store
        write_state(
            self.settings.data_dir,
            StackState(
                pid=os.getpid(),
                started_at=int(time.time() * 1000),
                broker=self.broker.bootstrap if self.broker else None,
                broker_pid=self.broker.pid if self.broker else None,
                store_path=str(store_target.path.resolve())
                if self.own_store and store_target.is_embedded and store_target.path is not None
                else None,
                query_url=self.query_server.url if self.query_server else None,
                query_token_file=self.query_token_file if self.query_server else None,
                command_keys=self.command_keys,
                roles=list(self.roles) or None,
            ),
        )
        self._state_written = True

    def stop(self) -> None:
        if self.query_server is not None:
            self.query_server.stop()
            self.query_server = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self._state_written:
            clear_state(self.settings.data_dir, os.getpid())
            self._state_written = False


def resolve_bootstrap(settings: Settings) -> str:
    """The Kafka bootstrap: configured, or the running embedded broker's."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    state = await_ready(settings.data_dir)
    if state is None or not state.broker:
        raise ConfigError(
            ENV_KAFKA,
            "(unset)",
            "no embedded broker is running in "
            f"{settings.data_dir.resolve()}; start `pipeline run` or `pipeline broker`, "
            "or set it to host:port",
        )
    return state.broker
