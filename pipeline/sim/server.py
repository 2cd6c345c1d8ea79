"""`Simulator`: the exchange simulator assembled — engines, house liquidity, order flow,
venue protocol servers on loopback, and a small control API.

    async with Simulator(SimConfig(seed=7, rate=50)) as sim:
        sim.endpoints()          # {"upbit": {"rest": ..., "ws": ...}, "binance": {"ws_api": ...}}
        sim.credentials("upbit") # the accounts' API keys (write them to a secrets file)
        ...                      # point ingestors and cancel executors at the endpoints
        await sim.quiesce()      # stop the flow, let pending cancels complete
        truth = sim.truth()      # GroundTruth: every order, fill and position

Credentials are generated from the seed (reproducible); they are never logged. Every venue
runs in the one event loop: the engine is synchronous, protocol servers queue their output.

With `SimConfig.state_dir` the venues keep their state there across runs, as real venues do
(`pipeline.sim.persistence`): books, resting orders, id sequences, the flow's position.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.sim.clock import Clock, WallClock
from pipeline.sim.control import ControlServer
from pipeline.sim.engine import Exchange, HouseLiquidity, IdScheme
from pipeline.sim.faults import FaultPlan
from pipeline.sim.flow import FlowConfig, FlowProfile, OrderFlow, VenueFlow
from pipeline.sim.kits import VENUE_KITS
from pipeline.sim.persistence import JournaledExchange, JournaledFlow, Opened, StateKeeper
from pipeline.sim.truth import GroundTruth
from pipeline.sim.venue import Credential, EmittedPayload, VenueServer


@dataclass(frozen=True)
class SimConfig:
    """How to run the simulator. `rate` is order-flow actions per second (0: no flow)."""

    seed: int = 1
    rate: float = 20.0
    venues: tuple[str, ...] = ("upbit", "binance")
    accounts: tuple[str, ...] = ("alice", "bob", "carol")
    venue_accounts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # per venue
    house: bool = True
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=dict)
    control_port: int | None = 0  # None: no control API
    faults: Mapping[str, FaultPlan] = field(default_factory=dict)
    flow_profiles: Mapping[str, FlowProfile] = field(default_factory=dict)
    record: bool = False
    state_dir: Path | None = None  # keep the venues' state here across runs

    def identity(self) -> dict[str, object]:
        """What a kept state must have been created with to be continued."""
        return {
            "seed": self.seed,
            "venues": sorted(self.venues),
            "accounts": {v: list(self.accounts_of(v)) for v in sorted(self.venues)},
            "house": self.house,
        }

    def accounts_of(self, venue: str) -> tuple[str, ...]:
        """The flow's accounts on `venue` (`venue_accounts`, else `accounts`)."""
        return tuple(self.venue_accounts.get(venue) or self.accounts)

    def __post_init__(self) -> None:
        unknown = [v for v in self.venues if v not in VENUE_KITS]
        if unknown:
            raise ValueError(f"unknown venue(s) {unknown}; simulated: {sorted(VENUE_KITS)}")


