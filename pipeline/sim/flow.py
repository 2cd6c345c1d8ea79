"""A seeded, reproducible order-flow generator: the "other traders" of the simulated venues.

The pipeline only ingests and cancels; something has to trade. `OrderFlow` places, amends
and cancels orders for several accounts on every symbol of every venue, at a configurable
rate, through the engine directly (as the venue's own users would). The mix includes
resting limits, crossing limits that sweep several price levels (so one order fills over
several trades and resting orders fill in pieces), market / IOC / FOK / post-only and
conditional orders, deliberate self-crosses (self-trade prevention), partial reductions and
cancel-alls. What a venue's API cannot express is left out through its `FlowProfile`.

Reproducible: the same seed and the same clock readings give the same actions, ids and
final state (tests drive it with a `ManualClock`; a live run reads the wall clock, so there
only the action sequence's statistics repeat).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.sim.clock import Clock
from pipeline.sim.engine import (
    EngineRejection,
    Exchange,
    HouseLiquidity,
    Order,
    OrderRequest,
    OrderType,
    Side,
    Status,
    StpMode,
    TimeInForce,
    TriggerKind,
)

DEFAULT_WEIGHTS: dict[str, float] = {
    "passive": 30, "cross": 12, "market": 7, "quote_market": 3, "ioc": 6, "fok": 4,
    "post_only": 5, "conditional": 5, "self_cross": 4, "cancel": 16, "reduce": 5,
    "cancel_all": 1, "drift": 6,
}  # fmt: skip


@dataclass(frozen=True)
class FlowProfile:
    """What the flow may ask of one venue (what its order API can express)."""

    stp_modes: tuple[StpMode, ...] = (StpMode.NONE,)
    ioc: bool = True
    fok: bool = True
    post_only: bool = True
    conditional: bool = True
    conditional_market: bool = True
    conditional_limit: bool = True  # False: conditional orders are market orders only
    quote_market_buys: bool = False
    amend: bool = False
    partial_cancel: bool = False
    deferred_cancel: bool = False
    client_ids: bool = True
    max_lots: int = 30


@dataclass(frozen=True)
class FlowConfig:
    seed: int = 1
    rate: float = 20.0  # actions per second, all venues together
    accounts: tuple[str, ...] = ("alice", "bob", "carol")
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))


@dataclass
class VenueFlow:
    """One venue as the flow sees it."""

    exchange: Exchange
    house: HouseLiquidity | None
    profile: FlowProfile
    accounts: tuple[str, ...] | None = None  # None: `FlowConfig.accounts`


class OrderFlow:
    """Drives trading on several venues; `step(now)` is one action, `run()` paces them."""

    def __init__(self, venues: Mapping[str, VenueFlow], config: FlowConfig | None = None) -> None:
        self.venues = dict(sorted(venues.items()))
        self.config = config or FlowConfig()
        self._rng = random.Random(f"flow:{self.config.seed}")
        self.actions: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self._client_seq = 0
        self._handlers: dict[str, Callable[[VenueFlow, str, int], None]] = {
            "passive": self._passive, "cross": self._cross, "market": self._market,
            "quote_market": self._quote_market, "ioc": self._ioc, "fok": self._fok,
            "post_only": self._post_only, "conditional": self._conditional,
            "self_cross": self._self_cross, "cancel": self._cancel, "reduce": self._reduce,
            "cancel_all": self._cancel_all, "drift": self._drift,
        }  # fmt: skip

    def _allowed(self, profile: FlowProfile) -> list[str]:
        switches = {
            "quote_market": profile.quote_market_buys, "ioc": profile.ioc, "fok": profile.fok,
            "post_only": profile.post_only, "conditional": profile.conditional,
            "reduce": profile.amend or profile.partial_cancel,
        }  # fmt: skip
        return [a for a in self._handlers if switches.get(a, True) and self.config.weights.get(a)]

    def step(self, now: int) -> str:
        """Perform one seeded action on a random venue and symbol; its name."""
        venue = self._rng.choice(list(self.venues))
        flow = self.venues[venue]
        if flow.house is not None:
            flow.house.top_up(now)
        allowed = self._allowed(flow.profile)
        action = self._rng.choices(allowed, [self.config.weights[a] for a in allowed])[0]
        symbol = self._rng.choice(sorted(flow.exchange.instruments))
        try:
            self._handlers[action](flow, symbol, now)
        except EngineRejection as exc:
            self.rejections[exc.code.value] += 1
        self.actions[action] += 1
        return action

    async def run(
        self, clock: Clock, duration_s: float | None = None, stop: asyncio.Event | None = None
    ) -> None:
        """Step at `config.rate` actions per second until `duration_s` or `stop`."""
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.config.rate if self.config.rate > 0 else 0.1
        started = next_at = loop.time()
        while not (stop is not None and stop.is_set()):
            if duration_s is not None and loop.time() - started >= duration_s:
                return
            if self.config.rate > 0:
                self.step(clock())
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    # -- keeping the flow across restarts -------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """The flow's position (random stream, client-id counter, counts), JSON-ready, so that
        a restarted simulator goes on where it stopped instead of repeating itself."""
        version, internal, gauss = self._rng.getstate()
        return {
            "rng": [version, list(internal), gauss],
            "client_seq": self._client_seq,
            "actions": dict(self.actions),
            "rejections": dict(self.rejections),
        }

    def restore_state(self, state: Mapping[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self._rng.setstate((int(version), tuple(int(i) for i in internal), gauss))
        self._client_seq = int(state["client_seq"])
        self.actions = Counter({str(k): int(v) for k, v in state["actions"].items()})
        self.rejections = Counter({str(k): int(v) for k, v in state["rejections"].items()})

    # -- helpers --------------------------------------------------------------------------

    def _account(self, flow: VenueFlow) -> str:
        return self._rng.choice(flow.accounts or self.config.accounts)

    def _mid(self, flow: VenueFlow, symbol: str) -> Decimal:
        if flow.house is not None:
            return flow.house.reference[symbol]
        last = flow.exchange.last_price.get(symbol)
        return last if last is not None else Decimal(100)

    def _qty(self, flow: VenueFlow, symbol: str, low: int = 1, high: int | None = None) -> Decimal:
        lots = self._rng.randint(low, high or flow.profile.max_lots)
        return flow.exchange.instrument(symbol).lot_size * lots

    def _price(self, flow: VenueFlow, symbol: str, side: Side, ticks: int) -> Decimal:
        """`ticks` away from the mid, on the passive side for positive `ticks`."""
        tick = flow.exchange.instrument(symbol).tick_size
        mid = (self._mid(flow, symbol) // tick) * tick
        price = mid - tick * ticks if side is Side.BUY else mid + tick * ticks
        return max(price, tick)

    def _stp(self, flow: VenueFlow) -> StpMode:
        return self._rng.choice(flow.profile.stp_modes)

    def _client_id(self, flow: VenueFlow) -> str | None:
        if not flow.profile.client_ids or self._rng.random() < 0.3:
            return None
        self._client_seq += 1
        return f"flow-{self.config.seed}-{self._client_seq}"

    def _side(self) -> Side:
        return self._rng.choice((Side.BUY, Side.SELL))

    def _limit(
        self, flow: VenueFlow, symbol: str, now: int, ticks: int, qty: Decimal,
        tif: TimeInForce = TimeInForce.GTC, post_only: bool = False,
        account: str | None = None, side: Side | None = None, stp: StpMode | None = None,
    ) -> Order:  # fmt: skip
        side = side or self._side()
        request = OrderRequest(
            account or self._account(flow), symbol, side, OrderType.LIMIT, qty=qty,
            price=self._price(flow, symbol, side, ticks), time_in_force=tif,
            post_only=post_only, stp=self._stp(flow) if stp is None else stp,
            client_order_id=self._client_id(flow),
        )  # fmt: skip
        return flow.exchange.place(request, now)[0]

    def _live(self, flow: VenueFlow) -> list[Order]:
        accounts = set(flow.accounts or self.config.accounts)
        return [o for o in flow.exchange.open_orders() if o.account in accounts]

    # -- actions --------------------------------------------------------------------------

    def _passive(self, flow: VenueFlow, symbol: str, now: int) -> None:
        self._limit(flow, symbol, now, self._rng.randint(1, 8), self._qty(flow, symbol))

    def _cross(self, flow: VenueFlow, symbol: str, now: int) -> None:
        """A limit through several levels: fills over several trades, the rest may rest."""
        qty = self._qty(flow, symbol, 10, 3 * flow.profile.max_lots)
        self._limit(flow, symbol, now, -self._rng.randint(2, 6), qty)

    def _market(self, flow: VenueFlow, symbol: str, now: int) -> None:
        request = OrderRequest(
            self._account(flow), symbol, self._side(), OrderType.MARKET,
            qty=self._qty(flow, symbol), stp=self._stp(flow),
            client_order_id=self._client_id(flow),
        )  # fmt: skip
        flow.exchange.place(request, now)

    def _quote_market(self, flow: VenueFlow, symbol: str, now: int) -> None:
        lots = self._qty(flow, symbol)
        amount = (self._mid(flow, symbol) * lots).to_integral_value()
        request = OrderRequest(
            self._account(flow), symbol, Side.BUY, OrderType.MARKET, quote_qty=amount,
            client_order_id=self._client_id(flow),
        )  # fmt: skip
        flow.exchange.place(request, now)

    def _ioc(self, flow: VenueFlow, symbol: str, now: int) -> None:
        qty = self._qty(flow, symbol, 5, 2 * flow.profile.max_lots)
        self._limit(flow, symbol, now, -self._rng.randint(0, 4), qty, TimeInForce.IOC)

    def _fok(self, flow: VenueFlow, symbol: str, now: int) -> None:
        qty = self._qty(flow, symbol, 5, 3 * flow.profile.max_lots)
        self._limit(flow, symbol, now, -self._rng.randint(0, 3), qty, TimeInForce.FOK)

    def _post_only(self, flow: VenueFlow, symbol: str, now: int) -> None:
        ticks = self._rng.randint(-1, 4)  # sometimes at or through the touch: refused
        self._limit(flow, symbol, now, ticks, self._qty(flow, symbol), post_only=True)

    def _conditional(self, flow: VenueFlow, symbol: str, now: int) -> None:
        side, kind = self._side(), self._rng.choice(tuple(TriggerKind))
        tick = flow.exchange.instrument(symbol).tick_size
        rising = (kind is TriggerKind.STOP_LOSS) == (side is Side.BUY)
        distance = tick * self._rng.randint(1, 6)
        base = flow.exchange.last_price.get(symbol, self._mid(flow, symbol))
        stop = base + distance if rising else max(base - distance, tick)
        market = flow.profile.conditional_market and (
            self._rng.random() < 0.5 or not flow.profile.conditional_limit
        )
        limit = (
            None
            if market
            else (stop + tick * 2 if side is Side.BUY else max(stop - tick * 2, tick))
        )
        request = OrderRequest(
            self._account(flow), symbol, side, OrderType.MARKET if market else OrderType.LIMIT,
            qty=self._qty(flow, symbol), price=limit, trigger=kind, stop_price=stop,
            stp=self._stp(flow), client_order_id=self._client_id(flow),
        )  # fmt: skip
        flow.exchange.place(request, now)

    def _self_cross(self, flow: VenueFlow, symbol: str, now: int) -> None:
        """Cross one of the account's own resting orders: self-trade prevention (or a trade)."""
        mine = [o for o in self._live(flow) if o.venue_symbol == symbol and o.price is not None
                and o.status is not Status.UNTRIGGERED]  # fmt: skip
        if not mine:
            return self._passive(flow, symbol, now)
        target = self._rng.choice(mine)
        request = OrderRequest(
            target.account, symbol, target.side.opposite, OrderType.LIMIT,
            qty=self._qty(flow, symbol), price=target.price, stp=self._stp(flow),
            client_order_id=self._client_id(flow),
        )  # fmt: skip
        flow.exchange.place(request, now)
        return None

    def _cancel(self, flow: VenueFlow, symbol: str, now: int) -> None:
        live = self._live(flow)
        if not live:
            return
        order = self._rng.choice(live)
        if flow.profile.deferred_cancel:
            flow.exchange.request_cancel(order.order_id, now)
        else:
            flow.exchange.cancel(order.order_id, now)

    def _reduce(self, flow: VenueFlow, symbol: str, now: int) -> None:
        live = [o for o in self._live(flow) if o.remaining > o.instrument.lot_size]
        if not live:
            return
        order = self._rng.choice(live)
        lots = int(order.remaining / order.instrument.lot_size)
        cut = order.instrument.lot_size * self._rng.randint(1, lots - 1)
        if flow.profile.amend:
            flow.exchange.amend(order.order_id, order.qty - cut, now)
        else:
            flow.exchange.cancel(order.order_id, now, qty=cut)

    def _cancel_all(self, flow: VenueFlow, symbol: str, now: int) -> None:
        scope = None if self._rng.random() < 0.3 else [symbol]
        flow.exchange.cancel_all(
            self._account(flow), now, scope, deferred=flow.profile.deferred_cancel
        )

    def _drift(self, flow: VenueFlow, symbol: str, now: int) -> None:
        if flow.house is not None:
            spacing = flow.house.quoting.spacing_ticks
            flow.house.shift(symbol, self._rng.choice((-2, -1, 1, 2)) * spacing)
