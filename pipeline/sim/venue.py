"""What every simulated venue protocol shares, and how a venue plugs into the simulator.

A venue protocol is a `VenueServer` subclass: an aiohttp application on loopback that
authenticates like the venue, turns requests into `Exchange` operations and renders the
exchange's `EngineEvent`s into the venue's payloads for its subscribers. The base class owns
the lifecycle (port 0 -> the real port), the engine clock ticks (deferred cancels complete
on time), WebSocket output channels with fault injection, forced disconnects and an optional
record of every payload emitted (for consistency tests).

To add a venue: write a `VenueServer` subclass (routes, auth, rendering) and a `VenueKit`
(instruments, engine rules, id style, flow profile, credential style), and register the kit
in `pipeline.sim.server.VENUE_KITS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from aiohttp import web

from pipeline.sim.channel import OutboundChannel
from pipeline.sim.clock import Clock
from pipeline.sim.engine import EngineEvent, Exchange, HouseQuoting, IdStyle, Instrument
from pipeline.sim.engine.rules import VenueRules
from pipeline.sim.faults import FaultInjector, FaultPlan
from pipeline.sim.flow import FlowProfile


@dataclass(frozen=True, slots=True)
class Credential:
    """One account's API key pair on one venue. The secret never appears in a repr."""

    account: str
    key: str
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credential(account={self.account!r}, key={self.key[:6]}..., secret=***)"


@dataclass(frozen=True, slots=True)
class EmittedPayload:
    """One message the simulator sent, as an ingestor would file it in a raw envelope."""

    venue: str
    account: str
    channel: str
    payload: Any
    time: int


class MutationLog(Protocol):
    """Where a simulator that keeps its state records what changed (`persistence.Journal`)."""

    def unit(
        self,
        kind: str,
        venue: str | None,
        name: str,
        args: Callable[[], dict[str, Any]],
        now: int,
        always: bool = False,
    ) -> AbstractContextManager[None]: ...


class VenueServer(ABC):
    """Base of the simulated venue protocols (one aiohttp app on loopback each).

    Keeping state across restarts: the engine's state is the exchange's; a server that holds
    state of its own beyond it (SSI's stream log and request ids, the gateway's trade list)
    exports and imports it (`export_state` / `import_state`), and wraps every change of it
    that is not an engine operation in `mutation(...)`, which it can `replay` from the
    journal. State derived from engine events (in `on_events`) is rebuilt by replaying the
    engine operations and needs nothing more.
    """

    venue: ClassVar[str]

    def __init__(
        self,
        exchange: Exchange,
        credentials: Sequence[Credential],
        clock: Clock,
        seed: int = 0,
        faults: FaultPlan | None = None,
        record: bool = False,
        tick_ms: int = 5,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.faults = faults or FaultPlan()
        self.recording = record
        self.recorded: list[EmittedPayload] = []
        self.tick_ms = tick_ms
        self.host = "127.0.0.1"
        self.port = 0
        self._credentials = {c.key: c for c in credentials}
        self._rng = random.Random(f"faults:{self.venue}:{seed}")
        self._channels: set[OutboundChannel] = set()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.journal: MutationLog | None = None  # set by a simulator that keeps its state
        exchange.subscribe(self.on_events)

    # -- what a venue implements ----------------------------------------------------------

    @abstractmethod
    def add_routes(self, app: web.Application) -> None:
        """Register the venue's HTTP and WebSocket endpoints."""

    @abstractmethod
    def on_events(self, events: Sequence[EngineEvent]) -> None:
        """Render one engine operation's events to subscribers (synchronously: queue only)."""

    # -- keeping state across restarts ----------------------------------------------------

    def mutation(
        self, name: str, args: Callable[[], dict[str, Any]], now: int
    ) -> AbstractContextManager[None]:
        """Around a change of this server's own state: journaled (when the simulator keeps
        its state) before any reply or frame of it leaves; `replay(name, args(), now)` redoes it."""
        if self.journal is None:
            return contextlib.nullcontext()
        return self.journal.unit("server", self.venue, name, args, now, always=True)

    def replay(self, name: str, args: Mapping[str, Any], now: int) -> None:
        """Redo a journaled `mutation` (see the venues that have any)."""
        raise ValueError(f"{self.venue}: no journaled change named {name!r}")

    def export_state(self) -> dict[str, Any]:
        """This server's own state, JSON-ready (none by default)."""
        return {}

    def import_state(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"{self.venue}: unexpected server state {sorted(state)}")

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        self.port = self._runner.addresses[0][1]
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for channel in list(self._channels):
            await channel.close()
        self._channels.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _tick_forever(self) -> None:
        """Let engine time pass so deferred cancels complete and timed orders expire."""
        while True:
            await asyncio.sleep(self.tick_ms / 1000)
            self.exchange.tick(self.clock())

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"

    def endpoints(self) -> dict[str, str]:
        """Where clients connect, by purpose (`rest`, `ws`, `ws_api`, ...)."""
        return {"rest": self.base_url}

    # -- connections and faults -----------------------------------------------------------

    def credential(self, key: object) -> Credential | None:
        return self._credentials.get(key) if isinstance(key, str) else None

    def new_injector(self) -> FaultInjector:
        return FaultInjector(self.faults, random.Random(self._rng.getrandbits(64)))

    def open_channel(self, ws: web.WebSocketResponse, binary: bool) -> OutboundChannel:
        channel = OutboundChannel(ws, self.new_injector(), binary)
        channel.start()
        self._channels.add(channel)
        return channel

    def release(self, channel: OutboundChannel) -> None:
        self._channels.discard(channel)

    def set_faults(self, plan: FaultPlan) -> None:
        """Apply `plan` to live connections and to those opened later."""
        self.faults = plan
        for channel in self._channels:
            channel.injector.plan = plan

    async def disconnect_all(self) -> int:
        """Drop every WebSocket connection (clients must reconnect); how many were open."""
        channels = [c for c in self._channels if c.open]
        for channel in channels:
            await channel.drop()
        return len(channels)

    async def slow_reply(self) -> None:
        """Stall an HTTP reply when the fault plan asks for slow responses."""
        delay = FaultInjector(self.faults, self._rng).reply_delay() if self.faults.slow else 0.0
        if delay:
            await asyncio.sleep(delay)

    def record(self, account: str, channel: str, payload: Any) -> None:
        if self.recording:
            self.recorded.append(
                EmittedPayload(self.venue, account, channel, payload, self.clock())
            )


CredentialFactory = Callable[[str, random.Random], Credential]


def random_credential(account: str, rng: random.Random, key_len: int = 40) -> Credential:
    """A key pair from `rng` (reproducible per seed); letters and digits like real keys."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    key = "".join(rng.choices(alphabet, k=key_len))
    secret = "".join(rng.choices(alphabet, k=key_len + 24))
    return Credential(account, key, secret)


def fresh_credential(account: str) -> Credential:
    """A key pair from the OS random source, for runs that should not be reproducible."""
    return random_credential(account, random.Random(secrets.randbits(128)))


@dataclass(frozen=True)
class VenueKit:
    """Everything the simulator needs to run one venue."""

    venue: str
    instruments: tuple[Instrument, ...]
    reference_prices: Mapping[str, Decimal]
    rules: VenueRules
    id_style: IdStyle
    flow: FlowProfile
    server: type[VenueServer]
    house: HouseQuoting = field(default_factory=HouseQuoting)
    credentials: CredentialFactory = random_credential