class Simulator:
    """All simulated venues of one run."""

    def __init__(self, config: SimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config = config or SimConfig()
        self.clock: Clock = clock or WallClock()
        self.exchanges: dict[str, Exchange] = {}
        self.houses: dict[str, HouseLiquidity] = {}
        self.servers: dict[str, VenueServer] = {}
        self._credentials: dict[str, list[Credential]] = {}
        key_rng = random.Random(f"credentials:{config.seed}")
        flows: dict[str, VenueFlow] = {}
        kept = config.state_dir is not None
        engine, flow_kind = (JournaledExchange, JournaledFlow) if kept else (Exchange, OrderFlow)
        for venue in config.venues:
            kit = VENUE_KITS[venue]
            exchange = engine(
                venue, kit.instruments, kit.rules, IdScheme(kit.id_style, config.seed)
            )
            house = None
            accounts = list(config.accounts_of(venue))
            if config.house:
                house = HouseLiquidity(exchange, kit.reference_prices, kit.house)
                self.houses[venue] = house
                accounts.append(house.account)
            credentials = [kit.credentials(account, key_rng) for account in accounts]
            self.exchanges[venue] = exchange
            self._credentials[venue] = credentials
            self.servers[venue] = kit.server(
                exchange,
                credentials,
                self.clock,
                seed=config.seed,
                faults=config.faults.get(venue),
                record=config.record,
            )
            flows[venue] = VenueFlow(
                exchange, house, config.flow_profiles.get(venue, kit.flow),
                config.venue_accounts.get(venue) or None,
            )  # fmt: skip
        self.flow = flow_kind(
            flows, FlowConfig(seed=config.seed, rate=config.rate, accounts=config.accounts)
        )
        self.control = ControlServer(self) if config.control_port is not None else None
        self._flow_task: asyncio.Task[None] | None = None
        self._flow_stop = asyncio.Event()
        self.keeper: StateKeeper | None = None
        self.opened: Opened | None = None
        self._compactor: asyncio.Task[None] | None = None
        if config.state_dir is not None:
            self.keeper = StateKeeper(
                config.state_dir, config.identity(), self.exchanges, self.houses, self.flow,
                self.servers,
            )  # fmt: skip
            self.opened = self.keeper.open()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, flow: bool = True) -> None:
        """Quote the books, start every venue server, the control API and (unless `flow` is
        False: a caller that must connect its clients first resumes it) the flow."""
        now = self.clock()
        for house in self.houses.values():
            house.top_up(now)
        for venue, server in self.servers.items():
            await server.start(self.config.host, self.config.ports.get(venue, 0))
        if self.control is not None:
            await self.control.start(self.config.host, self.config.control_port or 0)
        if flow and self.config.rate > 0:
            self.resume_flow()
        if self.keeper is not None:
            self._compactor = asyncio.get_running_loop().create_task(self._compact_now_and_then())

    async def stop(self) -> None:
        await self.pause_flow()
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
            self._compactor = None
        if self.control is not None:
            await self.control.stop()
        for server in self.servers.values():
            await server.stop()
        if self.keeper is not None:
            self.keeper.close()

    async def _compact_now_and_then(self) -> None:
        assert self.keeper is not None
        while True:
            await asyncio.sleep(5.0)
            self.keeper.maybe_compact()

    # -- flow -----------------------------------------------------------------------------

    def resume_flow(self) -> None:
        if self._flow_task is None or self._flow_task.done():
            self._flow_stop = asyncio.Event()
            self._flow_task = asyncio.get_running_loop().create_task(
                self.flow.run(self.clock, stop=self._flow_stop)
            )

    async def pause_flow(self) -> None:
        if self._flow_task is not None:
            self._flow_stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flow_task
            self._flow_task = None

    @property
    def flow_running(self) -> bool:
        return self._flow_task is not None and not self._flow_task.done()

    def step(self, count: int = 1) -> None:
        """Perform `count` flow actions now (for tests driving the flow by hand)."""
        for _ in range(count):
            self.flow.step(self.clock())

    async def quiesce(self, drain_seconds: float = 0.1) -> None:
        """Stop the flow, complete pending cancels, and give queued frames time to leave."""
        await self.pause_flow()
        self.settle()
        await asyncio.sleep(drain_seconds)

    def settle(self) -> None:
        """Complete every deferred cancel now, so the state is final."""
        now = self.clock()
        for exchange in self.exchanges.values():
            exchange.complete_pending(now)

    # -- what clients and tests need ------------------------------------------------------

    def endpoints(self) -> dict[str, dict[str, str]]:
        return {venue: server.endpoints() for venue, server in self.servers.items()}

    def base_url(self, venue: str) -> str:
        return self.servers[venue].base_url

    @property
    def control_url(self) -> str | None:
        return None if self.control is None else self.control.base_url

    def credentials(self, venue: str) -> list[Credential]:
        return list(self._credentials[venue])

    def credential(self, venue: str, account: str) -> Credential:
        return next(c for c in self._credentials[venue] if c.account == account)

    def truth(self, accounts: list[str] | None = None) -> GroundTruth:
        trade_ids: dict[tuple[str, str, str], str] = {}
        for server in self.servers.values():
            trade_ids.update(getattr(server, "reported_trade_ids", {}))
        return GroundTruth.from_exchanges(self.exchanges.values(), accounts, trade_ids)

    def recorded(self) -> list[EmittedPayload]:
        """Every payload the servers emitted (when `SimConfig.record`), in order per venue."""
        return [item for server in self.servers.values() for item in server.recorded]

    def set_faults(self, plan: FaultPlan, venue: str | None = None) -> None:
        for name, server in self.servers.items():
            if venue is None or venue == name:
                server.set_faults(plan)

    async def disconnect(self, venue: str | None = None) -> int:
        """Drop the WebSocket connections of `venue` (all venues if None); how many."""
        dropped = 0
        for name, server in self.servers.items():
            if venue is None or venue == name:
                dropped += await server.disconnect_all()
        return dropped
