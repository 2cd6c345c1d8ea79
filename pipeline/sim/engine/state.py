"""`EngineState`: everything one venue's engine holds, as plain objects, for keeping it.

A real venue keeps its books across its own restarts; the simulator does too when it is
given a state directory (`pipeline.sim.persistence`). `Exchange.export_state()` takes the
engine apart into this value and `Exchange.restore_state()` puts a fresh engine back
together from it. Only what cannot be derived is kept: the live-order index, the books,
the conditional (untriggered) orders and the expiry index follow from the orders, in
acceptance order, and from each resting order's queue `priority`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pipeline.sim.engine.model import Fill, Order


@dataclass
class EngineState:
    """One engine's orders (every one ever, in acceptance order, with their fills) and its
    counters. `pending_cancels` are (order id, due time, request id) in request order;
    `by_client` are (account, client order id, order id) in the order they were issued."""

    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    last_price: dict[str, Decimal] = field(default_factory=dict)
    pending_cancels: list[tuple[str, int, str | None]] = field(default_factory=list)
    by_client: list[tuple[str, str, str]] = field(default_factory=list)
    seq: int = 0
    priority: int = 0
    now: int = 0
    ids: dict[str, int] = field(default_factory=dict)
