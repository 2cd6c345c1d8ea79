"""What happened inside the engine, in order: the event log the protocol adapters render.

Events are past-tense facts about one order each. A trade yields two `TRADE` events (maker
first, then taker), each with its own side's `Fill`. Every event carries a snapshot of its
order *after* the change, so an adapter can render cumulative fields (filled, fees,
remaining) as of that moment even though the live order has moved on since.

`seq` is increasing per exchange (venue): adapters use it as an execution id (Binance `I`)
and to keep their output in engine order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pipeline.sim.engine.model import Fill, Order, StpMode


class EventKind(StrEnum):
    ACCEPTED = "accepted"  # the order exists (status open, or untriggered for a stop)
    TRIGGERED = "triggered"  # a conditional order started working
    TRADE = "trade"  # one execution of this order (`fill`)
    CANCELED = "canceled"  # the whole remainder canceled (by the user or the venue)
    PARTIALLY_CANCELED = "partially_canceled"  # `qty` canceled; the order lives on
    AMENDED = "amended"  # quantity reduced keeping priority; `qty` is the previous qty
    PREVENTED = "prevented"  # self-trade prevention removed `qty` (terminal or decrement)
    EXPIRED = "expired"  # IOC/FOK/market remainder released, or time expiry
    CANCEL_REQUESTED = "cancel_requested"  # a deferred cancel was acknowledged
    CANCEL_REJECTED = "cancel_rejected"  # a deferred cancel found the order already done


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One fact, with the order as it stood right after it.

    `qty`: the quantity this event removed (CANCELED, PARTIALLY_CANCELED, PREVENTED,
    EXPIRED) or the quantity before an AMENDED. `request_id`: the client id of the request
    that caused it (a Binance cancel's `newClientOrderId`), when there was one.
    `match_id` / `counter_order_id`: the prevented match of a PREVENTED event.
    """

    seq: int
    kind: EventKind
    time: int
    order: Order
    fill: Fill | None = None
    qty: Decimal | None = None
    stp: StpMode | None = None
    match_id: int | None = None
    counter_order_id: str | None = None
    request_id: str | None = None

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def account(self) -> str:
        return self.order.account
